"""Project pipelines: one folder each under ``pipelines/``.

``__default__`` is Task 1 end to end (preprocess, train, report); it and ``train`` register the model
with the ``inference`` pipeline (``serving.registry``). ``predict`` (through ``inference``) and
``evaluate`` use a trained model on new data, ``export`` writes it as ONNX; ``mnist_transfer`` (Task 2) and
``noisy_labels`` (Task 3, after Tasks 1 and 2) are the MNIST experiments, ``search`` an Optuna study of the training settings, and
``mnist_data`` prepares their MNIST input; ``sweep`` trains recipes x seeds. These run only when named.

A pipeline folder holds only its own nodes; what it runs first is composed here (``RUNS_FIRST``),
so no pipeline imports another's code.
"""

from __future__ import annotations

import importlib
import importlib.resources

from kedro.pipeline import Pipeline

from playing_with_mnist.serving import registry

ON_DEMAND = ("predict", "inference", "evaluate", "export", "mnist_data", "mnist_transfer", "noisy_labels", "sweep",
             "search")
# A pipeline run by name also makes the inputs it needs: these pipelines run with it.
RUNS_FIRST = {"mnist_transfer": ("preprocess", "mnist_data"), "noisy_labels": ("mnist_data",), "sweep": ("preprocess",),
              "search": ("preprocess",),
              "predict": ("inference",)}
# Task 1's trainings: with tracking on, each registers the model bundled with the inference pipeline.
REGISTERS_MODEL = ("__default__", "train")


def register_pipelines() -> dict[str, Pipeline]:
    """Map pipeline names (the folder names) to pipelines, plus ``__default__``."""
    own = pipeline_folders()
    pipelines = {name: sum((own[first] for first in RUNS_FIRST.get(name, ())), pipeline) for name, pipeline in own.items()}
    pipelines["__default__"] = sum(pipeline for name, pipeline in own.items() if name not in ON_DEMAND)
    for name in REGISTERS_MODEL:
        pipelines[name] = registry.bind_inference(pipelines[name], own["inference"])
    return pipelines


def pipeline_folders() -> dict[str, Pipeline]:
    """Every pipeline folder's own pipeline, whatever this run asked for.

    Not ``find_pipelines``: during ``kedro run --pipelines=X`` Kedro 1.7 makes it return X alone,
    and both the composition above and the check of missing inputs (hooks.py) need the others.
    """
    package = importlib.resources.files("playing_with_mnist.pipelines")
    names = sorted(p.name for p in package.iterdir() if p.is_dir() and not p.name.startswith(("_", ".")))
    return {name: importlib.import_module(f"playing_with_mnist.pipelines.{name}").create_pipeline() for name in names}
