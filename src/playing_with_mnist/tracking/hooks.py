"""The hooks that put every training in an MLflow run of its own (see the package's docstring)."""

from __future__ import annotations

import json
import logging
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import torch
from kedro.framework.hooks import hook_impl

from playing_with_mnist.sweep import training_tags
from playing_with_mnist.training.checkpoints import TrainedModel
from playing_with_mnist.training.config import TrainConfig
from playing_with_mnist.training.pipeline import TRAINING_TAG

from .artifacts import TASK1_REPORT, flatten, git_commit, is_report, log_history, log_object, suffix
from .store import IN_MEMORY_STORE, absolute_store, check_store

logger = logging.getLogger(__name__)

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
        if not self.enabled or TRAINING_TAG not in node.tags:
            return
        parent = self._parent_run()
        if parent is None:  # kedro-mlflow is off for this pipeline
            return
        namespace = node.namespace or "train"
        tags = training_tags(namespace)
        config = next(value for value in inputs.values() if isinstance(value, TrainConfig))
        model_input = inputs[node.inputs[0]]  # train_model's first argument
        run = self.client.create_run(
            parent[1], run_name=namespace,
            tags={"mlflow.parentRunId": parent[0], "training": namespace, **self.context_tags, **tags},
        )
        values = {**flatten(config.to_dict(), "train."), "recipe": tags.get("recipe", self.recipe),
                  "data.source": json.dumps(model_input["source"], sort_keys=True, default=str)[:500],
                  "data.fingerprint": str(model_input["fingerprint"])[:500],
                  "data.images": len(model_input["images"]),
                  "started_from_pretrained": any(isinstance(value, TrainedModel) for value in inputs.values())}
        from mlflow.entities import Param

        self.client.log_batch(run.info.run_id, params=[Param(k, str(v)[:6000]) for k, v in values.items()])
        self.open_runs[node.name] = run.info.run_id

    @hook_impl
    def after_node_run(self, node, outputs: dict[str, Any]) -> None:  # noqa: ANN001 - Kedro's signature
        run_id = self.open_runs.pop(node.name, None)
        if run_id is None:
            return
        trained_model, history = outputs[node.outputs[0]], outputs[node.outputs[1]]
        log_history(self.client, run_id, history)
        for key in ("device", "precision", "ema"):
            self.client.set_tag(run_id, key, str(getattr(trained_model.run, key)))
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "resnet.pt"
            torch.save(trained_model.to_checkpoint(), path)  # the same weights-only checkpoint as data/06_models
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
        elif (parent := self._parent_run()) is not None and is_report(data):
            run_id, file_name = parent[0], dataset_name.replace(".", "/") + suffix(data)
        else:
            return
        try:
            log_object(self.client, run_id, data, file_name)
        except Exception as error:  # tracking must never cost a result: the dataset is still saved
            logger.warning("Could not log %s to MLflow: %s", dataset_name, error)
