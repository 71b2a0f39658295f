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
    """Classify every image of a folder or zip with the trained model.

    Images go through exactly the training preprocessing (same function, same size).
    Returns one row per file: predicted character, confidence, the top ``top_k`` with
    their probabilities; a file that cannot be decoded gets its reason in ``error``.
    """
    names = prediction_inputs.names
    decoded = decode_many(prediction_inputs.open, prediction_inputs.read, names, trained_model.image_size, int(params.get("workers", 0)))
    ok = [i for i, result in enumerate(decoded) if not isinstance(result, str)]
    for result in decoded:
        if isinstance(result, str):
            logger.warning("Cannot classify %s", result)
    class_names = trained_model.class_names
    top_k = min(int(params.get("top_k", 3)), len(class_names))
    rows = [{"file": name, "predicted": None, "confidence": np.nan, "top": "", "error": result}
            for name, result in zip(names, decoded) if isinstance(result, str)]
    if ok:
        images = torch.from_numpy(np.stack([decoded[i] for i in ok])).unsqueeze(1)
        probabilities = inference.predict(trained_model, images)
        best, index = probabilities.topk(top_k, dim=1)
        for row, i in enumerate(ok):
            rows.append({
                "file": names[i], "predicted": class_names[index[row, 0]], "confidence": float(best[row, 0]),
                "top": " ".join(f"{class_names[c]}:{p:.3f}" for c, p in zip(index[row].tolist(), best[row].tolist())),
                "error": "",
            })
    logger.info("Classified %d of %d images from %s", len(ok), len(names), prediction_inputs.path)
    order = {name: i for i, name in enumerate(names)}
    return pd.DataFrame(rows).sort_values("file", key=lambda c: c.map(order)).reset_index(drop=True)
