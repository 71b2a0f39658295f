"""Node-level fixtures: the tiny zip decoded once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from playing_with_mnist.data.archive import CharacterArchive
from playing_with_mnist.pipelines.preprocess.nodes import build_image_cache, split_train_val

PREPROCESS = {"image_size": 32, "max_broken_fraction": 0.05, "min_images_per_class": 2, "workers": 2}
SPLIT = {"val_fraction": 0.2, "seed": 1}
TRAIN = {
    "epochs": 1, "lr": 0.001, "weight_decay": 0.0001, "batch_size": 8, "val_batch_size": 16, "dropout": 0.7,
    "optimizer": "adam", "seed": 5, "device": "cpu", "precision": "fp32", "channels_last": False, "compile": False,
    "resume": False, "model": {"block_channels": [8, 8, 16, 16, 16], "strides": [1, 1, 1, 6, 1], "hidden_units": [16, 8]},
}


@pytest.fixture(scope="session")
def tiny_cache(tiny_zip: Path) -> dict:
    cache, _summary = build_image_cache(CharacterArchive.from_zip(tiny_zip), None, PREPROCESS)
    return cache


@pytest.fixture(scope="session")
def tiny_split(tiny_cache: dict) -> dict:
    return split_train_val(tiny_cache, SPLIT)
