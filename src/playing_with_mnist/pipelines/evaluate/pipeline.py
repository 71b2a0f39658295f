"""Wiring of the ``evaluate`` pipeline."""

from kedro.pipeline import Node, Pipeline

from .nodes import evaluate_test_set


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline([
        Node(evaluate_test_set, ["test_character_zip", "trained_model", "params:preprocess"],
             ["test_metrics", "test_per_class_accuracy", "test_predictions", "test_confusion_matrix", "test_reliability_diagram"], name="evaluate_test_set"),
    ])
