"""Short Kedro runs of both MNIST experiments in a copy of the project, on tiny stand-ins."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project

from playing_with_mnist.demo.characters import write_demo_zip

from .test_project_run import latest, run_session

pytestmark = pytest.mark.slow

SLIM = {"block_channels": [8, 8, 16, 16, 16], "strides": [1, 1, 1, 6, 1], "hidden_units": [16, 8]}
FAST = {"epochs": 1, "batch_size": 16, "val_batch_size": 64, "device": "cpu", "model": SLIM}
PARAMS = {"train": FAST, "digits_train": FAST, "mnist_train": FAST, "noisy_train": FAST}
# Task 2's learning curve here: 2 sizes x 2 seeds x 2 starts.
POINTS = [f"n{size}_s{seed}" for size in (20, 60) for seed in (0, 1)]
CURVE_RUNS = [f"{point}.{start}" for point in POINTS for start in ("scratch", "pretrained")]


def small_stand_ins(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tiny synthetic MNIST and noisy zip through conf/local, as a user would override the catalog, and a learning
    curve of two sizes and two seeds through conf/local, where the pipelines are registered from (the cwd)."""
    base = yaml.safe_load((project / "conf/base/catalog.yml").read_text())
    local = {
        "raw_mnist": {**base["raw_mnist"], "demo": {**base["raw_mnist"]["demo"], "train_count": 120, "test_count": 40}},
        "raw_noisy_digits": {**base["raw_noisy_digits"], "demo": {**base["raw_noisy_digits"]["demo"], "count": 100}},
    }
    (project / "conf/local/catalog.yml").write_text(yaml.safe_dump(local))
    (project / "conf/local/parameters_mnist.yml").write_text(yaml.safe_dump({"mnist_transfer": {"train_sizes": [20, 60], "seeds": [0, 1]}}))
    monkeypatch.chdir(project)


@pytest.fixture(scope="module")
def digit_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Task 1's layout with the ten digits and two letters, 4 images each."""
    return write_demo_zip(tmp_path_factory.mktemp("zips") / "digits.zip", seed=5, images_per_class=4, image_size=(96, 72),
                          characters="0123456789AB")


