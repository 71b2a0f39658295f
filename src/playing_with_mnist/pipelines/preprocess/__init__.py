"""Zip of character images -> cached 32x32 grayscale tensors and a train/val split."""

from .pipeline import create_pipeline as create_pipeline
