"""The read-only datasets: raw data (the user's file, else the real one's default place, else a demo), the
images to classify, and the store through which the training node writes its per-epoch checkpoints."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kedro.io import AbstractDataset, DatasetError

from playing_with_mnist.ingest.archive import ArchiveError, ImageSource

from .torch_object import TorchObjectDataset


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


class ImageSourceDataset(RawDataset):
    """Loads the :class:`ImageSource` at ``filepath``, chosen at run time (names only; the predicting node decodes)."""

    def load(self) -> ImageSource:
        try:
            return ImageSource.from_path(self._filepath)
        except ArchiveError as error:
            raise DatasetError(f"{error} Pass one with --params=predict_input=PATH.") from error


class CheckpointFile(TorchObjectDataset):
    """One checkpoint file, atomically saved and loaded with ``weights_only=True``; ``None`` before the first save."""

    def __init__(self, path: Path) -> None:
        super().__init__(str(path), missing_ok=True)
        self.path = Path(path)

    def load(self) -> dict | None:
        try:
            return super().load()
        except DatasetError as error:
            raise DatasetError(f"{self.path} cannot be read as a checkpoint; delete it to start again ({error})") from error


class CheckpointFileDataset(RawDataset):
    """Loads a :class:`CheckpointFile` for ``filepath``: Kedro saves a node's outputs only when it ends, so the
    training node writes a checkpoint after every epoch through this store. Cannot be saved to."""

    def load(self) -> CheckpointFile:
        return CheckpointFile(self._filepath)

    def save(self, data: Any) -> None:
        raise DatasetError("training_checkpoints is written by the training node through its store")
