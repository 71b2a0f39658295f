"""Kedro datasets of this project; the catalog names them by their full dotted path.

Reports and tables are kedro-datasets' classes with atomic saves (:mod:`.atomic_files`); the
rest are what kedro-datasets has nothing for: the character zips, MNIST, torch caches and models, plain bytes (the ONNX model).
"""

from .atomic_files import CSVDataset, JSONDataset, MarkdownReportDataset, MatplotlibDataset, TextDataset
from .bytes_file import BytesDataset
from .character_archive import CharacterArchiveDataset, NoisyDigitArchiveDataset
from .mnist import MnistDataset
from .raw import CheckpointFile, CheckpointFileDataset, ImageSourceDataset
from .torch_object import TorchObjectDataset, TrainedModelDataset

__all__ = [
    "BytesDataset", "CSVDataset", "CharacterArchiveDataset", "CheckpointFile", "CheckpointFileDataset", "ImageSourceDataset",
    "JSONDataset", "MarkdownReportDataset", "MatplotlibDataset", "MnistDataset", "NoisyDigitArchiveDataset",
    "TextDataset", "TorchObjectDataset", "TrainedModelDataset",
]
