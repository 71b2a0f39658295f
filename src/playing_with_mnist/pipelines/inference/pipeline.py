"""Wiring of the ``inference`` pipeline: ``character_requests`` in, ``character_predictions`` out.

kedro-mlflow bundles it with the trained model as one MLflow model after every Task 1 training
(``pipeline_registry``); ``predict`` runs it on a folder or zip.
"""

from kedro.pipeline import Node, Pipeline

from .nodes import classify_images, decode_requests


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline([
        Node(decode_requests, ["character_requests", "trained_model"], "request_images", name="decode_requests"),
        Node(classify_images, ["request_images", "trained_model"], "character_predictions", name="classify_images"),
    ])
