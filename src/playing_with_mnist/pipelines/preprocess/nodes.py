"""Nodes of the ``preprocess`` pipeline: decode once, cache tensors, split."""

from __future__ import annotations

import logging
from typing import Any

import torch
from matplotlib.figure import Figure

from playing_with_mnist.analysis.figures import plot_image_grid
from playing_with_mnist.ingest.archive import CharacterArchive
from playing_with_mnist.ingest.model_input import decode_archive, shuffled_per_class

logger = logging.getLogger(__name__)

# Part of the cache key: bump when decoding changes so old caches are rebuilt.
PREPROCESS_VERSION = 1


def cache_key(archive: CharacterArchive, params: dict[str, Any]) -> str:
    return f"{archive.fingerprint}|size={int(params['image_size'])}|preprocess=v{PREPROCESS_VERSION}"


def build_image_cache(
    archive: CharacterArchive, previous_cache: dict | None, params: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Every image of ``archive`` decoded to ``image_size`` x ``image_size`` grayscale uint8 (a :class:`ModelInput`
    plus its ``cache_key`` and ``summary``), and the summary of what was kept, skipped and broken (:func:`decode_archive`).
    ``previous_cache`` (what the last run saved, or ``None``) is returned as is when made from the same zip and settings."""
    key = cache_key(archive, params)
    if previous_cache is not None and previous_cache.get("cache_key") == key:
        logger.info("Cache matches %s: decoding nothing", archive.source.get("name", archive.source["kind"]))
        return previous_cache, previous_cache["summary"]
    model_input, summary = decode_archive(archive, params)
    return {**model_input, "cache_key": key, "summary": summary}, summary


def plot_sample_inputs(character_images: dict[str, Any], per_class: int = 1, seed: int = 0) -> Figure:
    """A grid of cached 32x32 inputs, ``per_class`` random ones of every class, with their labels."""
    generator = torch.Generator().manual_seed(seed)
    labels = character_images["labels"]
    index = torch.cat([m[:per_class] for m in shuffled_per_class(labels, len(character_images["class_names"]), generator)])
    titles = [character_images["class_names"][labels[i]] for i in index]
    return plot_image_grid(character_images["images"][index], titles, columns=min(16, len(index)), title="Preprocessed inputs (32x32 grayscale)")
