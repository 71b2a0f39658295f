"""The project's Kedro context: every run claims a save version no other run has.

Kedro names a run's versioned outputs after the millisecond its session was created. Two
``kedro run`` started together (two terminals, a scheduler's array job) can get the same
millisecond, and the second then fails on its first save ("must not exist if versioning
is enabled"). Each run therefore claims its version in ``data/.save_version`` under a lock:
a version at or before the last one claimed moves to one millisecond after it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from kedro.framework.context import KedroContext
from kedro.io import CatalogProtocol, DataCatalog
from kedro.io.core import VERSION_FORMAT

from playing_with_mnist.file_lock import exclusive_lock
from playing_with_mnist.ingest.atomic import atomic_write

SAVE_VERSION_RECORD = Path("data") / ".save_version"


def next_version(version: str) -> str:
    """The version one millisecond after ``version``, in Kedro's format (``2026-11-28T23.52.03.435Z``)."""
    later = datetime.strptime(version, VERSION_FORMAT) + timedelta(milliseconds=1)
    text = later.strftime(VERSION_FORMAT)
    return text[:-4] + text[-1:]  # microseconds cut to milliseconds, as Kedro does


def claim_save_version(record: Path, proposed: str) -> str:
    """Claim ``proposed``, or the first millisecond after the last version claimed in ``record``.

    Versions are compared as text, which orders Kedro's fixed-width timestamps by time.
    The returned version is written to ``record``; a lock beside it makes the claim atomic
    between processes on this machine.
    """
    try:
        record.parent.mkdir(parents=True, exist_ok=True)
        with exclusive_lock(record.with_name(record.name + ".lock")):
            last = record.read_text().strip() if record.exists() else ""
            try:
                claimed = next_version(last) if last and proposed <= last else proposed
            except ValueError:  # not a version (edited by hand): the record starts again
                claimed = proposed
            with atomic_write(record, "w", encoding="utf-8") as stream:  # as every file the project writes
                stream.write(claimed + "\n")
    except OSError as error:
        raise OSError(f"cannot claim this run's save version in {record} ({error.strerror or error}): "
                      f"a run writes its outputs under {record.parent}, which must be a writable folder") from None
    return claimed


class ProjectContext(KedroContext):
    """Kedro's context, with a save version unique to each run of this project."""

    def _get_catalog(self, catalog_class: type = DataCatalog, save_version: str | None = None,
                     load_versions: dict[str, str] | None = None) -> CatalogProtocol:
        if save_version is not None:  # None: a catalog for reading (notebooks, kedro viz), no run
            save_version = claim_save_version(self.project_path / SAVE_VERSION_RECORD, save_version)
        return super()._get_catalog(catalog_class, save_version, load_versions)
