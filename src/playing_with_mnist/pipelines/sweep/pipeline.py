"""Wiring of the ``sweep`` pipeline: per run of ``sweep.runs`` (read at registration, ``playing_with_mnist.sweep``)
an independent training under ``sweep.<run>`` on Task 1's cache and split, with ``params:sweep.runs.<run>`` laid
over ``params:train`` (a parallel runner runs them side by side); then the test-zip scores and the comparison."""

from kedro.pipeline import Node, Pipeline

from playing_with_mnist.sweep import registered_runs
from playing_with_mnist.training.pipeline import training_pipeline

from .nodes import compare_sweep, score_sweep


def create_pipeline(**kwargs) -> Pipeline:
    runs = list(registered_runs())
    overrides = [f"params:sweep.runs.{run}" for run in runs]
    trainings = [training_pipeline(run, "character_images", "train_val_split", params) for run, params in zip(runs, overrides)]
    sweep = Pipeline(
        [
            *trainings,
            Node(score_sweep, ["test_character_zip", "params:preprocess", "params:sweep.runs", *(f"{run}_model" for run in runs)],
                 "test_scores", name="score_sweep"),
            Node(compare_sweep, ["params:sweep.runs", "test_scores", *(f"{run}_history" for run in runs)],
                 ["comparison", "recipe_summary", "accuracy_curves"], name="compare_sweep"),
        ],
        namespace="sweep",
        inputs={"character_images", "train_val_split"},
        parameters={"params:train", "params:preprocess", "params:sweep.runs", *overrides},
    )
    return sweep
