"""History and model -> metrics, graphs and the filled-in Results document."""

from .pipeline import create_pipeline as create_pipeline
