"""A file as its bytes (the ONNX model), versioned and saved atomically: kedro-datasets has no ONNX dataset."""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Any

from kedro.io.core import AbstractVersionedDataset, Version

from playing_with_mnist.ingest.atomic import atomic_write


class BytesDataset(AbstractVersionedDataset[bytes, bytes]):
    """Loads and saves ``bytes`` as they are."""

    def __init__(self, filepath: str, version: Version | None = None, metadata: dict | None = None) -> None:
        super().__init__(filepath=PurePosixPath(filepath), version=version)
        self.metadata = metadata

    def load(self) -> bytes:
        return Path(str(self._get_load_path())).read_bytes()

    def save(self, data: bytes) -> None:
        with atomic_write(Path(str(self._get_save_path()))) as stream:
            stream.write(data)

    def _exists(self) -> bool:
        return Path(str(self._get_load_path())).exists()

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath), "version": self._version}
