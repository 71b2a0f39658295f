"""Real-world zips: junk, odd image modes, broken files, odd layouts, hostile archives."""

from __future__ import annotations

import logging
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from playing_with_mnist.ingest.archive import ArchiveError, CharacterArchive, list_archive
from playing_with_mnist.ingest.images import ImageDecodeError, ImageTooLargeError, decode_image, preprocess_image
from playing_with_mnist.pipelines.preprocess.nodes import build_image_cache

from .zips import encode, huge_png, make_zip, png_bytes, reference_image

PREPROCESS = {"image_size": 32, "max_broken_fraction": 0.3, "min_images_per_class": 2, "workers": 2}
EXPECTED = preprocess_image(reference_image().convert("RGB")).astype(int)


def transparent(mode: str) -> Image.Image:
    """The reference stroke, opaque, on a fully transparent background whose colour is black."""
    alpha = Image.eval(reference_image(), lambda v: 255 - v)
    base = Image.new("L", alpha.size, 0)
    return Image.merge("LA", (base, alpha)).convert(mode)


def sixteen_bit() -> Image.Image:
    values = (np.asarray(reference_image(), dtype=np.uint16) * 257).astype(np.uint16)
    image = Image.fromarray(values)
    assert image.mode == "I;16"
    return image


def exif_rotated() -> bytes:
    # Stored turned a quarter left; the EXIF tag (6) says "turn 90 degrees clockwise to view".
    stored = reference_image().convert("RGB").transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    return encode(stored, "JPEG", quality=95, exif=exif)


CASES = {
    "RGB png": lambda: encode(reference_image().convert("RGB")),
    "RGBA png": lambda: encode(transparent("RGBA")),
    "LA png": lambda: encode(transparent("LA")),
    "P png": lambda: encode(reference_image().convert("RGB").convert("P")),
    "P png with transparency": lambda: encode(transparent("RGBA").convert("P")),
    "L png": lambda: encode(reference_image()),
    "1 png": lambda: encode(reference_image().convert("1")),
    "I;16 png": lambda: encode(sixteen_bit()),
    "CMYK jpeg": lambda: encode(reference_image().convert("RGB").convert("CMYK"), "JPEG", quality=95),
    "RGB jpeg": lambda: encode(reference_image().convert("RGB"), "JPEG", quality=95),
    "EXIF-rotated jpeg": exif_rotated,
    "RGB bmp": lambda: encode(reference_image().convert("RGB"), "BMP"),
    "gif": lambda: encode(reference_image().convert("RGB"), "GIF"),
}


@pytest.mark.parametrize("case", CASES)
def test_every_mode_and_format_becomes_the_same_gray_picture(case: str) -> None:
    result = decode_image(CASES[case](), case)
    assert result.shape == (32, 32) and result.dtype == np.uint8
    assert np.abs(result.astype(int) - EXPECTED).mean() < 6, "not the upright, gray, ink-on-white picture"


def test_a_transparent_background_whose_colour_is_black_decodes_to_white_paper() -> None:
    image = transparent("RGBA")
    # Every pixel's colour is black, the paper is paper only by its alpha: dropping alpha gives a black page.
    assert np.asarray(image)[..., :3].max() == 0
    result = decode_image(encode(image), "transparent.png").astype(int)
    assert (result[EXPECTED == 255] == 255).all(), "the transparent paper is not white"
    assert (result[EXPECTED == 0] == 0).all(), "the opaque stroke is not black ink"
    assert np.abs(result - EXPECTED).max() <= 1


def write(tmp_path: Path, entries: dict[str, bytes], name: str = "chars.zip") -> CharacterArchive:
    return CharacterArchive.from_zip(make_zip(tmp_path / name, entries))


def two_classes(prefix: str = "train/", folders: tuple[str, str] = ("A", "B"), per_class: int = 3) -> dict[str, bytes]:
    return {f"{prefix}{folder}/{i}.png": encode(reference_image().convert("RGB")) for folder in folders for i in range(per_class)}


def test_junk_files_are_skipped_and_counted(tmp_path: Path) -> None:
    entries = two_classes() | {
        "__MACOSX/train/A/._0.png": b"\x00\x05\x16\x07", "train/A/._1.png": b"junk", "train/.DS_Store": b"x",
        "train/B/Thumbs.db": b"x", "train/B/notes.txt": b"hello", "train/": b"",
    }
    cache, summary = build_image_cache(write(tmp_path, entries), None, PREPROCESS)
    assert len(cache["labels"]) == 6
    assert summary["skipped_entries"] == {"macOS metadata": 2, "system file": 2, "not an image": 1}


