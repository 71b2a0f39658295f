"""Deterministic MNIST-like digits, so that MNIST experiments run without a download.

Digits are drawn with :func:`~playing_with_mnist.demo.characters.render_character` and then
normalised the way MNIST was: white ink on black, the glyph scaled to fit a 20x20 box with its
aspect ratio kept, antialiased, and placed in a 28x28 image with its centre of mass at the
centre. Digit ``i`` of a seed depends only on ``(seed, i)``: a long stream can be rendered in
pieces (``start`` of :func:`render_digits`).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage

from playing_with_mnist.ingest.idx import MNIST_FILES, write_idx

from .characters import render_character

logger = logging.getLogger(__name__)

IMAGE_SIDE = 28
BOX_SIDE = 20  # MNIST scales each digit to fit 20x20, leaving a 4-pixel margin.
CANVAS_SIDE = 84  # drawn at 3x, then reduced with antialiasing
# Streams of one seed's random numbers, kept apart so that no two uses share draws (the last three: demo.noisy_digits).
DIGIT_STREAM, LABEL_STREAM, SUB_SEED_STREAM, NOISE_STREAM, FLIP_STREAM, PERMUTATION_STREAM = range(1, 7)
# Purposes of sub-seeds: the training set, the test set, the noisy-label zip (demo.noisy_digits).
_TRAIN, _TEST, NOISY_ZIP = 1, 2, 3


def sub_seed(seed: int, purpose: int) -> int:
    """A seed for one use of ``seed`` (training set, test set, ...), unrelated to the others."""
    return int(np.random.SeedSequence([seed, SUB_SEED_STREAM, purpose]).generate_state(1)[0])


def _without_specks(mask: np.ndarray, keep_share: float = 0.15) -> np.ndarray:
    """The pixels of ``mask`` in 8-connected pieces at least ``keep_share`` the size of the largest.

    render_character scatters pen and dust specks on the paper; MNIST has none, and a speck far
    from the glyph would also shrink the glyph when it is fitted to 20x20 by its bounding box."""
    pieces, _ = ndimage.label(mask, structure=np.ones((3, 3)))
    sizes = np.bincount(pieces.ravel())
    sizes[0] = 0  # the background
    return (sizes >= keep_share * max(sizes.max(), 1))[pieces]


def _normalise(glyph: Image.Image) -> np.ndarray:
    """A rendered glyph (dark on light, RGB) as an MNIST-style 28x28 uint8 image."""
    gray = np.asarray(glyph.convert("L"), dtype=np.float32)
    paper = np.median(gray)
    ink = np.clip((paper - gray) / max(paper, 1.0), 0.0, 1.0)
    # The paper is flat, so a low threshold keeps the glyph's antialiased edge with it.
    ink = np.where(_without_specks(ink > 0.02), ink, 0.0)
    image = np.zeros((IMAGE_SIDE, IMAGE_SIDE), np.float32)
    rows, cols = np.nonzero(ink > 0.1)
    if rows.size == 0:  # nothing drawn: an empty image rather than a crash
        return image.astype(np.uint8)
    ink = ink[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
    scale = BOX_SIDE / max(ink.shape)
    size = (max(1, round(ink.shape[1] * scale)), max(1, round(ink.shape[0] * scale)))
    small = Image.fromarray((ink * 255.0).astype(np.float32)).resize(size, Image.Resampling.LANCZOS)
    small = np.clip(np.asarray(small), 0.0, 255.0)

    # Centre of mass to the image centre (13.5, 13.5), as MNIST did, keeping the box inside.
    total = small.sum()
    if total <= 0:
        return image.astype(np.uint8)
    centre_y = (small.sum(1) * np.arange(size[1])).sum() / total
    centre_x = (small.sum(0) * np.arange(size[0])).sum() / total
    top = int(np.clip(round((IMAGE_SIDE - 1) / 2 - centre_y), 0, IMAGE_SIDE - size[1]))
    left = int(np.clip(round((IMAGE_SIDE - 1) / 2 - centre_x), 0, IMAGE_SIDE - size[0]))
    image[top : top + size[1], left : left + size[0]] = small
    # Thin strokes come out grey after the reduction and inks differ; MNIST's strokes peak at 255.
    image *= 255.0 / image.max()
    return np.round(image).astype(np.uint8)


def digit_labels(count: int, seed: int, start: int = 0) -> np.ndarray:
    """Labels of digits ``start`` .. ``start + count - 1`` of ``seed``'s stream, uint8. Every aligned
    block of ten digits holds each label once, in an order drawn from ``(seed, block)``: any run of
    digits is balanced to within two per label, a run from ``start=0`` to within one."""
    if count < 0 or start < 0 or seed < 0:
        raise ValueError(f"count, seed and start must be >= 0, got {count}, {seed}, {start}")
    if count == 0:
        return np.zeros(0, np.uint8)
    first, last = start // 10, (start + count - 1) // 10
    blocks = [np.random.default_rng([seed, LABEL_STREAM, block]).permutation(10) for block in range(first, last + 1)]
    offset = start - first * 10
    return np.concatenate(blocks)[offset : offset + count].astype(np.uint8)


def render_digits(count: int, seed: int, start: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Digits ``start`` .. ``start + count - 1`` of ``seed``'s stream: ``(images, labels)``, uint8
    [count, 28, 28] (white digit on black, 0-255) and uint8 [count] (0-9, see :func:`digit_labels`).
    The same arguments give identical arrays (with the same matplotlib fonts and Pillow), and
    ``render_digits(n, s, start=k)`` equals the last ``n`` digits of ``render_digits(k + n, s)``."""
    labels = digit_labels(count, seed, start)
    images = np.zeros((count, IMAGE_SIDE, IMAGE_SIDE), np.uint8)
    # A plain loop: the work per digit is mostly Python holding the GIL, so threads do not speed it up.
    for i, label in enumerate(labels):
        rng = np.random.default_rng([seed, DIGIT_STREAM, start + i])
        images[i] = _normalise(render_character(str(label), rng, (CANVAS_SIDE, CANVAS_SIDE)))
    return images, labels


def write_mnist_demo(folder: Path | str, train_count: int = 6000, test_count: int = 1000, seed: int = 0) -> Path:
    """Write synthetic stand-ins for the four MNIST IDX files (standard names) into ``folder``, each
    atomically, and return ``folder``. Training and test digits come from different seeds derived
    from ``seed``, so they do not overlap; the same arguments give the same bytes."""
    folder = Path(folder)
    for split, count, purpose in (("train", train_count, _TRAIN), ("test", test_count, _TEST)):
        images, labels = render_digits(count, sub_seed(seed, purpose))
        write_idx(folder / MNIST_FILES[f"{split}_images"], images)
        write_idx(folder / MNIST_FILES[f"{split}_labels"], labels)
    logger.info("Wrote synthetic MNIST to %s: %d training and %d test digits (seed %d)", folder, train_count, test_count, seed)
    return folder
