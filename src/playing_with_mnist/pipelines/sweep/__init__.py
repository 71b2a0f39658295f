"""The ``sweep`` pipeline: many trainings of one model (recipes x seeds) and their comparison."""

from .pipeline import create_pipeline as create_pipeline
