"""Tensors, models and checkpoints as versioned ``torch.save`` files, saved atomically (kedro-datasets'
``PyTorchDataset`` holds only a module's state dict; these are dicts of tensors and plain values)."""

from __future__ import annotations

import io
from pathlib import Path, PurePosixPath
from typing import Any

import torch
from kedro.io.core import AbstractVersionedDataset, DatasetError, Version

from playing_with_mnist.ingest.atomic import atomic_write


class TorchObjectDataset(AbstractVersionedDataset[Any, Any]):
    """A dict of tensors and plain values, loaded with ``weights_only=True`` (so a model file someone
    sends you cannot run code). ``missing_ok: true`` loads ``None`` when there is no file yet."""

    def __init__(self, filepath: str, version: Version | None = None, missing_ok: bool = False,
                 metadata: dict | None = None) -> None:
        super().__init__(filepath=PurePosixPath(filepath), version=version)
        self._missing_ok = missing_ok
        self.metadata = metadata

    def _path(self, for_save: bool) -> Path:
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
            return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
        except Exception as error:
            raise DatasetError(f"{path} cannot be read ({error}); delete it and run the pipeline that makes it again") from error

    def save(self, data: Any) -> None:
        with atomic_write(self._path(for_save=True)) as stream:
            torch.save(data, stream)

    def _exists(self) -> bool:
        try:
            return self._path(for_save=False).exists()
        except DatasetError:
            return False

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath), "version": self._version}


class TrainedModelDataset(TorchObjectDataset):
    """A :class:`~playing_with_mnist.training.checkpoints.TrainedModel`; on disk, its checkpoint dict."""

    def load(self) -> Any:
        from playing_with_mnist.training.checkpoints import TrainedModel

        checkpoint = super().load()
        try:
            return None if checkpoint is None else TrainedModel.from_checkpoint(checkpoint)
        except ValueError as error:
            raise DatasetError(f"{self._filepath} is not a model this version of the project can read (a newer "
                               f"version may have saved it): {error}") from error

    def save(self, data: Any) -> None:
        super().save(data.to_checkpoint())
