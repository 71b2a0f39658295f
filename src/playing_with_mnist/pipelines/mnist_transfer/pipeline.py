"""Wiring of the ``mnist_transfer`` pipeline (Task 2) under the ``mnist_transfer`` namespace: the digits model, an
instance of the one training pipeline; then per point (a training size and a seed of ``mnist_transfer``, read when
the pipelines are registered, like the sweep's runs) a namespace ``n<size>_s<seed>`` holding its training subset and two trainings,
``scratch`` and ``pretrained``, which write ``n<size>_s<seed>_<start>_model`` and ``..._history`` (no point depends
on another: a parallel runner runs them side by side); then the learning curve, and at the largest size and first
seed the per-epoch comparison, whose better run is published as ``mnist_model``, Task 3's start and clean model."""

from functools import partial, update_wrapper

from kedro.pipeline import Node, Pipeline

from playing_with_mnist.analysis.learning_curve import STARTS
from playing_with_mnist.ingest.model_input import digit_subset
from playing_with_mnist.sweep import registered_points
from playing_with_mnist.training.pipeline import training_pipeline

from .nodes import compare_transfer, learning_curve, select_mnist_model, training_subset, write_transfer_document

# What every MNIST training lays over `train`, in order (parameters_train.yml).
RECIPE = "params:mnist_recipe"
MNIST_TRAIN = [RECIPE, "params:mnist_train"]


def curve_point(point: str, points: dict[str, dict[str, int]]) -> Pipeline:
    """One point of the learning curve: its subset of MNIST's training images, then both starts on it at its seed;
    their models and histories are ``<point>_<start>_model`` and ``<point>_<start>_history``."""
    subset = update_wrapper(partial(training_subset, points=points, point=point), training_subset)
    seed = {"seed": points[point]["seed"]}
    return Pipeline(
        [
            Node(subset, ["mnist_images", "mnist_split", "params:mnist_transfer"], "train_split", name="select_training_subset"),
            training_pipeline("scratch", "mnist_images", "train_split", MNIST_TRAIN, changes=seed),
            training_pipeline("pretrained", "mnist_images", "train_split", MNIST_TRAIN, initial_model="digits_model", changes=seed),
        ],
        namespace=point,
        inputs={"mnist_images", "mnist_split", "digits_model"},
        outputs={f"{start}_{kind}": f"{point}_{start}_{kind}" for start in STARTS for kind in ("model", "history")},
        parameters={"params:train", *MNIST_TRAIN, "params:mnist_transfer"},
    )


def create_pipeline(**kwargs) -> Pipeline:
    points = registered_points()
    largest = max(points, key=lambda point: points[point]["train_size"])  # at the first seed: max keeps the first it meets
    curve = update_wrapper(partial(learning_curve, points=points), learning_curve)
    return Pipeline(
        [
            Node(digit_subset, ["character_images", "train_val_split"], ["digit_images", "digit_split"],
                 name="select_digit_classes"),
            training_pipeline("digits", "digit_images", "digit_split", [RECIPE, "params:digits_train"]),
            *(curve_point(point, points) for point in points),
            Node(curve, ["params:mnist_transfer", *(f"{point}_{start}_history" for point in points for start in STARTS)],
                 ["learning_curve", "learning_curve_summary", "learning_curves"], name="summarise_learning_curve"),
            Node(compare_transfer, [f"{largest}_scratch_history", f"{largest}_pretrained_history"],
                 ["comparison", "accuracy_curves", "loss_curves"], name="compare_runs"),
            Node(select_mnist_model, [f"{largest}_scratch_model", f"{largest}_pretrained_model", "comparison"], "mnist_model",
                 name="select_mnist_model"),
            Node(write_transfer_document, ["learning_curve_summary", "comparison", "digits_history", "digits_model", "mnist_split",
                                           "mnist_images", "mnist_model"], "results", name="write_results_document"),
        ],
        namespace="mnist_transfer",
        inputs={"character_images", "train_val_split", "mnist_images", "mnist_split"},
        outputs={"mnist_model"},
        parameters={"params:train", RECIPE, "params:digits_train", "params:mnist_train", "params:mnist_transfer"},
    )
