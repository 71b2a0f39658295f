"""Nodes of the ``preprocess`` pipeline: decode once, cache tensors, split."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import torch
from matplotlib.figure import Figure

from playing_with_mnist.data.archive import ArchiveError, CharacterArchive, display_labels, list_archive
from playing_with_mnist.data.images import decode_many

logger = logging.getLogger(__name__)

# Part of the cache key: bump when decoding changes so old caches are rebuilt.
PREPROCESS_VERSION = 1


def cache_key(archive: CharacterArchive, params: dict[str, Any]) -> str:
    return f"{archive.fingerprint}|size={int(params['image_size'])}|preprocess=v{PREPROCESS_VERSION}"


def _decode_all(archive: CharacterArchive, members: list[str], size: int, workers: int) -> list[np.ndarray | str]:
    """Each member's 32x32 array, or the reason it could not be decoded."""
    return decode_many(archive.open, lambda zip_file, name: zip_file.read(name), members, size, workers)


def build_image_cache(
    archive: CharacterArchive, previous_cache: dict | None, params: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Decode every image of ``archive`` to ``image_size`` x ``image_size`` grayscale uint8.

    ``previous_cache`` is what the last run saved (or ``None``): when it was made from
    the same zip with the same settings it is returned as is and nothing is decoded.

    Returns the cache (``images`` uint8 [N, 1, S, S], ``labels``, ``class_names``,
    ``class_folders``, ``members``, ``source``, ``fingerprint``) and a summary of what
    was kept, skipped and broken.
    """
    key = cache_key(archive, params)
    if previous_cache is not None and previous_cache.get("cache_key") == key:
        logger.info("Cache matches %s: decoding nothing", archive.source.get("name", archive.source["kind"]))
        return previous_cache, previous_cache["summary"]

    size = int(params["image_size"])
    workers = int(params.get("workers") or 0)
    with archive.open() as zip_file:
        listing = list_archive(zip_file, str(archive.path.name))
    for folder in listing.empty_classes:
        logger.warning("Class folder %r holds no image: left out", folder)
    if listing.skipped:
        logger.info("Skipped entries that are not class images: %s", listing.skipped)

    decoded = _decode_all(archive, listing.members, size, workers)
    broken = [result for result in decoded if isinstance(result, str)]
    for reason in broken:
        logger.warning("Skipping broken image %s", reason)
    share = len(broken) / len(decoded)
    if share > float(params["max_broken_fraction"]):
        raise ArchiveError(
            f"{archive.path.name}: {len(broken)} of {len(decoded)} images cannot be decoded "
            f"({share:.0%}, more than preprocess.max_broken_fraction={params['max_broken_fraction']}). "
            "Check the zip; the first is " + broken[0]
        )
    keep = [i for i, result in enumerate(decoded) if not isinstance(result, str)]
    labels = torch.tensor([listing.labels[i] for i in keep], dtype=torch.long)
    counts = torch.bincount(labels, minlength=len(listing.class_folders))
    too_small = [listing.class_folders[c] for c in range(len(counts)) if counts[c] < int(params["min_images_per_class"])]
    if too_small:
        raise ArchiveError(
            f"{archive.path.name}: class folder(s) {', '.join(too_small)} keep fewer than "
            f"{params['min_images_per_class']} readable images; add images or remove the folder(s)"
        )
    images = torch.from_numpy(np.stack([decoded[i] for i in keep])).unsqueeze(1).contiguous()
    summary = {
        "source": archive.source,
        "images": len(keep),
        "classes": len(listing.class_folders),
        "skipped_entries": listing.skipped,
        "broken_images": broken,
        "empty_class_folders": listing.empty_classes,
        "image_size": size,
    }
    logger.info("Decoded %d images in %d classes to %dx%d grayscale", len(keep), len(listing.class_folders), size, size)
    cache = {
        "images": images,
        "labels": labels,
        "class_names": display_labels(listing.class_folders),
        "class_folders": listing.class_folders,
        "members": [listing.members[i] for i in keep],
        "source": archive.source,
        "fingerprint": archive.fingerprint,
        "cache_key": key,
        "summary": summary,
    }
    return cache, summary


def shuffled_per_class(labels: torch.Tensor, num_classes: int, generator: torch.Generator) -> list[torch.Tensor]:
    """For every class in order, the indices of its images in a seeded random order."""
    members = [torch.nonzero(labels == label).flatten() for label in range(num_classes)]
    return [m[torch.randperm(len(m), generator=generator)] for m in members]


def split_train_val(character_images: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    """A stratified, seeded split: ``val_fraction`` of every class (at least one) goes to val.

    Returns sorted index tensors ``train`` and ``val`` into the cache, with the settings used.
    """
    fraction = float(params["val_fraction"])
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"split.val_fraction must be between 0 and 1, got {fraction}")
    generator = torch.Generator().manual_seed(int(params["seed"]))
    train, val = [], []
    for members in shuffled_per_class(character_images["labels"], len(character_images["class_names"]), generator):
        n_val = min(max(1, round(len(members) * fraction)), len(members) - 1)
        val.append(members[:n_val])
        train.append(members[n_val:])
    return {
        "train": torch.cat(train).sort().values,
        "val": torch.cat(val).sort().values,
        "val_fraction": fraction,
        "seed": int(params["seed"]),
        "fingerprint": character_images["fingerprint"],
    }


def plot_sample_inputs(character_images: dict[str, Any], per_class: int = 1, seed: int = 0) -> Figure:
    """A grid of cached 32x32 inputs, ``per_class`` random ones of every class, with their labels."""
    from playing_with_mnist.evaluation import plot_image_grid

    generator = torch.Generator().manual_seed(seed)
    labels = character_images["labels"]
    index = torch.cat([m[:per_class] for m in shuffled_per_class(labels, len(character_images["class_names"]), generator)])
    titles = [character_images["class_names"][labels[i]] for i in index]
    return plot_image_grid(character_images["images"][index], titles, columns=min(16, len(index)), title="Preprocessed inputs (32x32 grayscale)")
