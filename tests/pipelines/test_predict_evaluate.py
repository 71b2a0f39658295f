"""Using a trained model: predict on a folder or zip, evaluate on a labelled test zip."""

from __future__ import annotations

import zipfile
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import pytest
from kedro.io import DataCatalog, MemoryDataset
from kedro.runner import SequentialRunner

from playing_with_mnist.demo.characters import write_demo_zip
from playing_with_mnist.ingest.archive import CharacterArchive, ImageSource
from playing_with_mnist.pipelines import inference, predict
from playing_with_mnist.pipelines.evaluate.nodes import evaluate_test_set
from playing_with_mnist.training.checkpoints import TrainedModel
from playing_with_mnist.training.config import TrainConfig
from playing_with_mnist.training.pipeline import train_model

from ..params import PREPROCESS, TRAIN


@pytest.fixture(scope="module")
def trained(tiny_cache: dict, tiny_split: dict) -> dict:
    return train_model(tiny_cache, tiny_split, TrainConfig.from_params(TRAIN))[0]


def predict_images(source: ImageSource, trained_model: TrainedModel) -> pd.DataFrame:
    """The ``predict`` pipeline with the ``inference`` pipeline it feeds (as ``pipeline_registry`` composes them), run by Kedro."""
    catalog = DataCatalog({"prediction_inputs": MemoryDataset(source), "trained_model": MemoryDataset(trained_model)})
    SequentialRunner().run(predict.create_pipeline() + inference.create_pipeline(), catalog)
    return catalog.load("predictions")


def test_predict_on_a_zip_and_on_a_folder_agree(trained: TrainedModel, tiny_zip: Path, tmp_path: Path) -> None:
    with zipfile.ZipFile(tiny_zip) as archive:
        archive.extractall(tmp_path / "folder")
    (tmp_path / "folder" / "notes.txt").write_text("not an image")
    (tmp_path / "folder" / "broken.png").write_bytes(b"\x89PNG broken")
    from_zip = predict_images(ImageSource.from_path(tiny_zip), trained)
    from_folder = predict_images(ImageSource.from_path(tmp_path / "folder"), trained)

    assert len(from_zip) == 36 and (from_zip["error"] == "").all()
    assert list(from_zip.columns) == ["file", "character", "confidence", "top3", "error"]
    assert set(from_zip["character"]) <= set(trained.class_names) and from_zip["confidence"].between(0, 1).all()
    assert all(len(top.split()) == 3 for top in from_zip["top3"])
    assert all(row.top3.startswith(f"{row.character}:") for row in from_zip.itertuples())
    broken = from_folder[from_folder["file"] == "broken.png"]
    assert len(from_folder) == 37 and "cannot decode image" in broken["error"].iloc[0]
    good = from_folder[from_folder["error"] == ""].reset_index(drop=True)
    assert good["file"].tolist() == from_zip["file"].tolist() and good["character"].tolist() == from_zip["character"].tolist()
    assert good["confidence"].round(4).tolist() == from_zip["confidence"].round(4).tolist()


def test_predict_names_a_missing_path(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="nowhere: not found"):
        ImageSource.from_path(tmp_path / "nowhere")


def test_evaluate_on_the_training_zip_matches_a_direct_prediction(trained: TrainedModel, tiny_zip: Path) -> None:
    metrics, per_class, table, figure, reliability = evaluate_test_set(CharacterArchive.from_zip(tiny_zip), trained, PREPROCESS)
    plt.close(figure), plt.close(reliability)
    assert metrics["images"] == 36 and metrics["classes"] == 6
    assert metrics["calibration"]["temperature"] == trained.temperature and 0 <= metrics["calibration"]["ece_after"] <= 1
    assert metrics["accuracy"] == pytest.approx((table["label"] == table["predicted_label"]).mean())
    assert list(per_class["class"]) == trained.class_names and per_class["images"].sum() == 36
    assert (table["true"] == [trained.class_names[i] for i in range(6) for _ in range(6)]).all()


def test_evaluate_lists_classes_the_model_does_not_know(trained: TrainedModel, tmp_path: Path) -> None:
    other = write_demo_zip(tmp_path / "other.zip", seed=1, images_per_class=2, image_size=(48, 36), characters="0123456789")
    with pytest.raises(ValueError, match="other.zip: class folder\\(s\\) the model was not trained on: Sample007, Sample008, Sample009, Sample010"):
        evaluate_test_set(CharacterArchive.from_zip(other), trained, PREPROCESS)
