"""Wiring of the ``mnist_data`` pipeline (part of both MNIST experiments)."""

from kedro.pipeline import Node, Pipeline

from .nodes import mnist_model_input


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline([
        Node(mnist_model_input, ["raw_mnist", "params:mnist_input", "params:preprocess"], ["mnist_images", "mnist_split"],
             name="mnist_model_input"),
    ])
