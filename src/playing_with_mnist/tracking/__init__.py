"""Experiment tracking with MLflow, through kedro-mlflow: one MLflow run per ``kedro run``, a run nested under
it for every training (:class:`TrainingTrackingHooks`), in the project's ``mlflow.db`` and ``mlartifacts/``.
What is logged where, and how to turn it off, is docs/tracking-serving.md."""

from .hooks import TrainingTrackingHooks
from .store import TrackingStoreError

__all__ = ["TrackingStoreError", "TrainingTrackingHooks"]