def test_a_broken_image_is_skipped_with_a_warning_naming_it(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    good = encode(reference_image().convert("RGB"))
    entries = two_classes(per_class=4) | {"train/A/broken.png": good[: len(good) // 2], "train/B/garbage.png": b"\x89PNG nonsense"}
    with caplog.at_level(logging.WARNING):
        cache, summary = build_image_cache(write(tmp_path, entries), None, PREPROCESS)
    assert len(cache["labels"]) == 8
    assert [b.split(":")[0] for b in summary["broken_images"]] == ["train/A/broken.png", "train/B/garbage.png"]
    assert "train/A/broken.png" not in cache["members"]


def test_too_many_broken_images_stop_the_run(tmp_path: Path) -> None:
    entries = two_classes(per_class=3) | {f"train/A/bad{i}.png": b"not a png" for i in range(4)}
    with pytest.raises(ArchiveError, match=r"4 of 10 images cannot be decoded.*max_broken_fraction"):
        build_image_cache(write(tmp_path, entries), None, PREPROCESS)


def test_a_class_left_with_one_image_stops_the_run(tmp_path: Path) -> None:
    entries = two_classes(per_class=3) | {"train/C/ok.png": encode(reference_image()), "train/C/bad.png": b"no"}
    with pytest.raises(ArchiveError, match="class folder.*C keep fewer than 2"):
        build_image_cache(write(tmp_path, entries), None, {**PREPROCESS, "max_broken_fraction": 0.5})


@pytest.mark.parametrize("prefix", ["", "train/", "outer/inner/"])
def test_top_folders_do_not_matter(tmp_path: Path, prefix: str) -> None:
    cache, _ = build_image_cache(write(tmp_path, two_classes(prefix, ("cat", "dog"))), None, PREPROCESS)
    assert cache["class_names"] == ["cat", "dog"] and cache["labels"].tolist() == [0, 0, 0, 1, 1, 1]


def test_nested_folders_belong_to_their_class_and_names_sort_naturally(tmp_path: Path) -> None:
    entries = two_classes("", ("class10", "class9")) | {"class9/more/deeper/x.png": encode(reference_image())}
    listing = list_archive(zipfile.ZipFile(make_zip(tmp_path / "n.zip", entries)), "n.zip")
    assert listing.class_folders == ["class9", "class10"]
    assert listing.labels.count(0) == 4 and "class9/more/deeper/x.png" in listing.members


def test_empty_class_folder_is_left_out_with_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    entries = two_classes() | {"train/C/": b""}
    with caplog.at_level(logging.WARNING):
        cache, summary = build_image_cache(write(tmp_path, entries), None, PREPROCESS)
    assert cache["class_names"] == ["A", "B"] and summary["empty_class_folders"] == ["C"]


def test_non_ascii_names(tmp_path: Path) -> None:
    cache, _ = build_image_cache(write(tmp_path, two_classes("données/", ("ä", "日本"))), None, PREPROCESS)
    assert cache["class_names"] == ["ä", "日本"]


def test_entries_that_climb_out_are_skipped_and_nothing_is_written(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    path = work / "evil.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in two_classes().items():
            archive.writestr(name, data)
        archive.writestr(zipfile.ZipInfo("../escaped.png"), png_bytes())
        archive.writestr(zipfile.ZipInfo("/etc/absolute.png"), png_bytes())
        archive.writestr(zipfile.ZipInfo("train/A/../../up.png"), png_bytes())
    cache, summary = build_image_cache(CharacterArchive.from_zip(path), None, PREPROCESS)
    assert summary["skipped_entries"] == {"unsafe path": 3}
    assert all(".." not in m and not m.startswith("/") for m in cache["members"])
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["evil.zip", "work"]


def test_a_zip_bomb_is_refused_before_it_is_inflated(tmp_path: Path) -> None:
    entries = two_classes() | {"train/A/bomb.png": bytes(16 * 1024 * 1024)}  # 16 MB of zeros, ~16 KB deflated
    path = make_zip(tmp_path / "bomb.zip", entries)
    tracemalloc.start()
    try:
        with pytest.raises(ArchiveError, match="bomb.zip: member 'train/A/bomb.png' declares 16,777,216 bytes.*zip bomb"):
            build_image_cache(CharacterArchive.from_zip(path), None, PREPROCESS)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * 1024 * 1024, "the bomb was inflated"


def test_a_pixel_bomb_stops_the_run_with_the_reason(tmp_path: Path) -> None:
    # beyond this project's limit, below Pillow's: refused by the project
    with pytest.raises(ImageTooLargeError, match="7100x7100 pixels is beyond the limit.*decompression bomb"):
        decode_image(huge_png(7100, 7100), "train/A/big.png")
    # far beyond: Pillow's own guard answers first, and the project names the file
    with pytest.raises(ImageTooLargeError, match="huge.png: .*decompression bomb"):
        decode_image(huge_png(100_000, 100_000), "train/A/huge.png")
    entries = two_classes() | {"train/A/huge.png": huge_png(100_000, 100_000)}
    with pytest.raises(ImageTooLargeError, match="train/A/huge.png"):
        build_image_cache(write(tmp_path, entries), None, PREPROCESS)
    assert Image.MAX_IMAGE_PIXELS is not None  # Pillow's own guard stays on


def test_an_unreadable_image_raises_a_decode_error_naming_it() -> None:
    with pytest.raises(ImageDecodeError, match="x/y.png: cannot decode image"):
        decode_image(b"\x89PNG\r\n\x1a\nbroken", "x/y.png")
