"""Wiring of the ``mnist_transfer`` pipeline (Task 2): three instances of the one training pipeline (``digits``,
``scratch``, ``pretrained``) under the ``mnist_transfer`` namespace, then the comparison; the better MNIST run is
published as ``mnist_model``, Task 3's start and clean model."""

from kedro.pipeline import Node, Pipeline

from playing_with_mnist.ingest.model_input import digit_subset
from playing_with_mnist.training.pipeline import training_pipeline

from .nodes import compare_transfer, select_mnist_model, write_transfer_document


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(digit_subset, ["character_images", "train_val_split"], ["digit_images", "digit_split"],
                 name="select_digit_classes"),
            training_pipeline("digits", "digit_images", "digit_split", "params:digits_train"),
            training_pipeline("scratch", "mnist_images", "mnist_split", "params:mnist_train"),
            training_pipeline("pretrained", "mnist_images", "mnist_split", "params:mnist_train",
                              initial_model="digits_model"),
            Node(compare_transfer, ["scratch_history", "pretrained_history"],
                 ["comparison", "accuracy_curves", "loss_curves"], name="compare_runs"),
            Node(select_mnist_model, ["scratch_model", "pretrained_model", "comparison"], "mnist_model",
                 name="select_mnist_model"),
            Node(write_transfer_document, ["comparison", "digits_history", "mnist_split", "mnist_images", "mnist_model"],
                 "results", name="write_results_document"),
        ],
        namespace="mnist_transfer",
        inputs={"character_images", "train_val_split", "mnist_images", "mnist_split"},
        outputs={"mnist_model"},
        parameters={"params:train", "params:digits_train", "params:mnist_train"},
    )
