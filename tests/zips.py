"""Helpers that build small test zips and images in memory."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from pathlib import Path

from PIL import Image, ImageDraw


def reference_image(size: tuple[int, int] = (64, 48)) -> Image.Image:
    """White paper with a black L-shaped stroke: no symmetry, so rotations show."""
    image = Image.new("L", size, 255)
    draw = ImageDraw.Draw(image)
    draw.rectangle((4, 4, 14, size[1] - 5), fill=0)
    draw.rectangle((4, size[1] - 14, size[0] // 2, size[1] - 5), fill=0)
    return image


def encode(image: Image.Image, fmt: str = "PNG", **save_args: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **save_args)
    return buffer.getvalue()


def png_bytes(color: int = 0, size: tuple[int, int] = (20, 15), mode: str = "RGB") -> bytes:
    fill = color if mode in ("L", "1") else (color,) * len(mode)
    return encode(Image.new(mode, size, fill))


def make_zip(path: Path, entries: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", compression) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return path


def huge_png(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width`` x ``height`` pixels."""
    data = bytearray(encode(Image.new("L", (1, 1), 255)))
    ihdr = struct.pack(">II", width, height) + bytes(data[24:29])
    data[16:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    return bytes(data)
