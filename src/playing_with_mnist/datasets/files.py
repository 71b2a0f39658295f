"""Versioned file datasets whose saves are atomic.

Each format says only how to turn data into bytes and back; :class:`AtomicFileDataset`
does the versioning (Kedro's ``<filepath>/<version>/<name>``) and writes through a
temporary file renamed into place, so an interrupted save never leaves a half-written
file where a reader (or ``catalog.load`` of the latest version) would find it.
"""

from __future__ import annotations

import io
import json
from pathlib import Path, PurePosixPath
from typing import Any

import pandas as pd
import torch
from kedro.io.core import AbstractVersionedDataset, DatasetError, Version

from playing_with_mnist.data.atomic import atomic_write


class AtomicFileDataset(AbstractVersionedDataset[Any, Any]):
    """Base class: subclasses implement ``_encode(data) -> bytes`` and ``_decode(bytes)``."""

    def __init__(self, filepath: str, version: Version | None = None, missing_ok: bool = False,
                 save_args: dict | None = None, metadata: dict | None = None) -> None:
        super().__init__(filepath=PurePosixPath(filepath), version=version)
        self._missing_ok = missing_ok
        self._save_args = dict(save_args or {})
        self.metadata = metadata

    def _path(self, for_save: bool) -> Path:
        if not self._version:
            return Path(str(self._filepath))
        return Path(str(self._get_save_path() if for_save else self._get_load_path()))

    def load(self) -> Any:
        try:
            path = self._path(for_save=False)
            data = path.read_bytes()
        except (FileNotFoundError, DatasetError):
            if self._missing_ok:
                return None
            raise DatasetError(f"{self._filepath} does not exist yet: run the pipeline that makes it first") from None
        try:
            return self._decode(data)
        except Exception as error:
            raise DatasetError(f"{path} cannot be read ({error}); delete it and run the pipeline that makes it again") from error

    def save(self, data: Any) -> None:
        path = self._path(for_save=True)
        with atomic_write(path) as stream:
            stream.write(self._encode(data, path))

    def _exists(self) -> bool:
        try:
            return self._path(for_save=False).exists()
        except DatasetError:
            return False

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath), "version": self._version}

    def _encode(self, data: Any, path: Path) -> bytes:
        raise NotImplementedError

    def _decode(self, data: bytes) -> Any:
        raise DatasetError(f"{type(self).__name__} is save-only")


class TorchObjectDataset(AtomicFileDataset):
    """A dict of tensors and plain values (``torch.save``), loaded with ``weights_only=True``.

    No pickled code is ever executed on load, so a model file someone sends you cannot
    run anything. ``missing_ok: true`` loads ``None`` when there is no file yet.
    """

    def _encode(self, data: Any, path: Path) -> bytes:
        buffer = io.BytesIO()
        torch.save(data, buffer)
        return buffer.getvalue()

    def _decode(self, data: bytes) -> Any:
        return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)


class JSONDataset(AtomicFileDataset):
    """Plain JSON (``indent`` from ``save_args``)."""

    def _encode(self, data: Any, path: Path) -> bytes:
        return json.dumps(data, indent=self._save_args.get("indent", 2), ensure_ascii=False).encode("utf-8")

    def _decode(self, data: bytes) -> Any:
        return json.loads(data)


class CSVDataset(AtomicFileDataset):
    """A pandas DataFrame as CSV, without the index."""

    def _encode(self, data: pd.DataFrame, path: Path) -> bytes:
        return data.to_csv(index=False).encode("utf-8")

    def _decode(self, data: bytes) -> pd.DataFrame:
        return pd.read_csv(io.BytesIO(data))


class FigureDataset(AtomicFileDataset):
    """A matplotlib figure as PNG (save-only); the figure is closed after saving."""

    def _encode(self, data: Any, path: Path) -> bytes:
        import matplotlib.pyplot as plt

        buffer = io.BytesIO()
        data.savefig(buffer, format="png", dpi=self._save_args.get("dpi", 110))
        plt.close(data)
        return buffer.getvalue()

    def _decode(self, data: bytes) -> bytes:
        return data  # the PNG bytes, e.g. for display in a notebook


class MarkdownReportDataset(AtomicFileDataset):
    """A Markdown document whose links can point at artifacts of the same run.

    A Kedro run saves all versioned outputs under one version (timestamp) that nodes do
    not know; the report node writes ``{save_version}`` in its links and this dataset
    fills it in: ``../../loss_graph.png/{save_version}/loss_graph.png``.
    """

    def _encode(self, data: str, path: Path) -> bytes:
        version = path.parent.name if self._version else ""
        return data.replace("{save_version}", version).encode("utf-8")

    def _decode(self, data: bytes) -> str:
        return data.decode("utf-8")
