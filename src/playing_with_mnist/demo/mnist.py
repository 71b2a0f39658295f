"""Deterministic MNIST-like digits, so that MNIST experiments run without a download.

Digits are drawn with :func:`~playing_with_mnist.demo.characters.render_character` (the
fonts that ship with matplotlib, randomly deformed) and then normalised the way MNIST
was: white ink on black, the glyph scaled to fit a 20x20 box with its aspect ratio
kept, antialiased, and placed in a 28x28 image with its centre of mass at the centre.

Digit ``i`` of a seed depends only on ``(seed, i)``, so a long stream can be rendered
in pieces (see ``start`` of :func:`render_digits`) and the same arguments always give
the same arrays.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image

from playing_with_mnist.ingest.idx import MNIST_FILES, write_idx

from .characters import font_files, render_character

logger = logging.getLogger(__name__)

IMAGE_SIDE = 28
BOX_SIDE = 20  # MNIST scales each digit to fit 20x20, leaving a 4-pixel margin.
CANVAS_SIDE = 84  # drawn at 3x, then reduced with antialiasing
# Streams of one seed's random numbers, kept apart so that labels and drawings never share draws
# (demo.noisy_digits draws from streams 4-6 of the same seed).
_DIGIT_STREAM, _LABEL_STREAM, _SPLIT_STREAM = 1, 2, 3
# Purposes of sub-seeds: the training set, the test set, the noisy-label zip (demo.noisy_digits).
_TRAIN, _TEST, NOISY_ZIP = 1, 2, 3

@lru_cache(maxsize=1)
def _fonts() -> tuple[Path, ...]:
    # font_files opens every bundled font to check its characters: do it once per process.
    return tuple(font_files())


def sub_seed(seed: int, purpose: int) -> int:
    """A seed for one use of ``seed`` (training set, test set, ...), unrelated to the others."""
    return int(np.random.SeedSequence([seed, _SPLIT_STREAM, purpose]).generate_state(1)[0])


def _glyph_pixels(mask: np.ndarray, keep_share: float = 0.15) -> np.ndarray:
    """The pixels of ``mask`` in 8-connected pieces at least ``keep_share`` the size of the largest.

    render_character scatters pen and dust specks on the paper; MNIST has none, and a
    speck far from the glyph would also shrink the glyph when it is fitted to 20x20 by
    its bounding box. Specks are a few pixels each, the glyph hundreds, so small pieces
    go. Pieces are found on horizontal runs of pixels with a union-find: a few hundred
    runs per image, cheap without scipy.
    """
    if not mask.any():
        return mask.copy()
    height = mask.shape[0]
    edges = np.diff(np.pad(mask, ((0, 0), (1, 1))).astype(np.int8), axis=1)
    rows, starts = np.nonzero(edges == 1)
    _, ends = np.nonzero(edges == -1)  # exclusive; nonzero's row-major order pairs them with starts
    parent = list(range(len(rows)))

    def find(run: int) -> int:
        while parent[run] != run:
            parent[run] = parent[parent[run]]
            run = parent[run]
        return run

    row_first = np.searchsorted(rows, np.arange(height + 1)).tolist()
    starts_list, ends_list = starts.tolist(), ends.tolist()
    for row in range(1, height):
        above, above_end = row_first[row - 1], row_first[row]
        here, here_end = row_first[row], row_first[row + 1]
        while above < above_end and here < here_end:
            # Runs touch, diagonals included, when each starts no later than the other's exclusive end.
            if starts_list[here] <= ends_list[above] and starts_list[above] <= ends_list[here]:
                parent[find(here)] = find(above)
            if ends_list[above] < ends_list[here]:
                above += 1
            else:
                here += 1

    roots = np.array([find(run) for run in range(len(rows))], dtype=np.intp)
    sizes = np.bincount(roots, weights=ends - starts, minlength=len(rows))
    kept = np.zeros_like(mask)
    for run in np.nonzero(sizes[roots] >= keep_share * sizes.max())[0]:
        kept[rows[run], starts[run] : ends[run]] = True
    return kept


def _normalise(glyph: Image.Image) -> np.ndarray:
    """A rendered glyph (dark on light, RGB) as an MNIST-style 28x28 uint8 image."""
    gray = np.asarray(glyph.convert("L"), dtype=np.float32)
    paper = np.median(gray)
    ink = np.clip((paper - gray) / max(paper, 1.0), 0.0, 1.0)
    # The paper is flat, so a low threshold keeps the glyph's antialiased edge with it.
    ink = np.where(_glyph_pixels(ink > 0.02), ink, 0.0)
    rows, cols = np.nonzero(ink > 0.1)
    if rows.size == 0:  # nothing drawn: an empty image rather than a crash
        return np.zeros((IMAGE_SIDE, IMAGE_SIDE), np.uint8)
    ink = ink[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]

    height, width = ink.shape
    scale = BOX_SIDE / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    small = Image.fromarray((ink * 255.0).astype(np.float32)).resize(size, Image.Resampling.LANCZOS)
    small = np.clip(np.asarray(small), 0.0, 255.0)

    # Centre of mass to the image centre (13.5, 13.5), as MNIST did, keeping the box inside.
    total = small.sum()
    if total <= 0:
        return np.zeros((IMAGE_SIDE, IMAGE_SIDE), np.uint8)
    centre_y = (small.sum(1) * np.arange(size[1])).sum() / total
    centre_x = (small.sum(0) * np.arange(size[0])).sum() / total
    top = int(np.clip(round((IMAGE_SIDE - 1) / 2 - centre_y), 0, IMAGE_SIDE - size[1]))
    left = int(np.clip(round((IMAGE_SIDE - 1) / 2 - centre_x), 0, IMAGE_SIDE - size[0]))
    image = np.zeros((IMAGE_SIDE, IMAGE_SIDE), np.float32)
    image[top : top + size[1], left : left + size[0]] = small
    # Thin strokes come out grey after the reduction and inks differ; MNIST's strokes peak at 255.
    image *= 255.0 / image.max()
    return np.round(image).astype(np.uint8)


def _render_one(label: int, seed: int, index: int, fonts: tuple[Path, ...]) -> np.ndarray:
    rng = np.random.default_rng([seed, _DIGIT_STREAM, index])
    return _normalise(render_character(str(label), rng, list(fonts), (CANVAS_SIDE, CANVAS_SIDE)))


def digit_labels(count: int, seed: int, start: int = 0) -> np.ndarray:
    """Labels of digits ``start`` .. ``start + count - 1`` of ``seed``'s stream, uint8.

    Every aligned block of ten digits holds each label once, in an order drawn from
    ``(seed, block)``: any run of digits is balanced to within two per label, a run from
    ``start=0`` to within one.
    """
    if count < 0 or start < 0 or seed < 0:
        raise ValueError(f"count, seed and start must be >= 0, got {count}, {seed}, {start}")
    if count == 0:
        return np.zeros(0, np.uint8)
    first, last = start // 10, (start + count - 1) // 10
    blocks = [np.random.default_rng([seed, _LABEL_STREAM, block]).permutation(10) for block in range(first, last + 1)]
    offset = start - first * 10
    return np.concatenate(blocks)[offset : offset + count].astype(np.uint8)


def render_digits(count: int, seed: int, start: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Digits ``start`` .. ``start + count - 1`` of ``seed``'s stream.

    Returns ``(images, labels)``: uint8 [count, 28, 28] (white digit on black, 0-255)
    and uint8 [count] (0-9, balanced, see :func:`digit_labels`). The same arguments give
    identical arrays (with the same matplotlib fonts and Pillow), and
    ``render_digits(n, s, start=k)`` equals the last ``n`` digits of ``render_digits(k + n, s)``.
    """
    labels = digit_labels(count, seed, start)
    fonts = _fonts()
    images = np.zeros((count, IMAGE_SIDE, IMAGE_SIDE), np.uint8)
    # A plain loop: the work per digit is mostly Python holding the GIL, so threads do not speed it up.
    for i in range(count):
        images[i] = _render_one(int(labels[i]), seed, start + i, fonts)
    return images, labels


def write_mnist_demo(folder: Path | str, train_count: int = 6000, test_count: int = 1000, seed: int = 0) -> Path:
    """Write synthetic stand-ins for the four MNIST IDX files (standard names) into ``folder``.

    Training and test digits come from different seeds derived from ``seed``, so they do
    not overlap. Each file is written atomically; the same arguments give the same bytes.
    Returns ``folder``.
    """
    folder = Path(folder)
    for split, count, purpose in (("train", train_count, _TRAIN), ("test", test_count, _TEST)):
        images, labels = render_digits(count, sub_seed(seed, purpose))
        write_idx(folder / MNIST_FILES[f"{split}_images"], images)
        write_idx(folder / MNIST_FILES[f"{split}_labels"], labels)
    logger.info("Wrote synthetic MNIST to %s: %d training and %d test digits (seed %d)", folder, train_count, test_count, seed)
    return folder
