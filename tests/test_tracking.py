"""Experiment tracking: every training is one MLflow run in the project's SQLite store."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from mlflow.tracking import MlflowClient
from playwright.sync_api import Page, expect

from .conftest import PROJECT_ROOT, free_port, stop_group, wait_until_up
from .test_project_run import SMALL_TRAIN, latest, run_session

pytestmark = pytest.mark.slow


def store(project: Path) -> MlflowClient:
    return MlflowClient(tracking_uri=f"sqlite:///{project / 'mlflow.db'}")


def all_runs(project: Path) -> list:
    client = store(project)
    experiment = client.get_experiment_by_name("playing_with_mnist")
    return client.search_runs([experiment.experiment_id], order_by=["attributes.start_time ASC"]) if experiment else []


def test_a_training_run_is_one_mlflow_run_with_params_history_metrics_and_artifacts(project_copy: Path, tiny_zip: Path) -> None:
    run_session(project_copy, raw_zip=str(tiny_zip), train={**SMALL_TRAIN["train"], "epochs": 2})

    runs = all_runs(project_copy)
    trainings = [r for r in runs if r.data.tags.get("training")]
    assert len(trainings) == 1, [r.info.run_name for r in runs]
    training = trainings[0]
    parent = next(r for r in runs if r.info.run_id == training.data.tags["mlflow.parentRunId"])
    assert parent.info.run_name == "__default__" and parent.info.status == training.info.status == "FINISHED"

    params = training.data.params
    assert params["train.epochs"] == "2" and params["train.dropout"] == "0.7" and params["train.augment.rotate"] == "0.0"
    assert params["recipe"] == "seed" and "tiny.zip" in params["data.source"] and len(params["data.fingerprint"]) >= 64

    client = store(project_copy)
    history = client.get_metric_history(training.info.run_id, "val_accuracy")
    assert [m.step for m in history] == [1, 2]
    metrics = json.loads(latest(project_copy, "metrics.json").read_text())
    assert [m.value for m in history][-1] == pytest.approx(metrics["last_val_accuracy"])
    for key in ("max_val_accuracy", "last_val_accuracy", "last_train_accuracy", "val_accuracy"):
        assert training.data.metrics[f"final.{key}"] == pytest.approx(metrics[key])
    assert training.data.tags["device"].startswith("cpu") and training.data.tags["precision"] in ("fp32", "bf16")

    artifacts = {a.path for a in client.list_artifacts(training.info.run_id)} | {
        a.path for a in client.list_artifacts(training.info.run_id, "model")}
    assert {"loss_graph.png", "accuracy_graph.png", "confusion_matrix.png", "results.md", "metrics.json", "model/resnet.pt"} <= artifacts
    model_file = client.download_artifacts(training.info.run_id, "model/resnet.pt", str(project_copy))
    saved = torch.load(latest(project_copy, "resnet.pt", "data/06_models"), weights_only=True)
    logged = torch.load(model_file, weights_only=True)
    assert all(torch.equal(saved["state_dict"][k], logged["state_dict"][k]) for k in saved["state_dict"])
    document = Path(client.download_artifacts(training.info.run_id, "results.md", str(project_copy))).read_text()
    assert "](loss_graph.png)" in document, "the document links the figures beside it"


def test_tracking_off_touches_no_store(project_copy: Path, tiny_zip: Path) -> None:
    run_session(project_copy, ["preprocess", "train"], raw_zip=str(tiny_zip), tracking={"enabled": False}, **SMALL_TRAIN)
    assert latest(project_copy, "resnet.pt", "data/06_models").exists()
    assert not (project_copy / "mlflow.db").exists() and not (project_copy / "mlartifacts").exists()


def test_a_corrupt_store_stops_the_run_before_training_naming_it(project_copy: Path, tiny_zip: Path) -> None:
    (project_copy / "mlflow.db").write_bytes(b"this is not a database" * 100)
    with pytest.raises(Exception, match=r"mlflow\.db cannot be opened.*tracking\.enabled=false"):
        run_session(project_copy, raw_zip=str(tiny_zip), **SMALL_TRAIN)
    assert not (project_copy / "data/06_models/resnet.pt").exists()


def test_a_failed_training_is_marked_failed(project_copy: Path, tiny_zip: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import playing_with_mnist.training.pipeline as train_nodes

    def broken_fit(*args, **kwargs):
        raise RuntimeError("the machine went away")

    monkeypatch.setattr(train_nodes, "fit", broken_fit)
    with pytest.raises(RuntimeError, match="went away"):
        run_session(project_copy, raw_zip=str(tiny_zip), **SMALL_TRAIN)
    statuses = {r.info.run_name: r.info.status for r in all_runs(project_copy)}
    assert statuses == {"__default__": "FAILED", "task1": "FAILED"}


def test_two_runs_at_once_each_get_their_own_mlflow_run(project_copy: Path, tiny_zip: Path) -> None:
    run_session(project_copy, ["preprocess"], raw_zip=str(tiny_zip), tracking={"enabled": False})
    env = {**os.environ, "KEDRO_DISABLE_TELEMETRY": "1"}
    params = f"raw_zip={tiny_zip},train.epochs=1,train.batch_size=8,train.device=cpu,train.seed="
    both = [subprocess.Popen([sys.executable, "-m", "kedro", "run", "--pipelines=train", f"--params={params}{seed}"],
                             cwd=project_copy, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            for seed in (1, 2)]
    outputs = [p.communicate(timeout=600)[0] for p in both]
    assert [p.returncode for p in both] == [0, 0], outputs[0][-2000:] + outputs[1][-2000:]
    trainings = [r for r in all_runs(project_copy) if r.data.tags.get("training") == "task1"]
    assert sorted(r.data.params["train.seed"] for r in trainings) == ["1", "2"]
    assert len({r.data.tags["mlflow.parentRunId"] for r in trainings}) == 2
    assert all(r.info.status == "FINISHED" for r in trainings)


@pytest.mark.browser
def test_the_mlflow_ui_shows_the_run(registered_project: Path, page: Page) -> None:
    project_copy = registered_project
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", f"sqlite:///{project_copy / 'mlflow.db'}",
         "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        cwd=project_copy, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    try:
        wait_until_up(f"http://127.0.0.1:{port}/health", server, 120)
        experiment = store(project_copy).get_experiment_by_name("playing_with_mnist").experiment_id
        page.goto(f"http://127.0.0.1:{port}/#/experiments/{experiment}/runs")
        try:
            expect(page.locator("body"), "the MLflow UI did not list the run").to_contain_text("__default__", timeout=90_000)
        finally:  # kept on failure too: it shows what the page looked like
            page.screenshot(path=PROJECT_ROOT / "test-artifacts" / "mlflow_ui.png")
    finally:
        stop_group(server)
