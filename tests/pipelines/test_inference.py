"""The inference pipeline's nodes: one answer per request row, in order, and a reason for every row without one."""

from __future__ import annotations

import base64
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from playing_with_mnist.analysis import inference
from playing_with_mnist.datasets import TrainedModelDataset
from playing_with_mnist.ingest.images import decode_image
from playing_with_mnist.pipelines.inference.nodes import MAX_IMAGE_BYTES, classify_images, decode_requests
from playing_with_mnist.training.checkpoints import TrainedModel
from playing_with_mnist.training.config import TrainConfig
from playing_with_mnist.training.pipeline import train_model

from ..params import TRAIN
from ..zips import huge_png


@pytest.fixture(scope="module")
def trained(tiny_cache: dict, tiny_split: dict) -> TrainedModel:
    return train_model(tiny_cache, tiny_split, TrainConfig.from_params(TRAIN))[0]


@pytest.fixture(scope="module")
def pngs(tiny_zip: Path) -> list[bytes]:
    with zipfile.ZipFile(tiny_zip) as archive:
        return [archive.read(name) for name in archive.namelist() if name.endswith(".png")][:3]


def answer(rows: list, trained: TrainedModel) -> pd.DataFrame:
    return classify_images(decode_requests(pd.DataFrame({"image": rows}), trained), trained)


def test_each_row_gets_the_models_answer_in_order(trained: TrainedModel, pngs: list[bytes]) -> None:
    rows = [base64.b64encode(png).decode() for png in pngs]
    table = answer(rows + ["data:image/png;base64," + rows[0]] + [pngs[1]], trained)  # a data: URL, and raw bytes
    images = torch.from_numpy(np.stack([decode_image(png, "x", trained.image_size) for png in pngs])).unsqueeze(1)
    expected = inference.predict(trained, images)
    assert list(table.columns) == ["character", "confidence", "top3", "error"] and (table["error"] == "").all()
    assert table["character"].tolist() == [trained.class_names[i] for i in expected.argmax(1).tolist() + expected.argmax(1)[:2].tolist()]
    assert table["confidence"].iloc[:3].tolist() == pytest.approx(expected.amax(1).tolist(), abs=1e-6)
    assert table.iloc[3].tolist() == table.iloc[0].tolist() and table.iloc[4].tolist() == table.iloc[1].tolist()


def test_a_bad_row_gets_its_reason_and_the_others_their_answers(trained: TrainedModel, pngs: list[bytes]) -> None:
    good = base64.b64encode(pngs[0]).decode()
    rows = [good, "@@@ not base64", base64.b64encode(b"hello").decode(), base64.b64encode(huge_png(100_000, 100_000)).decode(),
            "A" * (MAX_IMAGE_BYTES * 4 // 3 + 8), None, good]
    table = answer(rows, trained)
    errors = table["error"].tolist()
    assert errors[0] == errors[6] == "" and table["character"].iloc[0] == table["character"].iloc[6] != ""
    assert errors[1].startswith("row 1: not base64")
    assert errors[2].startswith("row 2: cannot decode image")
    assert errors[3].startswith("row 3:") and "decompression bomb" in errors[3]
    assert errors[4].startswith("row 4: too large") and "10 MB" in errors[4]
    assert errors[5].startswith("row 5: no image")
    assert (table.loc[1:5, "confidence"] == 0).all() and (table.loc[1:5, "character"] == "").all()


def test_an_empty_request_gets_an_empty_answer(trained: TrainedModel) -> None:
    assert answer([], trained).empty


def test_a_request_without_an_image_column_is_an_error_that_names_it(trained: TrainedModel) -> None:
    with pytest.raises(ValueError, match="no 'image' column \\(it has: picture\\)"):
        decode_requests(pd.DataFrame({"picture": ["x"]}), trained)


def test_a_model_saved_before_calibration_existed_answers_uncalibrated(pngs: list[bytes]) -> None:
    # The model file of an earlier version of the project (tests/data: no temperature in it) takes temperature 1.0.
    old = TrainedModelDataset(str(Path(__file__).resolve().parents[1] / "data" / "trained_model_before_typed.pt")).load()
    assert old.temperature == 1.0
    table = answer([base64.b64encode(png).decode() for png in pngs], old)
    assert (table["error"] == "").all() and set(table["character"]) <= set(old.class_names)


def test_task1_trainings_register_the_model_and_the_sweep_does_not() -> None:
    from kedro.framework.project import pipelines
    from kedro.framework.startup import bootstrap_project
    from kedro_mlflow.pipeline.pipeline_ml import PipelineML

    bootstrap_project(Path(__file__).resolve().parents[2])
    for name in ("__default__", "train"):
        assert isinstance(pipelines[name], PipelineML) and pipelines[name].input_name == "character_requests"
        assert {node.name for node in pipelines[name].inference.nodes} == {"decode_requests", "classify_images"}
    assert not any(isinstance(pipelines[name], PipelineML) for name in ("sweep", "predict", "mnist_transfer"))
    assert {"decode_requests", "classify_images"} <= {node.name for node in pipelines["predict"].nodes}
