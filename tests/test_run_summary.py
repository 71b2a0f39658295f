"""The end of a run that reports on Task 1 names its accuracies, its results.md and the next commands."""

from __future__ import annotations

from pathlib import Path

from kedro.io import DataCatalog
from kedro.pipeline import Node, Pipeline

from playing_with_mnist.hooks import run_summary

VERSION = "2026-01-02T03.04.05.678Z"
METRICS = {"max_train_accuracy": 0.5, "max_val_accuracy": 0.6, "last_train_accuracy": 0.4, "last_val_accuracy": 0.55,
           "val_accuracy": 0.58, "val_accuracy_case_folded": None, "epochs": 2}


def _run(project: Path, tracking: bool) -> tuple[Pipeline, DataCatalog]:
    catalog = DataCatalog.from_config({
        "training_metrics": {"type": "playing_with_mnist.datasets.JSONDataset", "versioned": True,
                             "filepath": str(project / "data/08_reporting/metrics.json")},
        "results_document": {"type": "playing_with_mnist.datasets.MarkdownReportDataset", "versioned": True,
                             "filepath": str(project / "data/08_reporting/results.md")},
    }, save_version=VERSION)
    catalog["params:tracking"] = {"enabled": tracking}
    catalog.save("training_metrics", METRICS)
    catalog.save("results_document", "# Results\n")
    report = Pipeline([Node(lambda: (METRICS, ""), None, ["training_metrics", "results_document"], name="report")])
    return report, catalog


def test_a_report_run_names_its_accuracies_results_and_next_commands(tmp_path: Path) -> None:
    pipeline, catalog = _run(tmp_path, tracking=True)
    summary = run_summary(pipeline, catalog, {"project_path": str(tmp_path), "env": None})
    assert summary["accuracies"] == {name: value for name, value in METRICS.items() if name != "epochs"}
    assert summary["results"] == Path("data/08_reporting/results.md") / VERSION / "results.md"
    assert (tmp_path / summary["results"]).read_text() == "# Results\n"
    assert summary["next"][:3] == ["kedro viz run", "kedro mlflow ui", "kedro run --env=tuned"]
    assert summary["next"][3].startswith("playing-with-mnist draw")


def test_the_next_commands_follow_the_run(tmp_path: Path) -> None:
    pipeline, catalog = _run(tmp_path, tracking=False)
    assert run_summary(pipeline, catalog, {"project_path": str(tmp_path), "env": "tuned"})["next"] == ["kedro viz run"]


def test_runs_without_the_report_have_no_summary(tmp_path: Path) -> None:
    _, catalog = _run(tmp_path, tracking=True)
    training_only = Pipeline([Node(lambda: 1, None, "trained_model", name="train")])
    assert run_summary(training_only, catalog, {"project_path": str(tmp_path)}) is None
