"""The base of the raw-data datasets: the user's file, else the real one's default place, else a demo."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kedro.io import AbstractDataset, DatasetError


class RawDataset(AbstractDataset[None, Any]):
    """Read-only data at ``filepath`` (chosen at run time; empty means "the default"), else at
    ``default["filepath"]``, else made from the ``demo`` settings (without ``demo`` a missing default is
    an error; without ``default`` either, nothing given loads ``None``). Subclasses implement ``load``."""

    def __init__(self, default: dict[str, str] | None = None, demo: dict[str, Any] | None = None, filepath: str | None = None,
                 metadata: dict | None = None) -> None:
        # Nested keys named filepath/path: Kedro makes them absolute against the project.
        self._filepath = Path(filepath) if filepath else None
        self._default_filepath = Path(default["filepath"]) if default else None
        self._demo = dict(demo) if demo else None
        self.metadata = metadata

    def save(self, data: Any) -> None:
        raise DatasetError(f"{self._describe()['filepath']} is raw data and read-only: it is never overwritten")

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath or self._default_filepath), "demo": self._demo}
