"""Kedro datasets of this project; the catalog names them by their full dotted path."""

from .character_archive import CharacterArchiveDataset
from .checkpoint_store import CheckpointStore, CheckpointStoreDataset
from .image_source import ImageSourceDataset
from .files import AtomicFileDataset, CSVDataset, FigureDataset, JSONDataset, MarkdownReportDataset, TorchObjectDataset

__all__ = [
    "AtomicFileDataset", "CSVDataset", "CharacterArchiveDataset", "CheckpointStore", "CheckpointStoreDataset",
    "FigureDataset", "ImageSourceDataset", "JSONDataset", "MarkdownReportDataset", "TorchObjectDataset",
]
