"""Images in a table -> the trained model's top 3 per row: what the registered MLflow model runs, and what ``predict`` runs."""

from .pipeline import create_pipeline as create_pipeline
