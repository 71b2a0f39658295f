"""A versioned Markdown document whose links can point at same-run artifacts.

A Kedro run saves all its versioned outputs under one timestamp. The report node
cannot know it, so it writes ``{save_version}`` in its links and this dataset fills
it in at save time: ``../../loss_graph.png/{save_version}/loss_graph.png``.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Any

from kedro.io.core import AbstractVersionedDataset, Version

from .atomic import atomic_write

PLACEHOLDER = "{save_version}"


class MarkdownReportDataset(AbstractVersionedDataset[str, str]):
    def __init__(self, filepath: str, version: Version | None = None, metadata: dict | None = None) -> None:
        super().__init__(filepath=PurePosixPath(filepath), version=version)
        self.metadata = metadata

    def load(self) -> str:
        return Path(str(self._get_load_path())).read_text(encoding="utf-8")

    def save(self, data: str) -> None:
        path = Path(str(self._get_save_path()))
        version = path.parent.name if self._version else ""
        with atomic_write(path, "w") as stream:
            stream.write(data.replace(PLACEHOLDER, version))

    def _exists(self) -> bool:
        try:
            return Path(str(self._get_load_path())).exists()
        except Exception:
            return False

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath), "version": self._version}
