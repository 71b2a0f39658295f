"""A local Dask cluster sized for this machine. The choices (:func:`plan_local_cluster`,
:func:`choose_gpu`) are pure, so that they can be checked with any number of CPUs and GPUs."""

from __future__ import annotations

import importlib.util
import os
from typing import Any, NamedTuple

import dask
from distributed import LocalCluster, Nanny, Scheduler, SpecCluster


class ClusterPlan(NamedTuple):
    """``kind``: ``cpu`` (LocalCluster), ``dask-cuda`` (LocalCUDACluster) or ``gpus`` (one worker
    process per GPU, each seeing only its own through CUDA_VISIBLE_DEVICES)."""

    kind: str
    n_workers: int
    threads_per_worker: int
    torch_threads: int
    gpus: tuple[int, ...] = ()


def plan_local_cluster(cpu_count: int, gpu_count: int, has_dask_cuda: bool, n_workers: int | None = None,
                       threads_per_worker: int | None = None) -> ClusterPlan:
    """One worker per GPU where there are several, else up to 4 workers on the CPU cores; one task
    at a time per worker (a training already uses all the threads it is given), and the cores
    shared out among the workers' PyTorch threads."""
    for name, value in (("n_workers", n_workers), ("threads_per_worker", threads_per_worker)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise ValueError(f"the Dask runner's {name} must be a whole number of at least 1, got {value!r}")
    cpu_count = max(1, cpu_count)
    if gpu_count > 1:
        workers = n_workers or gpu_count
        kind = "dask-cuda" if has_dask_cuda and workers == gpu_count else "gpus"
        return ClusterPlan(kind, workers, threads_per_worker or 1, max(1, cpu_count // workers),
                           tuple(index % gpu_count for index in range(workers)))
    workers = n_workers or min(cpu_count, 4)
    return ClusterPlan("cpu", workers, threads_per_worker or 1, max(1, cpu_count // workers))


def choose_gpu(visible_devices: str | None, device_count: int, worker_name: Any) -> int | None:
    """The GPU a worker trains on, where it has to pick one itself: ``None`` when the process sees
    at most one GPU or was given its own (CUDA_VISIBLE_DEVICES set: its first device is its GPU),
    else the worker's number (its name in a local cluster) modulo the GPUs."""
    if device_count <= 1 or visible_devices:
        return None
    try:
        return int(worker_name) % device_count
    except (TypeError, ValueError):
        return sum(str(worker_name).encode()) % device_count


def start_local_cluster(n_workers: int | None, threads_per_worker: int | None) -> tuple[Any, ClusterPlan]:
    """Start the cluster planned for this machine. No memory limit: a training's memory is what it
    is, and Dask would otherwise kill a worker that crosses its share of the machine."""
    import torch

    plan = plan_local_cluster(os.cpu_count() or 1, torch.cuda.device_count() if torch.cuda.is_available() else 0,
                              importlib.util.find_spec("dask_cuda") is not None, n_workers, threads_per_worker)
    # A killed worker fails its node at once (the error names it) instead of rerunning the training elsewhere.
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        if plan.kind == "dask-cuda":
            from dask_cuda import LocalCUDACluster

            return LocalCUDACluster(n_workers=plan.n_workers, threads_per_worker=plan.threads_per_worker, memory_limit=0), plan
        if plan.kind == "gpus":
            workers = {i: {"cls": Nanny, "options": {"nthreads": plan.threads_per_worker, "memory_limit": 0, "name": i,
                                                      "env": {"CUDA_VISIBLE_DEVICES": str(gpu)}}}
                       for i, gpu in enumerate(plan.gpus)}
            return SpecCluster(workers=workers, scheduler={"cls": Scheduler, "options": {"dashboard_address": ":8787"}}), plan
        return LocalCluster(n_workers=plan.n_workers, threads_per_worker=plan.threads_per_worker, memory_limit=0), plan
