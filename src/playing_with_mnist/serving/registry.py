"""The registered model ``playing-with-mnist``: how a Task 1 training logs it (kedro-mlflow's ``pipeline_ml_factory``
binding the training to the ``inference`` pipeline), and finding and loading a version from the project's store."""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from kedro.io import DataCatalog
from kedro.pipeline import Pipeline

MODEL_NAME = "playing-with-mnist"
REQUESTS = "character_requests"  # the inference pipeline's input: what a caller sends
SAVED_MODEL = "trained_model"    # the inference pipeline's model: what the training saved
_REQUIREMENTS = ("playing_with_mnist", "kedro", "kedro-mlflow", "mlflow", "torch", "pandas", "pillow")


class RegistryError(RuntimeError):
    """The store or the version asked for cannot be used; the message says why and what to do."""


def bind_inference(training: Pipeline, inference: Pipeline) -> Pipeline:
    """``training`` as a kedro-mlflow ``PipelineML``: after it runs with tracking on, the ``inference`` pipeline and the
    model it saved are logged as one MLflow model and registered as a new version of :data:`MODEL_NAME`."""
    from kedro_mlflow.pipeline import pipeline_ml_factory
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema

    signature = ModelSignature(  # MLflow checks requests against it: a request without ``image`` gets a 400
        inputs=Schema([ColSpec("string", "image")]),
        outputs=Schema([ColSpec("string", "character"), ColSpec("double", "confidence"), ColSpec("string", "top3"),
                        ColSpec("string", "error")]))
    # Listed rather than inferred: inferring loads the model in a subprocess at every training. The project itself
    # must be installed where the model is served (``--env-manager local``).
    requirements = [f"{name}=={_installed(name)}" for name in _REQUIREMENTS if _installed(name)]
    return pipeline_ml_factory(training=training, inference=inference, input_name=REQUESTS, log_model_kwargs={
        "name": "model", "registered_model_name": MODEL_NAME, "signature": signature, "pip_requirements": requirements})


def _installed(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def catalog_for_logging(catalog: DataCatalog) -> DataCatalog:
    """The datasets kedro-mlflow copies into the MLflow model: the model file this run saved, not its
    versioned folder (which holds every version)."""
    from playing_with_mnist.datasets import TrainedModelDataset

    newest = catalog[SAVED_MODEL]._get_load_path()  # this run's: it has just been saved
    return DataCatalog(datasets={SAVED_MODEL: TrainedModelDataset(filepath=str(newest))})


def version_tags(trained_model: Any, recipe: str, val_accuracy: float | None) -> dict[str, str]:
    """What a registered version is tagged with: where it comes from and how good it is."""
    from playing_with_mnist.reporting import describe_source

    tags = {"recipe": recipe, "data_fingerprint": trained_model.fingerprint, "data": describe_source(trained_model.source),
            "temperature": f"{trained_model.temperature:.4f}", "classes": str(len(trained_model.class_names))}
    return tags | ({"val_accuracy": f"{val_accuracy:.4f}"} if val_accuracy is not None else {})


def project_store(project_path: Path, env: str | None = None) -> str:
    """The MLflow store ``kedro run`` uses in this project (``server.mlflow_tracking_uri`` of ``mlflow.yml``)."""
    from kedro.config import OmegaConfigLoader

    from playing_with_mnist.tracking.store import absolute_store, mlflow_settings

    loader = OmegaConfigLoader(conf_source=str(project_path / "conf"), env=env or os.environ.get("KEDRO_ENV"),
                               base_env="base", default_run_env="local")
    uri = (mlflow_settings(loader).get("server") or {}).get("mlflow_tracking_uri")
    return absolute_store(uri, project_path)


@dataclass(frozen=True)
class ModelVersion:
    """One registered version: its number, its ``models:/`` URI and its tags (recipe, accuracy, data ...)."""

    number: int
    uri: str
    tags: dict[str, str]


def find_version(store: str, number: int | None = None) -> ModelVersion:
    """Version ``number`` of :data:`MODEL_NAME` in ``store`` (the newest when None); a missing or unreadable store,
    or a version that is not there, is a :class:`RegistryError` that lists what there is."""
    from mlflow.tracking import MlflowClient

    from playing_with_mnist.tracking.store import sqlite_file

    path = sqlite_file(store)
    if path is not None and not path.is_file():
        raise RegistryError(f"there is no model store at {path}: train a model first (`kedro run`, with tracking on), "
                            "or pass --store with the store that holds one")
    try:
        versions = MlflowClient(tracking_uri=store, registry_uri=store).search_model_versions(f"name = '{MODEL_NAME}'")
    except Exception as error:
        raise RegistryError(f"the model store {store} cannot be read ({type(error).__name__}: {str(error).splitlines()[0][:200]}); "
                            "fix or remove it, then train again") from error
    by_number = {int(found.version): found for found in versions}
    if not by_number:
        raise RegistryError(f"the store {store} has no model named {MODEL_NAME!r}: train one with `kedro run` (tracking on)")
    number = max(by_number) if number is None else number
    if number not in by_number:
        raise RegistryError(f"{MODEL_NAME} has no version {number}; the store {store} has version(s) "
                            f"{', '.join(map(str, sorted(by_number)))}")
    return ModelVersion(number, f"models:/{MODEL_NAME}/{number}", dict(by_number[number].tags))


def load_version(store: str, found: ModelVersion) -> Any:
    """The MLflow pyfunc model of a version; one that this install cannot load is a :class:`RegistryError` saying why."""
    import mlflow

    mlflow.set_tracking_uri(store)
    mlflow.set_registry_uri(store)
    try:
        return mlflow.pyfunc.load_model(found.uri)
    except Exception as error:
        raise RegistryError(
            f"version {found.number} of {MODEL_NAME} cannot be loaded by this install of the project "
            f"({type(error).__name__}: {str(error).splitlines()[0][:300] if str(error) else ''}). It may have been logged by an "
            "incompatible version of the project: install that version, or train and register a new model") from error
