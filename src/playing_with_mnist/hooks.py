"""Project hooks."""

from __future__ import annotations

import os

import matplotlib
from kedro.framework.hooks import hook_impl
from kedro.io import MemoryDataset


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
