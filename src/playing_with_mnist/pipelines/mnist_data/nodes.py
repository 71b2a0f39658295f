"""Nodes of the ``mnist_data`` pipeline: MNIST arrays to the cache format training takes."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import torch
from PIL import Image

from playing_with_mnist.data.images import preprocess_image

logger = logging.getLogger(__name__)

DIGITS = [str(d) for d in range(10)]


def to_model_images(images: np.ndarray, size: int, invert: bool) -> torch.Tensor:
    """uint8 [N, H, W] to uint8 [N, 1, size, size] through Task 1's ``preprocess_image``.

    ``invert`` turns MNIST's white ink on black into Task 1's dark ink on white, so that
    every model of the project sees one convention and pretrained weights carry over.
    """
    resized = np.stack([preprocess_image(Image.fromarray(image), size) for image in images]) if len(images) else (
        np.zeros((0, size, size), np.uint8))
    if invert:
        resized = 255 - resized
    return torch.from_numpy(np.ascontiguousarray(resized)).unsqueeze(1)


def train_test_input(
    train_images: torch.Tensor, train_labels: torch.Tensor, test_images: torch.Tensor, test_labels: torch.Tensor,
    members: list[str], source: dict[str, Any], fingerprint: str,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """One cache holding training then test images, and the split that says which is which.

    The split's ``val`` is the test set: training scores it after every epoch, which gives
    the test accuracy per epoch the MNIST comparisons plot.
    """
    n_train, n_test = len(train_images), len(test_images)
    cache = {
        "images": torch.cat([train_images, test_images]),
        "labels": torch.cat([train_labels, test_labels]).long(),
        "class_names": list(DIGITS),
        "class_folders": list(DIGITS),
        "members": members,
        "source": source,
        "fingerprint": fingerprint,
    }
    split = {"train": torch.arange(n_train), "val": torch.arange(n_train, n_train + n_test),
             "val_is": "test set", "fingerprint": fingerprint}
    return cache, split


def mnist_model_input(raw_mnist: dict[str, Any], input_params: dict[str, Any], preprocess_params: dict[str, Any]) -> tuple[dict, dict]:
    """MNIST's training and test images as one cache (``mnist_images``) and its split (``mnist_split``).

    ``input_params``: ``invert`` (see :func:`to_model_images`), ``max_train_images``
    (the first N training images only; null for all). Images go to
    ``preprocess_params["image_size"]``, as Task 1's do.
    """
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
        to_model_images(train_images, size, invert), torch.from_numpy(train_labels.astype(np.int64)),
        to_model_images(raw_mnist["test_images"], size, invert), torch.from_numpy(raw_mnist["test_labels"].astype(np.int64)),
        members, raw_mnist["source"], fingerprint,
    )
