"""Wiring of the ``report`` pipeline."""

from kedro.pipeline import Node, Pipeline

from .nodes import plot_accuracy, plot_loss, summarise_training, write_results_document


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(summarise_training, ["training_history", "trained_model"], "training_metrics", name="summarise_training"),
            Node(plot_loss, "training_history", "loss_graph", name="plot_loss"),
            Node(plot_accuracy, "training_history", "accuracy_graph", name="plot_accuracy"),
            Node(write_results_document, ["training_metrics", "preprocess_summary"], "results_document", name="write_results_document"),
        ]
    )
