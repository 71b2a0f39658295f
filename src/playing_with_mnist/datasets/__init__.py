"""Kedro datasets of this project; the catalog names them by their full dotted path."""

from .character_archive import CharacterArchiveDataset
from .checkpoint_store import CheckpointStore, CheckpointStoreDataset
from .markdown_report import MarkdownReportDataset
from .torch_object import TorchObjectDataset

__all__ = ["CharacterArchiveDataset", "CheckpointStore", "CheckpointStoreDataset", "MarkdownReportDataset", "TorchObjectDataset"]
