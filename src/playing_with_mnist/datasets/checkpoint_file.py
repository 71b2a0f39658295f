"""Per-epoch training checkpoints, handed to the training node as a store.

Kedro saves a node's outputs only when the node ends; a checkpoint must be written after every
epoch, while the node runs. So this dataset loads a store whose ``save`` writes atomically to the
configured file and whose ``load`` reads it back with ``weights_only=True``. The node never sees a path.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kedro.io import DatasetError

from .raw import RawDataset
from .torch_object import TorchObjectDataset


class CheckpointFile(TorchObjectDataset):
    """One checkpoint file; ``load`` gives ``None`` while none exists yet."""

    def __init__(self, path: Path) -> None:
        super().__init__(str(path), missing_ok=True)
        self.path = Path(path)

    def load(self) -> dict | None:
        try:
            return super().load()
        except DatasetError as error:
            raise DatasetError(f"{self.path} cannot be read as a checkpoint; delete it to start again ({error})") from error


class CheckpointFileDataset(RawDataset):
    """Loads a :class:`CheckpointFile` for ``filepath``; cannot be saved to."""

    def load(self) -> CheckpointFile:
        return CheckpointFile(self._filepath)

    def save(self, data: Any) -> None:
        raise DatasetError("training_checkpoints is written by the training node through its store")