def test_task_3_says_which_pipelines_to_run_first(project_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    small_stand_ins(project_copy, monkeypatch)
    with pytest.raises(RuntimeError, match=r"mnist_model \(made by `kedro run --pipelines=mnist_transfer`\).*trained_model \(made by `kedro run`\)"):
        run_session(project_copy, ["noisy_labels"], **PARAMS)
    # A partial run that needs what only lives in memory is told to start earlier.
    bootstrap_project(project_copy)
    with KedroSession.create(project_path=project_copy) as session, pytest.raises(RuntimeError, match="noisy_labels.noisy_images \\(kept in memory only"):
        session.run(pipeline_names=["noisy_labels"], from_nodes=["noisy_labels.known_label_truth"])


def test_both_experiments_run_after_task_1_and_write_their_reports(project_copy: Path, digit_zip: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    small_stand_ins(project_copy, monkeypatch)
    run_session(project_copy, None, raw_zip=str(digit_zip), **PARAMS)  # Task 1: the model Task 3 starts from
    run_session(project_copy, ["mnist_transfer"], raw_zip=str(digit_zip), **PARAMS)

    reports = project_copy / "data/08_reporting/mnist_transfer"
    curve = pd.read_csv(latest(reports, "learning_curve.csv", ""))
    assert sorted(zip(curve["size"], curve["start"], curve["seed"])) == sorted(
        (size, start, seed) for size in (20, 60) for start in ("scratch", "pretrained") for seed in (0, 1))
    assert (curve["epochs"] == 1).all() and curve["test_accuracy"].between(0, 1).all()
    summary = pd.read_csv(latest(reports, "learning_curve_summary.csv", ""))
    assert list(summary["size"]) == [20, 60] and (summary["seeds"] == 2).all()
    results = latest(reports, "results.md", "").read_text()
    verdict = results.split("## Verdict")[1].split("Rule:")[0]
    assert "20 images (" in verdict and "60 images (" in verdict
    assert "onecycle schedule" in results and "dropout 0.1" in results  # the tuned recipe, and the document says so
    # the per-epoch comparison: the largest size at the first seed
    comparison = pd.read_csv(latest(reports, "comparison.csv", ""))
    assert list(comparison["run"]) == ["scratch", "pretrained"] and (comparison["epochs"] == 1).all()
    for run in ("scratch", "pretrained"):
        history = pd.read_csv(latest(reports, f"n60_s0_{run}_history.csv", ""))
        assert comparison.set_index("run").loc[run, "final_test_accuracy"] == pytest.approx(history["val_accuracy"].iloc[-1])
    assert "## The largest size (60 images, seed 0)" in results and "Against scratch, pretrained" in results
    for figure in ("learning_curves.png", "accuracy_curves.png", "loss_curves.png"):
        assert latest(reports, figure, "").stat().st_size > 0
    models = project_copy / "data/06_models/mnist_transfer"
    pretrained = torch.load(latest(models, "n60_s0_pretrained_model.pt", ""), weights_only=True)
    assert pretrained["started_from"]["classes"] == 10 and pretrained["started_from"]["new_tensors"] == []
    assert torch.load(latest(models, "n20_s1_scratch_model.pt", ""), weights_only=True)["train_config"]["seed"] == 1
    subset = torch.load(project_copy / "data/05_model_input/mnist_transfer/n20_s1.train_split.pt", weights_only=True)
    assert len(subset["train"]) == 20 and len(subset["test"]) == 40
    mnist_model = torch.load(latest(models, "mnist_model.pt", ""), weights_only=True)
    assert mnist_model["class_names"] == [str(d) for d in range(10)]
    assert mnist_model["train_config"]["dropout"] == 0.1 and mnist_model["train_config"]["schedule"] == "onecycle"
    accuracy = comparison.set_index("run")["final_test_accuracy"]
    assert mnist_model["selected_run"] == ("pretrained" if accuracy["pretrained"] > accuracy["scratch"] else "scratch")
    assert mnist_model["final_val_accuracy"] == pytest.approx(accuracy[mnist_model["selected_run"]])

    run_session(project_copy, ["noisy_labels"], **PARAMS)
    reports = project_copy / "data/08_reporting/noisy_labels"
    comparison = pd.read_csv(latest(reports, "comparison.csv", ""))
    assert list(comparison["run"]) == ["scratch", "from_task1", "from_task2", "cleaned"]
    summary = json.loads(latest(reports, "noise_summary.json", "").read_text())
    assert summary["images"] == 100 and summary["true_wrong_share"] is not None
    assert 0.0 <= summary["clean_model_test_accuracy"] <= 1.0
    assert 0.0 <= summary["estimate_vs_truth"]["mean_abs_error"] <= 1.0
    estimate = pd.read_csv(latest(reports, "noise_matrix_estimate.csv", ""))
    assert estimate.shape == (10, 11)
    from_task1 = torch.load(latest(project_copy / "data/06_models/noisy_labels", "from_task1_model.pt", ""), weights_only=True)
    assert from_task1["started_from"]["classes"] == 12 and from_task1["started_from"]["new_tensors"] == ["classifier.weight", "classifier.bias"]
    for name in ("noise_matrix.png", "wrong_label_share.png", "folder_samples.png", "accuracy_curves.png", "results.md",
                 "cleaning_summary.json", "wrong_label_share.csv"):
        assert latest(reports, name, "").stat().st_size > 0
    assert "onecycle schedule" in latest(reports, "results.md", "").read_text()  # Task 3's runs: the tuned recipe too

    # Every training of the three kedro runs is its own MLflow run, nested under its kedro run.
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{project_copy / 'mlflow.db'}")
    runs = client.search_runs([client.get_experiment_by_name("playing_with_mnist").experiment_id])
    trainings = sorted(r.data.tags["training"] for r in runs if "training" in r.data.tags)
    assert trainings == sorted(["task1", "mnist_transfer.digits", *(f"mnist_transfer.{run}" for run in CURVE_RUNS),
                                "noisy_labels.scratch", "noisy_labels.from_task1", "noisy_labels.from_task2",
                                "noisy_labels.cleaned"])
    parents = {r.info.run_id: r.info.run_name for r in runs if "training" not in r.data.tags}
    by_name = {r.data.tags["training"]: r for r in runs if "training" in r.data.tags}
    assert parents[by_name["mnist_transfer.n20_s1.scratch"].data.tags["mlflow.parentRunId"]] == "mnist_transfer"
    assert parents[by_name["noisy_labels.cleaned"].data.tags["mlflow.parentRunId"]] == "noisy_labels"
    assert by_name["mnist_transfer.n20_s1.scratch"].data.params["train.seed"] == "1"
    assert {k: by_name["mnist_transfer.n20_s1.scratch"].data.tags[k] for k in ("recipe", "train_size", "seed")} == {
        "recipe": "tuned", "train_size": "20", "seed": "1"}
    assert by_name["mnist_transfer.n20_s1.scratch"].data.params["recipe"] == "tuned"
    assert len(client.get_metric_history(by_name["mnist_transfer.n60_s0.pretrained"].info.run_id, "val_accuracy")) == 1


def test_both_experiments_run_their_trainings_side_by_side_under_the_dask_runner(
        project_copy: Path, digit_zip: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from playing_with_mnist.runner import DaskRunner

    small_stand_ins(project_copy, monkeypatch)
    run_session(project_copy, None, raw_zip=str(digit_zip), **PARAMS)  # Task 1, as before
    bootstrap_project(project_copy)
    noisy_runs = ["scratch", "from_task1", "from_task2", "cleaned"]
    for pipeline, runs, compared in (("mnist_transfer", ["digits", *CURVE_RUNS], ["scratch", "pretrained"]),
                                     ("noisy_labels", noisy_runs, noisy_runs)):
        runner = DaskRunner(n_workers=2, threads_per_worker=1, torch_threads=1)
        with KedroSession.create(project_path=project_copy, runtime_params={"raw_zip": str(digit_zip), **PARAMS}) as session:
            session.run(pipeline_names=[pipeline], runner=runner)
        comparison = pd.read_csv(latest(project_copy / "data/08_reporting" / pipeline, "comparison.csv", ""))
        assert list(comparison["run"]) == compared
        trained = {entry["node"]: entry["worker"] for entry in runner.timeline if entry["node"].endswith(".train_model")}
        assert sorted(trained) == sorted(f"{pipeline}.{run}.train_model" for run in runs)
        # A training ran while another node ran on the other worker. Not "both workers trained": on a loaded
        # machine one worker can be busy with a long node (Task 3's analysis) while the other takes every training.
        spans = [(entry["started"], entry["finished"], entry["worker"], entry["node"]) for entry in runner.timeline]
        assert any(a[3] in trained and a[2] != b[2] and a[0] < b[1] and b[0] < a[1] for a in spans for b in spans), runner.timeline
    assert latest(project_copy / "data/08_reporting/noisy_labels", "results.md", "").stat().st_size > 0
