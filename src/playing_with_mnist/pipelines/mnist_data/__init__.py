"""MNIST (or its synthetic stand-in) as model input: 32x32 tensors and a train/test split."""

from .pipeline import create_pipeline as create_pipeline
