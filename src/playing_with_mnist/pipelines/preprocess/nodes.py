"""Nodes of the ``preprocess`` pipeline: decode once, cache tensors, split."""

from __future__ import annotations

import logging
from typing import Any

import torch
from matplotlib.figure import Figure

from playing_with_mnist.analysis.figures import plot_image_grid
from playing_with_mnist.ingest.archive import CharacterArchive
from playing_with_mnist.ingest.model_input import decode_archive

logger = logging.getLogger(__name__)

# Part of the cache key: bump when decoding changes so old caches are rebuilt.
PREPROCESS_VERSION = 1


def cache_key(archive: CharacterArchive, params: dict[str, Any]) -> str:
    return f"{archive.fingerprint}|size={int(params['image_size'])}|preprocess=v{PREPROCESS_VERSION}"


def build_image_cache(
    archive: CharacterArchive, previous_cache: dict | None, params: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Decode every image of ``archive`` to ``image_size`` x ``image_size`` grayscale uint8.

    ``previous_cache`` is what the last run saved (or ``None``): when it was made from
    the same zip with the same settings it is returned as is and nothing is decoded.

    Returns the cache (a :class:`ModelInput` plus its ``cache_key`` and ``summary``) and a
    summary of what was kept, skipped and broken (see :func:`decode_archive`).
    """
    key = cache_key(archive, params)
    if previous_cache is not None and previous_cache.get("cache_key") == key:
        logger.info("Cache matches %s: decoding nothing", archive.source.get("name", archive.source["kind"]))
        return previous_cache, previous_cache["summary"]
    model_input, summary = decode_archive(archive, params)
    return {**model_input, "cache_key": key, "summary": summary}, summary


def shuffled_per_class(labels: torch.Tensor, num_classes: int, generator: torch.Generator) -> list[torch.Tensor]:
    """For every class in order, the indices of its images in a seeded random order."""
    members = [torch.nonzero(labels == label).flatten() for label in range(num_classes)]
    return [m[torch.randperm(len(m), generator=generator)] for m in members]


def split_settings(params: dict[str, Any]) -> dict[str, Any]:
    """The ``split`` parameters that decide a split, as :func:`split_train_val` records them."""
    return {"val_fraction": float(params["val_fraction"]), "seed": int(params["seed"])}


def split_train_val(character_images: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    """A stratified, seeded split: ``val_fraction`` of every class (at least one) goes to val.

    Returns sorted index tensors ``train`` and ``val`` into the cache, with the settings used.
    """
    settings = split_settings(params)
    fraction = settings["val_fraction"]
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"split.val_fraction must be between 0 and 1, got {fraction}")
    generator = torch.Generator().manual_seed(settings["seed"])
    train, val = [], []
    for members in shuffled_per_class(character_images["labels"], len(character_images["class_names"]), generator):
        n_val = min(max(1, round(len(members) * fraction)), len(members) - 1)
        val.append(members[:n_val])
        train.append(members[n_val:])
    return {
        "train": torch.cat(train).sort().values,
        "val": torch.cat(val).sort().values,
        **settings,
        "fingerprint": character_images["fingerprint"],
    }


def plot_sample_inputs(character_images: dict[str, Any], per_class: int = 1, seed: int = 0) -> Figure:
    """A grid of cached 32x32 inputs, ``per_class`` random ones of every class, with their labels."""
    generator = torch.Generator().manual_seed(seed)
    labels = character_images["labels"]
    index = torch.cat([m[:per_class] for m in shuffled_per_class(labels, len(character_images["class_names"]), generator)])
    titles = [character_images["class_names"][labels[i]] for i in index]
    return plot_image_grid(character_images["images"][index], titles, columns=min(16, len(index)), title="Preprocessed inputs (32x32 grayscale)")
