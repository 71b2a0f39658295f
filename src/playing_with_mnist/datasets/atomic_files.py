"""kedro-datasets' file datasets, with saves that are atomic on the local file system.

Each class here is a thin subclass of the kedro-datasets class of the same name: loading,
versioning, ``_describe`` and the ``preview()`` that Kedro-Viz shows in its side panel are the
library's. Only the write differs: on local files the bytes go to a temporary file beside the
target that is renamed into place once complete (:func:`~playing_with_mnist.ingest.atomic.atomic_write`),
so an interrupted save leaves the previous version intact and never a half-written file.
On other file systems (``s3://`` and the like) the library's ``fs.open`` is used: an object
store publishes an upload only when it is complete.

Text files are written and read as UTF-8 whatever the machine's locale.
"""

from __future__ import annotations

import io
import json
from contextlib import AbstractContextManager
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


def _open_for_save(fs: Any, protocol: str, path: str, open_args: dict[str, Any]) -> AbstractContextManager[IO]:
    """A writable file for ``path``: atomic (temporary file + rename) where the file is local."""
    if protocol == "file":
        return atomic_write(path, **open_args)
    return fs.open(path, **open_args)


class CSVDataset(_LibraryCSVDataset):
    """``pandas.CSVDataset`` (UTF-8, no index) with atomic saves; Kedro-Viz previews it as a table."""

    DEFAULT_FS_ARGS: dict[str, Any] = {"open_args_save": {**_UTF8_SAVE, "newline": ""}}

    def save(self, data: pd.DataFrame) -> None:
        path = get_filepath_str(self._get_save_path(), self._protocol)
        with _open_for_save(self._fs, self._protocol, path, self._fs_open_args_save) as stream:
            data.to_csv(path_or_buf=stream, **self._save_args)
        self._invalidate_cache()


class JSONDataset(_LibraryJSONDataset):
    """``json.JSONDataset`` with atomic saves; the data must be plain Python values."""

    DEFAULT_FS_ARGS: dict[str, Any] = {"open_args_save": dict(_UTF8_SAVE)}

    def save(self, data: Any) -> None:
        path = get_filepath_str(self._get_save_path(), self._protocol)
        with _open_for_save(self._fs, self._protocol, path, self._fs_open_args_save) as stream:
            json.dump(data, stream, **self._save_args)
        self._invalidate_cache()


class MatplotlibDataset(_LibraryMatplotlibDataset):
    """``matplotlib.MatplotlibDataset`` (save-only, PNG at 110 dpi by default) with atomic saves.

    Kedro-Viz previews the saved image. As in the library, saving closes every pyplot figure.
    """

    DEFAULT_SAVE_ARGS: dict[str, Any] = {"format": "png", "dpi": 110}

    def _save_to_fs(self, full_key_path: str, plot: Figure) -> None:
        buffer = io.BytesIO()
        plot.savefig(buffer, **self._save_args)
        with _open_for_save(self._fs, self._protocol, full_key_path, self._fs_open_args_save) as stream:
            stream.write(buffer.getvalue())


class TextDataset(_LibraryTextDataset):
    """``text.TextDataset`` (UTF-8) with atomic saves."""

    DEFAULT_FS_ARGS: dict[str, Any] = {
        "open_args_save": dict(_UTF8_SAVE),
        "open_args_load": {"mode": "r", "encoding": "utf-8"},
    }

    def save(self, data: str) -> None:
        path = get_filepath_str(self._get_save_path(), self._protocol)
        with _open_for_save(self._fs, self._protocol, path, self._fs_open_args_save) as stream:
            stream.write(self._text_to_save(data, PurePosixPath(path)))
        self._invalidate_cache()

    def _text_to_save(self, data: str, path: PurePosixPath) -> str:
        """The text written to ``path``; subclasses may fill in placeholders."""
        return data


class MarkdownReportDataset(TextDataset):
    """A Markdown document whose links can point at artifacts of the same run.

    A Kedro run saves all versioned outputs under one version (timestamp) that nodes do
    not know; the report node writes ``{save_version}`` in its links and this dataset
    fills it in: ``../../loss_graph.png/{save_version}/loss_graph.png``. Unversioned, the
    placeholder becomes empty.
    """

    def _text_to_save(self, data: str, path: PurePosixPath) -> str:
        version = path.parent.name if self._version else ""
        return data.replace(SAVE_VERSION, version)
