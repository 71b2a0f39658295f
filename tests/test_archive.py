"""Reading class folders from zips, and the errors a user can cause."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from playing_with_mnist.ingest.archive import ArchiveError, CharacterArchive, display_labels, list_archive, natural_key

from .zips import make_zip, png_bytes


def listing_of(path: Path):
    with zipfile.ZipFile(path) as archive:
        return list_archive(archive, path.name)


def test_natural_order_and_character_labels() -> None:
    folders = sorted([f"Sample{i:03d}" for i in range(1, 63)], key=natural_key)
    labels = display_labels(folders)
    assert labels[:3] == ["0", "1", "2"] and labels[10] == "A" and labels[36] == "a" and labels[-1] == "z"
    assert sorted(["c10", "c2", "c1"], key=natural_key) == ["c1", "c2", "c10"]
    assert display_labels(["cat", "dog"]) == ["cat", "dog"]


def test_real_layout_is_read_in_natural_order(tmp_path: Path) -> None:
    entries = {f"train/Sample{c:03d}/img{c:03d}-{i:03d}.png": png_bytes(c * 10) for c in (1, 2, 10) for i in (10, 2, 1)}
    listing = listing_of(make_zip(tmp_path / "t.zip", entries))
    assert listing.class_folders == ["Sample001", "Sample002", "Sample010"]
    assert listing.members[:3] == ["train/Sample001/img001-001.png", "train/Sample001/img001-002.png", "train/Sample001/img001-010.png"]
    assert listing.labels == [0, 0, 0, 1, 1, 1, 2, 2, 2]


def test_missing_file_names_it(tmp_path: Path) -> None:
    with pytest.raises(ArchiveError, match="nothere.zip: file not found"):
        CharacterArchive.from_zip(tmp_path / "nothere.zip")


def test_not_a_zip_names_it(tmp_path: Path) -> None:
    fake = tmp_path / "fake.zip"
    fake.write_text("this is text")
    with pytest.raises(ArchiveError, match="fake.zip: not a valid zip file"):
        CharacterArchive.from_zip(fake)


def test_zip_without_class_folders_says_what_is_expected(tmp_path: Path) -> None:
    path = make_zip(tmp_path / "flat.zip", {"a.png": png_bytes(), "b.png": png_bytes()})
    with pytest.raises(ArchiveError, match="flat.zip: found 0 class folder"):
        listing_of(path)


def test_empty_zip_and_single_class_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ArchiveError, match="empty.zip: no images found"):
        listing_of(make_zip(tmp_path / "empty.zip", {}))
    with pytest.raises(ArchiveError, match=r"one.zip: found 1 class folder\(s\) \(only\)"):
        listing_of(make_zip(tmp_path / "one.zip", {"top/only/a.png": png_bytes(), "top/only/b.png": png_bytes()}))


def test_sha256_identifies_the_zip(tiny_zip: Path) -> None:
    archive = CharacterArchive.from_zip(tiny_zip)
    assert archive.source["kind"] == "zip" and archive.source["name"] == "tiny.zip"
    assert len(archive.source["sha256"]) == 64 and archive.fingerprint.endswith(archive.source["sha256"])
