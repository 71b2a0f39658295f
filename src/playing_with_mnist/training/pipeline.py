"""One training as a modular pipeline: :func:`training_pipeline`, and the node it runs.

Task 1 and each MNIST run are instances of it under their own namespace, so their models,
histories and checkpoints get their own catalog entries and nothing of the training code is copied.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

import pandas as pd
import torch
from kedro.pipeline import Node, Pipeline

from playing_with_mnist.models import ResNetConfig, build_model, load_pretrained

from .config import TrainConfig, merge_train_params
from .loop import CheckpointStore, fit

logger = logging.getLogger(__name__)


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


def training_pipeline(
    namespace: str,
    model_input: str,
    split: str,
    overrides: str | None = None,
    initial_model: str | None = None,
    outputs: dict[str, str] | None = None,
) -> Pipeline:
    """One training run named ``namespace``, from ``initial_model``'s weights when given.

    Trains with ``params:train`` and, laid over it, the parameters named by ``overrides``
    (e.g. ``params:mnist_train``: what this experiment changes). Writes ``<namespace>_model``
    and ``<namespace>_history`` (or the names in ``outputs``) and keeps its checkpoints in
    ``<namespace>.training_checkpoints``.
    """
    inputs = {"model_input": "model_input", "split": "split", "params": "params:train", "checkpoints": "training_checkpoints"}
    parameters = {"params:train": "params:train"}
    if initial_model:
        inputs["initial_model"] = "initial_model"
    if overrides:
        inputs["overrides"] = "params:overrides"
        parameters["params:overrides"] = overrides
    node = Node(
        fine_tune_model if initial_model else train_model,
        inputs=inputs,
        outputs=["trained_model", "training_history"],
        name="train_model",
    )
    names = {"trained_model": f"{namespace}_model", "training_history": f"{namespace}_history", **(outputs or {})}
    mapping = {"model_input": model_input, "split": split}
    if initial_model:
        mapping["initial_model"] = initial_model
    if "training_checkpoints" in names:
        mapping["training_checkpoints"] = names.pop("training_checkpoints")
    return Pipeline([node], namespace=namespace, inputs=mapping, outputs=names, parameters=parameters)
