"""Nodes of the ``evaluate`` pipeline."""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import pandas as pd

from playing_with_mnist.analysis import figures, inference, metrics
from playing_with_mnist.analysis.calibration import calibration_summary
from playing_with_mnist.ingest.archive import CharacterArchive
from playing_with_mnist.reporting import describe_source
from playing_with_mnist.training.checkpoints import TrainedModel


def evaluate_test_set(
    test_character_zip: CharacterArchive, trained_model: TrainedModel, params: dict[str, Any]
) -> tuple[dict[str, Any], pd.DataFrame, pd.DataFrame, plt.Figure, plt.Figure]:
    """Score the trained model on a labelled zip in the training layout, decoded as the training set was
    (``inference.decode_test_zip``): metrics (with the calibration error before and after the model's temperature:
    on images it was not fitted on), the per-class table, the per-image predictions, the row-normalised confusion
    matrix figure and the reliability diagram."""
    test, labels = inference.decode_test_zip(test_character_zip, trained_model, params)
    names = trained_model.class_names
    table = inference.prediction_table(trained_model, test["images"], labels, test["members"])
    matrix, per_class, pairs = metrics.confusion_summary(table, names)
    per_class = per_class[per_class["images"] > 0].reset_index(drop=True)
    test_metrics = {
        "accuracy": float((table["label"] == table["predicted_label"]).mean()),
        "accuracy_case_folded": metrics.case_folded_accuracy(table, names),
        "calibration": calibration_summary(table, trained_model.temperature), "tta": trained_model.tta, "images": len(table), "classes": len(test["class_folders"]),
        "data_source": test["source"], "data_source_description": describe_source(test["source"]),
        "model_trained_on": describe_source(trained_model.source),
        "per_class_accuracy": dict(zip(per_class["class"], per_class["accuracy"].astype(float))),
        "most_confused": pairs.to_dict("records"),
    }
    figure = figures.plot_confusion(matrix, names, f"Test confusion matrix: {test_character_zip.path.name} (accuracy {test_metrics['accuracy']:.1%})")
    reliability = figures.plot_reliability(table, trained_model.temperature, f"Confidence vs accuracy: {test_character_zip.path.name}")
    return test_metrics, per_class, table, figure, reliability
