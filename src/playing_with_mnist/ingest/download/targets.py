"""What ``playing-with-mnist download`` fetches, from where, and how each file is verified.

- ``trainPart1.zip`` from the seed's Dropbox link, checked with the project's own archive
  reader (62 class folders, 2,480 images, every member's CRC) and recorded with its sha256
  in a manifest beside it (``trainPart1.zip.manifest.json``).
- The four MNIST IDX files (gzipped, their standard names) from torchvision's mirror list,
  checked against the MD5s torchvision publishes; the next mirror is tried when one fails.

The destinations are those the catalog reads (``raw_character_zip`` and ``raw_mnist``).
"""

from __future__ import annotations

import json
import zipfile
import zlib
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

from ..archive import ArchiveError, file_digest, file_sha256, list_archive, open_zip
from ..atomic import atomic_write
from ..idx import MNIST_FILES
from .transfer import DEFAULT_TIMEOUT, ConsoleProgress, DownloadError, VerificationError, fetch

DATA_DIR = Path("data/01_raw")
TRAIN_PART1_NAME = "trainPart1.zip"
# A Dropbox share link serves a web page; ?dl=1 serves the file itself.
TRAIN_PART1_URL = "https://www.dropbox.com/s/pan6mutc5xj5kj0/trainPart1.zip?dl=1"
MNIST_FOLDER = "mnist"


def manifest_path(zip_path: Path) -> Path:
    """The manifest written beside a downloaded zip: ``<name>.manifest.json``."""
    return zip_path.with_name(zip_path.name + ".manifest.json")


def check_character_zip(path: Path, classes: int = 62, images: int = 2480) -> dict:
    """Check that ``path`` is the character zip (trainPart1's counts by default); return its counts.

    Raises :class:`VerificationError` saying what is wrong: not a zip (a web page in its
    place is named as such), damaged members, or other counts.
    """
    with open(path, "rb") as stream:
        if stream.read(512).lstrip().lower().startswith((b"<!doctype html", b"<html")):
            raise VerificationError("not a zip file: the server sent a web page instead (the link may have expired)")
    try:
        with open_zip(path) as archive:
            listing = list_archive(archive, path.name)
            damaged = archive.testzip()  # reads every member: CRC errors show here, not in the listing
    except ArchiveError as error:
        raise VerificationError(str(error)) from None
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError) as error:
        raise VerificationError(f"damaged zip data ({error})") from None
    if damaged is not None:
        raise VerificationError(f"member {damaged!r} is damaged (CRC mismatch)")
    counts = {"class_folders": len(listing.class_folders), "images": len(listing.members)}
    if (counts["class_folders"], counts["images"]) != (classes, images):
        raise VerificationError(
            f"{counts['class_folders']} class folders and {counts['images']:,} images, expected "
            f"{classes} and {images:,}: this is not the expected data set"
        )
    return counts


def _download(target: Path, urls: list[str], check: Callable[[Path], object], *, force: bool,
              progress: ConsoleProgress | None, timeout: float) -> bool:
    """Put a file that passes ``check`` at ``target``, trying ``urls`` in turn; return whether it was
    downloaded (a file already there is checked and kept unless ``force``). Raises :class:`DownloadError`."""
    if target.exists() and not force:
        try:
            check(target)
        except VerificationError as error:
            raise DownloadError(f"{target} is there but is not the expected file ({error}). Move it away, "
                                "or download it again with --force.") from None
        return False
    progress = progress or ConsoleProgress()
    for url in urls[:-1]:
        try:
            fetch(url, target, verify=check, progress=progress, timeout=timeout)
            return True
        except DownloadError as error:
            progress.note(f"{error}\nTrying the next mirror.")
    fetch(urls[-1], target, verify=check, progress=progress, timeout=timeout)  # its error is the one raised
    return True


def download_train_part1(data_dir: Path = DATA_DIR, url: str = TRAIN_PART1_URL, *, force: bool = False,
                         progress: ConsoleProgress | None = None, timeout: float = DEFAULT_TIMEOUT) -> tuple[Path, bool]:
    """Put the verified ``trainPart1.zip`` in ``data_dir``, with its manifest; return its path and
    whether it was downloaded. ``force`` downloads it again, replacing it only once the new one is verified."""
    target, counts = Path(data_dir) / TRAIN_PART1_NAME, {}
    if not _download(target, [url], lambda path: counts.update(check_character_zip(path)), force=force,
                     progress=progress, timeout=timeout):
        return target, False
    manifest = {"file": target.name, "url": url, "sha256": file_sha256(target), "bytes": target.stat().st_size,
                **counts, "downloaded_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    with atomic_write(manifest_path(target), "w", encoding="utf-8") as stream:
        json.dump(manifest, stream, indent=2)
    return target, True


def mnist_sources() -> tuple[list[str], dict[str, str]]:
    """torchvision's MNIST mirrors, and the published MD5 of each file the catalog reads."""
    import torchvision  # imported here: torch takes seconds to import
    from torchvision.datasets import MNIST

    published = dict(MNIST.resources)
    missing = [name for name in MNIST_FILES.values() if name not in published]
    if missing:  # a torchvision that renamed its files: better to stop than to skip a check
        raise DownloadError(f"torchvision {torchvision.__version__} lists no MD5 for {', '.join(missing)}")
    return list(MNIST.mirrors), {name: published[name] for name in MNIST_FILES.values()}


def check_md5(path: Path, expected: str) -> None:
    """Raise :class:`VerificationError` unless ``path``'s MD5 is ``expected``."""
    if (found := file_digest(path, "md5")) != expected:
        raise VerificationError(f"its MD5 is {found}, the published MD5 is {expected}")


def download_mnist(data_dir: Path = DATA_DIR, mirrors: list[str] | None = None, md5s: dict[str, str] | None = None,
                   *, force: bool = False, progress: ConsoleProgress | None = None,
                   timeout: float = DEFAULT_TIMEOUT) -> list[tuple[Path, bool]]:
    """Put the four verified MNIST files in ``data_dir/mnist``; return each path and whether it was downloaded.

    ``mirrors`` (base URLs: a mirror's URL plus the file name is the file) and ``md5s``
    ({file name: MD5}) default to torchvision's. Each file is tried at every mirror in turn.
    """
    if mirrors is None or md5s is None:
        default_mirrors, default_md5s = mnist_sources()
        mirrors, md5s = mirrors or default_mirrors, md5s or default_md5s
    bases = [mirror if mirror.endswith("/") else mirror + "/" for mirror in mirrors]  # one typed without its slash
    results = []
    for name in MNIST_FILES.values():
        target = Path(data_dir) / MNIST_FOLDER / name
        downloaded = _download(target, [base + name for base in bases], lambda path: check_md5(path, md5s[name]),
                               force=force, progress=progress, timeout=timeout)
        results.append((target, downloaded))
    return results
