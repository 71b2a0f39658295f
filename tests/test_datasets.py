"""The report datasets are kedro-datasets' classes: same types, same Kedro-Viz previews, atomic saves."""

from __future__ import annotations

import base64
import inspect
import os
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import pytest
import yaml
from kedro.io.core import Version
from kedro_datasets.json import JSONDataset as LibraryJSONDataset
from kedro_datasets.matplotlib import MatplotlibDataset as LibraryMatplotlibDataset
from kedro_datasets.pandas import CSVDataset as LibraryCSVDataset
from kedro_datasets.text import TextDataset as LibraryTextDataset

from playing_with_mnist.datasets import CSVDataset, JSONDataset, MarkdownReportDataset, MatplotlibDataset

from .conftest import PROJECT_ROOT

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# catalog entry -> the kedro-datasets class it must be (directly or through a thin subclass)
LIBRARY_TYPES = {
    "training_history": LibraryCSVDataset,
    "per_class_accuracy": LibraryCSVDataset,
    "predictions": LibraryCSVDataset,
    "{experiment}.{run}_history": LibraryCSVDataset,
    "{experiment}.comparison": LibraryCSVDataset,
    "training_metrics": LibraryJSONDataset,
    "noisy_labels.noise_summary": LibraryJSONDataset,
    "loss_graph": LibraryMatplotlibDataset,
    "confusion_matrix": LibraryMatplotlibDataset,
    "{experiment}.{name}_curves": LibraryMatplotlibDataset,
    "results_document": LibraryTextDataset,
    "{experiment}.results": LibraryTextDataset,
}


def _class_of(dotted: str) -> type:
    module, _, name = dotted.rpartition(".")
    return getattr(__import__(module, fromlist=[name]), name)


def _figure() -> plt.Figure:
    figure, axes = plt.subplots(figsize=(2, 1.5))
    axes.plot([1, 3, 2])
    return figure


def _preview_type(dataset: object) -> str:
    """What Kedro-Viz reads to pick the side-panel renderer (kedro_viz ... node_metadata.set_preview_type)."""
    annotation = inspect.signature(dataset.preview).return_annotation
    return getattr(annotation, "__name__", str(annotation))


def test_catalog_reports_and_tables_use_kedro_datasets_classes() -> None:
    catalog = yaml.safe_load((PROJECT_ROOT / "conf/base/catalog.yml").read_text())
    for name, library_class in LIBRARY_TYPES.items():
        dataset_class = _class_of(catalog[name]["type"])
        assert issubclass(dataset_class, library_class), f"{name}: {dataset_class} is not a {library_class}"
    figure_types = {entry["type"] for entry in catalog.values() if str(entry.get("filepath", "")).endswith(".png")}
    assert figure_types == {"playing_with_mnist.datasets.MatplotlibDataset"}


def test_tables_figures_and_metrics_keep_the_library_previews(tmp_path: Path) -> None:
    table = CSVDataset(filepath=str(tmp_path / "history.csv"), version=Version(None, None))
    table.save(pd.DataFrame({"epoch": range(1, 8), "val_loss": [0.5] * 7}))
    assert _preview_type(table) == "TablePreview"
    preview = table.preview()
    assert preview["columns"] == ["epoch", "val_loss"] and [row[0] for row in preview["data"]] == [1, 2, 3, 4, 5]

    graph = MatplotlibDataset(filepath=str(tmp_path / "loss.png"), version=Version(None, None))
    graph.save(_figure())
    assert _preview_type(graph) == "ImagePreview"
    assert base64.b64decode(graph.preview()).startswith(PNG_MAGIC)

    metrics = JSONDataset(filepath=str(tmp_path / "metrics.json"))
    metrics.save({"accuracy": 0.5, "name": "ü"})
    assert _preview_type(metrics) == "JSONPreview" and metrics.load() == {"accuracy": 0.5, "name": "ü"}


def test_the_report_links_name_its_own_save_version(tmp_path: Path) -> None:
    version = "2026-01-02T03.04.05.678Z"
    report = MarkdownReportDataset(filepath=str(tmp_path / "results.md"), version=Version(None, version))
    report.save("![Loss](../../loss_graph.png/{save_version}/loss_graph.png) ü\n")
    written = (tmp_path / "results.md" / version / "results.md").read_text(encoding="utf-8")
    assert written == f"![Loss](../../loss_graph.png/{version}/loss_graph.png) ü\n"
    assert report.load() == written


def test_an_interrupted_figure_save_leaves_the_previous_image(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "graph.png"
    dataset = MatplotlibDataset(filepath=str(path))
    dataset.save(_figure())
    before = path.read_bytes()
    assert before.startswith(PNG_MAGIC)

    def interrupted(_fd: int) -> None:
        raise KeyboardInterrupt  # Ctrl-C after the bytes are written, before the rename

    monkeypatch.setattr(os, "fsync", interrupted)
    figure = _figure()
    figure.set_size_inches(4, 3)
    with pytest.raises(KeyboardInterrupt):
        dataset.save(figure)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["graph.png"]


def test_an_atomic_save_gets_the_permissions_a_plain_write_gets(tmp_path: Path) -> None:
    from playing_with_mnist.ingest.atomic import atomic_write

    plain = tmp_path / "plain.bin"
    plain.write_bytes(b"x")
    with atomic_write(tmp_path / "atomic.bin") as stream:
        stream.write(b"x")
    assert (tmp_path / "atomic.bin").stat().st_mode & 0o777 == plain.stat().st_mode & 0o777
