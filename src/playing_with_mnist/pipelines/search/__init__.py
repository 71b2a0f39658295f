"""The ``search`` pipeline: an Optuna study of Task 1's training settings, and its report."""

from .pipeline import create_pipeline as create_pipeline
