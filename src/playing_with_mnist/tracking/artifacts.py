"""What goes into MLflow: flattened settings, the history as metric steps, figures, documents
and metrics files, and the code's commit."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pandas as pd

from playing_with_mnist.reporting import flat_artifact_links

# Task 1's report, logged into Task 1's training run: dataset name -> artifact name (its suffix by type).
TASK1_REPORT = {
    "loss_graph": "loss_graph", "accuracy_graph": "accuracy_graph", "confusion_matrix": "confusion_matrix",
    "per_class_accuracy_graph": "per_class_accuracy", "reliability_diagram": "reliability_diagram",
    "results_document": "results", "training_metrics": "metrics",
}
# The final numbers of metrics.json (Task 1) and test_metrics.json (evaluate); the history gives
# final.last_val_accuracy and final.max_val_accuracy itself.
FINAL_METRICS = ("max_train_accuracy", "last_train_accuracy", "val_accuracy", "val_accuracy_case_folded")
TEST_METRICS = ("accuracy", "accuracy_case_folded")


def flatten(values: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"augment": {"rotate": 10}}`` -> ``{"augment.rotate": 10}``."""
    flat: dict[str, Any] = {}
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def git_commit(project_path: Path) -> str | None:
    try:
        result = subprocess.run(["git", "rev-parse", "HEAD"], cwd=project_path, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip() or None if result.returncode == 0 else None


def history_metrics(history: pd.DataFrame) -> list[Any]:
    """The per-epoch history as metric steps, and the last and best validation accuracy."""
    from mlflow.entities import Metric

    keys = ("train_loss", "train_accuracy", "val_loss", "val_accuracy", "seconds")
    metrics = [Metric(key, float(row[key]), 0, int(row["epoch"]))
               for row in history.to_dict("records") for key in keys if key in row and pd.notna(row[key])]
    if len(history):
        last = int(history["epoch"].iloc[-1])
        metrics += [Metric("final.last_val_accuracy", float(history["val_accuracy"].iloc[-1]), 0, last),
                    Metric("final.max_val_accuracy", float(history["val_accuracy"].max()), 0, last)]
    return metrics


def is_report(data: Any) -> bool:
    import matplotlib.figure

    return isinstance(data, (matplotlib.figure.Figure, str)) or (
        isinstance(data, dict) and any(key in data for key in FINAL_METRICS + TEST_METRICS))


def log_report(client: Any, run_id: str, data: Any, name: str) -> None:
    """A figure as ``name.png``, a document as ``name.md``, a metrics dict as ``name.json`` and its final numbers
    (``metrics.json``'s as final.<key>, ``test_metrics.json``'s as test.<key>) as metrics."""
    import matplotlib.figure
    from mlflow.entities import Metric

    if isinstance(data, matplotlib.figure.Figure):
        client.log_figure(run_id, data, f"{name}.png", save_kwargs={"dpi": 110})
    elif isinstance(data, str):
        # The document links the same run's figures by their catalog paths; in MLflow they sit beside it.
        client.log_text(run_id, flat_artifact_links(data), f"{name}.md")
    else:
        client.log_dict(run_id, data, f"{name}.json")
        prefix, keys = ("final.", FINAL_METRICS) if "max_val_accuracy" in data else ("test.", TEST_METRICS)
        metrics = [Metric(prefix + key, float(data[key]), 0, 0) for key in keys
                   if isinstance(data.get(key), (int, float)) and not isinstance(data.get(key), bool)]
        if metrics:
            client.log_batch(run_id, metrics=metrics)
