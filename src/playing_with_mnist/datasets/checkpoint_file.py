"""Per-epoch training checkpoints, handed to the training node as a store.

Kedro saves a node's outputs only when the node ends; a checkpoint must be written
after every epoch, while the node runs. So this dataset loads a small store object
whose ``save`` writes atomically to the configured file and whose ``load`` reads it
back with ``weights_only=True``. The node never sees a path.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kedro.io import AbstractDataset, DatasetError

from .torch_object import TorchObjectDataset


class CheckpointFile:
    """Reads and writes one checkpoint file, atomically, with ``weights_only=True`` loading."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._file = TorchObjectDataset(str(self.path), missing_ok=True)

    def load(self) -> dict | None:
        """The saved state, or ``None`` when no checkpoint exists yet."""
        try:
            return self._file.load()
        except DatasetError as error:
            raise DatasetError(f"{self.path} cannot be read as a checkpoint; delete it to start again ({error})") from error

    def save(self, state: dict) -> None:
        self._file.save(state)


class CheckpointFileDataset(AbstractDataset[None, CheckpointFile]):
    """Loads a :class:`CheckpointFile` for ``filepath``; cannot be saved to."""

    def __init__(self, filepath: str, metadata: dict | None = None) -> None:
        self._filepath = Path(filepath)
        self.metadata = metadata

    def load(self) -> CheckpointFile:
        return CheckpointFile(self._filepath)

    def save(self, data: Any) -> None:
        raise DatasetError("training_checkpoints is written by the training node through its store")

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath)}
