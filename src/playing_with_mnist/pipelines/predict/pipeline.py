"""Wiring of the ``predict`` pipeline; the ``inference`` pipeline it feeds runs with it (``pipeline_registry.RUNS_FIRST``)."""

from kedro.pipeline import Node, Pipeline

from .nodes import name_predictions, read_images


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline([
        Node(read_images, "prediction_inputs", "character_requests", name="read_images"),
        Node(name_predictions, ["character_requests", "character_predictions"], "predictions", name="name_predictions"),
    ])
