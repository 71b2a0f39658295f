"""Kedro datasets of this project; the catalog names them by their full dotted path."""

from .character_archive import CharacterArchiveDataset, NoisyDigitArchiveDataset
from .checkpoint_store import CheckpointStore, CheckpointStoreDataset
from .files import (
    AtomicFileDataset,
    CSVDataset,
    FigureDataset,
    JSONDataset,
    MarkdownReportDataset,
    TorchObjectDataset,
)
from .image_source import ImageSourceDataset
from .mnist import MnistDataset

__all__ = [
    "AtomicFileDataset", "CSVDataset", "CharacterArchiveDataset", "CheckpointStore", "CheckpointStoreDataset",
    "FigureDataset", "ImageSourceDataset", "JSONDataset", "MarkdownReportDataset", "MnistDataset",
    "NoisyDigitArchiveDataset", "TorchObjectDataset",
]
