"""Nodes of the ``train`` pipeline."""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd
import torch

from playing_with_mnist.data.archive import CharacterArchive
from playing_with_mnist.models import ResNetConfig, build_model
from playing_with_mnist.reporting import describe_source
from playing_with_mnist.training.config import TrainConfig
from playing_with_mnist.training.loop import CheckpointStore, fit

logger = logging.getLogger(__name__)


def check_cache_is_current(raw_character_zip: CharacterArchive, character_images: dict[str, Any]) -> dict[str, Any]:
    """Return the cache if it was made from the data the catalog points at now.

    Only fingerprints are compared (a sha256 of the zip); nothing is decoded. A cache
    made from other data stops the run, saying to run preprocess again.
    """
    if raw_character_zip.fingerprint != character_images["fingerprint"]:
        raise ValueError(
            f"character_images was made from {describe_source(character_images['source'])}, but the data is now "
            f"{describe_source(raw_character_zip.source)}. Run `kedro run --pipelines=preprocess` again "
            "(or plain `kedro run`) to rebuild the cache."
        )
    return character_images


def model_config(params: dict[str, Any], num_classes: int, image_size: int) -> ResNetConfig:
    """The ResNet config for ``num_classes``: seed defaults, channels and strides from ``model``."""
    overrides = {k: tuple(v) if isinstance(v, list) else v for k, v in params.get("model", {}).items()}
    return ResNetConfig(num_classes=num_classes, dropout=float(params["dropout"]), image_size=image_size, **overrides)


def train_model(
    character_images: dict[str, Any],
    train_val_split: dict[str, Any],
    params: dict[str, Any],
    checkpoints: CheckpointStore | None = None,
) -> tuple[dict[str, Any], pd.DataFrame]:
    """Train the seed's ResNet on the cached images.

    ``checkpoints`` (optional) receives the full training state after every epoch;
    with ``params["resume"]`` training continues from it.

    Returns the trained model as a checkpoint dict (``model_config``, ``state_dict``,
    ``class_names`` ...: everything to rebuild and use it) and the history table
    (one row per epoch: train/val loss and accuracy, seconds).
    """
    config = TrainConfig.from_params(params)
    if train_val_split.get("fingerprint") != character_images["fingerprint"]:
        raise ValueError("train_val_split was made from other data than character_images; run the preprocess pipeline again")
    images, labels = character_images["images"], character_images["labels"]
    train_index, val_index = train_val_split["train"], train_val_split["val"]
    architecture = model_config(params, len(character_images["class_names"]), images.shape[-1])

    torch.manual_seed(config.seed)
    model = build_model(architecture)
    result = fit(
        model,
        (images[train_index], labels[train_index]),
        (images[val_index], labels[val_index]),
        config,
        checkpoints=checkpoints,
        fingerprint=character_images["fingerprint"],
    )
    trained_model = {
        "model_config": architecture.to_dict(),
        "state_dict": result.model.state_dict(),
        "class_names": list(character_images["class_names"]),
        "class_folders": list(character_images["class_folders"]),
        "image_size": int(images.shape[-1]),
        "train_config": config.to_dict(),
        "run": result.run,
        "source": character_images["source"],
        "fingerprint": character_images["fingerprint"],
    }
    return trained_model, pd.DataFrame(result.history)
