"""Wiring of the ``predict`` pipeline."""

from kedro.pipeline import Node, Pipeline

from .nodes import predict_images


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline([
        Node(predict_images, ["prediction_inputs", "trained_model", "params:predict"], "predictions", name="predict_images"),
    ])
