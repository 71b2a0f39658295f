"""History and model -> metrics, graphs and the filled-in Results document."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
