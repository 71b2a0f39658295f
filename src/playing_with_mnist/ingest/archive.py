"""Find the labelled images inside a zip without unpacking it; list the unlabelled ones of a folder or zip.

A zip holds one folder per class, anywhere under a common top folder (or none); files in deeper
folders belong to their class folder. Junk (``__MACOSX/``, ``._*``, ``.DS_Store``, ``Thumbs.db``,
text files) and entries whose names climb out of the archive are skipped and counted.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import zipfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path, PurePosixPath

from .images import IMAGE_SUFFIXES

JUNK_NAMES = {".ds_store", "thumbs.db", "desktop.ini"}
# Declared sizes beyond these are refused before anything is read (zip bombs).
MAX_MEMBER_BYTES = 64 * 1024**2
MAX_TOTAL_BYTES = 4 * 1024**3
MAX_COMPRESSION_RATIO = 200


class ArchiveError(ValueError):
    """A zip that cannot be used; the message names it and says what to do."""


def natural_key(text: str) -> list[object]:
    """Sort key that orders ``Sample2`` before ``Sample10``."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", text)]


def display_labels(folder_names: list[str]) -> list[str]:
    """The characters 0-9, A-Z, a-z when the folders are Sample001..Sample062, else the names."""
    characters = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
    match = [re.fullmatch(r"Sample0*(\d+)", name) for name in folder_names]
    numbers = [int(m.group(1)) for m in match] if all(match) else None
    if numbers == list(range(1, len(folder_names) + 1)) and len(folder_names) <= len(characters):
        return list(characters[: len(folder_names)])
    return list(folder_names)


def file_digest(path: Path, algorithm: str = "sha256") -> str:
    """The hex digest of ``path``'s bytes (``hashlib`` algorithm name), read a megabyte at a time."""
    # usedforsecurity=False: digests here check integrity (MNIST publishes MD5s), nothing else.
    with open(path, "rb") as stream:
        return hashlib.file_digest(stream, lambda: hashlib.new(algorithm, usedforsecurity=False)).hexdigest()


file_sha256: Callable[[Path], str] = partial(file_digest, algorithm="sha256")


@dataclass(frozen=True)
class ArchiveListing:
    """The labelled image members of a zip, in class then natural file order."""

    members: list[str]
    labels: list[int]
    class_folders: list[str]
    skipped: dict[str, int] = field(default_factory=dict)
    empty_classes: list[str] = field(default_factory=list)


def skip_reason(info: zipfile.ZipInfo) -> str | None:
    path = PurePosixPath(info.filename)
    if info.filename.startswith("/") or re.match(r"^[A-Za-z]:", info.filename) or ".." in path.parts:
        return "unsafe path"
    if info.is_dir():
        return "directory"
    if "__MACOSX" in path.parts or path.name.startswith("._"):
        return "macOS metadata"
    if path.name.lower() in JUNK_NAMES or path.name.startswith("."):
        return "system file"
    if path.suffix.lower() not in IMAGE_SUFFIXES:
        return "not an image"
    return None


def check_declared_sizes(archive_name: str, infos: list[zipfile.ZipInfo]) -> None:
    total = 0
    for info in infos:
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > MAX_MEMBER_BYTES or (info.file_size > 1024**2 and ratio > MAX_COMPRESSION_RATIO):
            raise ArchiveError(f"{archive_name}: member {info.filename!r} declares {info.file_size:,} bytes ({ratio:.0f}x "
                               "its compressed size); refusing it as a possible zip bomb. Rebuild the zip from the original "
                               "image files.")
        total += info.file_size
    if total > MAX_TOTAL_BYTES:
        raise ArchiveError(f"{archive_name}: images declare {total:,} bytes uncompressed, beyond the {MAX_TOTAL_BYTES:,} "
                           "limit; refusing it as a possible zip bomb.")


