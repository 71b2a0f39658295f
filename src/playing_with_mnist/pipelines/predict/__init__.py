"""A folder or zip of new images -> the trained model's predictions as a CSV."""

from .pipeline import create_pipeline as create_pipeline
