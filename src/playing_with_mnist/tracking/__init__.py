"""Experiment tracking with MLflow, through kedro-mlflow: one MLflow run per training.

kedro-mlflow opens one MLflow run per ``kedro run`` (named after its pipelines) and logs the
parameters each node reads. :class:`TrainingTrackingHooks` adds, for every training node
(Task 1's ``task1``, each MNIST run such as ``mnist_transfer.scratch``), a run nested under
it with the resolved training settings, the recipe, the data and its fingerprint, the
per-epoch history as metric steps, the final accuracies, the model (a weights-only
checkpoint) and, for Task 1, its report (graphs, confusion matrix, ``results.md``).
Other outputs of a run (evaluate's test metrics, the MNIST experiments' documents and
figures) go to the ``kedro run``'s own MLflow run.

The store is the project's SQLite file (``mlflow.db``) and artifacts on disk
(``mlartifacts/``): nothing needs a server or the network. ``tracking.enabled: false`` (or
``--params=tracking.enabled=false``) turns all of it off; the run then touches no store.
"""

from .hooks import TrainingTrackingHooks
from .store import TrackingStoreError

__all__ = ["TrackingStoreError", "TrainingTrackingHooks"]
