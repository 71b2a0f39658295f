"""What runs on a Dask worker: one node, with the project's hooks, its data through the catalog.

A worker is another process (on this machine or another): it sets the project up once
(settings, logging), gives PyTorch its share of the cores and, on a machine with several GPUs,
its own GPU, then runs the node as Kedro's runners do (``kedro.runner.Task``). Trainings are
tracked by :class:`TrainingTrackingHooks` made with the driver's MLflow run, so each
training logs into its own MLflow run from whichever process trains it.
"""

from __future__ import annotations

import os
import time
import traceback
from dataclasses import dataclass
from typing import Any

from kedro.io import AbstractDataset
from kedro.pipeline.node import Node

from playing_with_mnist.tracking import TrainingTrackingHooks

from .cluster import choose_gpu


@dataclass(frozen=True)
class WorkerContext:
    """Everything a worker needs from the ``kedro run`` that sent it a node (plain, picklable)."""

    package_name: str
    logging: dict | None
    tracking: dict | None
    torch_threads: dict[str, int]  # worker address -> PyTorch threads; absent: leave PyTorch's own
    is_async: bool = False


class SharedDataset(AbstractDataset):
    """A dataset kept in memory by the Dask scheduler, for data passed between nodes that may run
    on different workers (what a ``MemoryDataset`` is under Kedro's own runners)."""

    def __init__(self, name: str):
        self._name = name

    @staticmethod
    def _client() -> Any:
        from distributed import get_client

        return get_client()

    def load(self) -> Any:
        return self._client().get_dataset(self._name)

    def save(self, data: Any) -> None:
        self._client().publish_dataset(data, name=self._name, override=True)

    def _exists(self) -> bool:
        return self._name in self._client().list_datasets()

    def _release(self) -> None:
        try:
            self._client().unpublish_dataset(self._name)
        except KeyError:  # never saved (its node failed)
            pass

    def _describe(self) -> dict[str, Any]:
        return {"name": self._name}


_configured: set[str] = set()


def _set_up_process(context: WorkerContext) -> None:
    if context.package_name in _configured:
        return
    from kedro.framework.project import configure_logging, configure_project

    configure_project(context.package_name)
    if context.logging:
        configure_logging(context.logging)
    _configured.add(context.package_name)


def _set_up_devices(context: WorkerContext, worker: Any) -> None:
    import torch

    if threads := context.torch_threads.get(worker.address):
        torch.set_num_threads(threads)
    if torch.cuda.is_available():
        gpu = choose_gpu(os.environ.get("CUDA_VISIBLE_DEVICES"), torch.cuda.device_count(), worker.name)
        if gpu is not None:
            torch.cuda.set_device(gpu)


def set_up_worker(context: WorkerContext, dask_worker: Any = None) -> None:
    """Set this worker process up for the run (project, logging, threads, GPU) before any node.

    ``dask_worker``: the worker, as ``Client.run`` passes it; inside a task, the task's worker."""
    from distributed import get_worker

    _set_up_process(context)
    _set_up_devices(context, dask_worker or get_worker())


def hook_manager_for(context: WorkerContext) -> Any:
    """The project's hooks, with tracking that logs into the driver's MLflow run. Plugins found by
    entry point (kedro-mlflow's own hook) stay in the driver: they keep state of the driver's run."""
    from kedro.framework.hooks.manager import _create_hook_manager, _register_hooks
    from kedro.framework.project import settings

    manager = _create_hook_manager()
    hooks = [hook for hook in settings.HOOKS if not isinstance(hook, TrainingTrackingHooks)]
    if context.tracking is not None:
        hooks.append(TrainingTrackingHooks(driver=context.tracking))
    _register_hooks(manager, hooks)
    return manager


def run_node(node: Node, catalog: Any, context: WorkerContext, run_id: str | None) -> dict[str, Any]:
    """Run ``node`` on this worker (the runner submits it once the nodes it needs have finished).

    Returns where and when it ran."""
    from distributed import get_worker
    from kedro.runner.task import Task

    set_up_worker(context)  # a worker that joined after the run started has not been set up
    started = time.time()
    too_deep = None
    try:
        Task(node=node, catalog=catalog, hook_manager=hook_manager_for(context), is_async=context.is_async,
             run_id=run_id).execute()
    except RecursionError as error:
        innermost = "".join(traceback.format_list(traceback.extract_tb(error.__traceback__)[-2:]))
        too_deep = RuntimeError(f"RecursionError: {error}; its innermost frames:\n{innermost}")
    if too_deep is not None:
        # Raised here, outside the handler, so that it carries no trace of the RecursionError:
        # Dask cannot pickle a traceback that deep, and the task would never end.
        raise too_deep
    return {"node": node.name, "worker": get_worker().address, "started": started, "finished": time.time()}
