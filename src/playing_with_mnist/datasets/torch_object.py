"""Plain dicts of tensors and Python values, saved with ``torch.save``.

Loading uses ``weights_only=True``: no pickled code is ever executed, so a model or
cache someone sends you cannot run anything. Saves are atomic.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Any

import torch
from kedro.io.core import AbstractVersionedDataset, DatasetError, Version

from .atomic import atomic_write


class TorchObjectDataset(AbstractVersionedDataset[dict, dict]):
    """A ``.pt`` file holding a dict of tensors, numbers, strings, lists and dicts.

    ``missing_ok: true`` makes ``load`` return ``None`` when the file does not exist
    (for reading a cache that may not have been built yet).
    """

    def __init__(self, filepath: str, version: Version | None = None, missing_ok: bool = False, metadata: dict | None = None) -> None:
        super().__init__(filepath=PurePosixPath(filepath), version=version)
        self._missing_ok = missing_ok
        self.metadata = metadata

    def load(self) -> dict | None:
        path = self._get_load_path() if self._version else self._filepath
        try:
            return torch.load(str(path), map_location="cpu", weights_only=True)
        except FileNotFoundError:
            if self._missing_ok:
                return None
            raise DatasetError(f"{path} does not exist; run the pipeline that makes it first") from None
        except Exception as error:  # a truncated or foreign file
            raise DatasetError(
                f"{path} cannot be loaded as a tensor file ({error}); delete it and run the pipeline that makes it again"
            ) from error

    def save(self, data: dict[str, Any]) -> None:
        path = self._get_save_path() if self._version else self._filepath
        with atomic_write(str(path)) as stream:
            torch.save(data, stream)

    def _exists(self) -> bool:
        try:
            path = self._get_load_path() if self._version else self._filepath
        except DatasetError:
            return False
        return Path(str(path)).exists()

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath), "version": self._version, "missing_ok": self._missing_ok}
