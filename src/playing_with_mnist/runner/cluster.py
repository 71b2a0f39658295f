"""Which Dask cluster to use: a scheduler's address, or a local cluster sized for this machine.

Pure choices (:func:`plan_local_cluster`, :func:`choose_gpu`) are kept apart from starting
anything, so that they can be checked with any number of CPUs and GPUs.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
from dataclasses import dataclass, field
from typing import Any, Iterator

ADDRESS_VARIABLE = "DASK_SCHEDULER_ADDRESS"  # Dask's own variable for its scheduler-address setting


@dataclass(frozen=True)
class ClusterPlan:
    """A local cluster: ``kind`` is ``cpu`` (LocalCluster), ``dask-cuda`` (LocalCUDACluster) or
    ``gpus`` (one worker process per GPU, each seeing only its own through CUDA_VISIBLE_DEVICES)."""

    kind: str
    n_workers: int
    threads_per_worker: int
    torch_threads: int
    gpus: tuple[int, ...] = field(default_factory=tuple)


def _positive(name: str, value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"the Dask runner's {name} must be a whole number of at least 1, got {value!r}")
    return value


def plan_local_cluster(cpu_count: int, gpu_count: int, has_dask_cuda: bool, n_workers: int | None = None,
                       threads_per_worker: int | None = None) -> ClusterPlan:
    """Size a local cluster: one worker per GPU where there are several, else up to 4 workers on
    the CPU cores; one task at a time per worker (a training already uses all the threads it is
    given), and the cores shared out among the workers' PyTorch threads."""
    n_workers, threads_per_worker = _positive("n_workers", n_workers), _positive("threads_per_worker", threads_per_worker)
    cpu_count = max(1, cpu_count)
    if gpu_count > 1:
        workers = n_workers or gpu_count
        kind = "dask-cuda" if has_dask_cuda and workers == gpu_count else "gpus"
        gpus = tuple(index % gpu_count for index in range(workers))
    else:
        workers, kind, gpus = n_workers or max(1, min(cpu_count, 4)), "cpu", ()
    return ClusterPlan(kind, workers, threads_per_worker or 1, max(1, cpu_count // workers), gpus)


def choose_gpu(visible_devices: str | None, device_count: int, worker_name: Any) -> int | None:
    """The GPU a worker trains on, where it has to pick one itself: ``None`` when the process sees
    at most one GPU or was given its own (CUDA_VISIBLE_DEVICES set: its first device is its GPU),
    else the worker's number (its name in a local cluster) modulo the GPUs."""
    if device_count <= 1 or visible_devices:
        return None
    try:
        index = int(worker_name)
    except (TypeError, ValueError):
        index = sum(str(worker_name).encode())
    return index % device_count


def local_gpu_count() -> int:
    try:
        import torch

        return torch.cuda.device_count() if torch.cuda.is_available() else 0
    except Exception:  # no usable CUDA: a CPU cluster
        return 0


@contextlib.contextmanager
def environment_kept() -> Iterator[None]:
    """Give this process its environment back when the block ends.

    Dask's nannies set ``OMP_NUM_THREADS=1`` (and MKL's, OpenBLAS's) in the process that starts
    them, not only in their workers; left there, every later subprocess of a notebook or a test
    run would inherit one thread.
    """
    saved = dict(os.environ)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def start_local_cluster(plan: ClusterPlan) -> Any:
    """Start the planned cluster. No memory limit: a training's memory is what it is, and Dask
    would otherwise kill a worker that crosses its share of the machine."""
    import dask
    from distributed import LocalCluster

    common = {"threads_per_worker": plan.threads_per_worker, "memory_limit": 0}
    # A killed worker fails its node at once (the error names it) instead of rerunning the training elsewhere.
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        if plan.kind == "dask-cuda":
            from dask_cuda import LocalCUDACluster

            return LocalCUDACluster(n_workers=plan.n_workers, **common)
        if plan.kind == "gpus":
            from distributed import Nanny, Scheduler, SpecCluster

            workers = {i: {"cls": Nanny, "options": {"nthreads": plan.threads_per_worker, "memory_limit": 0, "name": i,
                                                      "env": {"CUDA_VISIBLE_DEVICES": str(gpu)}}}
                       for i, gpu in enumerate(plan.gpus)}
            return SpecCluster(workers=workers, scheduler={"cls": Scheduler, "options": {"dashboard_address": ":8787"}})
        return LocalCluster(n_workers=plan.n_workers, processes=True, **common)


def default_plan(n_workers: int | None, threads_per_worker: int | None) -> ClusterPlan:
    return plan_local_cluster(os.cpu_count() or 1, local_gpu_count(), importlib.util.find_spec("dask_cuda") is not None,
                              n_workers, threads_per_worker)


def connect(address: str, timeout: float, source: str) -> Any:
    """A client of the scheduler at ``address``, or one clear error naming it within ``timeout`` seconds."""
    from distributed import Client

    try:
        return Client(address, timeout=timeout)
    except (OSError, TimeoutError, ValueError) as error:
        raise ConnectionError(
            f"the Dask scheduler at {address} (from {source}) does not answer after {timeout:g} s "
            f"({type(error).__name__}: {str(error).splitlines()[0][:200]}). Start it (`dask scheduler`) and its workers, "
            f"correct the address, or give none to start a local cluster"
        ) from error
