"""Images to classify: a folder or a zip, chosen at run time."""

from __future__ import annotations

from kedro.io import DatasetError

from playing_with_mnist.ingest.archive import ArchiveError
from playing_with_mnist.ingest.sources import ImageSource

from .raw import RawDataset


class ImageSourceDataset(RawDataset):
    """Loads an :class:`ImageSource` for ``filepath`` (names only; the predicting node decodes). Read-only."""

    def load(self) -> ImageSource:
        try:
            return ImageSource.from_path(self._filepath)
        except ArchiveError as error:
            raise DatasetError(f"{error} Pass one with --params=predict_input=PATH.") from error
