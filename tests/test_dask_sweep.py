"""The sweep under the Dask runner: a local cluster, a cluster of separate processes, and its faults."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project
from kedro.runner import SequentialRunner
from mlflow.tracking import MlflowClient

from playing_with_mnist.runner import DaskRunner
from playing_with_mnist.runner.dask_runner import NodeFailedError, free_worker

from .conftest import free_port
from .params import TRAIN

pytestmark = pytest.mark.slow

SWEEP = {"seeds": [0, 1], "recipes": {"seed": {}, "tuned": "${env_train:tuned,epochs}"},
         "runs": "${sweep_runs:${sweep.recipes},${sweep.seeds}}"}
RUNS = ["seed_s0", "seed_s1", "tuned_s0", "tuned_s1"]


def sweep_project(project: Path, monkeypatch: pytest.MonkeyPatch, sweep: dict = SWEEP) -> Path:
    """The copy's sweep made small; the pipelines are registered from the folder the command runs in."""
    (project / "conf/base/parameters_sweep.yml").write_text(yaml.safe_dump({"sweep": sweep}))
    monkeypatch.chdir(project)
    return project


def run_sweep(project: Path, runner, tiny_zip: Path, test_zip: Path | None = None, **train) -> None:  # noqa: ANN001 - any Kedro runner
    bootstrap_project(project)
    params = {"raw_zip": str(tiny_zip), "train": {**TRAIN, **train}, **({"sweep": {"test_zip": str(test_zip)}} if test_zip else {})}
    with KedroSession.create(project_path=project, runtime_params=params) as session:
        session.run(pipeline_names=["sweep"], runner=runner)


def versions(folder: Path, name: str) -> list[Path]:
    return sorted(p / name for p in (folder / name).iterdir())


def histories(project: Path) -> dict[str, pd.DataFrame]:
    reports = project / "data/08_reporting/sweep"
    return {run: pd.read_csv(versions(reports, f"{run}_history.csv")[-1]) for run in RUNS}


def models(project: Path) -> dict[str, dict]:
    folder = project / "data/06_models/sweep"
    return {run: torch.load(versions(folder, f"{run}_model.pt")[-1], weights_only=True) for run in RUNS}


def same_learning(a: pd.DataFrame, b: pd.DataFrame) -> None:
    columns = ["epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy"]
    pd.testing.assert_frame_equal(a[columns], b[columns], check_exact=False, rtol=1e-5)


