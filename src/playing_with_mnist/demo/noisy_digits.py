"""A deterministic stand-in for mnistTask3.zip: folders ``0/`` .. ``9/`` of 28x28 grayscale PNGs
``NNNNN.png`` (sample ``i`` is file number ``i + 1`` in the folder of its label), synthetic digits
whose labels are often wrong, drawn through a noise matrix the generator knows:
:func:`noisy_label_truth` recomputes the true labels without drawing a digit.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from PIL import Image

from .characters import png_bytes, write_zip
from .mnist import FLIP_STREAM, NOISE_STREAM, NOISY_ZIP, PERMUTATION_STREAM, digit_labels, render_digits, sub_seed

logger = logging.getLogger(__name__)

# Confusions a reader (or a labeller) plausibly makes, true digit -> digits it is taken for.
CONFUSIONS: dict[int, tuple[int, ...]] = {0: (6, 8), 1: (7, 4), 2: (7, 3), 3: (8, 5), 4: (9, 1),
                                          5: (6, 3), 6: (5, 0), 7: (1, 2), 8: (3, 0), 9: (4, 7)}
UNIFORM_SHARE = 0.2  # share of the noise spread evenly over all wrong labels
# How labels go wrong: "random" (each digit to its plausible confusions, see noise_matrix) or
# "systematic" (each digit mostly to one other, like the real mnistTask3.zip, see label_permutation).
NOISE_KINDS = ("random", "systematic")


def label_permutation(seed: int, num_classes: int = 10) -> np.ndarray:
    """A seeded derangement of ``0 .. num_classes - 1`` (int64): ``perm[t] != t`` for every ``t``, drawn
    uniformly (a permutation is redrawn until it has no fixed point, about e draws). The systematic
    noise matrix labels true digit ``t`` as ``perm[t]``: each folder then mostly holds one digit."""
    if num_classes < 2:
        raise ValueError(f"num_classes must be at least 2 for a permutation without fixed points, got {num_classes}")
    rng = np.random.default_rng([seed, PERMUTATION_STREAM])
    while True:
        perm = rng.permutation(num_classes)
        if (perm != np.arange(num_classes)).all():
            return perm


def noise_matrix(noise_rate: float, seed: int, kind: str = "random") -> np.ndarray:
    """A 10x10 label-noise matrix, rows summing to 1: row ``t`` is the distribution of the label given
    true digit ``t``. The diagonal is ``1 - noise_rate``; of the rest, ``UNIFORM_SHARE`` goes evenly
    to all nine wrong labels and ``1 - UNIFORM_SHARE`` according to ``kind``: ``"random"``, to the
    digit's plausible confusions (:data:`CONFUSIONS`, split with weights drawn from ``seed``);
    ``"systematic"``, to one other digit, ``label_permutation(seed)[t]`` (with a high ``noise_rate``,
    e.g. 0.9, most of each folder is one other digit, as in the real mnistTask3.zip)."""
    if kind not in NOISE_KINDS:
        raise ValueError(f"noise_kind must be one of {', '.join(NOISE_KINDS)}, got {kind!r}")
    if not 0.0 <= noise_rate <= 1.0:
        raise ValueError(f"noise_rate must be between 0 and 1, got {noise_rate}")
    num_classes = len(CONFUSIONS)
    if kind == "random":
        rng = np.random.default_rng([seed, NOISE_STREAM])
        targets = [(list(confusions), rng.dirichlet(np.full(len(confusions), 2.0))) for confusions in CONFUSIONS.values()]
    else:
        targets = [([int(other)], np.ones(1)) for other in label_permutation(seed, num_classes)]
    matrix = np.full((num_classes, num_classes), noise_rate * UNIFORM_SHARE / (num_classes - 1))
    for true, (others, weights) in enumerate(targets):
        matrix[true, others] += noise_rate * (1.0 - UNIFORM_SHARE) * weights
    np.fill_diagonal(matrix, 1.0 - noise_rate)
    return matrix / matrix.sum(axis=1, keepdims=True)


def flip_labels(true_labels: np.ndarray, noise: np.ndarray, seed: int) -> np.ndarray:
    """Each label replaced by a draw from row ``true_label`` of ``noise`` (uint8, seeded)."""
    noise = np.asarray(noise, dtype=np.float64)
    if noise.shape != (10, 10) or (noise < 0).any() or not np.allclose(noise.sum(axis=1), 1.0, atol=1e-6):
        raise ValueError("noise must be a 10x10 matrix of probabilities whose rows sum to 1")
    cumulative = noise.cumsum(axis=1)
    # Dividing by the row total makes the last entry exactly 1.0, so every draw in [0, 1) lands on a label.
    cumulative /= cumulative[:, -1:]
    draws = np.random.default_rng([seed, FLIP_STREAM]).random(len(true_labels))
    return (draws[:, None] < cumulative[np.asarray(true_labels, dtype=np.intp)]).argmax(axis=1).astype(np.uint8)


def write_noisy_label_zip(path: Path | str, count: int, noise: np.ndarray, seed: int) -> dict[str, np.ndarray]:
    """Write ``count`` synthetic digits to a zip, one folder per *noisy* label (all ten, even an
    empty one), atomically; nothing else is in the zip. The digits come from a seed derived from
    ``seed`` (not the demo IDX sets'). Returns :func:`noisy_label_truth` of the same arguments,
    so that noise estimates can be checked against the truth."""
    truth = noisy_label_truth(count, noise, seed)
    images, rendered_labels = render_digits(count, sub_seed(seed, NOISY_ZIP))
    assert (rendered_labels == truth["true_labels"]).all()  # both come from digit_labels of the same seed
    write_digit_zip(path, images, truth["members"])
    flipped = float((truth["true_labels"] != truth["noisy_labels"]).mean()) if count else 0.0
    logger.info("Wrote %s: %d digits, %.1f%% of labels flipped", path, count, 100 * flipped)
    return truth


def noisy_label_truth(count: int, noise: np.ndarray, seed: int) -> dict:
    """What :func:`write_noisy_label_zip` writes for these arguments, cheaply (no digit drawn):
    ``{"true_labels", "noisy_labels", "noise_matrix", "members"}``; sample ``i`` is zip member
    ``members[i]`` (file number ``i + 1`` in folder ``noisy_labels[i]``) and shows digit
    ``true_labels[i]`` (uint8 [count] each; the matrix float [10, 10])."""
    digit_seed = sub_seed(seed, NOISY_ZIP)
    true_labels = digit_labels(count, digit_seed)
    noisy_labels = flip_labels(true_labels, noise, digit_seed)
    return {"true_labels": true_labels, "noisy_labels": noisy_labels, "noise_matrix": np.asarray(noise, dtype=np.float64),
            "members": digit_zip_members(noisy_labels)}


def digit_zip_members(labels: np.ndarray) -> list[str]:
    """The zip member of each image: sample ``i`` is file number ``i + 1`` in the folder of its label
    (``00001.png``, wider only past 99,999 images)."""
    width = max(5, len(str(len(labels))))
    return [f"{label}/{i + 1:0{width}d}.png" for i, label in enumerate(labels)]


def write_digit_zip(path: Path | str, images: np.ndarray, members: list[str]) -> None:
    """Write uint8 images [N, H, W] as PNGs under ``members`` (:func:`digit_zip_members`) to a zip holding all ten
    folders ``0/`` .. ``9/`` (an empty one too), atomically; nothing else is in the zip."""
    write_zip(path, [(f"{label}/", b"") for label in range(10)]
              + [(member, png_bytes(Image.fromarray(image), compress_level=6)) for image, member in zip(images, members)])
