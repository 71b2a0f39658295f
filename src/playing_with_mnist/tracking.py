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

from __future__ import annotations

import contextlib
import json
import logging
import re
import subprocess
import tempfile
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import urlparse

import pandas as pd
import torch
from kedro.framework.hooks import hook_impl

from playing_with_mnist.sweep import training_tags
from playing_with_mnist.training.config import TrainConfig, merge_train_params

logger = logging.getLogger(__name__)

TRAINING_NODE = "train_model"  # the training node's name in every instance of the training pipeline
# Task 1's report, logged into Task 1's training run: dataset name -> artifact file name.
TASK1_REPORT = {
    "loss_graph": "loss_graph.png", "accuracy_graph": "accuracy_graph.png", "confusion_matrix": "confusion_matrix.png",
    "per_class_accuracy_graph": "per_class_accuracy.png", "results_document": "results.md", "training_metrics": "metrics.json",
}
# Final numbers of metrics.json (Task 1) and test_metrics.json (evaluate), logged as final.<key>
# and test.<key>; the history gives final.last_val_accuracy and final.max_val_accuracy itself.
FINAL_METRICS = ("max_train_accuracy", "last_train_accuracy", "val_accuracy", "val_accuracy_case_folded")
TEST_METRICS = ("accuracy", "accuracy_case_folded")
IN_MEMORY_STORE = "sqlite:///:memory:"


class TrackingStoreError(RuntimeError):
    """The MLflow store cannot be opened."""


def flatten(values: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"augment": {"rotate": 10}}`` -> ``{"augment.rotate": 10}``."""
    flat: dict[str, Any] = {}
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def absolute_store(uri: str | None, project_path: Path) -> str:
    """A relative ``sqlite:///name.db`` made absolute inside the project (MLflow reads it from the cwd)."""
    uri = uri or "sqlite:///mlflow.db"
    if uri.startswith("sqlite:///") and uri != IN_MEMORY_STORE:
        path = Path(uri[len("sqlite:///"):])
        if not path.is_absolute():
            return f"sqlite:///{(project_path / path).resolve()}"
    return uri


