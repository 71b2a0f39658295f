"""A labelled test zip -> accuracy, per-class accuracy and confusion matrix of the trained model."""

from .pipeline import create_pipeline as create_pipeline
