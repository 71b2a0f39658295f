"""The trained model -> an ONNX model of its calibrated predictions (``data/06_models/resnet.onnx``)."""

from .pipeline import create_pipeline as create_pipeline
