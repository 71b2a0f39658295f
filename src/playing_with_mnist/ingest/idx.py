"""Read and write IDX files, the format MNIST is distributed in.

An IDX file is a 4-byte magic number (two zero bytes, a type code, the number of dimensions), one
big-endian uint32 per dimension, then the values in C order, big-endian. Gzip is recognised by its
magic bytes, so a renamed or already unpacked file reads the same.
"""

from __future__ import annotations

import contextlib
import gzip
import logging
import math
import struct
import zlib
from pathlib import Path

import numpy as np

from .atomic import atomic_write

logger = logging.getLogger(__name__)

# Type codes of the IDX spec; values are stored big-endian.
IDX_TYPES: dict[int, np.dtype] = {
    code: np.dtype(name) for code, name in [(0x08, "u1"), (0x09, "i1"), (0x0B, ">i2"), (0x0C, ">i4"), (0x0D, ">f4"),
                                            (0x0E, ">f8")]
}
_TYPE_CODES = {dtype.newbyteorder("="): code for code, dtype in IDX_TYPES.items()}
_TYPE_NAMES = ", ".join(f"0x{code:02X} ({dtype.newbyteorder('=').name})" for code, dtype in IDX_TYPES.items())

MNIST_FILES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}
MNIST_IMAGE_SHAPE = (28, 28)


class IdxError(ValueError):
    """An IDX file that cannot be used; the message names it and says what is wrong."""


def read_idx(path: Path | str) -> np.ndarray:
    """The array stored in the IDX file ``path`` (plain or gzipped), in native byte order. Raises
    :class:`IdxError` for a missing file, damaged gzip, a bad header or a wrong data length."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise IdxError(f"{path}: file not found") from None
    if raw[:2] == b"\x1f\x8b":  # gzip's magic bytes
        try:
            raw = gzip.decompress(raw)
        except (EOFError, OSError, zlib.error) as error:
            raise IdxError(f"{path}: damaged or truncated gzip data ({error})") from None

    if len(raw) < 4:
        raise IdxError(f"{path}: truncated: {len(raw)} bytes, too short for the 4-byte IDX magic number")
    zero_a, zero_b, type_code, ndim = raw[:4]
    if zero_a or zero_b:
        raise IdxError(f"{path}: bad magic number 0x{raw[:4].hex()}: an IDX file starts with two zero bytes")
    if type_code not in IDX_TYPES:
        raise IdxError(f"{path}: unknown IDX type code 0x{type_code:02X} in the magic number; supported: {_TYPE_NAMES}")
    if ndim == 0:
        raise IdxError(f"{path}: bad magic number 0x{raw[:4].hex()}: zero dimensions")
    header_size = 4 + 4 * ndim
    if len(raw) < header_size:
        raise IdxError(f"{path}: truncated: the header declares {ndim} dimensions but the file ends after {len(raw)} bytes")
    shape = struct.unpack(f">{ndim}I", raw[4:header_size])

    dtype, native = IDX_TYPES[type_code], IDX_TYPES[type_code].newbyteorder("=")
    # Python integers, so that absurd dimensions cannot overflow the size check.
    expected, found = math.prod(shape) * dtype.itemsize, len(raw) - header_size
    if found < expected:
        raise IdxError(f"{path}: truncated: dimensions {list(shape)} of {native.name} need {expected:,} bytes of data, "
                       f"the file has {found:,}")
    if found > expected:
        raise IdxError(f"{path}: {found - expected:,} unexpected byte(s) after the {expected:,} bytes of data that "
                       f"dimensions {list(shape)} of {native.name} declare")
    # astype copies: the result is writable and in native byte order.
    return np.frombuffer(raw, dtype=dtype, offset=header_size).reshape(shape).astype(native)


def write_idx(path: Path | str, array: np.ndarray) -> Path:
    """Write ``array`` (uint8, int8, int16, int32, float32 or float64; 1 to 255 dimensions) to ``path``
    as IDX, atomically; gzipped, with no timestamp or file name, when the name ends in ``.gz``. Returns ``path``.
    """
    path, array = Path(path), np.asarray(array)
    code = _TYPE_CODES.get(array.dtype.newbyteorder("="))
    if code is None:
        raise IdxError(f"{path}: cannot write {array.dtype} as IDX; supported types: {_TYPE_NAMES}")
    if array.ndim == 0 or array.ndim > 255:
        raise IdxError(f"{path}: cannot write a {array.ndim}-dimensional array as IDX (1 to 255 dimensions)")
    if any(size >= 2**32 for size in array.shape):
        raise IdxError(f"{path}: dimension sizes {list(array.shape)} do not fit the IDX header's uint32")

    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    data = np.ascontiguousarray(array, dtype=IDX_TYPES[code]).tobytes()
    with atomic_write(path, "wb") as stream, contextlib.ExitStack() as stack:
        if path.name.lower().endswith(".gz"):
            # filename="" and mtime=0: otherwise the temporary name and the clock end up in the header.
            stream = stack.enter_context(gzip.GzipFile(filename="", mode="wb", fileobj=stream, compresslevel=6, mtime=0))
        stream.write(header)
        stream.write(data)
    logger.debug("Wrote %s: %s %s", path, array.dtype, list(array.shape))
    return path


def mnist_file(folder: Path | str, key: str) -> Path:
    """Where the MNIST file ``key`` (see :data:`MNIST_FILES`) is in ``folder``: its standard
    ``.gz`` name, else the same name unpacked; the ``.gz`` path when neither exists."""
    gzipped = Path(folder) / MNIST_FILES[key]
    unpacked = gzipped.with_name(gzipped.name.removesuffix(".gz"))
    return unpacked if not gzipped.exists() and unpacked.exists() else gzipped


def read_mnist(folder: Path | str) -> dict[str, np.ndarray]:
    """The four MNIST arrays from the IDX files in ``folder`` (found by :func:`mnist_file`): uint8
    ``train_images`` [N, 28, 28], ``train_labels`` [N], ``test_images`` [M, 28, 28], ``test_labels`` [M].

    Raises :class:`IdxError` when a file is missing or unreadable, has the wrong type or shape,
    image and label counts differ, or a label is outside 0-9.
    """
    folder = Path(folder)
    arrays: dict[str, np.ndarray] = {}
    paths: dict[str, Path] = {}
    for key in MNIST_FILES:
        path = mnist_file(folder, key)
        if not path.exists():
            raise IdxError(f"{path}: file not found. Put the standard MNIST IDX files ({', '.join(MNIST_FILES.values())}) "
                           f"in {folder}")
        array = read_idx(path)
        expected_ndim = 3 if key.endswith("images") else 1
        if array.dtype != np.uint8 or array.ndim != expected_ndim:
            raise IdxError(f"{path}: holds {array.dtype} {list(array.shape)}, expected uint8 with {expected_ndim} dimension(s)")
        if expected_ndim == 3 and array.shape[1:] != MNIST_IMAGE_SHAPE:
            raise IdxError(f"{path}: images are {array.shape[1]}x{array.shape[2]}, MNIST images are 28x28")
        arrays[key], paths[key] = array, path

    for split in ("train", "test"):
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        if len(images) != len(labels):
            raise IdxError(f"{folder}: {paths[f'{split}_images'].name} holds {len(images):,} images but "
                           f"{paths[f'{split}_labels'].name} holds {len(labels):,} labels")
        if labels.size and labels.max() > 9:
            raise IdxError(f"{paths[f'{split}_labels']}: label {int(labels.max())} is outside 0-9")
    logger.info("Read MNIST from %s: %d training and %d test images", folder, len(arrays["train_images"]), len(arrays["test_images"]))
    return arrays
