"""A folder or zip of new images -> the trained model's predictions as a CSV."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
