"""The train node: history per epoch and a model that rebuilds from its file."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import torch
from kedro.io import DatasetError

from playing_with_mnist.datasets import TrainedModelDataset
from playing_with_mnist.models import build_model
from playing_with_mnist.pipelines.train.nodes import check_split_is_current
from playing_with_mnist.training.checkpoints import TrainedModel
from playing_with_mnist.training.config import TrainConfig
from playing_with_mnist.training.engine import predict_logits
from playing_with_mnist.training.pipeline import train_model

from ..params import SPLIT, TRAIN


def test_training_returns_history_and_a_rebuildable_model(tiny_cache: dict, tiny_split: dict) -> None:
    trained, history = train_model(tiny_cache, tiny_split, TrainConfig.from_params({**TRAIN, "epochs": 2}))
    assert list(history.columns) == ["epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "seconds", "train_seconds"]
    assert history["epoch"].tolist() == [1, 2]
    assert history[["train_accuracy", "val_accuracy"]].apply(lambda c: c.between(0, 1)).all().all()

    buffer = io.BytesIO()
    torch.save(trained.to_checkpoint(), buffer)
    buffer.seek(0)
    checkpoint = torch.load(buffer, weights_only=True)  # the file format: a plain dict
    model = build_model(checkpoint["model_config"])
    model.load_state_dict(checkpoint["state_dict"])
    assert checkpoint["class_names"] == tiny_cache["class_names"] and checkpoint["image_size"] == 32
    assert checkpoint["run"]["precision"] == "fp32" and checkpoint["run"]["device_type"] == "cpu"
    assert TrainedModel.from_checkpoint(checkpoint).train_config == trained.train_config

    val_images = tiny_cache["images"][tiny_split["val"]]
    assert torch.equal(predict_logits(model, val_images, 16, "fp32"), predict_logits(trained.build(), val_images, 16, "fp32"))


def test_same_seed_gives_the_same_history(tiny_cache: dict, tiny_split: dict) -> None:
    _, first = train_model(tiny_cache, tiny_split, TrainConfig.from_params(TRAIN))
    _, second = train_model(tiny_cache, tiny_split, TrainConfig.from_params(TRAIN))
    columns = ["train_loss", "train_accuracy", "val_loss", "val_accuracy"]
    assert first[columns].equals(second[columns])


@pytest.mark.parametrize(
    "override, message",
    [({"lr": -1}, "train.lr"), ({"epochs": 0}, "train.epochs"), ({"optimizer": "rmsprop"}, "train.optimizer"),
     ({"precision": "fp8"}, "train.precision"), ({"epoch": 3}, "train.epoch")],
)
def test_bad_parameters_name_the_parameter(tiny_cache: dict, tiny_split: dict, override: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        train_model(tiny_cache, tiny_split, TrainConfig.from_params({**TRAIN, **override}))


def test_a_split_of_other_data_is_refused(tiny_cache: dict, tiny_split: dict) -> None:
    with pytest.raises(ValueError, match="split was made from other data than the images; run the pipeline that makes both again"):
        train_model(tiny_cache, {**tiny_split, "fingerprint": "something else"}, TrainConfig.from_params(TRAIN))


def test_a_split_made_with_other_split_parameters_is_refused(tiny_split: dict) -> None:
    assert check_split_is_current(tiny_split, SPLIT) is tiny_split
    # conf/tuned's share over a split that conf/base's run saved
    with pytest.raises(ValueError, match=r"made with split.val_fraction=0.2 .* asks for split.val_fraction=0.1 .*`kedro run --pipelines=preprocess"):
        check_split_is_current(tiny_split, {**SPLIT, "val_fraction": 0.1})
    with pytest.raises(ValueError, match=r"split.seed=1, .* split.seed=2 "):
        check_split_is_current(tiny_split, {**SPLIT, "seed": 2})


def test_a_model_file_saved_before_the_typed_model_loads_and_predicts_the_same(tiny_cache: dict, tmp_path: Path) -> None:
    # tests/data/trained_model_before_typed.pt: a slim model trained (normalize, tta) and saved by the
    # version before TrainedModel existed, when the trained model was a plain dict (it has sam_rho: 0).
    path = Path(__file__).resolve().parents[1] / "data" / "trained_model_before_typed.pt"
    checkpoint = torch.load(path, weights_only=True)
    loaded = TrainedModelDataset(str(path)).load()
    assert loaded.class_names == checkpoint["class_names"] == tiny_cache["class_names"]
    assert loaded.tta and loaded.train_config.normalize and loaded.image_size == 32
    assert loaded.model_config.input_mean == checkpoint["model_config"]["input_mean"] != 0
    model = build_model(checkpoint["model_config"])
    model.load_state_dict(checkpoint["state_dict"])
    images = tiny_cache["images"][:8]
    assert torch.equal(predict_logits(loaded.build(), images, 8, "fp32"), predict_logits(model.eval(), images, 8, "fp32"))
    with pytest.raises(ValueError, match=r"unknown parameter\(s\) trained model.later_setting"):
        TrainedModel.from_checkpoint({**checkpoint, "later_setting": 1})
    torch.save({**checkpoint, "later_setting": 1}, tmp_path / "later.pt")  # as a newer version might save it
    with pytest.raises(DatasetError, match=r"later.pt is not a model this version .* can read .*later_setting"):
        TrainedModelDataset(str(tmp_path / "later.pt")).load()
