"""``DaskRunner``: the nodes of a pipeline as Dask tasks, side by side where they do not depend
on each other, on a local cluster or on a running one. Kedro's documented ``DaskRunner`` recipe
(deployment with Dask), brought to Kedro 1.x's runner API: one future per node, submitted once
the nodes it needs have finished, on a worker with a free thread; every input and output goes
through the catalog, from the worker that runs the node; data kept in memory between nodes is
held by the scheduler.

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

from .cluster import ADDRESS_VARIABLE, connect, default_plan, environment_kept, start_local_cluster
from .worker import SharedDataset, WorkerContext, run_node, set_up_worker


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
        stack.enter_context(environment_kept())  # left last: the cluster has stopped by then
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
        from kedro.framework.project import LOGGING, PACKAGE_NAME

        # Task keys and shared datasets live on the scheduler, which other runs may share: the
        # session id (a millisecond) can repeat between two runs, so a random part keeps them apart.
        prefix = f"{run_id or 'run'}-{uuid.uuid4().hex[:8]}"
        self.timeline = []
        with ExitStack() as stack:
            client, threads = self._client(stack)
            self._share_memory_datasets(pipeline, catalog, prefix)
            plugins = (hook_manager.get_plugins() if hook_manager else None) or ()  # outside a session: None
            tracking = next((hook.worker_state() for hook in plugins if isinstance(hook, TrainingTrackingHooks)), None)
            context = WorkerContext(PACKAGE_NAME or "playing_with_mnist", dict(LOGGING) if LOGGING else None,
                                    tracking, threads, self._is_async)
            shared_catalog = client.scatter(catalog, broadcast=True, hash=False)
            # Every worker sets the project up now, side by side, not when its first node arrives:
            # otherwise that node waits seconds for imports while the others run.
            client.run(set_up_worker, context)

            def submit(node: Node, worker: str | None) -> Any:
                # Loose placement: should that worker leave the cluster, another one runs the node.
                return client.submit(run_node, node, shared_catalog, context, run_id, key=f"{node.name}:{prefix}",
                                     retries=0, workers=[worker] if worker else None, allow_other_workers=True)

            self._run_as_ready(pipeline, catalog, submit, client.nthreads)

    def _run_as_ready(self, pipeline: Pipeline, catalog: Any, submit: Any, worker_threads: Any) -> None:
        """Submit each node once the nodes it needs have finished, to a worker with a free thread;
        wait for all; report.

        A node's inputs come through the catalog, not as Dask data: handing it its dependencies'
        futures (the recipe's way) would only make Dask place it on the worker that holds them,
        which puts every training of a sweep on the worker that preprocessed. The runner places
        each node itself (``submit(node, worker)``) on the worker with the most threads that none
        of this run's nodes uses, asking ``worker_threads()`` (address: threads) again each time a
        node ends, as workers come and go. Left to Dask, two nodes submitted together could queue on one
        worker while another stands idle: its guess of a node's length comes from other nodes.
        With no thread free, the node waits for one; with no worker at all, one node is submitted
        without a place, and Dask holds it until a worker comes. Nodes that do not need a failed
        one still run to their end.
        """
        from distributed import as_completed

        waiting = {node: set(pipeline.node_dependencies[node]) for node in pipeline.nodes}
        load_counts = Counter(chain.from_iterable(n.inputs for n in pipeline.nodes))
        running: dict[str, tuple[Node, str | None]] = {}  # future key -> its node and the worker it was handed to
        completed = as_completed()
        done: list[Node] = []
        failed: dict[Node, BaseException] = {}

        def submit_ready() -> None:
            threads = worker_threads()
            busy = Counter(worker for _, worker in running.values())
            for node in [node for node, needs in waiting.items() if not needs]:
                worker = free_worker(threads, busy)
                if worker is None and running:
                    return
                del waiting[node]
                future = submit(node, worker)
                running[future.key] = (node, worker)
                busy[worker] += 1
                completed.add(future)

        submit_ready()
        for future in completed:
            node, _ = running.pop(future.key)
            if future.status == "finished":
                self.timeline.append(future.result())
                done.append(node)
                self._logger.info("Completed node: %s (%d of %d)", node.name, len(done), len(pipeline.nodes))
                self._release_datasets(node, catalog, load_counts, pipeline)
                for needs in waiting.values():
                    needs.discard(node)
            else:
                failed[node] = future.exception()
            submit_ready()  # its thread is free, failed or not
        if failed:
            self._suggest_resume_scenario(pipeline, done, catalog)
            raise NodeFailedError(self._failure_message(failed, sorted(node.name for node in waiting)))

    @staticmethod
    def _failure_message(failed: dict, not_run: list[str]) -> str:
        causes = "; ".join(f"node {node.name} failed: {type(error).__name__}: {str(error)[:500]}" for node, error in failed.items())
        worker_died = any(type(error).__name__ == "KilledWorker" for error in failed.values())
        return (causes + (f". Not run, as they need its outputs: {', '.join(not_run)}" if not_run else "")
                + (". The worker running it died (killed, or out of memory); a training continues from its last "
                   "checkpoint with --params=train.resume=true" if worker_died else "")
                + ". Every node that does not need it ran to its end and saved its outputs.")


def free_worker(threads: dict[str, int], busy: Counter) -> str | None:
    """The worker with the most threads not taken by ``busy`` (address: nodes placed there), or
    None when every thread is taken or there is no worker; ties go to the first address in order."""
    free = {address: count - busy[address] for address, count in sorted(threads.items())}
    best = max(free, key=free.__getitem__, default=None)
    return best if best is not None and free[best] > 0 else None
