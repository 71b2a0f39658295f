"""Project pipelines: one folder each under ``pipelines/``.

``__default__`` is Task 1 end to end (preprocess, train, report). ``predict`` and
``evaluate`` use a trained model on new data; ``mnist_transfer`` (Task 2) and
``noisy_labels`` (Task 3, after Tasks 1 and 2) are the MNIST experiments, and
``mnist_data`` prepares their MNIST input; ``sweep`` trains recipes x seeds. These run only when named.
"""

from __future__ import annotations

import importlib
import importlib.resources

from kedro.framework.project import find_pipelines
from kedro.pipeline import Pipeline

ON_DEMAND = ("predict", "evaluate", "mnist_data", "mnist_transfer", "noisy_labels", "sweep")


def register_pipelines() -> dict[str, Pipeline]:
    """Map pipeline names (the folder names) to pipelines, plus ``__default__``."""
    pipelines = find_pipelines(raise_errors=True)
    pipelines["__default__"] = sum(p for name, p in pipelines.items() if name not in ON_DEMAND)
    return pipelines


def all_pipelines() -> dict[str, Pipeline]:
    """Every pipeline folder's pipeline, whatever this run asked for.

    During ``kedro run --pipelines=X`` Kedro 1.7 loads X alone, and ``find_pipelines``
    then returns X alone too (the run's filter overrides its ``pipelines_to_find``); the
    check of missing inputs (hooks.py) needs the others to say which one makes what.
    """
    package = importlib.resources.files("playing_with_mnist.pipelines")
    names = sorted(p.name for p in package.iterdir() if p.is_dir() and not p.name.startswith(("_", ".")))
    return {name: importlib.import_module(f"playing_with_mnist.pipelines.{name}").create_pipeline() for name in names}
