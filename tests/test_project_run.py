"""Whole Kedro runs in a copy of the project: every output lands, and agrees."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pandas as pd
import pytest
import torch
import yaml
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project

from playing_with_mnist.models import build_model

PROJECT_ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow

SMALL_TRAIN = {"train": {"epochs": 1, "batch_size": 8, "val_batch_size": 16, "device": "cpu"}}
VERSIONED_REPORTS = [
    "training_history.csv", "metrics.json", "loss_graph.png", "accuracy_graph.png", "results.md", "preprocess_summary.json",
    "sample_inputs.png", "confusion_matrix.png", "per_class_accuracy.csv", "per_class_accuracy.png", "confused_pairs.csv",
    "highest_loss_images.png",
]


def run_session(project: Path, pipelines: list[str] | None = None, env: str | None = None, **params: object) -> None:
    bootstrap_project(project)
    with KedroSession.create(project_path=project, env=env, runtime_params=params) as session:
        session.run(pipeline_names=pipelines)


def latest(project: Path, name: str, folder: str = "data/08_reporting") -> Path:
    versions = sorted((project / folder / name).iterdir())
    assert versions, f"no version of {name}"
    return versions[-1] / name


def test_default_pipeline_writes_every_output(project_copy: Path, tiny_zip: Path) -> None:
    run_session(project_copy, raw_zip=str(tiny_zip), **SMALL_TRAIN)

    for name in VERSIONED_REPORTS:
        assert latest(project_copy, name).stat().st_size > 0
    runs = {latest(project_copy, name).parent.name for name in VERSIONED_REPORTS}
    assert len(runs) == 1, "one run shares one version"

    history = pd.read_csv(latest(project_copy, "training_history.csv"))
    metrics = json.loads(latest(project_copy, "metrics.json").read_text())
    assert len(history) == 1
    assert metrics["max_val_accuracy"] == pytest.approx(history["val_accuracy"].max())
    assert metrics["max_train_accuracy"] == pytest.approx(history["train_accuracy"].max())
    assert metrics["last_val_accuracy"] == pytest.approx(history["val_accuracy"].iloc[-1])
    assert metrics["last_train_accuracy"] == pytest.approx(history["train_accuracy"].iloc[-1])
    assert metrics["max_val_accuracy_epoch"] == 1
    assert metrics["data_source"]["name"] == "tiny.zip" and metrics["device"].startswith("cpu")

    results = latest(project_copy, "results.md").read_text()
    version = latest(project_copy, "results.md").parent.name
    assert "tiny.zip" in results and f"{metrics['max_val_accuracy']:.2%}" in results
    for link in ("loss_graph.png", "accuracy_graph.png", "confusion_matrix.png", "per_class_accuracy.png",
                 "highest_loss_images.png", "sample_inputs.png", "per_class_accuracy.csv"):
        target = latest(project_copy, "results.md").parent / f"../../{link}/{version}/{link}"
        assert f"../../{link}/{version}/{link}" in results and target.resolve().exists()

    model_file = latest(project_copy, "resnet.pt", "data/06_models")
    checkpoint = torch.load(model_file, weights_only=True)
    model = build_model(checkpoint["model_config"])
    model.load_state_dict(checkpoint["state_dict"])
    assert checkpoint["class_names"] == ["0", "1", "2", "3", "4", "5"]

    # The notebook reads the same outputs through the catalog: run its code cells.
    with KedroSession.create(project_path=project_copy) as session:
        catalog = session.load_context().catalog
    notebook = nbformat.read(PROJECT_ROOT / "notebooks" / "task1_results.ipynb", as_version=4)
    namespace = {"catalog": catalog}
    for cell in notebook.cells:
        if cell.cell_type == "code":
            exec("\n".join(line for line in cell.source.splitlines() if not line.startswith("%")), namespace)
    assert len(namespace["predicted"]) == 6  # every validation image of the tiny set (1 per class)


def test_tuned_recipe_runs_train_report_predict_and_evaluate(project_copy: Path, tiny_zip: Path) -> None:
    tuned = yaml.safe_load((PROJECT_ROOT / "conf/tuned/parameters_train.yml").read_text())["train"]
    tuned_split = yaml.safe_load((PROJECT_ROOT / "conf/tuned/parameters_preprocess.yml").read_text())["split"]
    run_session(project_copy, env="tuned", raw_zip=str(tiny_zip), **SMALL_TRAIN)
    split = torch.load(project_copy / "data/05_model_input/train_val_split.pt", weights_only=True)
    assert split["val_fraction"] == tuned_split["val_fraction"] != 0.2 and split["seed"] == 42

    checkpoint = torch.load(latest(project_copy, "resnet.pt", "data/06_models"), weights_only=True)
    config = checkpoint["train_config"]
    # conf/tuned changes only what it lists; the rest is conf/base's (the seed's), the run's --params on top.
    assert config["epochs"] == 1 and config["batch_size"] == 8 and config["weight_decay"] == 0.0001
    for key in ("dropout", "schedule", "label_smoothing", "ema_decay", "tta", "normalize"):
        assert config[key] == tuned[key], key
    assert config["augment"]["rotate"] == tuned["augment"]["rotate"] and config["augment"]["erase"] == 0
    assert checkpoint["model_config"]["dropout"] == tuned["dropout"] and checkpoint["run"]["ema"]
    # train.model merges key by key too: the recipe's downsampling over conf/base's channels and strides
    assert checkpoint["model_config"]["downsample"] == tuned["model"]["downsample"] == "pool"
    assert checkpoint["model_config"]["block_channels"] == [64, 128, 256, 512, 512]
    assert 0 < checkpoint["model_config"]["input_mean"] < 1 and checkpoint["model_config"]["input_std"] > 0

    metrics = json.loads(latest(project_copy, "metrics.json").read_text())
    assert metrics["tta"] and metrics["ema"] and 0 <= metrics["val_accuracy"] <= 1
    assert "test-time augmentation" in latest(project_copy, "results.md").read_text()

    run_session(project_copy, ["evaluate"], env="tuned", test_zip=str(tiny_zip))
    test_metrics = json.loads(latest(project_copy, "test_metrics.json").read_text())
    assert test_metrics["tta"] and test_metrics["images"] == 36
    assert test_metrics["accuracy_case_folded"] is None  # 0123AB: no two classes differ by case alone
    run_session(project_copy, ["predict"], env="tuned", predict_input=str(tiny_zip))
    assert len(pd.read_csv(latest(project_copy, "predictions.csv", "data/07_model_output"))) == 36

    # The seed's recipe's training on the split the tuned run left behind stops before it trains.
    with pytest.raises(ValueError, match=r"made with split.val_fraction=0.1 .* asks for split.val_fraction=0.2"):
        run_session(project_copy, ["train"], raw_zip=str(tiny_zip), **SMALL_TRAIN)


def test_train_after_preprocess_decodes_nothing(project_copy: Path, tiny_zip: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run_session(project_copy, ["preprocess"], raw_zip=str(tiny_zip))
    import playing_with_mnist.ingest.model_input as model_input

    monkeypatch.setattr(model_input, "decode_many", lambda *a, **k: pytest.fail("train decoded an image"))
    run_session(project_copy, ["train"], raw_zip=str(tiny_zip), train={**SMALL_TRAIN["train"], "epochs": 2})

    checkpoint = torch.load(latest(project_copy, "resnet.pt", "data/06_models"), weights_only=True)
    assert checkpoint["class_names"] == ["0", "1", "2", "3", "4", "5"]  # the tiny zip's Sample001..Sample006
    history = pd.read_csv(latest(project_copy, "training_history.csv"))
    assert history["epoch"].tolist() == [1, 2]
    model = build_model(checkpoint["model_config"])
    model.load_state_dict(checkpoint["state_dict"])  # strict: every tensor, of the right shape


def test_train_on_a_cache_of_a_changed_zip_stops(project_copy: Path, tiny_zip: Path) -> None:
    raw = project_copy / "data/01_raw/chars.zip"
    shutil.copy(tiny_zip, raw)
    run_session(project_copy, ["preprocess"], raw_zip=str(raw))
    with zipfile.ZipFile(raw, "a") as archive:  # the zip changes after preprocessing
        archive.writestr("train/Sample001/extra.png", archive.read("train/Sample002/img002-001.png"))
    with pytest.raises(ValueError, match="Run `kedro run --pipelines=preprocess` again"):
        run_session(project_copy, ["train"], raw_zip=str(raw), **SMALL_TRAIN)
    assert not (project_copy / "data/06_models/resnet.pt").exists()


def test_demo_set_is_used_when_the_real_zip_is_absent(project_copy: Path) -> None:
    # A smaller demo set than the default, so the test stays fast; same code path.
    catalog = yaml.safe_load((project_copy / "conf/base/catalog.yml").read_text())
    raw = catalog["raw_character_zip"]
    raw["demo"].update(images_per_class=4, image_size=[64, 48])
    (project_copy / "conf/local/catalog.yml").write_text(yaml.safe_dump({"raw_character_zip": raw}))
    run_session(project_copy, ["preprocess"])

    summary = json.loads(latest(project_copy, "preprocess_summary.json").read_text())
    assert summary["source"]["kind"] == "synthetic demo" and summary["classes"] == 62 and summary["images"] == 248
    assert not (project_copy / "data/01_raw/trainPart1.zip").exists()
    assert list((project_copy / "data/01_raw/demo").glob("*.zip"))


def test_missing_user_zip_stops_with_a_clear_error(project_copy: Path, tmp_path: Path) -> None:
    with pytest.raises(Exception, match="nothere.zip: file not found"):
        run_session(project_copy, ["preprocess"], raw_zip=str(tmp_path / "nothere.zip"))
    assert not (project_copy / "data/05_model_input/character_images.pt").exists()


def test_cli_accepts_params(project_copy: Path, tiny_zip: Path) -> None:
    env = {**os.environ, "KEDRO_DISABLE_TELEMETRY": "1"}
    params = f"raw_zip={tiny_zip},train.epochs=1,train.batch_size=8,train.device=cpu"
    result = subprocess.run(
        [sys.executable, "-m", "kedro", "run", "--pipelines=preprocess,train", f"--params={params}"],
        cwd=project_copy, env=env, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    checkpoint = torch.load(latest(project_copy, "resnet.pt", "data/06_models"), weights_only=True)
    assert checkpoint["train_config"]["epochs"] == 1 and checkpoint["train_config"]["batch_size"] == 8


def test_predict_and_evaluate_pipelines_use_the_latest_model(project_copy: Path, tiny_zip: Path, tmp_path: Path) -> None:
    run_session(project_copy, raw_zip=str(tiny_zip), **SMALL_TRAIN)
    folder = tmp_path / "new_images"
    with zipfile.ZipFile(tiny_zip) as archive:
        archive.extractall(folder)

    run_session(project_copy, ["predict"], predict_input=str(tiny_zip))
    from_zip = pd.read_csv(latest(project_copy, "predictions.csv", "data/07_model_output"))
    run_session(project_copy, ["predict"], predict_input=str(folder))
    from_folder = pd.read_csv(latest(project_copy, "predictions.csv", "data/07_model_output"))
    assert len(from_zip) == len(from_folder) == 36
    assert from_zip["character"].astype(str).tolist() == from_folder["character"].astype(str).tolist()

    run_session(project_copy, ["evaluate"], test_zip=str(tiny_zip))
    metrics = json.loads(latest(project_copy, "test_metrics.json").read_text())
    assert metrics["images"] == 36 and 0 <= metrics["accuracy"] <= 1
    assert latest(project_copy, "test_confusion_matrix.png").stat().st_size > 0

    with pytest.raises(Exception, match="testPart1.zip: file not found"):
        run_session(project_copy, ["evaluate"])
