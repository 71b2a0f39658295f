"""Unlabelled images to classify: every image in a folder (recursively) or in a zip."""

from __future__ import annotations

import contextlib
import zipfile
from dataclasses import dataclass
from pathlib import Path

from .archive import ArchiveError, check_declared_sizes, natural_key, open_zip, skip_reason
from .images import IMAGE_SUFFIXES


@dataclass(frozen=True)
class ImageSource:
    """A folder or a zip of images; ``names`` are paths inside it, in natural order."""

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
