"""Images to classify: a folder or a zip, chosen at run time."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kedro.io import AbstractDataset, DatasetError

from playing_with_mnist.ingest.archive import ArchiveError
from playing_with_mnist.ingest.sources import ImageSource


class ImageSourceDataset(AbstractDataset[None, ImageSource]):
    """Loads an :class:`ImageSource` (names only; the predicting node decodes). Read-only."""

    def __init__(self, filepath: str, metadata: dict | None = None) -> None:
        self._filepath = Path(filepath)
        self.metadata = metadata

    def load(self) -> ImageSource:
        try:
            return ImageSource.from_path(self._filepath)
        except ArchiveError as error:
            raise DatasetError(f"{error} Pass one with --params=predict_input=PATH.") from error

    def save(self, data: Any) -> None:
        raise DatasetError("prediction_inputs is read-only")

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath)}
