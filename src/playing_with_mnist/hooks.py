"""Project hooks."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import matplotlib
from kedro.framework.hooks import hook_impl
from kedro.io import MemoryDataset

logger = logging.getLogger(__name__)


class RunEnvironmentHooks:
    """Make every run headless (no plot windows) and keep kedro-telemetry off in child processes too."""

    @hook_impl
    def after_context_created(self, context) -> None:  # noqa: ANN001 - Kedro's signature
        matplotlib.use("Agg")
        os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "1")


class SearchStorageHooks:
    """Make a relative SQLite ``search.storage`` absolute in the run's project, as Kedro does the catalog's file
    paths: a search node on a Dask worker started in another folder then opens the same study."""

    @hook_impl
    def after_context_created(self, context) -> None:  # noqa: ANN001 - Kedro's signature
        self.project_path = context.project_path

    @hook_impl
    def after_catalog_created(self, catalog) -> None:  # noqa: ANN001 - Kedro's signature
        from playing_with_mnist.search import storage_url

        if "params:search" in catalog:
            parameters = catalog.get("params:search")  # the dataset itself: its load and save are not logged
            search = parameters.load()
            parameters.save({**search, "storage": storage_url(search, self.project_path)})


class MissingInputsHooks:
    """Stop a run at once, with the command to fix it, when an input another pipeline makes is missing.

    Task 3 (``noisy_labels``) reads the models of Task 1 and Task 2 from the catalog; without
    this check it would fail in the middle of the run with a bare "file not found".
    """

    @hook_impl(tryfirst=True)  # before kedro-mlflow opens a run that this check would leave running
    def before_pipeline_run(self, run_params: dict, pipeline, catalog) -> None:  # noqa: ANN001 - Kedro's signature
        from playing_with_mnist.pipeline_registry import ON_DEMAND, pipeline_folders

        makers = {name: p.all_outputs() for name, p in pipeline_folders().items()}
        made_by_default = set().union(*(outputs for name, outputs in makers.items() if name not in ON_DEMAND))
        missing = []
        for dataset in sorted(pipeline.inputs()):
            producers = [name for name, outputs in makers.items() if dataset in outputs]
            if dataset.startswith("params:") or not producers or catalog.exists(dataset):
                continue
            declared = catalog.get(dataset)  # None where the catalog does not declare it: memory only
            if declared is None or isinstance(declared, MemoryDataset):
                missing.append(f"{dataset} (kept in memory only: start the run at the node that makes it)")
            else:
                command = "`kedro run`" if dataset in made_by_default else f"`kedro run --pipelines={producers[0]}`"
                missing.append(f"{dataset} (made by {command})")
        if missing:
            raise RuntimeError(
                "This run needs data that other pipelines or nodes make, and it does not exist yet: "
                + "; ".join(missing) + ". Run those first, then this one again."
            )


class TrainingParametersHooks:
    """Check every training's settings before anything runs, naming a wrong or unknown parameter.

    A sweep's recipe with a typo would otherwise stop only when its training starts, after
    others have run for hours. Each training's settings node (tagged ``CONFIG_TAG``) is run on
    the run's parameters here; its errors name the parameter.
    """

    @hook_impl(tryfirst=True)
    def before_pipeline_run(self, pipeline, catalog) -> None:  # noqa: ANN001 - Kedro's signature
        from playing_with_mnist.training.pipeline import CONFIG_TAG

        for node in (node for node in pipeline.nodes if CONFIG_TAG in node.tags):  # not only_nodes_with_tags: a PipelineML refuses it
            node.run({name: catalog.load(name) for name in node.inputs})


# The accuracies a run's summary names, as training_metrics holds them (fractions).
SUMMARY_ACCURACIES = ("max_train_accuracy", "max_val_accuracy", "last_train_accuracy", "last_val_accuracy",
                      "val_accuracy", "val_accuracy_case_folded")


def run_summary(pipeline, catalog, run_params: dict[str, Any]) -> dict[str, Any] | None:  # noqa: ANN001 - Kedro's types
    """What a run that wrote Task 1's report gave, and what to run next; ``None`` for any other run.

    ``accuracies``: the metrics' accuracies (fractions, ``None`` where absent); ``results``: this run's
    ``results.md``, relative to the project; ``next``: commands.
    """
    if "results_document" not in pipeline.all_outputs():
        return None
    metrics = catalog.load("training_metrics")
    document = catalog.get("results_document")
    results = Path(str(document._get_versioned_path(document.resolve_save_version())))  # this run's version
    project = Path(run_params.get("project_path") or ".")
    tracking = bool((catalog.load("params:tracking") if catalog.exists("params:tracking") else {}).get("enabled", True))
    commands = ["kedro viz run"]
    commands += ["kedro mlflow ui"] if tracking else []
    commands += ["kedro run --env=tuned"] if run_params.get("env") != "tuned" else []
    # No [brackets] in these lines: the console's Rich handler reads them as markup and drops them.
    commands += ["playing-with-mnist draw  (with the demo extra installed: docs/tracking-serving.md)"] if tracking else []
    return {
        "accuracies": {name: metrics.get(name) for name in SUMMARY_ACCURACIES},
        "results": results.relative_to(project) if results.is_relative_to(project) else results,
        "next": commands,
    }


class RunSummaryHooks:
    """End a run that trained and reported on Task 1 with its accuracies, where its results are, and what to run next."""

    @hook_impl
    def after_pipeline_run(self, run_params: dict, pipeline, catalog) -> None:  # noqa: ANN001 - Kedro's signature
        if (summary := run_summary(pipeline, catalog, run_params)) is None:
            return
        accuracies = ", ".join(f"{name} {value:.1%}" for name, value in summary["accuracies"].items() if value is not None)
        logger.info("Accuracies: %s\nResults: %s\nNext:\n  %s", accuracies, summary["results"], "\n  ".join(summary["next"]))
