"""The hooks that put every training in an MLflow run of its own (see the package's docstring and docs/tracking-serving.md)."""

from __future__ import annotations

import json
import logging
import tempfile
from pathlib import Path
from typing import Any

import torch
from kedro.framework.hooks import hook_impl

from playing_with_mnist.serving import registry
from playing_with_mnist.sweep import training_tags
from playing_with_mnist.training.checkpoints import TrainedModel
from playing_with_mnist.training.config import TrainConfig
from playing_with_mnist.training.pipeline import TRAINING_TAG

from . import trials
from .artifacts import TASK1_REPORT, flatten, git_commit, history_metrics, is_report, log_report
from .store import absolute_store, check_store, mlflow_settings

logger = logging.getLogger(__name__)

class TrainingTrackingHooks:
    """Configure kedro-mlflow's store inside the project, and log one nested MLflow run per training."""

    def __init__(self, driver: dict[str, Any] | None = None) -> None:
        """``driver``: in a process that runs nodes for a ``kedro run`` (a Dask worker), that run's
        :meth:`worker_state`; the trainings then nest under its MLflow run, in its store."""
        self.enabled = driver is not None
        self.client: Any = None
        self.parent: tuple[str, str] | None = None  # a worker's parent run (id, experiment id); None: kedro-mlflow's
        self.context_tags: dict[str, str] = {}
        self.recipe = "seed"
        self.outer_run: str | None = None      # a run the caller opened before the session: left open
        self.session_runs: set[str] = set()      # the runs kedro-mlflow opened for this process's sessions
        self.open_runs: dict[str, str] = {}      # training node name -> MLflow run id, while it trains
        self.mlflow: Any = None                  # kedro-mlflow's hook for this session (never in a worker)
        if driver is not None:
            from mlflow.tracking import MlflowClient

            self.client = MlflowClient(tracking_uri=driver["tracking_uri"])
            self.parent = tuple(driver["parent"])  # type: ignore[assignment]
            self.recipe, self.context_tags = driver["recipe"], dict(driver["context_tags"])

    @hook_impl
    def after_context_created(self, context) -> None:  # noqa: ANN001 - Kedro's signature
        import mlflow

        # A run an earlier session of this process opened and could not close (it stopped in a
        # hook before its pipeline ran) is ended as failed, not continued.
        while (active := mlflow.active_run()) is not None and active.info.run_id in self.session_runs:
            mlflow.end_run("FAILED")
        self.outer_run = active.info.run_id if (active := mlflow.active_run()) is not None else None
        # kedro-mlflow reads its settings from the config loader's "mlflow" key; it anchors a relative
        # plain path in the project but not a SQLite URI (`sqlite:///mlflow.db` would follow the
        # working folder), so the store's URI is made absolute there before its hook reads it.
        loader = context.config_loader
        conf = mlflow_settings(loader)
        self.enabled = bool((context.params.get("tracking") or {}).get("enabled", True))
        if not self.enabled:  # nothing is tracked and no store is touched
            self.mlflow = None
            return
        project = Path(context.project_path)
        server = dict(conf.get("server") or {})
        server["mlflow_tracking_uri"] = absolute_store(server.get("mlflow_tracking_uri"), project)
        check_store(server["mlflow_tracking_uri"])
        loader["mlflow"] = {**conf, "server": server}
        self.recipe = context.env if context.env not in (None, "local", "base") else "seed"
        self.context_tags = {"recipe": self.recipe, "kedro_env": str(context.env or "local")}
        if commit := git_commit(project):
            self.context_tags["git_commit"] = commit
        from kedro_mlflow.framework.hooks import MlflowHook
        from mlflow.tracking import MlflowClient

        self.client = MlflowClient(tracking_uri=server["mlflow_tracking_uri"])
        self.mlflow = MlflowHook()
        self.mlflow.after_context_created(context)

    # ---- kedro-mlflow's hook, one per session --------------------------------------------------------
    # kedro-mlflow registers one hook object per process (settings.DISABLE_HOOKS_FOR_PLUGINS turns that
    # off): it keeps the last session's run id and reopens it before every node of the next session, even
    # one that tracks nothing. A hook made for each session, called from here, starts clean.

    @hook_impl
    def after_catalog_created(self, catalog, conf_catalog, conf_creds, parameters, save_version, load_versions) -> None:  # noqa: ANN001, PLR0913
        if self.mlflow is not None:
            self.mlflow.after_catalog_created(catalog=catalog, conf_catalog=conf_catalog, conf_creds=conf_creds,
                                              parameters=parameters, save_version=save_version, load_versions=load_versions)

    @hook_impl
    def before_pipeline_run(self, run_params: dict, pipeline, catalog) -> None:  # noqa: ANN001 - Kedro's signature
        import mlflow

        if self.mlflow is not None:
            self.mlflow.before_pipeline_run(run_params=run_params, pipeline=pipeline, catalog=catalog)
        if self.enabled and (active := mlflow.active_run()) is not None and active.info.run_id != self.outer_run:
            self.session_runs.add(active.info.run_id)

    # ---- one nested run per training -------------------------------------------------------------

    @hook_impl
    def before_node_run(self, node, catalog, inputs: dict[str, Any], is_async: bool) -> None:  # noqa: ANN001 - Kedro's signature
        if self.mlflow is not None:
            self.mlflow.before_node_run(node=node, catalog=catalog, inputs=inputs, is_async=is_async)
        if self.enabled and trials.SEARCH_TAG in node.tags and (parent := self.parent_run()) is not None:
            trials.activate(trials.TrialTracker(self.client, parent, self.context_tags))  # the objective logs each trial
        if not self.enabled or TRAINING_TAG not in node.tags or (parent := self.parent_run()) is None:
            return  # not a training, or kedro-mlflow is off for this pipeline
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
        trials.activate(None)
        if (run_id := self.open_runs.pop(node.name, None)) is None:
            return
        from mlflow.entities import RunTag

        trained_model, history = outputs[node.outputs[0]], outputs[node.outputs[1]]
        tags = [RunTag(key, str(getattr(trained_model.run, key))) for key in ("device", "precision", "ema")]
        self.client.log_batch(run_id, metrics=history_metrics(history), tags=tags)  # MLflow splits it into batches
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "resnet.pt"
            torch.save(trained_model.to_checkpoint(), path)  # the same weights-only checkpoint as data/06_models
            self.client.log_artifact(run_id, str(path), artifact_path="model")
        self.client.set_terminated(run_id, "FINISHED")

    # ---- where runs go ------------------------------------------------------------------------------

    def parent_run(self) -> tuple[str, str] | None:
        """The ``kedro run``'s MLflow run (id, experiment id) that trainings nest under, if any."""
        import mlflow

        if self.parent is not None:
            return self.parent
        active = mlflow.active_run()
        return (active.info.run_id, active.info.experiment_id) if active is not None else None

    def finished_training(self, namespace: str) -> str | None:
        """The MLflow run of this ``kedro run``'s finished training ``namespace``, found in the store
        (the training may have run in another process)."""
        if (parent := self.parent_run()) is None:
            return None
        found = self.client.search_runs(
            [parent[1]], max_results=1, order_by=["attributes.end_time DESC"],
            filter_string=f"tags.mlflow.parentRunId = '{parent[0]}' and tags.training = '{namespace}' "
                          "and attributes.status = 'FINISHED'")
        return found[0].info.run_id if found else None

    def worker_state(self) -> dict[str, Any] | None:
        """What a process that runs nodes for this one (a Dask worker) needs to log into the same
        runs: the store, the parent run, the tags. ``None`` when nothing is tracked."""
        if (parent := self.parent_run() if self.enabled else None) is None:
            return None
        return {"tracking_uri": self.client.tracking_uri, "parent": parent, "recipe": self.recipe,
                "context_tags": dict(self.context_tags)}

    @hook_impl
    def on_node_error(self, node) -> None:  # noqa: ANN001 - Kedro's signature
        trials.activate(None)
        if (run_id := self.open_runs.pop(node.name, None)) is not None:
            self.client.set_terminated(run_id, "FAILED")

    @hook_impl
    def on_pipeline_error(self, error: Exception, run_params: dict, pipeline, catalog) -> None:  # noqa: ANN001
        while self.open_runs:
            self.client.set_terminated(self.open_runs.popitem()[1], "FAILED")
        if self.mlflow is not None:
            self.mlflow.on_pipeline_error(error=error, run_params=run_params, pipeline=pipeline, catalog=catalog)
        self._close_session_runs()

    @hook_impl
    def after_pipeline_run(self, run_params: dict, pipeline, catalog) -> None:  # noqa: ANN001 - Kedro's signature
        import mlflow
        from kedro_mlflow.pipeline.pipeline_ml import PipelineML

        if self.mlflow is not None:
            # Task 1's training is a kedro-mlflow PipelineML: kedro-mlflow logs the inference pipeline with the model
            # this run saved, and registers it; the new version is then tagged.
            registers, run = isinstance(pipeline, PipelineML), mlflow.active_run()
            tags = self._version_tags(pipeline, catalog) if registers and run is not None else None
            self.mlflow.after_pipeline_run(run_params=run_params, pipeline=pipeline,
                                           catalog=registry.catalog_for_logging(catalog) if registers else catalog)
            if tags:
                for found in self.client.search_model_versions(f"name = '{registry.MODEL_NAME}' and run_id = '{run.info.run_id}'"):
                    for key, value in tags.items():
                        self.client.set_model_version_tag(registry.MODEL_NAME, found.version, key, value)
        self._close_session_runs()

    def _version_tags(self, pipeline, catalog) -> dict[str, str]:  # noqa: ANN001
        """The registered version's tags: recipe, data, the saved model's validation accuracy (the report's, with
        TTA, when this run made one; else the last epoch's) and its training's MLflow run."""
        trained_model = catalog.load(registry.SAVED_MODEL)
        accuracy = catalog.load("training_metrics")["val_accuracy"] if "training_metrics" in pipeline.all_outputs() else None
        tags = registry.version_tags(trained_model, self.recipe, trained_model.final_val_accuracy if accuracy is None else accuracy)
        training = self.finished_training("task1")
        return tags | ({"training_run": training} if training else {})

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
        if dataset_name in TASK1_REPORT and (task1 := self.finished_training("task1")) is not None:
            run_id, name = task1, TASK1_REPORT[dataset_name]
        elif is_report(data) and (parent := self.parent_run()) is not None:
            run_id, name = parent[0], dataset_name.replace(".", "/")
        else:
            return
        try:
            log_report(self.client, run_id, data, name)
        except Exception as error:  # tracking must never cost a result: the dataset is still saved
            logger.warning("Could not log %s to MLflow: %s", dataset_name, error)
