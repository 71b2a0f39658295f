"""The one preprocessing function, :func:`preprocess_image`: any image in, a 32x32 grayscale uint8 array out.
Training, prediction and evaluation all go through it, so a model sees new images as it saw its training set."""

from __future__ import annotations

import io
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from typing import Callable, ContextManager

import numpy as np
from PIL import Image, ImageOps

IMAGE_SIZE = 32
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
# Far beyond any scan of a character (the real set is 1200x900): refuse before decoding.
MAX_IMAGE_PIXELS = 40_000_000


class ImageDecodeError(ValueError):
    """An image that cannot be read (skipped and counted); the message says why."""


class ImageTooLargeError(ValueError):
    """An image whose pixel count is far beyond sense: a decompression bomb. Stops the run."""


def _to_gray(image: Image.Image) -> Image.Image:
    """Any Pillow mode to "L"; transparency is composited on white (the paper)."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        # 16/32-bit gray: scale the full range down to 8 bits.
        values = np.asarray(image, dtype=np.float64)
        top = 65535.0 if image.mode.startswith("I;16") else max(float(values.max()), 1.0)
        return Image.fromarray(np.clip(values / top * 255.0 + 0.5, 0, 255).astype(np.uint8), "L")
    if image.mode in ("P", "PA", "RGBA", "LA", "La", "RGBa"):
        background = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, image.convert("RGBA"))
    if image.mode == "CMYK":
        image = image.convert("RGB")
    return image.convert("L")


def preprocess_image(image: Image.Image, size: int = IMAGE_SIZE) -> np.ndarray:
    """Upright (EXIF), grayscale, resized ``size x size``; returns a uint8 array."""
    image = ImageOps.exif_transpose(image)
    if getattr(image, "n_frames", 1) > 1:
        image.seek(0)
    gray = _to_gray(image)
    # reducing_gap lets Pillow shrink by whole factors first: same result, much faster.
    small = gray.resize((size, size), Image.Resampling.BILINEAR, reducing_gap=3.0)
    return np.asarray(small, dtype=np.uint8)


def decode_image(data: bytes, name: str, size: int = IMAGE_SIZE) -> np.ndarray:
    """Decode image bytes and preprocess them; :class:`ImageDecodeError` names ``name``."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            if width * height > MAX_IMAGE_PIXELS:
                raise ImageTooLargeError(f"{name}: {width}x{height} pixels is beyond the limit of {MAX_IMAGE_PIXELS:,}; refusing "
                                         "to decode it (possible decompression bomb)")
            if image.format == "JPEG":
                # Let libjpeg decode at a reduced scale: the result is resized to 32x32 anyway.
                image.draft(image.mode, (size * 4, size * 4))
            image.load()
            return preprocess_image(image, size)
    except ImageTooLargeError:
        raise
    except Image.DecompressionBombError as error:
        raise ImageTooLargeError(f"{name}: {error}") from error
    except Image.UnidentifiedImageError as error:
        raise ImageDecodeError(f"{name}: cannot decode image (not an image format Pillow reads: PNG, JPEG, BMP, GIF ...)") from error
    except (OSError, ValueError, SyntaxError) as error:
        raise ImageDecodeError(f"{name}: cannot decode image ({error})") from error


def decode_many(
    open_source: Callable[[], ContextManager], read: Callable[[object, str], bytes], names: list[str],
    size: int = IMAGE_SIZE, workers: int = 0, stop_on_bomb: bool = True,
) -> list[np.ndarray | str]:
    """Decode ``names`` on ``workers`` threads (0: one per core; Pillow releases the GIL): per name, its array or
    the reason it could not be decoded. A decompression bomb stops everything, unless ``stop_on_bomb`` is false
    (a server answering others' images): then it is one more reason. ``open_source()``
    gives a per-thread handle as a context manager (an open zip, or nothing for a folder), ``read(handle, name)`` bytes.
    """
    local, lock = threading.local(), threading.Lock()

    def decode(name: str) -> np.ndarray | str:
        if not hasattr(local, "handle"):
            with lock:
                local.handle = handles.enter_context(open_source())
        try:
            return decode_image(read(local.handle, name), name, size)
        except ImageDecodeError as error:
            return str(error)
        except ImageTooLargeError as error:
            if stop_on_bomb:
                raise ImageTooLargeError(f"{error}. Remove it and run again.") from None
            return str(error)
        except Exception as error:  # a damaged zip member (bad CRC, truncated data), an unreadable file
            return f"{name}: cannot be read ({error})"

    with ExitStack() as handles, ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 1) as pool:
        return list(pool.map(decode, names))
