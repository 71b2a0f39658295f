"""Nodes of the ``train`` pipeline."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

import pandas as pd
import torch

from playing_with_mnist.ingest.archive import CharacterArchive
from playing_with_mnist.models import ResNetConfig, build_model, load_pretrained
from playing_with_mnist.reporting import describe_source
from playing_with_mnist.training.config import TrainConfig, merge_train_params
from playing_with_mnist.training.loop import CheckpointStore, fit

from ..preprocess.nodes import split_settings

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


def _describe_split(settings: dict[str, Any]) -> str:
    return " and ".join(f"split.{name}={value}" for name, value in settings.items())


def check_split_is_current(train_val_split: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    """Return the split if it was made with this run's ``split`` parameters (``val_fraction``, ``seed``).

    A split saved by a run under another ``--env`` or ``--params`` (conf/tuned's share
    differs from conf/base's) stops the run, saying to run preprocess again.
    """
    wanted = split_settings(params)
    made = {name: train_val_split[name] for name in wanted}
    if made != wanted:
        raise ValueError(
            f"train_val_split was made with {_describe_split(made)}, but this run "
            f"asks for {_describe_split(wanted)} (another --env or --params). Run "
            "`kedro run --pipelines=preprocess` with this run's --env and --params first (or run the whole "
            "pipeline: plain `kedro run`) to make the split again."
        )
    return train_val_split


def model_config(params: dict[str, Any], num_classes: int, image_size: int) -> ResNetConfig:
    """The ResNet config for ``num_classes``: seed defaults, channels and strides from ``model``."""
    return ResNetConfig.from_dict({**params.get("model", {}), "num_classes": num_classes,
                                   "dropout": float(params["dropout"]), "image_size": image_size})


def input_statistics(images: torch.Tensor) -> tuple[float, float]:
    """Mean and standard deviation of uint8 ``images`` on the model's [0, 1] scale."""
    pixels = images.float().div(255.0)
    return float(pixels.mean()), float(pixels.std().clamp_min(1e-3))


def train_model(
    model_input: dict[str, Any],
    split: dict[str, Any],
    params: dict[str, Any],
    checkpoints: CheckpointStore | None = None,
    initial_model: dict[str, Any] | None = None,
    overrides: dict[str, Any] | None = None,
) -> tuple[dict[str, Any], pd.DataFrame]:
    """Train the seed's ResNet on cached images: ``split["train"]`` to learn, ``split["val"]`` to score.

    ``model_input`` is a cache (``images`` uint8 [N, 1, S, S], ``labels``, ``class_names``,
    ``fingerprint`` ...), as preprocess makes for Task 1 and the MNIST pipelines for theirs.
    ``checkpoints`` (optional) receives the full training state after every epoch; with
    ``params["resume"]`` training continues from it. ``initial_model`` (optional) is a
    trained model whose weights the new one starts from (a new head if the classes differ).
    ``overrides`` (optional) are settings laid over ``params`` (an experiment's own
    ``mnist_train`` over ``train``). With ``normalize`` the training images' mean and std
    become part of the model's config.

    Returns the trained model as a checkpoint dict (``model_config``, ``state_dict``,
    ``class_names`` ...: everything to rebuild and use it) and the history table
    (one row per epoch: train/val loss and accuracy, seconds).
    """
    params = merge_train_params(params, overrides)
    config = TrainConfig.from_params(params)
    if split.get("fingerprint") != model_input["fingerprint"]:
        raise ValueError("the train/val split was made from other data than the images; run the pipeline that makes both again (preprocess, for Task 1)")
    images, labels = model_input["images"], model_input["labels"]
    architecture = model_config(params, len(model_input["class_names"]), images.shape[-1])
    if initial_model is not None:
        # The carried-over layers expect the input scale and the downsampling they were trained with
        # (the weights of both downsamplings have the same shapes, so a mismatch would load silently).
        # from_dict fills what an older checkpoint lacks with ResNetConfig's defaults.
        pretrained = ResNetConfig.from_dict(initial_model["model_config"])
        architecture = replace(architecture, input_mean=float(pretrained.input_mean),
                               input_std=float(pretrained.input_std), downsample=pretrained.downsample)
    elif config.normalize:
        mean, std = input_statistics(images[split["train"]])
        architecture = replace(architecture, input_mean=mean, input_std=std)

    torch.manual_seed(config.seed)
    model = build_model(architecture)
    fingerprint, started_from = model_input["fingerprint"], None
    if initial_model is not None:
        if int(initial_model["image_size"]) != int(images.shape[-1]):
            raise ValueError(f"the pretrained model takes {initial_model['image_size']}px images, these are {images.shape[-1]}px")
        new_tensors = load_pretrained(model, initial_model["state_dict"])
        started_from = {"source": initial_model["source"], "fingerprint": initial_model["fingerprint"],
                        "classes": len(initial_model["class_names"]), "new_tensors": new_tensors}
        fingerprint += f"|from:{initial_model['fingerprint']}:{initial_model['run']['seconds']:.3f}"
    result = fit(
        model,
        (images[split["train"]], labels[split["train"]]),
        (images[split["val"]], labels[split["val"]]),
        config,
        checkpoints=checkpoints,
        fingerprint=fingerprint,
    )
    trained_model = {
        "model_config": architecture.to_dict(),
        "state_dict": result.model.state_dict(),
        "class_names": list(model_input["class_names"]),
        "class_folders": list(model_input["class_folders"]),
        "image_size": int(images.shape[-1]),
        "train_config": config.to_dict(),
        "run": result.run,
        "source": model_input["source"],
        "fingerprint": model_input["fingerprint"],
        "started_from": started_from,
        "final_val_accuracy": float(result.history[-1]["val_accuracy"]) if result.history else None,
    }
    return trained_model, pd.DataFrame(result.history)


def fine_tune_model(
    model_input: dict[str, Any],
    split: dict[str, Any],
    params: dict[str, Any],
    checkpoints: CheckpointStore | None,
    initial_model: dict[str, Any],
    overrides: dict[str, Any] | None = None,
) -> tuple[dict[str, Any], pd.DataFrame]:
    """:func:`train_model`, starting from ``initial_model``'s weights (a node needs every input named)."""
    return train_model(model_input, split, params, checkpoints, initial_model, overrides)
