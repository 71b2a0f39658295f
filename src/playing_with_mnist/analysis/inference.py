"""Using a trained model: rebuild it, decode a labelled test zip as training decoded its images,
and predict class probabilities (with the test-time views the model was trained with)."""

from __future__ import annotations

from typing import Any

import torch

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


def predict(trained_model: TrainedModel, images: torch.Tensor, batch_size: int = 256, tta: bool | None = None) -> torch.Tensor:
    """Class probabilities [N, C] for uint8 images [N, 1, S, S], on the best device available; with test-time
    augmentation as the model was trained (``train.tta``) unless ``tta`` says otherwise."""
    device = select_device("auto")
    model = trained_model.build().to(device)
    tta = trained_model.tta if tta is None else tta
    logits = predict_logits(model, images.to(device), batch_size, select_precision("auto", device), tta=tta)
    return logits.softmax(1).cpu()

