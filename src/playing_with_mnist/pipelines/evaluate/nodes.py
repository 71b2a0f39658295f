"""Nodes of the ``evaluate`` pipeline."""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import pandas as pd

from playing_with_mnist.analysis import figures, inference, metrics
from playing_with_mnist.ingest.archive import CharacterArchive
from playing_with_mnist.reporting import describe_source
from playing_with_mnist.training.checkpoints import TrainedModel


def evaluate_test_set(
    test_character_zip: CharacterArchive, trained_model: TrainedModel, params: dict[str, Any]
) -> tuple[dict[str, Any], pd.DataFrame, pd.DataFrame, plt.Figure]:
    """Score the trained model on a labelled zip in the training layout, decoded as the training set was
    (``inference.decode_test_zip``): metrics, the per-class table, the per-image predictions and the
    row-normalised confusion matrix figure."""
    test, labels = inference.decode_test_zip(test_character_zip, trained_model, params)
    names = trained_model.class_names
    probabilities = inference.predict(trained_model, test["images"])
    table = metrics.prediction_table(probabilities, labels, names, test["members"])
    matrix, per_class, pairs = metrics.confusion_summary(table, names)
    per_class = per_class[per_class["images"] > 0].reset_index(drop=True)
    test_metrics = {
        "accuracy": float((table["label"] == table["predicted_label"]).mean()),
        "accuracy_case_folded": metrics.case_folded_accuracy(table, names),
        "tta": trained_model.tta, "images": len(table), "classes": len(test["class_folders"]),
        "data_source": test["source"], "data_source_description": describe_source(test["source"]),
        "model_trained_on": describe_source(trained_model.source),
        "per_class_accuracy": dict(zip(per_class["class"], per_class["accuracy"].astype(float))),
        "most_confused": pairs.to_dict("records"),
    }
    figure = figures.plot_confusion(matrix, names, f"Test confusion matrix: {test_character_zip.path.name} (accuracy {test_metrics['accuracy']:.1%})")
    return test_metrics, per_class, table, figure
