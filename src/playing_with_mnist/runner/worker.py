"""What runs on a Dask worker: its set-up for a run, then nodes run as Kedro's runners run them
(``kedro.runner.Task``), their data through the catalog. Trainings are tracked by
:class:`TrainingTrackingHooks` made with the driver's MLflow run, so each training logs into its
own MLflow run from whichever process trains it.
"""

from __future__ import annotations

import os
import time
import traceback
from contextlib import suppress
from typing import Any

from distributed import WorkerPlugin, get_client, get_worker
from kedro.io import AbstractDataset, CatalogProtocol
from kedro.pipeline.node import Node

from playing_with_mnist.tracking import TrainingTrackingHooks

from .cluster import choose_gpu


class RunSetup(WorkerPlugin):
    """What a worker needs from the ``kedro run`` that sends it nodes. Registered as a Dask worker
    plugin: every worker of the cluster, and any that joins later, sets itself up once, before any
    node (project settings, logging, PyTorch's threads, on a machine with several GPUs its own)."""

    def __init__(self, package_name: str, logging: dict | None, tracking: dict | None, torch_threads: int | None,
                 catalog: CatalogProtocol, is_async: bool):
        self.package_name, self.logging, self.tracking, self.torch_threads = package_name, logging, tracking, torch_threads
        self.catalog, self.is_async = catalog, is_async

    def setup(self, worker: Any) -> None:
        import torch
        from kedro.framework.hooks.manager import _create_hook_manager, _register_hooks
        from kedro.framework.project import configure_logging, configure_project, settings

        configure_project(self.package_name)
        if self.logging:
            configure_logging(self.logging)
        if self.torch_threads:
            torch.set_num_threads(self.torch_threads)
        if torch.cuda.is_available():
            gpu = choose_gpu(os.environ.get("CUDA_VISIBLE_DEVICES"), torch.cuda.device_count(), worker.name)
            if gpu is not None:
                torch.cuda.set_device(gpu)
        # The project's hooks, with tracking that nests trainings under the driver's MLflow run
        # (kedro-mlflow's own hook, inside the driver's TrainingTrackingHooks, stays in the driver).
        hooks = [hook for hook in settings.HOOKS if not isinstance(hook, TrainingTrackingHooks)]
        self.hook_manager = _create_hook_manager()
        _register_hooks(self.hook_manager, hooks + ([TrainingTrackingHooks(driver=self.tracking)] if self.tracking else []))


class SharedDataset(AbstractDataset):
    """Data that one node hands to another in memory (a ``MemoryDataset`` under Kedro's own
    runners), held by the Dask scheduler, as the two may run on different workers."""

    def __init__(self, name: str):
        self._name = name

    def load(self) -> Any:
        return get_client().get_dataset(self._name)

    def save(self, data: Any) -> None:
        get_client().publish_dataset(data, name=self._name, override=True)

    def _exists(self) -> bool:
        return self._name in get_client().list_datasets()

    def _release(self) -> None:
        with suppress(KeyError):  # never saved (its node failed)
            get_client().unpublish_dataset(self._name)

    def _describe(self) -> dict[str, Any]:
        return {"name": self._name}


def run_node(node: Node, setup_name: str, run_id: str | None) -> dict[str, Any]:
    """Run ``node`` with the run's catalog and hooks (the plugin ``setup_name``); returns where and when it ran."""
    from kedro.runner.task import Task

    worker, started = get_worker(), time.time()
    setup: RunSetup = worker.plugins[setup_name]
    try:
        Task(node=node, catalog=setup.catalog, hook_manager=setup.hook_manager, is_async=setup.is_async, run_id=run_id).execute()
    except RecursionError as error:
        innermost = "".join(traceback.format_list(traceback.extract_tb(error.__traceback__)[-2:]))
        too_deep = RuntimeError(f"RecursionError: {error}; its innermost frames:\n{innermost}")
    else:
        return {"node": node.name, "worker": worker.address, "started": started, "finished": time.time()}
    # Raised here, outside the handler, so that it carries no trace of the RecursionError: Dask
    # cannot pickle a traceback that deep, and the task would never end.
    raise too_deep
