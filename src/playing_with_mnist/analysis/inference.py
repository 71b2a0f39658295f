"""Using a trained model: rebuild it, decode a labelled test zip as training decoded its images,
and predict class probabilities (with the test-time views the model was trained with, and its
calibration temperature)."""

from __future__ import annotations

from typing import Any

import pandas as pd
import torch

from playing_with_mnist.analysis import metrics
from playing_with_mnist.analysis.calibration import calibrated
from playing_with_mnist.ingest.archive import CharacterArchive
from playing_with_mnist.ingest.model_input import ModelInput, decode_archive
from playing_with_mnist.training.checkpoints import TrainedModel
from playing_with_mnist.training.engine import predict_logits
from playing_with_mnist.training.hardware import select_device, select_precision


def decode_test_zip(archive: CharacterArchive, trained_model: TrainedModel, params: dict[str, Any]) -> tuple[ModelInput, torch.Tensor]:
    """A labelled zip in the training layout, decoded exactly as the training set was (``decode_archive`` at the
    model's image size), and its labels as the model's class indices (folders matched by name; an unknown one is an error)."""
    test, _ = decode_archive(archive, {**params, "image_size": trained_model.image_size})
    known = {folder: index for index, folder in enumerate(trained_model.class_folders)}
    unknown = [folder for folder in test["class_folders"] if folder not in known]
    if unknown:
        raise ValueError(
            f"{archive.path.name}: class folder(s) the model was not trained on: {', '.join(unknown)}. "
            f"The model knows {len(known)} classes: {', '.join(trained_model.class_folders)}"
        )
    to_model = torch.tensor([known[folder] for folder in test["class_folders"]])
    return test, to_model[test["labels"]]


def logits(trained_model: TrainedModel, images: torch.Tensor, batch_size: int = 256, tta: bool | None = None) -> torch.Tensor:
    """The network's own logits [N, C] (before the temperature) for uint8 images [N, 1, S, S], on the best device
    available; with the test-time views averaged as the model was trained (``train.tta``) unless ``tta`` says otherwise."""
    device = select_device("auto")
    model = trained_model.network.to(device)
    tta = trained_model.tta if tta is None else tta
    return predict_logits(model, images.to(device), batch_size, select_precision("auto", device), tta=tta).cpu()


def predict(trained_model: TrainedModel, images: torch.Tensor, batch_size: int = 256, tta: bool | None = None) -> torch.Tensor:
    """Class probabilities [N, C]: :func:`logits` divided by the model's calibration temperature, softmaxed."""
    return calibrated(logits(trained_model, images, batch_size, tta), trained_model.temperature)


def prediction_table(trained_model: TrainedModel, images: torch.Tensor, labels: torch.Tensor, members: list[str]) -> pd.DataFrame:
    """``metrics.prediction_table`` of the model's calibrated probabilities, plus ``uncalibrated_confidence``:
    the top class's probability before the temperature (what calibration changed)."""
    raw = logits(trained_model, images)
    table = metrics.prediction_table(calibrated(raw, trained_model.temperature), labels, trained_model.class_names, members)
    return table.assign(uncalibrated_confidence=raw.float().softmax(1).amax(1).numpy())
