"""``DaskRunner``: the nodes of a pipeline as Dask tasks, side by side where they do not depend
on each other, on a local cluster or on a running one. Kedro's documented ``DaskRunner`` recipe
(deployment with Dask), brought to Kedro 1.x's runner API: one future per node, whose
dependencies are the futures of the nodes it needs; every input and output goes through the
catalog, from the worker that runs the node; data kept in memory between nodes is held by the
scheduler.

    kedro run --pipelines=sweep --runner=playing_with_mnist.runner.DaskRunner
    kedro run --pipelines=sweep --runner=playing_with_mnist.runner.DaskRunner --runner-params=address=tcp://host:8786

Without an address (``--runner-params=address=...``, else the environment variable
``DASK_SCHEDULER_ADDRESS``) it starts a local cluster for the run: one worker per GPU where
there are several, else up to 4 worker processes sharing the cores (``n_workers``,
``threads_per_worker``, ``torch_threads`` change that).
"""

from __future__ import annotations

import os
import uuid
from collections import Counter
from contextlib import ExitStack
from itertools import chain
from typing import Any

from kedro.io import MemoryDataset
from kedro.pipeline import Pipeline
from kedro.pipeline.node import Node
from kedro.runner import AbstractRunner

from playing_with_mnist.tracking import TrainingTrackingHooks

from .cluster import ADDRESS_VARIABLE, connect, default_plan, start_local_cluster
from .worker import SharedDataset, WorkerContext, run_node


class NodeFailedError(RuntimeError):
    """A node of a Dask run failed; the message names it, says why and what did not run."""


class DaskRunner(AbstractRunner):
    """Run a pipeline's nodes on a Dask cluster; see the module's docstring."""

    def __init__(self, is_async: bool = False, address: str | None = None, n_workers: int | None = None,
                 threads_per_worker: int | None = None, torch_threads: int | None = None, connect_timeout: float = 10):
        super().__init__(is_async=is_async)
        self.address, self.n_workers, self.threads_per_worker = address, n_workers, threads_per_worker
        self.torch_threads, self.connect_timeout = torch_threads, float(connect_timeout)
        self.timeline: list[dict[str, Any]] = []  # where and when each node of the last run ran

    def _get_executor(self, max_workers: int) -> None:
        return None  # Dask schedules the nodes; Kedro's executor loop is not used

    def _client(self, stack: ExitStack) -> tuple[Any, dict[str, int]]:
        """A client of the cluster, and the PyTorch threads of each worker where this runner decides them."""
        from distributed import Client

        address, source = self.address, "the runner's address parameter"
        if not address and os.environ.get(ADDRESS_VARIABLE):
            address, source = os.environ[ADDRESS_VARIABLE], f"the environment variable {ADDRESS_VARIABLE}"
        if address:
            client = stack.enter_context(connect(str(address), self.connect_timeout, source))
            workers = client.scheduler_info()["workers"]
            self._logger.info("Dask: the cluster at %s, %d worker(s)", address, len(workers))
            threads = {addr: self.torch_threads for addr in workers} if self.torch_threads else {}
            return client, threads
        plan = default_plan(self.n_workers, self.threads_per_worker)
        cluster = stack.enter_context(start_local_cluster(plan))
        client = stack.enter_context(Client(cluster))
        self._logger.info("Dask: a local %s cluster of %d worker(s), %d thread(s) each, PyTorch on %d thread(s) (dashboard %s)",
                          plan.kind, plan.n_workers, plan.threads_per_worker, self.torch_threads or plan.torch_threads,
                          client.dashboard_link)
        return client, {addr: self.torch_threads or plan.torch_threads for addr in client.scheduler_info()["workers"]}

    @staticmethod
    def _share_memory_datasets(pipeline: Pipeline, catalog: Any, prefix: str) -> None:
        """Data that one node passes to another in memory is held by the scheduler instead."""
        for name in sorted(pipeline.all_outputs()):
            if isinstance(catalog.get(name, fallback_to_runtime_pattern=True), MemoryDataset):
                catalog[name] = SharedDataset(f"{prefix}:{name}")

    def _run(self, pipeline: Pipeline, catalog: Any, hook_manager: Any = None, run_id: str | None = None) -> None:
        from distributed import as_completed

        from kedro.framework.project import LOGGING, PACKAGE_NAME

        prefix = run_id or uuid.uuid4().hex
        self.timeline = []
        with ExitStack() as stack:
            client, threads = self._client(stack)
            self._share_memory_datasets(pipeline, catalog, prefix)
            tracking = next((hook.worker_state() for hook in (hook_manager.get_plugins() if hook_manager else ())
                             if isinstance(hook, TrainingTrackingHooks)), None)
            context = WorkerContext(PACKAGE_NAME or "playing_with_mnist", dict(LOGGING) if LOGGING else None,
                                    tracking, threads, self._is_async)
            shared_catalog = client.scatter(catalog, broadcast=True, hash=False)
            futures: dict[Node, Any] = {}
            for node in pipeline.nodes:  # topologically sorted: a node's dependencies are submitted first
                needs = [futures[dependency] for dependency in pipeline.node_dependencies[node]]
                futures[node] = client.submit(run_node, node, shared_catalog, context, run_id, *needs,
                                              key=f"{node.name}:{prefix}", retries=0)
            self._collect(pipeline, catalog, futures, as_completed(futures.values()))

    def _collect(self, pipeline: Pipeline, catalog: Any, futures: dict, completed: Any) -> None:
        """Wait for every node; independent ones finish even after another failed. Then report."""
        node_of = {future.key: node for node, future in futures.items()}
        load_counts = Counter(chain.from_iterable(n.inputs for n in pipeline.nodes))
        done, failed = [], {}
        for future in completed:
            node = node_of[future.key]
            if future.status != "finished":
                failed[node] = future.exception()
                continue
            self.timeline.append(future.result())
            done.append(node)
            self._logger.info("Completed node: %s (%d of %d)", node.name, len(done), len(futures))
            self._release_datasets(node, catalog, load_counts, pipeline)
        if failed:
            self._suggest_resume_scenario(pipeline, done, catalog)
            raise NodeFailedError(self._failure_message(pipeline, failed))

    @staticmethod
    def _failure_message(pipeline: Pipeline, failed: dict) -> str:
        roots = {node: error for node, error in failed.items() if not pipeline.node_dependencies[node] & set(failed)}
        causes = "; ".join(f"node {node.name} failed: {type(error).__name__}: {str(error)[:500]}" for node, error in roots.items())
        skipped = sorted(node.name for node in failed if node not in roots)
        worker_died = any(type(error).__name__ == "KilledWorker" for error in roots.values())
        return (causes + (f". Not run, as they need its outputs: {', '.join(skipped)}" if skipped else "")
                + (". The worker running it died (killed, or out of memory); a training continues from its last "
                   "checkpoint with --params=train.resume=true" if worker_died else "")
                + ". Every node that does not need it ran to its end and saved its outputs.")

