"""Nodes of the ``mnist_data`` pipeline: MNIST arrays to the cache format training takes."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import torch

from playing_with_mnist.ingest.model_input import array_images, train_test_input

logger = logging.getLogger(__name__)


def mnist_model_input(raw_mnist: dict[str, Any], input_params: dict[str, Any], preprocess_params: dict[str, Any]) -> tuple[dict, dict]:
    """MNIST's training and test images at Task 1's ``image_size`` as one cache (``mnist_images``) and its split
    (``mnist_split``). ``input_params``: ``invert`` (white ink on black to Task 1's dark on white, :func:`array_images`),
    ``max_train_images`` (the first N training images only; null for all)."""
    size, invert = int(preprocess_params["image_size"]), bool(input_params["invert"])
    limit = input_params.get("max_train_images")
    train_images, train_labels = raw_mnist["train_images"], raw_mnist["train_labels"]
    if limit is not None:
        if int(limit) < 10:
            raise ValueError(f"mnist_input.max_train_images must be at least 10 (or null for all), got {limit}")
        train_images, train_labels = train_images[: int(limit)], train_labels[: int(limit)]
    members = [f"train/{i + 1:05d}" for i in range(len(train_images))] + [f"test/{i + 1:05d}" for i in range(len(raw_mnist["test_images"]))]
    fingerprint = f"{raw_mnist['fingerprint']}|size={size}|invert={invert}|train={len(train_images)}"
    logger.info("MNIST input: %d training and %d test images at %dx%d", len(train_images), len(raw_mnist["test_images"]), size, size)
    return train_test_input(
        array_images(train_images, size, invert), torch.from_numpy(train_labels.astype(np.int64)),
        array_images(raw_mnist["test_images"], size, invert), torch.from_numpy(raw_mnist["test_labels"].astype(np.int64)),
        members, raw_mnist["source"], fingerprint,
    )
