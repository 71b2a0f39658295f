"""Nodes of the ``predict`` pipeline."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd
import torch

from playing_with_mnist.analysis import inference
from playing_with_mnist.ingest.archive import ImageSource
from playing_with_mnist.ingest.images import decode_many
from playing_with_mnist.training.checkpoints import TrainedModel

logger = logging.getLogger(__name__)


def predict_images(prediction_inputs: ImageSource, trained_model: TrainedModel, params: dict[str, Any]) -> pd.DataFrame:
    """Every image of a folder or zip, preprocessed as in training, classified by the trained model: one row per file
    with the predicted character, its confidence, the ``top_k`` with their probabilities and, for a file that cannot
    be decoded, the reason in ``error``."""
    names = prediction_inputs.names
    decoded = decode_many(prediction_inputs.open, prediction_inputs.read, names, trained_model.image_size, int(params.get("workers", 0)))
    errors = [result if isinstance(result, str) else "" for result in decoded]
    for error in filter(None, errors):
        logger.warning("Cannot classify %s", error)
    ok = [i for i, result in enumerate(decoded) if not isinstance(result, str)]
    table = pd.DataFrame({"file": names, "predicted": None, "confidence": np.nan, "top": "", "error": errors})
    class_names = trained_model.class_names
    if ok:
        images = torch.from_numpy(np.stack([decoded[i] for i in ok])).unsqueeze(1)
        best, index = inference.predict(trained_model, images).topk(min(int(params.get("top_k", 3)), len(class_names)), dim=1)
        table.loc[ok, "predicted"] = [class_names[c] for c in index[:, 0].tolist()]
        table.loc[ok, "confidence"] = best[:, 0].double().numpy()
        table.loc[ok, "top"] = [" ".join(f"{class_names[c]}:{p:.3f}" for c, p in zip(classes, probabilities))
                                for classes, probabilities in zip(index.tolist(), best.tolist())]
    logger.info("Classified %d of %d images from %s", len(ok), len(names), prediction_inputs.path)
    return table
