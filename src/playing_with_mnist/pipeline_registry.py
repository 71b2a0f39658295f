"""Project pipelines: one folder each under ``pipelines/``.

``__default__`` is Task 1 end to end (preprocess, train, report). ``predict`` and
``evaluate`` use a trained model on new data; ``mnist_transfer`` (Task 2) and
``noisy_labels`` (Task 3, after Tasks 1 and 2) are the MNIST experiments, and
``mnist_data`` prepares their MNIST input. These run only when named.
"""

from __future__ import annotations

from kedro.framework.project import find_pipelines
from kedro.pipeline import Pipeline

ON_DEMAND = ("predict", "evaluate", "mnist_data", "mnist_transfer", "noisy_labels")


def register_pipelines() -> dict[str, Pipeline]:
    """Map pipeline names (the folder names) to pipelines, plus ``__default__``."""
    pipelines = find_pipelines(raise_errors=True)
    pipelines["__default__"] = sum(p for name, p in pipelines.items() if name not in ON_DEMAND)
    return pipelines