@contextlib.contextmanager
def store_lock(uri: str) -> Iterator[None]:
    """Hold an exclusive lock beside a SQLite store: two runs that create its tables at once
    (two terminals, a sweep) would otherwise race through MLflow's migrations and one would fail."""
    if not uri.startswith("sqlite:///") or uri == IN_MEMORY_STORE:
        yield
        return
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock
        yield
        return
    with open(Path(urlparse(uri).path).with_suffix(".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def check_store(uri: str) -> None:
    """Open the store once (creating it if new), so that a broken one stops the run before anything is trained."""
    from mlflow.tracking import MlflowClient

    if uri.startswith("sqlite:///") and uri != IN_MEMORY_STORE:
        folder = Path(urlparse(uri).path).parent
        if not folder.is_dir():
            raise TrackingStoreError(f"the MLflow store {uri} is in a folder that does not exist ({folder})")
    try:
        with store_lock(uri):
            MlflowClient(tracking_uri=uri).search_experiments(max_results=1)
    except Exception as error:  # any failure to open it: corrupt file, no permission, unreachable server
        raise TrackingStoreError(
            f"the MLflow tracking store {uri} cannot be opened ({type(error).__name__}: {str(error).splitlines()[0][:200]}). "
            "Fix or remove it (a removed mlflow.db is made anew), point conf/local/mlflow.yml's "
            "server.mlflow_tracking_uri elsewhere, or run without tracking: --params=tracking.enabled=false"
        ) from error


def git_commit(project_path: Path) -> str | None:
    try:
        result = subprocess.run(["git", "rev-parse", "HEAD"], cwd=project_path, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip() or None if result.returncode == 0 else None


class TrainingTrackingHooks:
    """Configure kedro-mlflow's store inside the project, and log one nested MLflow run per training."""

    def __init__(self) -> None:
        self.enabled = False
        self.client: Any = None
        self.context_tags: dict[str, str] = {}
        self.recipe = "seed"
        self.outer_run: str | None = None      # a run the caller opened before the session: left open
        self.session_runs: set[str] = set()      # the runs kedro-mlflow opened for this process's sessions
        self.open_runs: dict[str, str] = {}      # training node name -> MLflow run id, while it trains
        self.training_runs: dict[str, str] = {}  # namespace -> MLflow run id of its finished training

    @hook_impl(tryfirst=True)  # before kedro-mlflow's own hook reads mlflow.yml
    def after_context_created(self, context) -> None:  # noqa: ANN001 - Kedro's signature
        import mlflow
        from kedro_mlflow.framework.hooks.mlflow_hook import mlflow_hook

        # kedro-mlflow's hook is one object per process and keeps the last session's run id,
        # which it reopens before every node even where this session tracks nothing.
        mlflow_hook.run_id = None
        # A run an earlier session of this process opened and could not close (it stopped in a
        # hook before its pipeline ran) is ended as failed, not continued.
        while (active := mlflow.active_run()) is not None and active.info.run_id in self.session_runs:
            mlflow.end_run("FAILED")
        self.outer_run = active.info.run_id if (active := mlflow.active_run()) is not None else None
        loader = context.config_loader
        loader.config_patterns.setdefault("mlflow", ["mlflow*", "mlflow*/**", "**/mlflow*"])
        try:
            conf = dict(loader["mlflow"])
        except Exception:  # no mlflow.yml at all: kedro-mlflow's defaults
            conf = {}
        server, tracking = dict(conf.get("server") or {}), dict(conf.get("tracking") or {})
        self.enabled = bool((context.params.get("tracking") or {}).get("enabled", True))
        project = Path(context.project_path)
        if self.enabled:
            server["mlflow_tracking_uri"] = absolute_store(server.get("mlflow_tracking_uri"), project)
            experiment = dict(tracking.get("experiment") or {})
            create = dict(experiment.get("create_experiment_kwargs") or {})
            location = create.get("artifact_location")
            if location and not urlparse(str(location)).scheme and not Path(location).is_absolute():
                create["artifact_location"] = (project / location).resolve().as_uri()
            experiment["create_experiment_kwargs"] = create
            tracking["experiment"] = experiment
            check_store(server["mlflow_tracking_uri"])
        else:
            # kedro-mlflow still starts up: give it a store in memory and no pipeline to track.
            from playing_with_mnist.pipeline_registry import register_pipelines

            server["mlflow_tracking_uri"] = IN_MEMORY_STORE
            disabled = dict(tracking.get("disable_tracking") or {})
            disabled["pipelines"] = sorted(register_pipelines())
            tracking["disable_tracking"] = disabled
        loader["mlflow"] = {**conf, "server": server, "tracking": tracking}
        self.recipe = context.env if context.env not in (None, "local", "base") else "seed"
        self.context_tags = {"recipe": self.recipe, "kedro_env": str(context.env or "local")}
        if commit := git_commit(project):
            self.context_tags["git_commit"] = commit
        if self.enabled:
            from mlflow.tracking import MlflowClient

            self.client = MlflowClient(tracking_uri=server["mlflow_tracking_uri"])

    @hook_impl
    def before_pipeline_run(self) -> None:
        import mlflow

        if self.enabled and (active := mlflow.active_run()) is not None and active.info.run_id != self.outer_run:
            self.session_runs.add(active.info.run_id)

    # ---- one nested run per training -------------------------------------------------------------

    @hook_impl
    def before_node_run(self, node, inputs: dict[str, Any]) -> None:  # noqa: ANN001 - Kedro's signature
        if not self.enabled or not node.name.split(".")[-1] == TRAINING_NODE:
            return
        parent = self._parent_run()
        if parent is None:  # kedro-mlflow is off for this pipeline
            return
        namespace = node.namespace or "train"
        tags = training_tags(namespace)
        params = {k: v for k, v in inputs.items() if k.startswith("params:")}
        train = params.pop("params:train", {})
        overrides = next(iter(params.values()), None)
        model_input = next((v for v in inputs.values() if isinstance(v, dict) and "fingerprint" in v and "images" in v), {})
        try:
            resolved = TrainConfig.from_params(merge_train_params(train, overrides)).to_dict()
        except ValueError:
            resolved = merge_train_params(train, overrides)  # the node itself will say what is wrong
        run = self.client.create_run(
            parent[1], run_name=namespace,
            tags={"mlflow.parentRunId": parent[0], "training": namespace, **self.context_tags, **tags},
        )
        source = model_input.get("source", {})
        values = {**flatten(resolved, "train."), "recipe": tags.get("recipe", self.recipe),
                  "data.source": json.dumps(source, sort_keys=True, default=str)[:500],
                  "data.fingerprint": str(model_input.get("fingerprint", ""))[:500],
                  "data.images": len(model_input.get("images", [])),
                  "started_from_pretrained": node.func.__name__ == "fine_tune_model"}
        from mlflow.entities import Param

        self.client.log_batch(run.info.run_id, params=[Param(k, str(v)[:6000]) for k, v in values.items()])
        self.open_runs[node.name] = run.info.run_id

    @hook_impl
    def after_node_run(self, node, outputs: dict[str, Any]) -> None:  # noqa: ANN001 - Kedro's signature
        run_id = self.open_runs.pop(node.name, None)
        if run_id is None:
            return
        trained_model, history = outputs[node.outputs[0]], outputs[node.outputs[1]]
        self._log_history(run_id, history)
        run = trained_model.get("run", {})
        for key in ("device", "precision"):
            self.client.set_tag(run_id, key, str(run.get(key)))
        self.client.set_tag(run_id, "ema", str(run.get("ema", False)))
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "resnet.pt"
            torch.save(trained_model, path)  # the same weights-only checkpoint as data/06_models
            self.client.log_artifact(run_id, str(path), artifact_path="model")
        self.client.set_terminated(run_id, "FINISHED")
        self.training_runs[node.namespace or "train"] = run_id

    # ---- where runs go: this process's kedro-mlflow run; a Dask worker overrides these -------------

    def _parent_run(self) -> tuple[str, str] | None:
        """The ``kedro run``'s MLflow run (id, experiment id) that trainings nest under, if any."""
        import mlflow

        active = mlflow.active_run()
        return (active.info.run_id, active.info.experiment_id) if active is not None else None

    def _finished_training(self, namespace: str) -> str | None:
        return self.training_runs.get(namespace)

    def worker_state(self) -> dict[str, Any] | None:
        """What a process that runs nodes for this one (a Dask worker) needs to log into the same
        runs: the store, the parent run, the tags. ``None`` when nothing is tracked."""
        parent = self._parent_run() if self.enabled else None
        if parent is None:
            return None
        return {"tracking_uri": self.client.tracking_uri, "parent": parent, "recipe": self.recipe,
                "context_tags": dict(self.context_tags)}

    def _log_history(self, run_id: str, history: pd.DataFrame) -> None:
        from mlflow.entities import Metric

        metrics = []
        for row in history.to_dict("records"):
            step = int(row["epoch"])
            for key in ("train_loss", "train_accuracy", "val_loss", "val_accuracy", "seconds"):
                if key in row and pd.notna(row[key]):
                    metrics.append(Metric(key, float(row[key]), 0, step))
        if len(history):
            last = int(history["epoch"].iloc[-1])
            metrics += [Metric("final.last_val_accuracy", float(history["val_accuracy"].iloc[-1]), 0, last),
                        Metric("final.max_val_accuracy", float(history["val_accuracy"].max()), 0, last)]
        for start in range(0, len(metrics), 900):  # MLflow takes at most 1,000 metrics a batch
            self.client.log_batch(run_id, metrics=metrics[start : start + 900])

    @hook_impl
    def on_node_error(self, node) -> None:  # noqa: ANN001 - Kedro's signature
        run_id = self.open_runs.pop(node.name, None)
        if run_id is not None:
            self.client.set_terminated(run_id, "FAILED")

    @hook_impl
    def on_pipeline_error(self) -> None:
        for run_id in self.open_runs.values():
            self.client.set_terminated(run_id, "FAILED")
        self.open_runs.clear()
        self._close_session_runs()

    @hook_impl
    def after_pipeline_run(self) -> None:
        self.training_runs.clear()
        self._close_session_runs()

    def _close_session_runs(self) -> None:
        # kedro-mlflow reopens its run before every node and closes it once at the end: with
        # MLflow 3 the run stays on this thread's stack, and the next session in the same
        # process (a notebook, the tests) would log into it. Close what this session opened.
        import mlflow

        while (active := mlflow.active_run()) is not None and active.info.run_id != self.outer_run:
            mlflow.end_run()

    # ---- reports ----------------------------------------------------------------------------------

    @hook_impl
    def before_dataset_saved(self, dataset_name: str, data: Any) -> None:
        """Log Task 1's report into Task 1's training run; other figures, documents and metrics
        (evaluate, the MNIST experiments) into the ``kedro run``'s own run."""
        if not self.enabled:
            return
        if dataset_name in TASK1_REPORT and (task1 := self._finished_training("task1")) is not None:
            run_id, file_name = task1, TASK1_REPORT[dataset_name]
        elif (parent := self._parent_run()) is not None and _is_report(data):
            run_id, file_name = parent[0], dataset_name.replace(".", "/") + _suffix(data)
        else:
            return
        try:
            _log_object(self.client, run_id, data, file_name)
        except Exception as error:  # tracking must never cost a result: the dataset is still saved
            logger.warning("Could not log %s to MLflow: %s", dataset_name, error)


def _is_report(data: Any) -> bool:
    import matplotlib.figure

    return isinstance(data, (matplotlib.figure.Figure, str)) or (
        isinstance(data, dict) and any(key in data for key in FINAL_METRICS + TEST_METRICS))


def _suffix(data: Any) -> str:
    import matplotlib.figure

    if isinstance(data, matplotlib.figure.Figure):
        return ".png"
    return ".md" if isinstance(data, str) else ".json"


def _log_object(client: Any, run_id: str, data: Any, file_name: str) -> None:
    import matplotlib.figure

    if isinstance(data, matplotlib.figure.Figure):
        client.log_figure(run_id, data, file_name, save_kwargs={"dpi": 110})
    elif isinstance(data, str):
        # The document links the same run's figures by their catalog paths; in MLflow they sit beside it.
        client.log_text(run_id, re.sub(r"(?:\.\./)+([^/()]+)/\{save_version\}/\1", r"\1", data), file_name)
    elif isinstance(data, dict):
        client.log_dict(run_id, data, file_name)
        from mlflow.entities import Metric

        prefix, keys = ("final.", FINAL_METRICS) if "max_val_accuracy" in data else ("test.", TEST_METRICS)
        metrics = [Metric(prefix + key, float(data[key]), 0, 0) for key in keys
                   if isinstance(data.get(key), (int, float)) and not isinstance(data.get(key), bool)]
        if metrics:
            client.log_batch(run_id, metrics=metrics)
