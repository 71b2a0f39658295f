"""Wiring of the ``report`` pipeline."""

from kedro.pipeline import Node, Pipeline

from .nodes import (
    plot_accuracy,
    plot_highest_loss,
    plot_loss,
    plot_validation_reliability,
    predict_validation,
    summarise_confusions,
    summarise_training,
)
from .results_document import write_results_document


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline([
        Node(summarise_training, ["training_history", "trained_model", "validation_predictions"], "training_metrics", name="summarise_training"),
        Node(plot_loss, "training_history", "loss_graph", name="plot_loss"),
        Node(plot_accuracy, "training_history", "accuracy_graph", name="plot_accuracy"),
        Node(predict_validation, ["trained_model", "character_images", "train_val_split"], "validation_predictions",
             name="predict_validation"),
        Node(summarise_confusions, ["validation_predictions", "trained_model"],
             ["confusion_matrix", "per_class_accuracy", "confused_pairs", "per_class_accuracy_graph"], name="summarise_confusions"),
        Node(plot_validation_reliability, ["validation_predictions", "trained_model"], "reliability_diagram", name="plot_reliability"),
        Node(plot_highest_loss, ["validation_predictions", "character_images"], "highest_loss_images", name="plot_highest_loss"),
        Node(write_results_document, ["training_metrics", "trained_model", "preprocess_summary", "per_class_accuracy", "confused_pairs"],
             "results_document", name="write_results_document"),
    ])
