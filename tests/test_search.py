"""The Optuna search: its space, its study (first trial, budget, pruning, stale trials) and whole runs."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import threading
import time
from contextlib import closing
from pathlib import Path

import optuna
import pandas as pd
import pytest
import yaml
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project
from mlflow.tracking import MlflowClient
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import TrialState

from playing_with_mnist.pipelines.search.nodes import prepare_search, run_trials, summarise_search
from playing_with_mnist.search import load_study, nested, parse_space
from playing_with_mnist.training.config import TrainConfig

from .params import TRAIN

SPACE = {"lr": {"low": 3.0e-4, "high": 1.0e-2, "log": True}, "dropout": {"low": 0.0, "high": 0.7},
         "augment.rotate": {"choices": [0, 5, 10, 15]}, "batch_size": {"choices": [4, 8]}}


def search_params(tmp_path: Path, **changes: object) -> dict:
    return {"n_trials": 3, "timeout_minutes": None, "seed": 0, "study_name": "test", "workers": 1,
            "storage": f"sqlite:///{tmp_path / 'optuna.db'}", "heartbeat_seconds": 30,
            "pruner": {"class": "NopPruner"}, "space": SPACE, **changes}


def test_the_space_becomes_optuna_distributions() -> None:
    space = parse_space({**SPACE, "model.drop_path": {"low": 0.0, "high": 0.2}, "epochs": {"low": 1, "high": 3}}, TRAIN)
    assert space["lr"] == FloatDistribution(3.0e-4, 1.0e-2, log=True)
    assert space["augment.rotate"] == CategoricalDistribution([0, 5, 10, 15])
    assert space["epochs"] == IntDistribution(1, 3)
    assert nested({"augment.rotate": 5, "lr": 0.01}) == {"augment": {"rotate": 5}, "lr": 0.01}


@pytest.mark.parametrize(("space", "named"), [
    ({"lerning_rate": {"low": 0.1, "high": 0.2}}, "search.space.lerning_rate"),
    ({"augment.rotat": {"choices": [0, 5]}}, "search.space.augment.rotat"),
    ({"lr": {"low": 0.1, "hi": 0.2}}, "search.space.lr"),
    ({"dropout": {"low": 0.0, "high": 0.5}}, "search.space.dropout"),  # without the recipe's 0.7
    ({"optimizer": {"choices": ["adam", "lion"]}}, "search.space.optimizer"),
])
def test_a_wrong_space_stops_the_search_before_any_trial_naming_the_key(tmp_path: Path, space: dict, named: str) -> None:
    with pytest.raises(ValueError, match=named.replace(".", r"\.")):
        prepare_search(search_params(tmp_path, space=space), TRAIN)
    assert not (tmp_path / "optuna.db").exists() or not load_study(search_params(tmp_path)).trials


def test_a_study_starts_from_the_recipe_runs_its_budget_and_continues(tmp_path: Path, tiny_cache: dict, tiny_split: dict) -> None:
    search = search_params(tmp_path)
    plan = prepare_search(search, TRAIN)
    assert run_trials(plan, search, TRAIN, tiny_cache, tiny_split) == 3
    assert run_trials(prepare_search(search, TRAIN), search, TRAIN, tiny_cache, tiny_split) == 0  # the budget is spent
    study = load_study(search)
    first = study.trials[0]
    assert first.params == {"lr": TRAIN["lr"], "dropout": TRAIN["dropout"], "augment.rotate": 0, "batch_size": TRAIN["batch_size"]}
    assert TrainConfig.from_params(first.user_attrs["train"]) == TrainConfig.from_params(TRAIN)
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 3
    assert len({repr(t.params) for t in study.trials}) == 3

    table, history, importance, recipe, document = summarise_search(search, 3)
    assert list(table["number"]) == [0, 1, 2] and set(table["state"]) == {"complete"}
    assert (table["epochs"] == 1).all() and (table["seconds"] > 0).all() and {"lr", "augment.rotate"} <= set(table)
    best = yaml.safe_load(recipe)["train"]
    assert TrainConfig.from_params(best).to_dict() == study.best_trial.user_attrs["train"]
    assert "trial" in document and history.axes and importance.axes

    kept = [(t.params, t.value) for t in study.trials]
    more = search_params(tmp_path, n_trials=5)
    assert run_trials(prepare_search(more, TRAIN), more, TRAIN, tiny_cache, tiny_split) == 2
    again = load_study(more)
    assert len(again.trials) == 5 and [(t.params, t.value) for t in again.trials[:3]] == kept


def test_a_pruned_trial_stops_after_its_first_epoch(tmp_path: Path, tiny_cache: dict, tiny_split: dict) -> None:
    # Validation accuracy is never above 2: this pruner prunes every trial at its first report.
    search = search_params(tmp_path, n_trials=2, pruner={"class": "ThresholdPruner", "lower": 2.0})
    run_trials(prepare_search(search, TRAIN), search, {**TRAIN, "epochs": 3}, tiny_cache, tiny_split)
    trials = load_study(search).trials
    assert [t.state for t in trials] == [TrialState.PRUNED] * 2
    assert all(t.user_attrs["epochs"] == 1 and list(t.intermediate_values) == [1] for t in trials)
    table = summarise_search(search, 2)[0]
    assert set(table["state"]) == {"pruned"} and (table["epochs"] == 1).all()


def test_a_trial_whose_process_died_ends_failed_not_complete(tmp_path: Path) -> None:
    search = search_params(tmp_path, heartbeat_seconds=1)
    study = load_study(search)
    stale = study.ask()  # a trial that started beating, then its process died
    study._storage.record_heartbeat(stale._trial_id)
    time.sleep(4)  # past the grace period of 2 heartbeats (SQLite keeps whole seconds)
    prepare_search(search, TRAIN)
    assert load_study(search).trials[stale.number].state == TrialState.FAIL


def run_search(project: Path, runner=None, train: dict = TRAIN, **search: object) -> None:  # noqa: ANN001 - any Kedro runner
    bootstrap_project(project)
    with KedroSession.create(project_path=project, runtime_params={"raw_zip": str(search.pop("raw_zip")), "train": train,
                                                                   "search": search}) as session:
        session.run(pipeline_names=["search"], runner=runner)


def latest(project: Path, name: str) -> Path:
    return sorted((project / "data/08_reporting/search" / name).iterdir())[-1] / name


SMALL_SPACE = {"lr": {"low": 3.0e-4, "high": 1.0e-2, "log": True}, "batch_size": {"choices": [4, 8]}}


@pytest.mark.slow
def test_kedro_run_search_writes_its_outputs_tracks_trials_and_continues(project_copy: Path, tiny_zip: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(project_copy)
    (project_copy / "conf/base/parameters_search.yml").write_text(yaml.safe_dump({"search": {
        **search_params(project_copy, workers=2, storage="sqlite:///optuna.db"), "space": SMALL_SPACE}}))
    run_search(project_copy, raw_zip=tiny_zip, n_trials=3, space=SMALL_SPACE)
    for name in ("trials.csv", "history.png", "importance.png", "best_recipe.yml", "results.md"):
        assert latest(project_copy, name).stat().st_size > 0, name
    table = pd.read_csv(latest(project_copy, "trials.csv"))
    assert len(table) == 3 and set(table["state"]) == {"complete"}
    assert (project_copy / "optuna.db").exists()

    client = MlflowClient(tracking_uri=f"sqlite:///{project_copy / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("playing_with_mnist")
    trials = client.search_runs([experiment.experiment_id], "tags.trial != ''")
    assert sorted(int(r.data.tags["trial"]) for r in trials) == [0, 1, 2]
    assert all(r.data.tags["state"] == "complete" and "mlflow.parentRunId" in r.data.tags and "lr" in r.data.params for r in trials)
    assert all(len(client.get_metric_history(r.info.run_id, "val_accuracy")) == 1 for r in trials)

    run_search(project_copy, raw_zip=tiny_zip, n_trials=4, space=SMALL_SPACE)  # the same study, one trial more
    again = pd.read_csv(latest(project_copy, "trials.csv"))
    assert len(again) == 4 and again.head(3)[["number", "value"]].equals(table[["number", "value"]])


@pytest.mark.slow
def test_under_the_dask_runner_two_workers_share_the_study(project_copy: Path, tiny_zip: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from playing_with_mnist.runner import DaskRunner

    monkeypatch.chdir(project_copy)
    (project_copy / "conf/base/parameters_search.yml").write_text(yaml.safe_dump({"search": {
        **search_params(project_copy, workers=2, storage="sqlite:///optuna.db"), "space": SMALL_SPACE}}))
    runner = DaskRunner(n_workers=2, threads_per_worker=1, torch_threads=1)
    run_search(project_copy, runner, raw_zip=tiny_zip, n_trials=4, space=SMALL_SPACE)
    study = optuna.load_study(study_name="test", storage=f"sqlite:///{project_copy / 'optuna.db'}")
    assert sum(t.state == TrialState.COMPLETE for t in study.trials) >= 4
    nodes = [entry for entry in runner.timeline if ".trials_" in entry["node"]]
    assert len({entry["worker"] for entry in nodes}) == 2, runner.timeline
    assert nodes[0]["started"] < nodes[1]["finished"] and nodes[1]["started"] < nodes[0]["finished"], runner.timeline  # side by side
    client = MlflowClient(tracking_uri=f"sqlite:///{project_copy / 'mlflow.db'}")
    trials = client.search_runs([client.get_experiment_by_name("playing_with_mnist").experiment_id], "tags.trial != ''")
    assert sorted(int(r.data.tags["trial"]) for r in trials) == [t.number for t in study.trials]  # logged from the workers
    assert all("mlflow.parentRunId" in r.data.tags for r in trials)
    assert len(pd.read_csv(latest(project_copy, "trials.csv"))) == len(study.trials)


@pytest.mark.slow
def test_a_worker_that_dies_fails_its_trial_and_the_study_goes_on(project_copy: Path, tiny_zip: Path, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from playing_with_mnist.runner import DaskRunner

    from .test_dask_sweep import Cluster

    monkeypatch.chdir(project_copy)
    search = {**search_params(project_copy, workers=2, heartbeat_seconds=1, storage="sqlite:///optuna.db"), "space": SMALL_SPACE}
    (project_copy / "conf/base/parameters_search.yml").write_text(yaml.safe_dump({"search": search}))
    storage = f"sqlite:///{project_copy / 'optuna.db'}"
    cluster = Cluster(tmp_path, workers=2)  # worker processes without nannies: a killed one stays dead
    killed: list[int] = []

    def kill_a_worker_mid_trial() -> None:
        # The worker whose trial has reported an epoch and is still running: certainly mid-way. Read with
        # sqlite3, read-only: Optuna would create the study's tables, racing the run that creates them.
        deadline = time.time() + 300
        pids = set(cluster.client.run(os.getpid).values())
        while time.time() < deadline and not killed:
            try:
                with closing(sqlite3.connect(f"file:{project_copy / 'optuna.db'}?mode=ro", uri=True)) as db:
                    running = db.execute(
                        "SELECT t.number, a.value_json FROM trials t JOIN trial_user_attributes a ON a.trial_id = t.trial_id "
                        "WHERE a.key = 'process' AND t.state = 'RUNNING' AND EXISTS "
                        "(SELECT 1 FROM trial_intermediate_values v WHERE v.trial_id = t.trial_id)").fetchall()
            except sqlite3.Error:  # no file or no tables yet, or being written
                running = []
            for number, process in running:
                pid = int(json.loads(process).rsplit(":", 1)[1])
                if pid in pids:
                    os.kill(pid, signal.SIGKILL)
                    killed.append(number)
                    break
            time.sleep(0.05)

    killer = threading.Thread(target=kill_a_worker_mid_trial)
    killer.start()
    try:
        run_search(project_copy, DaskRunner(address=cluster.address, torch_threads=1), {**TRAIN, "epochs": 3},
                   raw_zip=tiny_zip, n_trials=4, space=SMALL_SPACE, heartbeat_seconds=1)
    finally:
        killer.join()
        cluster.stop()
    assert killed, "no trial was seen mid-way"
    study = optuna.load_study(study_name="test", storage=storage)
    assert sum(t.state == TrialState.COMPLETE for t in study.trials) == 4, [t.state for t in study.trials]  # it went on
    if study.trials[killed[0]].state == TrialState.RUNNING:  # the run ended within its heartbeat's grace period
        time.sleep(3)
        prepare_search(search, TRAIN)
    assert load_study(search).trials[killed[0]].state == TrialState.FAIL
