"""Cached tensors + split -> trained ResNet and its per-epoch history."""

from .pipeline import create_pipeline as create_pipeline