def list_archive(zip_file: zipfile.ZipFile, archive_name: str) -> ArchiveListing:
    """Find the class folders and their images; raises :class:`ArchiveError` if unusable."""
    skipped: Counter[str] = Counter()
    images: list[zipfile.ZipInfo] = []
    empty_dirs: set[PurePosixPath] = set()
    for info in zip_file.infolist():
        reason = skip_reason(info)
        if reason == "directory":
            empty_dirs.add(PurePosixPath(info.filename))
        elif reason:
            skipped[reason] += 1
        else:
            images.append(info)
    if not images:
        raise ArchiveError(f"{archive_name}: no images found (PNG, JPEG, BMP or GIF). Expected one folder per class, "
                           "e.g. train/Sample001/img001-001.png.")
    check_declared_sizes(archive_name, images)

    parents = [PurePosixPath(info.filename).parent.parts for info in images]
    root = tuple(os.path.commonprefix(parents))
    if all(len(p) == len(root) for p in parents) and root:
        root = root[:-1]  # every image sits in one folder: that folder is the (only) class
    by_class: dict[str, list[str]] = {}
    for info, parts in zip(images, parents):
        if len(parts) == len(root):
            skipped["outside class folders"] += 1
            continue
        by_class.setdefault(parts[len(root)], []).append(info.filename)
    # Folders that exist in the zip but hold no image: reported, left out.
    dirs = {d.parts[len(root)] for d in empty_dirs if len(d.parts) > len(root) and d.parts[: len(root)] == root}
    empty = sorted(dirs - set(by_class), key=natural_key)
    folders = sorted(by_class, key=natural_key)
    if len(folders) < 2:
        raise ArchiveError(f"{archive_name}: found {len(folders)} class folder(s) ({', '.join(folders) or 'none'}); at "
                           "least 2 are needed. Put each class's images in a folder of its own.")
    members = [(name, index) for index, folder in enumerate(folders) for name in sorted(by_class[folder], key=natural_key)]
    return ArchiveListing([m for m, _ in members], [i for _, i in members], folders, dict(skipped), empty)


def open_zip(path: Path) -> zipfile.ZipFile:
    """Open ``path`` as a zip, or raise :class:`ArchiveError` saying what to do."""
    if not path.exists():
        raise ArchiveError(f"{path}: file not found. Put the zip there or pass another path.")
    if not path.is_file():
        raise ArchiveError(f"{path}: is not a file. Give the path of a .zip file.")
    try:
        return zipfile.ZipFile(path)
    except zipfile.BadZipFile as error:
        raise ArchiveError(f"{path}: not a valid zip file ({error}). Download or zip the images again.") from error


@dataclass(frozen=True)
class KnownLabels:
    """Each member's true class index, and the noise matrix (rows: true class, columns: folder)
    that drew the folder labels from them."""

    true_labels: dict[str, int]
    noise_matrix: list[list[float]]


@dataclass
class CharacterArchive:
    """A zip of labelled character images, opened lazily.

    ``source`` says where the images come from (for reports); ``fingerprint`` changes whenever the
    images may; ``prepare`` (if any) makes the zip before its first read (the demo set);
    ``known_labels`` (if any) gives the true labels where the folders may lie (a synthetic set).
    """

    path: Path
    source: dict
    fingerprint: str
    prepare: Callable[[], None] | None = None
    known_labels: Callable[[], KnownLabels] | None = None

    def open(self) -> zipfile.ZipFile:
        if self.prepare is not None and not self.path.exists():
            self.prepare()
        return open_zip(self.path)

    @classmethod
    def from_zip(cls, path: Path) -> "CharacterArchive":
        """A real zip: its name and sha256 identify it."""
        path = Path(path)
        open_zip(path).close()  # fail early, with a clear message, on a missing or broken file
        digest = file_sha256(path)
        return cls(path, {"kind": "zip", "name": path.name, "sha256": digest}, f"zip:sha256:{digest}")


@dataclass(frozen=True)
class ImageSource:
    """Unlabelled images to classify: every image in a folder (recursively) or in a zip; ``names`` are
    paths inside it, in natural order."""

    path: Path
    names: list[str]
    is_zip: bool

    def open(self) -> contextlib.AbstractContextManager:
        """A handle for :meth:`read`: the open zip, or nothing for a folder."""
        return open_zip(self.path) if self.is_zip else contextlib.nullcontext()

    def read(self, handle: zipfile.ZipFile | None, name: str) -> bytes:
        return handle.read(name) if self.is_zip else (self.path / name).read_bytes()

    @classmethod
    def from_path(cls, path: Path) -> "ImageSource":
        path = Path(path)
        if not path.exists():
            raise ArchiveError(f"{path}: not found. Give a folder or a .zip of images to classify.")
        if path.is_dir():
            found = (p.relative_to(path) for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
            names = [p.as_posix() for p in found if not any(part.startswith(".") for part in p.parts)]
        else:
            with open_zip(path) as zip_file:
                infos = [info for info in zip_file.infolist() if skip_reason(info) is None]
            check_declared_sizes(path.name, infos)
            names = [info.filename for info in infos]
        if not names:
            raise ArchiveError(f"{path}: holds no image (PNG, JPEG, BMP or GIF) to classify.")
        return cls(path, sorted(names, key=natural_key), not path.is_dir())
