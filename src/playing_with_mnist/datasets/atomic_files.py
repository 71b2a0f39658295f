"""kedro-datasets' file datasets (loading, versioning, Kedro-Viz previews are the library's), with saves
that are atomic on local files (:func:`~playing_with_mnist.ingest.atomic.atomic_write`): an interrupted
save leaves the previous version intact. Other file systems use the library's ``fs.open`` (an object store
publishes an upload only once complete). Text is written and read as UTF-8 whatever the locale.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import PurePosixPath
from typing import IO, Any

import pandas as pd
from kedro.io.core import get_filepath_str
from kedro_datasets.json import JSONDataset as _LibraryJSONDataset
from kedro_datasets.matplotlib import MatplotlibDataset as _LibraryMatplotlibDataset
from kedro_datasets.pandas import CSVDataset as _LibraryCSVDataset
from kedro_datasets.text import TextDataset as _LibraryTextDataset
from matplotlib.figure import Figure

from playing_with_mnist.ingest.atomic import atomic_write
from playing_with_mnist.reporting import SAVE_VERSION

_UTF8_SAVE = {"mode": "w", "encoding": "utf-8"}


def _save(dataset: Any, write: Callable[[IO, str], None], path: str | None = None) -> None:
    """``write(stream, path)`` to the dataset's save path (or ``path``), atomically where the file is local."""
    full_path = path or get_filepath_str(dataset._get_save_path(), dataset._protocol)
    open_file = atomic_write if dataset._protocol == "file" else dataset._fs.open
    with open_file(full_path, **dataset._fs_open_args_save) as stream:
        write(stream, full_path)
    if path is None:
        dataset._invalidate_cache()


class CSVDataset(_LibraryCSVDataset):
    """``pandas.CSVDataset`` (UTF-8, no index) with atomic saves; Kedro-Viz previews it as a table."""

    DEFAULT_FS_ARGS: dict[str, Any] = {"open_args_save": {**_UTF8_SAVE, "newline": ""}}

    def save(self, data: pd.DataFrame) -> None:
        _save(self, lambda stream, _: data.to_csv(path_or_buf=stream, **self._save_args))


class JSONDataset(_LibraryJSONDataset):
    """``json.JSONDataset`` with atomic saves; the data must be plain Python values."""

    DEFAULT_FS_ARGS: dict[str, Any] = {"open_args_save": dict(_UTF8_SAVE)}

    def save(self, data: Any) -> None:
        _save(self, lambda stream, _: json.dump(data, stream, **self._save_args))


class MatplotlibDataset(_LibraryMatplotlibDataset):
    """``matplotlib.MatplotlibDataset`` (save-only, PNG at 110 dpi by default) with atomic saves; as in the
    library, saving closes every pyplot figure."""

    DEFAULT_SAVE_ARGS: dict[str, Any] = {"format": "png", "dpi": 110}

    def _save_to_fs(self, full_key_path: str, plot: Figure) -> None:
        _save(self, lambda stream, _: plot.savefig(stream, **self._save_args), full_key_path)


class TextDataset(_LibraryTextDataset):
    """``text.TextDataset`` (UTF-8) with atomic saves."""

    DEFAULT_FS_ARGS: dict[str, Any] = {"open_args_save": dict(_UTF8_SAVE), "open_args_load": {"mode": "r", "encoding": "utf-8"}}

    def save(self, data: str) -> None:
        _save(self, lambda stream, path: stream.write(self._text_to_save(data, PurePosixPath(path))))

    def _text_to_save(self, data: str, path: PurePosixPath) -> str:
        """The text written to ``path``; subclasses may fill in placeholders."""
        return data


class MarkdownReportDataset(TextDataset):
    """A Markdown document whose links can point at artifacts of the same run.

    Nodes do not know the run's save version: the report writes ``{save_version}`` in its links
    (``../../loss_graph.png/{save_version}/loss_graph.png``) and this dataset fills it in; unversioned, with "".
    """

    def _text_to_save(self, data: str, path: PurePosixPath) -> str:
        version = path.parent.name if self._version else ""
        return data.replace(SAVE_VERSION, version)
