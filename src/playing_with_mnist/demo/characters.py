"""A deterministic synthetic stand-in for trainPart1.zip, and the glyph drawing and zip writing
the other stand-ins share.

Same layout and image format as the real set: ``train/Sample001`` ... one folder per character
(0-9, A-Z, a-z), ``imgCCC-NNN.png`` files, RGB PNGs of dark glyphs on white, 1200x900 by
default: the fonts that ship with matplotlib, with random font, size, rotation, shear, stroke
width, position, ink and specks, so that the task is learnable but not trivially separable.
"""

from __future__ import annotations

import io
import os
import zipfile
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path
from typing import Iterable

import matplotlib
import numpy as np
from matplotlib.ft2font import FT2Font
from PIL import Image, ImageDraw, ImageFont

from playing_with_mnist.ingest.atomic import atomic_write

CHARACTERS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
# Bump when the drawing changes, so caches made from an older demo set are rebuilt.
GENERATOR_VERSION = 2


def demo_file_name(seed: int, images_per_class: int, image_size: tuple[int, int]) -> str:
    """The demo zip's file name: it records every setting, so a changed setting never reuses an old file."""
    return f"demo_v{GENERATOR_VERSION}_seed{seed}_{images_per_class}x{image_size[0]}x{image_size[1]}.zip"


@lru_cache(maxsize=1)
def font_files() -> tuple[Path, ...]:
    """The text fonts bundled with matplotlib that draw every character, in a fixed order (found once per process)."""
    folder = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    text_fonts = ("DejaVuSans", "DejaVuSerif", "STIXGeneral", "cmr10", "cmb10", "cmss10", "cmtt10", "cmti10")
    return tuple(path for path in sorted(folder.glob("*.ttf")) if path.name.startswith(text_fonts) and "Display" not in path.name
                 and all(FT2Font(str(path)).get_char_index(ord(c)) for c in CHARACTERS))


def render_character(char: str, rng: np.random.Generator, size: tuple[int, int]) -> Image.Image:
    """One RGB image of ``char``: dark ink on near-white paper, randomly deformed."""
    width, height = size
    side = max(8, int(min(width, height) * 0.85))
    fonts = font_files()
    font = ImageFont.truetype(str(fonts[rng.integers(len(fonts))]), size=max(4, int(side * rng.uniform(0.55, 0.95))))
    mask = Image.new("L", (side, side), 0)
    stroke = int(side * rng.uniform(0.0, 0.025))
    ImageDraw.Draw(mask).text((side / 2, side / 2), char, fill=255, font=font, anchor="mm", stroke_width=stroke, stroke_fill=255)

    # Inverse affine map (output -> input) about the centre: rotation, shear, scale.
    angle, shear, scale = np.deg2rad(rng.uniform(-12, 12)), rng.uniform(-0.25, 0.25), rng.uniform(0.8, 1.1)
    forward = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]]) @ np.array([[1, shear], [0, 1]]) * scale
    inverse = np.linalg.inv(forward)
    offset = side / 2 - inverse @ [side / 2, side / 2]
    mask = mask.transform((side, side), Image.Transform.AFFINE, (*inverse[0], offset[0], *inverse[1], offset[1]),
                          resample=Image.Resampling.BILINEAR)

    paper = int(rng.integers(228, 256))
    canvas = Image.new("RGB", size, (paper, paper, paper))
    # Roughly centred, like a character written in the middle of a tablet's page.
    x = int(np.clip((width - side) / 2 + rng.normal(0, 0.06) * width, 0, max(0, width - side)))
    y = int(np.clip((height - side) / 2 + rng.normal(0, 0.06) * height, 0, max(0, height - side)))
    ink = tuple(int(v) for v in rng.integers(0, 70, size=3))
    canvas.paste(ink, (x, y, x + side, y + side), mask)
    draw = ImageDraw.Draw(canvas)
    for _ in range(int(rng.integers(0, 25))):  # specks of dust and pen
        cx, cy = rng.integers(0, width), rng.integers(0, height)
        radius = max(1, int(min(width, height) * rng.uniform(0.001, 0.006)))
        draw.ellipse((cx - radius, cy - radius, cx + radius, cy + radius), fill=ink)
    return canvas


def png_bytes(image: Image.Image, compress_level: int) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=compress_level)
    return buffer.getvalue()


def write_zip(path: Path | str, members: Iterable[tuple[str, bytes]]) -> Path:
    """Write ``(name, data)`` members to an uncompressed zip, atomically; names ending in ``/`` are
    folders. Fixed timestamps: the same members give the same zip, byte for byte."""
    with atomic_write(path, "wb") as stream, zipfile.ZipFile(stream, "w", zipfile.ZIP_STORED) as archive:
        for name, data in members:
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            if name.endswith("/"):
                info.external_attr = (0o40755 << 16) | 0x10  # a directory, for Unix and DOS readers
            archive.writestr(info, data)
    return Path(path)


def write_demo_zip(path: Path, seed: int = 0, images_per_class: int = 40, image_size: tuple[int, int] = (1200, 900),
                   characters: str = CHARACTERS) -> Path:
    """Write the synthetic set to ``path`` (atomically) and return ``path``; the same arguments
    always give the same images, byte for byte."""
    def member(job: tuple[str, int, int]) -> tuple[str, bytes]:
        char, number, sample = job
        image = render_character(char, np.random.default_rng([seed, number - 1, sample]), tuple(image_size))
        return f"train/Sample{number:03d}/img{number:03d}-{sample:03d}.png", png_bytes(image, compress_level=1)

    jobs = [(char, number, sample) for number, char in enumerate(characters, 1) for sample in range(1, images_per_class + 1)]
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        return write_zip(path, pool.map(member, jobs))


def main(argv: list[str] | None = None) -> None:
    """``python -m playing_with_mnist.demo.characters OUT.zip [--seed N] [--per-class N] [--size W H]``."""
    import argparse

    parser = argparse.ArgumentParser(description="Write the synthetic stand-in for trainPart1.zip.")
    parser.add_argument("output", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--per-class", type=int, default=40)
    parser.add_argument("--size", type=int, nargs=2, default=(1200, 900), metavar=("WIDTH", "HEIGHT"))
    args = parser.parse_args(argv)
    if args.output.name == "trainPart1.zip":
        parser.error("refusing to write the stand-in under the real set's name trainPart1.zip")
    write_demo_zip(args.output, seed=args.seed, images_per_class=args.per_class, image_size=tuple(args.size))


if __name__ == "__main__":
    main()
