"""Nodes of the ``inference`` pipeline. A request is a table with an ``image`` column: per row, the bytes
of a PNG, JPEG, BMP or GIF, or the same as base64 text (what JSON can carry; a ``data:`` URL works too).
Each row gets an answer or the reason it has none; one bad row never costs the others theirs."""

from __future__ import annotations

import base64
import binascii
import contextlib
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from playing_with_mnist.analysis import inference
from playing_with_mnist.ingest.images import MAX_IMAGE_PIXELS, decode_many
from playing_with_mnist.training.checkpoints import TrainedModel

IMAGE_COLUMN = "image"
MAX_IMAGE_BYTES = 10 * 2**20  # per image, after base64 decoding: a character scan is far below it
TOP_K = 3
LIMITS = f"at most {MAX_IMAGE_BYTES // 2**20} MB and {MAX_IMAGE_PIXELS:,} pixels per image"


@dataclass(frozen=True)
class RequestImages:
    """The decodable rows of a request, preprocessed as the training images were, and every row's error ("" if none)."""

    images: torch.Tensor  # uint8 [M, 1, S, S], the rows whose error is ""
    errors: list[str]


def _payload(value: object) -> bytes | str:
    """A cell's image bytes, or the reason there are none."""
    if isinstance(value, (bytes, bytearray)):
        data = bytes(value)
    elif isinstance(value, str):
        text = value.strip()
        if text.startswith("data:"):  # data:image/png;base64,....
            text = text.partition(",")[2]
        if len(text) * 3 // 4 > MAX_IMAGE_BYTES + 3:  # refused before decoding
            return f"too large: about {len(text) * 3 // 4:,} bytes; the limit is {LIMITS}"
        try:
            data = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError) as error:
            return f"not base64 text ({error})"
    else:
        return f"no image: expected base64 text or bytes, got {type(value).__name__}"
    if len(data) > MAX_IMAGE_BYTES:
        return f"too large: {len(data):,} bytes; the limit is {LIMITS}"
    return data


def decode_requests(character_requests: pd.DataFrame, trained_model: TrainedModel) -> RequestImages:
    """Every row's ``image`` decoded and preprocessed like the training set (``ingest.images.preprocess_image`` at the
    model's image size). A table without an ``image`` column is an error that names it."""
    if IMAGE_COLUMN not in character_requests.columns:
        raise ValueError(f"the request has no '{IMAGE_COLUMN}' column (it has: {', '.join(map(str, character_requests.columns)) or 'none'}); "
                         f"send one row per image, the image as base64 text in '{IMAGE_COLUMN}'")
    payloads = [_payload(value) for value in character_requests[IMAGE_COLUMN].tolist()]
    rows = {f"row {i}": payload for i, payload in enumerate(payloads) if isinstance(payload, bytes)}
    size = trained_model.image_size
    by_row = dict(zip(rows, decode_many(contextlib.nullcontext, lambda _, row: rows[row], list(rows), size, stop_on_bomb=False)))
    # per row: its preprocessed array, or the reason there is none
    results = [by_row.get(f"row {i}", f"row {i}: {payload}") for i, payload in enumerate(payloads)]
    ok = [result for result in results if not isinstance(result, str)]
    images = torch.from_numpy(np.stack(ok)).unsqueeze(1) if ok else torch.empty(0, 1, size, size, dtype=torch.uint8)
    return RequestImages(images, [result if isinstance(result, str) else "" for result in results])


def classify_images(request_images: RequestImages, trained_model: TrainedModel) -> pd.DataFrame:
    """One row per request row, in order: ``character`` (the top class), ``confidence`` (its calibrated probability),
    ``top3`` ("A:0.912 4:0.050 H:0.011") and ``error``; a row with an error has "" and confidence 0."""
    errors = request_images.errors
    table = pd.DataFrame({"character": [""] * len(errors), "confidence": np.zeros(len(errors)), "top3": [""] * len(errors), "error": errors})
    ok = [i for i, error in enumerate(errors) if not error]
    if ok:
        names = trained_model.class_names
        best, index = inference.predict(trained_model, request_images.images).topk(min(TOP_K, len(names)), dim=1)
        table.loc[ok, "character"] = [names[c] for c in index[:, 0].tolist()]
        table.loc[ok, "confidence"] = best[:, 0].double().numpy()
        table.loc[ok, "top3"] = [" ".join(f"{names[c]}:{p:.3f}" for c, p in zip(classes, probabilities))
                                 for classes, probabilities in zip(index.tolist(), best.tolist())]
    return table
