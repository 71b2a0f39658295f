"""Wiring of the ``export`` pipeline."""

from kedro.pipeline import Node, Pipeline

from .nodes import export_onnx


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline([
        Node(export_onnx, "trained_model", "onnx_model", name="export_onnx"),
    ])
