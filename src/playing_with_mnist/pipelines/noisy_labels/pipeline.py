"""Wiring of the ``noisy_labels`` pipeline (Task 3): four instances of the one training pipeline under the
``noisy_labels`` namespace. Reads ``trained_model`` (Task 1) and ``mnist_model`` (Task 2) from the catalog."""

from kedro.pipeline import Node, Pipeline

from playing_with_mnist.training.pipeline import training_pipeline

from .document import write_noisy_document
from .nodes import (
    analyse_noise,
    clean_model_probabilities,
    clean_training_set,
    compare_noisy,
    decode_noisy_digits,
    known_label_truth,
    noisy_model_input,
)

# What every training here lays over `train`, in order (parameters_train.yml).
SETTINGS = ["params:mnist_recipe", "params:noisy_train"]


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(decode_noisy_digits, ["raw_noisy_digits", "params:preprocess"], "noisy_images", name="decode_noisy_digits"),
            Node(noisy_model_input, ["noisy_images", "mnist_images", "mnist_split", "params:mnist_input"],
                 ["noisy_input", "noisy_split"], name="noisy_model_input"),
            Node(known_label_truth, ["raw_noisy_digits", "noisy_images"], "label_truth", name="known_label_truth"),
            Node(clean_model_probabilities, ["mnist_model", "noisy_input", "noisy_split"],
                 ["clean_probabilities", "clean_model_test_accuracy"], name="clean_model_probabilities"),
            Node(analyse_noise, ["noisy_input", "noisy_split", "clean_probabilities", "clean_model_test_accuracy", "label_truth",
                                 "params:noisy_labels"],
                 ["noise_matrix_estimate", "wrong_label_share", "noise_matrix", "wrong_label_share_graph", "folder_samples",
                  "noise_summary"], name="analyse_noise"),
            Node(clean_training_set, ["noisy_input", "noisy_split", "clean_probabilities", "label_truth", "params:noisy_labels"],
                 ["cleaned_input", "cleaned_split", "cleaning_summary"], name="clean_training_set"),
            training_pipeline("scratch", "noisy_input", "noisy_split", SETTINGS),
            training_pipeline("from_task1", "noisy_input", "noisy_split", SETTINGS, initial_model="trained_model"),
            training_pipeline("from_task2", "noisy_input", "noisy_split", SETTINGS, initial_model="mnist_model"),
            training_pipeline("cleaned", "cleaned_input", "cleaned_split", SETTINGS),
            Node(compare_noisy, ["scratch_history", "from_task1_history", "from_task2_history", "cleaned_history"],
                 ["comparison", "accuracy_curves", "loss_curves"], name="compare_runs"),
            Node(write_noisy_document, ["comparison", "noise_summary", "wrong_label_share", "cleaning_summary", "noisy_split",
                                        "noisy_input", "mnist_model", "scratch_model"], "results", name="write_results_document"),
        ],
        namespace="noisy_labels",
        inputs={"raw_noisy_digits", "mnist_images", "mnist_split", "trained_model", "mnist_model"},
        parameters={"params:preprocess", "params:mnist_input", "params:train", *SETTINGS, "params:noisy_labels"},
    )
