"""``DaskRunner``: Kedro's documented recipe (deployment with Dask) on Kedro 1.x's runner API. One
Dask future per node, submitted once the nodes it needs have finished, to a worker with a free
thread; inputs and outputs go through the catalog from that worker, and data kept in memory
between nodes is held by the scheduler. The cluster: ``--runner-params=address=...``, else
``DASK_SCHEDULER_ADDRESS``, else a local one for the run (``n_workers``, ``threads_per_worker``,
``torch_threads``); see the README.

    kedro run --pipelines=sweep --runner=playing_with_mnist.runner.DaskRunner
"""

from __future__ import annotations

import os
import uuid
from collections import Counter
from contextlib import ExitStack
from itertools import chain
from typing import Any, Callable
from unittest import mock

from distributed import Client, Future, as_completed
from distributed.scheduler import KilledWorker
from kedro.io import MemoryDataset
from kedro.pipeline import Pipeline
from kedro.pipeline.node import Node
from kedro.runner import AbstractRunner

from playing_with_mnist.tracking import TrainingTrackingHooks
from playing_with_mnist.tracking.trials import SEARCH_TAG

from .cluster import start_local_cluster
from .worker import RunSetup, SharedDataset, run_node

# A search's trial node whose worker died runs again on another worker, up to this many times: the study
# lives in its storage, so the rerun continues it (the dead trial is marked failed by its stopped heartbeat).
# Any other node fails at once, as a training rerun from its start on worker after worker could hide an
# out-of-memory kill for hours.
TRIAL_NODE_RERUNS = 3


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

    def _client(self, stack: ExitStack) -> tuple[Client, int | None]:
        """A client of the cluster, and the PyTorch threads of its workers (None: PyTorch's own choice)."""
        address, source = self.address, "the runner's address parameter"
        if not address and os.environ.get("DASK_SCHEDULER_ADDRESS"):
            address, source = os.environ["DASK_SCHEDULER_ADDRESS"], "the environment variable DASK_SCHEDULER_ADDRESS"
        if address:
            try:
                client = stack.enter_context(Client(str(address), timeout=self.connect_timeout))
            except (OSError, TimeoutError, ValueError) as error:
                raise ConnectionError(
                    f"the Dask scheduler at {address} (from {source}) does not answer after {self.connect_timeout:g} s "
                    f"({type(error).__name__}: {str(error).splitlines()[0][:200]}). Start it (`dask scheduler`) and its "
                    f"workers, correct the address, or give none to start a local cluster") from error
            self._logger.info("Dask: the cluster at %s, %d worker(s)", address, len(client.scheduler_info()["workers"]))
            return client, self.torch_threads
        # Dask's nannies set OMP_NUM_THREADS=1 (and MKL's, OpenBLAS's) in the process that starts them, not
        # only in their workers: this process gets its environment back once the cluster has stopped.
        stack.enter_context(mock.patch.dict(os.environ))
        cluster, plan = start_local_cluster(self.n_workers, self.threads_per_worker)
        client = stack.enter_context(Client(stack.enter_context(cluster)))
        self._logger.info("Dask: a local %s cluster of %d worker(s), %d thread(s) each, PyTorch on %d thread(s) (dashboard %s)",
                          plan.kind, plan.n_workers, plan.threads_per_worker, self.torch_threads or plan.torch_threads,
                          client.dashboard_link)
        return client, self.torch_threads or plan.torch_threads

    def _run(self, pipeline: Pipeline, catalog: Any, hook_manager: Any = None, run_id: str | None = None) -> None:
        from kedro.framework.project import LOGGING, PACKAGE_NAME

        # Names on the scheduler, which other runs may share: the session id (a millisecond) can
        # repeat between two runs, so a random part keeps them apart.
        prefix = f"{run_id or 'run'}-{uuid.uuid4().hex[:8]}"
        self.timeline = []
        with ExitStack() as stack:
            client, torch_threads = self._client(stack)
            for name in sorted(pipeline.all_outputs()):
                if isinstance(catalog.get(name, fallback_to_runtime_pattern=True), MemoryDataset):
                    catalog[name] = SharedDataset(f"{prefix}:{name}")
            plugins = hook_manager.get_plugins() or ()  # None from Kedro's null manager, outside a session
            tracking = next((hook.worker_state() for hook in plugins if isinstance(hook, TrainingTrackingHooks)), None)
            # Every worker sets itself up now, side by side, not when its first node arrives (that
            # node would wait seconds for imports while the others run); one that joins later, as it joins.
            client.register_plugin(RunSetup(PACKAGE_NAME or "playing_with_mnist", dict(LOGGING) if LOGGING else None,
                                            tracking, torch_threads, catalog, self._is_async), name=prefix)
            stack.callback(client.unregister_worker_plugin, prefix)

            def submit(node: Node, worker: str | None, attempt: int) -> Future:
                # Loose placement: should that worker leave the cluster, another one runs the node.
                key = f"{node.name}:{prefix}" + (f":rerun{attempt}" if attempt else "")
                return client.submit(run_node, node, prefix, run_id, key=key, retries=0,
                                     workers=[worker] if worker else None, allow_other_workers=True)

            self._run_as_ready(pipeline, catalog, submit, client.nthreads)

    def _run_as_ready(self, pipeline: Pipeline, catalog: Any, submit: Callable[[Node, str | None, int], Future],
                      worker_threads: Callable[[], dict[str, int]]) -> None:
        """Submit each node once the nodes it needs have finished, to a worker with a free thread;
        wait for all; report. Nodes that do not need a failed one still run to their end. A search's
        trial node whose worker died is run again (:data:`TRIAL_NODE_RERUNS`).

        The runner places each node itself (``submit(node, worker, attempt)``) on the worker with the most
        threads none of this run's nodes uses (``worker_threads()``: address -> threads, asked again
        as each node ends, as workers come and go); with none free, the node waits, and with no
        worker at all one node goes unplaced until Dask has one. Left to Dask, two nodes submitted
        together could queue on one worker while another idles (it guesses a node's length from
        other nodes), and handing a node its dependencies' futures (the recipe's way) would put every
        training of a sweep on the worker that preprocessed: data goes through the catalog instead.
        """
        waiting = {node: set(pipeline.node_dependencies[node]) for node in pipeline.nodes}
        load_counts = Counter(chain.from_iterable(n.inputs for n in pipeline.nodes))
        running: dict[str, tuple[Node, str | None]] = {}  # future key -> its node and the worker it was handed to
        completed, done, failed, reruns = as_completed(), [], {}, Counter()

        def submit_ready() -> None:
            threads, busy = worker_threads(), Counter(worker for _, worker in running.values())
            for node in [node for node, needs in waiting.items() if not needs]:
                worker = free_worker(threads, busy)
                if worker is None and running:
                    return
                del waiting[node]
                future = submit(node, worker, reruns[node])
                running[future.key], busy[worker] = (node, worker), busy[worker] + 1
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
            elif lost_worker(future.exception()) and SEARCH_TAG in node.tags and reruns[node] < TRIAL_NODE_RERUNS:
                reruns[node] += 1
                waiting[node] = set()
                self._logger.warning("The worker running node %s died; running it again on another worker (%d of %d)",
                                     node.name, reruns[node], TRIAL_NODE_RERUNS)
            else:
                failed[node] = future.exception()
            submit_ready()  # its thread is free, failed or not
        if failed:
            self._suggest_resume_scenario(pipeline, done, catalog)
            causes = "; ".join(f"node {node.name} failed: {type(error).__name__}: {str(error)[:500]}" for node, error in failed.items())
            not_run = ", ".join(sorted(node.name for node in waiting))
            killed = any(lost_worker(error) for error in failed.values())
            raise NodeFailedError(
                causes + (f". Not run, as they need its outputs: {not_run}" if not_run else "")
                + (". The worker running it died (killed, or out of memory); a training continues from its last "
                   "checkpoint with --params=train.resume=true" if killed else "")
                + ". Every node that does not need it ran to its end and saved its outputs.")


def lost_worker(error: BaseException | None) -> bool:
    """Whether a node failed because its worker died (killed, out of memory) rather than by its own error."""
    return isinstance(error, KilledWorker)


def free_worker(threads: dict[str, int], busy: Counter) -> str | None:
    """The worker with the most threads not taken by ``busy`` (address: nodes placed there), or
    None when every thread is taken or there is no worker; ties go to the first address in order."""
    free = {address: count - busy[address] for address, count in sorted(threads.items())}
    return max((address for address in free if free[address] > 0), key=free.__getitem__, default=None)
