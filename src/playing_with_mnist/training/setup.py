"""Setting a training up: the network for the data and the settings, started fresh or from a
trained model's weights. No Kedro here: a test or a notebook calls it directly."""

from __future__ import annotations

from dataclasses import fields, replace
from typing import Any

import torch

from playing_with_mnist.models import ResNet, ResNetConfig, build_model, load_pretrained
from playing_with_mnist.models.resnet import Architecture

from .checkpoints import TrainedModel
from .config import TrainConfig


def architecture(config: TrainConfig, num_classes: int, images: torch.Tensor, train_index: torch.Tensor,
                 initial_model: TrainedModel | None = None) -> ResNetConfig:
    """The network for ``num_classes`` classes of ``images`` (uint8 [N, 1, S, S]): ``config.model``'s
    shape, ``config.dropout``, and the input scale (with ``normalize``, the mean and std of the
    training images, ``images[train_index]``)."""
    shape = {f.name: getattr(config.model, f.name) for f in fields(Architecture)}
    network = ResNetConfig(**shape, num_classes=num_classes, dropout=config.dropout, image_size=int(images.shape[-1]))
    if initial_model is not None:
        # The carried-over layers expect the input scale and the downsampling they were trained with
        # (the weights of both downsamplings have the same shapes, so a mismatch would load silently).
        pretrained = initial_model.model_config
        return replace(network, input_mean=pretrained.input_mean, input_std=pretrained.input_std,
                       downsample=pretrained.downsample)
    if config.normalize:  # the images' mean and std on the model's [0, 1] scale
        pixels = images[train_index].float().div(255.0)
        return replace(network, input_mean=float(pixels.mean()), input_std=float(pixels.std().clamp_min(1e-3)))
    return network


def set_up_network(config: TrainConfig, model_input: dict[str, Any], train_index: torch.Tensor,
                   initial_model: TrainedModel | None = None) -> tuple[ResNet, str, dict[str, Any] | None]:
    """A seeded network for ``model_input``'s classes, with ``initial_model``'s weights where given
    (a new head if the classes differ).

    Returns the network, the fingerprint a resumed run must match (the data's, and the pretrained
    model's) and what it started from (None for a fresh start).
    """
    images = model_input["images"]
    shape = architecture(config, len(model_input["class_names"]), images, train_index, initial_model)
    torch.manual_seed(config.seed)
    network = build_model(shape)
    if initial_model is None:
        return network, model_input["fingerprint"], None
    if initial_model.image_size != int(images.shape[-1]):
        raise ValueError(f"the pretrained model takes {initial_model.image_size}px images, these are {images.shape[-1]}px")
    new_tensors = load_pretrained(network, initial_model.state_dict)
    started_from = {"source": initial_model.source, "fingerprint": initial_model.fingerprint,
                    "classes": len(initial_model.class_names), "new_tensors": new_tensors}
    fingerprint = f"{model_input['fingerprint']}|from:{initial_model.fingerprint}:{initial_model.run.seconds:.3f}"
    return network, fingerprint, started_from