def test_two_dask_workers_train_side_by_side_as_the_sequential_runner_does(project_copy: Path, tiny_zip: Path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    project = sweep_project(project_copy, monkeypatch)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as each of the two single-threaded workers
    try:
        run_sweep(project, SequentialRunner(), tiny_zip, tiny_zip, epochs=4)  # trainings of a few seconds: long enough to overlap
    finally:
        torch.set_num_threads(threads)
    sequential = histories(project)
    reports = project / "data/08_reporting/sweep"
    sequential_table = pd.read_csv(versions(reports, "comparison.csv")[-1]).set_index("run")
    runner = DaskRunner(n_workers=2, threads_per_worker=1, torch_threads=1)
    environment = dict(os.environ)
    run_sweep(project, runner, tiny_zip, tiny_zip, epochs=4)
    assert dict(os.environ) == environment  # Dask's nannies set OMP_NUM_THREADS=1 here; the runner undoes it
    parallel = histories(project)
    for run in RUNS:
        same_learning(parallel[run], sequential[run])

    times = {run: (m["run"]["started_at"], m["run"]["finished_at"]) for run, m in models(project).items()}
    assert any(a[0] < b[1] and b[0] < a[1] for x, a in times.items() for y, b in times.items() if x < y), (times, runner.timeline)
    trained_on = {entry["worker"] for entry in runner.timeline if entry["node"].endswith(".train_model")}
    assert len(trained_on) == 2, runner.timeline

    table = pd.read_csv(versions(reports, "comparison.csv")[-1]).set_index("run")
    assert list(table.index) == RUNS
    assert table["test_accuracy"].tolist() == pytest.approx(sequential_table["test_accuracy"].tolist()), "scored on the test zip"
    for run in RUNS:
        assert table.loc[run, "final_val_accuracy"] == pytest.approx(parallel[run]["val_accuracy"].iloc[-1])
    summary = pd.read_csv(versions(reports, "recipe_summary.csv")[-1]).set_index("recipe")
    assert summary.loc["tuned", "final_val_accuracy_mean"] == pytest.approx(table.loc[["tuned_s0", "tuned_s1"], "final_val_accuracy"].mean())
    assert versions(reports, "accuracy_curves.png")[-1].stat().st_size > 0

    # Each training of the Dask run is its own MLflow run, under the run's parent, with its own metrics.
    client = MlflowClient(tracking_uri=f"sqlite:///{project / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("playing_with_mnist")
    parents = client.search_runs([experiment.experiment_id], "tags.`mlflow.runName` = 'sweep'", order_by=["attributes.start_time DESC"])
    trainings = client.search_runs([experiment.experiment_id], f"tags.mlflow.parentRunId = '{parents[0].info.run_id}'")
    by_configuration = {r.data.tags["configuration"]: r for r in trainings if r.data.tags.get("sweep") == "sweep"}
    assert sorted(by_configuration) == RUNS and all(r.info.status == "FINISHED" for r in trainings)
    for run, record in by_configuration.items():
        assert record.data.tags["recipe"] == run.split("_")[0] and record.data.params["train.seed"] == run[-1]
        logged = [m.value for m in client.get_metric_history(record.info.run_id, "val_accuracy")]
        assert logged == pytest.approx(parallel[run]["val_accuracy"].tolist())


SHORT_NODES = ("short_a", "short_b", "short_c")


class ShortNodesDone:
    """Set once every short node has run. The long node waits for it (at most a minute), so the
    test does not hang on how fast a loaded machine schedules: queued behind the long node, the
    short ones would only start after that minute, and finish after it."""

    def __init__(self) -> None:
        self.lock, self.done, self.event = threading.Lock(), 0, threading.Event()

    def one_more(self) -> None:
        with self.lock:
            self.done += 1
            if self.done == len(SHORT_NODES):
                self.event.set()


SHORT_NODES_DONE = ShortNodesDone()  # each test sets a new one; the local cluster's workers are threads of this process


def sleep_here(name: str, seconds: float) -> dict:
    from distributed import get_worker

    started = time.time()
    if name == "long":
        SHORT_NODES_DONE.event.wait(timeout=seconds)
    else:
        time.sleep(seconds)
    ran = {"node": name, "worker": get_worker().address, "started": started, "finished": time.time()}
    if name != "long":
        SHORT_NODES_DONE.one_more()  # after its finishing time is taken: the long node's comes later
    return ran


def test_a_ready_node_goes_to_a_free_worker_not_behind_a_long_one(monkeypatch: pytest.MonkeyPatch) -> None:
    import dask
    from distributed import Client, LocalCluster
    from kedro.io import DataCatalog
    from kedro.pipeline import Node, Pipeline

    monkeypatch.setattr(sys.modules[__name__], "SHORT_NODES_DONE", ShortNodesDone())
    seconds = {"long": 60.0, **{name: 0.2 for name in SHORT_NODES}}
    pipeline = Pipeline([Node(lambda: None, None, f"{name}_out", name=name) for name in seconds])
    # Without work stealing, which may or may not move a queued task later: the placement is the runner's.
    with dask.config.set({"distributed.scheduler.work-stealing": False}), \
            LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as local, \
            Client(local) as client:
        runner = DaskRunner()
        runner._run_as_ready(pipeline, DataCatalog(),
                             lambda node, worker, attempt: client.submit(sleep_here, node.name, seconds[node.name], key=node.name,
                                                                workers=[worker] if worker else None),
                             client.nthreads)
    ran = {entry["node"]: entry for entry in runner.timeline}
    assert sorted(ran) == sorted(seconds)
    long = ran.pop("long")
    assert all(entry["worker"] != long["worker"] and entry["finished"] < long["finished"] for entry in ran.values()), \
        runner.timeline  # each short node ran beside the long one, none waited behind it


def test_a_node_goes_to_the_worker_with_the_most_free_threads() -> None:
    from collections import Counter

    threads = {"tcp://b:1": 1, "tcp://a:1": 1, "tcp://c:1": 2}
    assert free_worker(threads, Counter()) == "tcp://c:1"
    assert free_worker(threads, Counter({"tcp://c:1": 1})) == "tcp://a:1", "ties go to the first address"
    assert free_worker(threads, Counter({"tcp://a:1": 1, "tcp://c:1": 1})) == "tcp://b:1"
    assert free_worker(threads, Counter({"tcp://a:1": 1, "tcp://b:1": 1, "tcp://c:1": 2})) is None
    assert free_worker({}, Counter()) is None


class Cluster:
    """``dask scheduler`` and ``dask worker`` processes on this machine, as on a real cluster."""

    def __init__(self, folder: Path, workers: int):
        self.folder, self.processes, self.workers = folder, [], []
        self.file = folder / "scheduler.json"
        self.hold_file = folder / "hold"  # see worker_hold.py: holds a worker after the checkpoint it names
        env = {**os.environ, "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "0"}
        self.processes.append(self._start(["scheduler", "--scheduler-file", str(self.file), "--host", "127.0.0.1",
                                           "--port", "0", "--no-dashboard"], env))
        for _ in range(workers):
            self.add_worker()
        from distributed import Client

        deadline = time.time() + 120
        while not self.file.exists() and time.time() < deadline:
            time.sleep(0.2)
        self.client = Client(scheduler_file=str(self.file), timeout=60)
        self.client.wait_for_workers(workers, timeout=180)
        self.address = self.client.scheduler.address

    def _start(self, arguments: list[str], env: dict | None = None) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_" + arguments[0], *arguments[1:]],
                                cwd=self.folder, env=env or os.environ.copy(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def add_worker(self) -> None:
        worker = self._start(["worker", "--scheduler-file", str(self.file), "--nthreads", "1", "--no-nanny", "--no-dashboard",
                              "--preload", str(Path(__file__).with_name("worker_hold.py"))],
                             {**os.environ, "PLAYING_WITH_MNIST_TEST_HOLD": str(self.hold_file)})
        self.processes.append(worker)
        self.workers.append(worker)

    def stop(self) -> None:
        self.client.close()
        for process in reversed(self.processes):
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


@pytest.fixture
def cluster(tmp_path: Path):
    started = Cluster(tmp_path, workers=2)
    yield started
    started.stop()


def test_the_sweep_runs_on_a_started_scheduler_and_its_workers(project_copy: Path, tiny_zip: Path, cluster: Cluster,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    project = sweep_project(project_copy, monkeypatch)
    monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", cluster.address)  # the address as a user gives it
    runner = DaskRunner(torch_threads=1)
    # Trainings of a few seconds, as in the local-cluster test: trainings of one tiny epoch can
    # end so fast on a quick machine that one worker takes them all while the other is idle.
    run_sweep(project, runner, tiny_zip, epochs=4)
    workers = set(cluster.client.scheduler_info()["workers"])
    assert {entry["worker"] for entry in runner.timeline} <= workers
    assert len({entry["worker"] for entry in runner.timeline if entry["node"].endswith(".train_model")}) == 2
    assert all(len(h) == 4 for h in histories(project).values())


def test_a_killed_worker_names_the_node_and_resuming_continues_it(project_copy: Path, tiny_zip: Path, cluster: Cluster,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    sweep = {"seeds": [0], "recipes": {"quick": {"epochs": 1}, "long": {"epochs": 40}},
             "runs": "${sweep_runs:${sweep.recipes},${sweep.seeds}}"}
    project = sweep_project(project_copy, monkeypatch, sweep)
    checkpoint = project / "data/06_models/checkpoints/sweep/long_s0_last.pt"
    reports = project / "data/08_reporting/sweep"
    killed: list[int] = []
    # The long training stops after its first checkpoint until the kill (worker_hold.py): on a
    # fast machine its 40 tiny epochs could otherwise end before the quick training has.
    cluster.hold_file.write_text(checkpoint.name)

    def quick_training_done() -> bool:
        # The kill waits for the quick node to have saved its outputs and left its worker: the
        # test then checks that a finished training keeps them.
        running = [str(key) for keys in cluster.client.processing().values() for key in keys]
        return (reports / "quick_s0_history.csv").exists() and not any("sweep.quick_s0.train_model" in key for key in running)

    def kill_the_long_training() -> None:
        deadline = time.time() + 100  # within the hold's two minutes
        try:
            while time.time() < deadline and not killed:
                if checkpoint.exists() and quick_training_done():
                    pids = cluster.client.run(os.getpid)
                    for address, keys in cluster.client.processing().items():
                        if any("sweep.long_s0.train_model" in str(key) for key in keys):
                            os.kill(pids[address], signal.SIGKILL)
                            killed.append(pids[address])
                time.sleep(0.05)
        finally:
            cluster.hold_file.unlink()

    killer = threading.Thread(target=kill_the_long_training)
    killer.start()
    with pytest.raises(NodeFailedError, match=r"node sweep\.long_s0\.train_model failed: KilledWorker.*train\.resume=true"):
        run_sweep(project, DaskRunner(address=cluster.address, torch_threads=1), tiny_zip)
    killer.join()
    assert killed
    quick = pd.read_csv(versions(reports, "quick_s0_history.csv")[-1])
    assert len(quick) == 1, "the training that finished kept its outputs"
    assert not (reports / "long_s0_history.csv").exists()
    done_before = torch.load(checkpoint, weights_only=True)["history"]
    assert len(done_before) == 1, "killed while held after its first checkpoint"

    cluster.add_worker()
    cluster.client.wait_for_workers(2, timeout=180)
    run_sweep(project, DaskRunner(address=cluster.address, torch_threads=1), tiny_zip, resume=True)
    long = pd.read_csv(versions(reports, "long_s0_history.csv")[-1])
    assert len(long) == 40
    assert long["seconds"].iloc[: len(done_before)].tolist() == pytest.approx([row["seconds"] for row in done_before])
    again = pd.read_csv(versions(reports, "quick_s0_history.csv")[-1])
    assert again["seconds"].tolist() == pytest.approx(quick["seconds"].tolist()), "nothing that finished was retrained"


def test_a_node_that_recurses_too_deep_fails_the_run_instead_of_hanging(cluster: Cluster) -> None:
    # Dask cannot pickle a RecursionError's traceback: unhandled, the node's task never ends.
    from kedro.io import DataCatalog
    from kedro.pipeline import Node, Pipeline

    def recurse(depth: int = 0) -> int:
        return recurse(depth + 1)

    pipeline = Pipeline([Node(recurse, None, "never_made", name="deep"), Node(lambda: 1, None, "made", name="fine")])
    runner, raised = DaskRunner(address=cluster.address), []

    def run() -> None:
        try:
            runner.run(pipeline, DataCatalog())
        except NodeFailedError as error:
            raised.append(error)

    running = threading.Thread(target=run, daemon=True)  # a daemon: a hang fails this test, not the whole session
    running.start()
    running.join(timeout=120)
    assert not running.is_alive(), "the run still waits for the failed node"
    assert len(raised) == 1
    assert str(raised[0]).startswith("node deep failed: RuntimeError: RecursionError: maximum recursion depth exceeded")
    assert "in recurse" in str(raised[0])  # where it recursed
    assert [entry["node"] for entry in runner.timeline] == ["fine"]


def test_a_scheduler_that_does_not_answer_is_named_within_seconds(project_copy: Path, tiny_zip: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    project = sweep_project(project_copy, monkeypatch)
    address = f"tcp://127.0.0.1:{free_port()}"
    started = time.time()
    with pytest.raises(ConnectionError, match=f"scheduler at {address}.*does not answer"):
        run_sweep(project, DaskRunner(address=address, connect_timeout=3), tiny_zip)
    assert time.time() - started < 60
    assert not (project / "data/06_models/sweep").exists()


def test_an_unknown_parameter_in_the_sweep_stops_it_before_any_training(project_copy: Path, tiny_zip: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    sweep = {"seeds": [0], "recipes": {"seed": {}, "typo": {"dropuot": 0.1}},
             "runs": "${sweep_runs:${sweep.recipes},${sweep.seeds}}"}
    project = sweep_project(project_copy, monkeypatch, sweep)
    with pytest.raises(ValueError, match=r"unknown parameter\(s\) sweep\.runs\.typo_s0\.dropuot"):
        run_sweep(project, DaskRunner(n_workers=1), tiny_zip)
    assert not (project / "data/06_models").joinpath("sweep").exists()
    assert not (project / "data/05_model_input/character_images.pt").exists(), "nothing ran at all"
