"""Nodes of the ``predict`` pipeline: the images of a folder or zip become a request for the ``inference``
pipeline (the same one the registered model runs), and its answers get the file names back."""

from __future__ import annotations

import logging

import pandas as pd

from playing_with_mnist.ingest.archive import ImageSource

logger = logging.getLogger(__name__)


def read_images(prediction_inputs: ImageSource) -> pd.DataFrame:
    """One row per image file: ``file`` (its path inside the folder or zip), ``image`` (its bytes; None if they
    cannot be read) and ``read_error``."""
    rows = []
    with prediction_inputs.open() as handle:
        for name in prediction_inputs.names:
            try:
                rows.append((name, prediction_inputs.read(handle, name), ""))
            except Exception as error:  # a damaged zip member (bad CRC, truncated data), an unreadable file
                rows.append((name, None, f"{name}: cannot be read ({error})"))
    return pd.DataFrame(rows, columns=["file", "image", "read_error"])


def name_predictions(prediction_requests: pd.DataFrame, character_predictions: pd.DataFrame) -> pd.DataFrame:
    """The inference pipeline's answers (``character``, ``confidence``, ``top3``, ``error``) with the file each is for."""
    read_error = prediction_requests["read_error"].to_numpy()
    table = character_predictions.assign(error=character_predictions["error"].where(read_error == "", read_error))
    table.insert(0, "file", prediction_requests["file"].to_numpy())
    for row in table[table["error"] != ""].itertuples():
        logger.warning("Cannot classify %s", row.error)
    logger.info("Classified %d of %d images", (table["error"] == "").sum(), len(table))
    return table
