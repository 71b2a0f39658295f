"""Interrupted and failing training: resume, NaN losses, atomic saves, determinism."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml
from torch import nn

from playing_with_mnist.datasets import CheckpointFile, CSVDataset, JSONDataset, MarkdownReportDataset, TorchObjectDataset
from playing_with_mnist.models import ResNetConfig, build_model
from playing_with_mnist.training.config import TrainConfig
from playing_with_mnist.training.engine import NonFiniteLossError
from playing_with_mnist.training.loop import fit

from .params import TRAIN
from .test_project_run import latest, run_session

TINY_TRAIN = {**TRAIN, "epochs": 4}


def history_of(project: Path) -> list[dict]:
    frame = pd.read_csv(latest(project, "training_history.csv"))
    return frame.drop(columns=["seconds", "train_seconds"]).to_dict("records")


@pytest.mark.slow
def test_a_killed_run_resumes_to_the_same_result(project_copy: Path, tiny_zip: Path) -> None:
    (project_copy / "conf/local/parameters_train.yml").write_text(yaml.safe_dump({"train": TINY_TRAIN}))
    raw = str(tiny_zip)
    run_session(project_copy, ["preprocess"], raw_zip=raw)

    # A separate process that dies (SIGKILL, no clean-up) right after the epoch-2 checkpoint.
    script = textwrap.dedent(f"""
        import os, signal
        from kedro.framework.session import KedroSession
        from kedro.framework.startup import bootstrap_project
        from playing_with_mnist.datasets import CheckpointFile

        save = CheckpointFile.save
        def save_then_die(self, state):
            save(self, state)
            if state["epoch"] == 2:
                os.kill(os.getpid(), signal.SIGKILL)
        CheckpointFile.save = save_then_die
        bootstrap_project({str(project_copy)!r})
        with KedroSession.create(project_path={str(project_copy)!r}, runtime_params={{"raw_zip": {raw!r}}}) as session:
            session.run(pipeline_names=["train", "report"])
    """)
    killed = subprocess.run([sys.executable, "-c", script], cwd=project_copy, capture_output=True, text=True, timeout=600,
                            env={**os.environ, "KEDRO_DISABLE_TELEMETRY": "1"})
    assert killed.returncode == -9, killed.stderr[-2000:]
    checkpoint = project_copy / "data/06_models/checkpoints/train_last.pt"
    assert torch.load(checkpoint, weights_only=True)["epoch"] == 2
    assert not (project_copy / "data/08_reporting/training_history.csv").exists()

    run_session(project_copy, ["train", "report"], raw_zip=raw, train={"resume": True})
    resumed = history_of(project_copy)
    resumed_model = torch.load(latest(project_copy, "resnet.pt", "data/06_models"), weights_only=True)["state_dict"]

    checkpoint.unlink()
    shutil.rmtree(project_copy / "data/08_reporting/training_history.csv")
    run_session(project_copy, ["train", "report"], raw_zip=raw)
    uninterrupted = history_of(project_copy)
    model = torch.load(latest(project_copy, "resnet.pt", "data/06_models"), weights_only=True)["state_dict"]

    assert [row["epoch"] for row in resumed] == [1, 2, 3, 4]
    assert resumed == uninterrupted
    assert all(torch.equal(model[k], resumed_model[k]) for k in model)


class NaNAtEpoch(nn.Module):
    """Wraps a model; its training forward returns NaN from the given epoch on."""

    def __init__(self, model: nn.Module, batches_per_epoch: int, bad_epoch: int) -> None:
        super().__init__()
        self.model, self.calls, self.first_bad_call = model, 0, (bad_epoch - 1) * batches_per_epoch + 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.model(x)
        if self.training:
            self.calls += 1
            if self.calls >= self.first_bad_call:
                return out * float("nan")
        return out


def test_a_nan_loss_stops_the_run_naming_its_batch_and_keeps_the_last_good_checkpoint(tiny_cache: dict, tmp_path: Path) -> None:
    config = TrainConfig.from_params(TINY_TRAIN)
    model = build_model(ResNetConfig(num_classes=6, block_channels=(8, 8, 16, 16, 16), hidden_units=(16, 8)))
    images, labels = tiny_cache["images"], tiny_cache["labels"]
    store = CheckpointFile(tmp_path / "last.pt")
    batches = (30 + config.batch_size - 1) // config.batch_size
    with pytest.raises(NonFiniteLossError, match=r"epoch 2, batch 2; lower train.lr"):
        fit(NaNAtEpoch(model, batches, bad_epoch=2), (images[:30], labels[:30]), (images[30:], labels[30:]), config, store)
    assert store.load()["epoch"] == 1


@pytest.mark.parametrize("make", [
    lambda path: (TorchObjectDataset(str(path)), {"a": torch.ones(3)}, {"a": torch.zeros(3)}),
    lambda path: (JSONDataset(filepath=str(path)), {"v": 1}, {"v": 2}),
    lambda path: (CSVDataset(filepath=str(path)), pd.DataFrame({"v": [1]}), pd.DataFrame({"v": [2, 3]})),
    lambda path: (MarkdownReportDataset(filepath=str(path)), "# first ü\n", "# second\n"),
], ids=["torch", "json", "csv", "markdown"])
def test_an_interrupted_save_leaves_the_previous_file_intact(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make) -> None:
    dataset, first, second = make(tmp_path / "artifact")
    dataset.save(first)

    def interrupted(_fd: int) -> None:
        raise KeyboardInterrupt  # Ctrl-C after the bytes are written, before the rename

    monkeypatch.setattr(os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        dataset.save(second)
    monkeypatch.undo()
    loaded = dataset.load()
    if isinstance(first, pd.DataFrame):
        pd.testing.assert_frame_equal(loaded, first)
    else:
        assert (torch.equal(loaded["a"], first["a"]) if "a" in first else loaded == first)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["artifact"]


def test_an_interrupted_checkpoint_leaves_the_previous_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = CheckpointFile(tmp_path / "last.pt")
    store.save({"epoch": 1})
    monkeypatch.setattr(os, "fsync", lambda fd: (_ for _ in ()).throw(KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        store.save({"epoch": 2})
    monkeypatch.undo()
    assert store.load() == {"epoch": 1} and [p.name for p in tmp_path.iterdir()] == ["last.pt"]


def test_checkpoints_and_models_refuse_pickled_code(tmp_path: Path) -> None:
    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    path = tmp_path / "evil.pt"
    torch.save({"x": Evil()}, path)
    with pytest.raises(Exception, match="cannot be read"):
        TorchObjectDataset(str(path)).load()
    with pytest.raises(Exception, match="cannot be read as a checkpoint"):
        CheckpointFile(path).load()
