"""Model input: the one format every training reads (:class:`ModelInput`), and the ways data becomes it.

Task 1's zip, MNIST, the digit subset and the noisy set all become it here; a split says which
of its indices are trained on and which are scored.
"""

from __future__ import annotations

import logging
import zipfile
from typing import Any, TypedDict

import numpy as np
import torch
from PIL import Image

from .archive import ArchiveError, CharacterArchive, display_labels, list_archive
from .images import decode_many, preprocess_image

logger = logging.getLogger(__name__)

DIGITS = [str(d) for d in range(10)]


class ModelInput(TypedDict):
    """The saved format (a plain dict on disk, so older files keep loading)."""

    images: torch.Tensor  # uint8 [N, 1, S, S], dark ink on white
    labels: torch.Tensor  # int64 [N], indices into class_names
    class_names: list[str]  # what a label is shown as (``A``, ``7``)
    class_folders: list[str]  # the folder each class came from
    members: list[str]  # where each image came from (zip member, ``test/00001``)
    source: dict[str, Any]  # what the data is, for reports (see reporting.describe_source)
    fingerprint: str  # changes whenever the images may have changed


def decode_archive(archive: CharacterArchive, params: dict[str, Any]) -> tuple[ModelInput, dict[str, Any]]:
    """Every class image of ``archive`` at ``image_size`` squared, labelled by its folder, and a summary
    of what was kept, skipped and broken. ``params``: ``image_size``, ``workers`` (0: all cores),
    ``max_broken_fraction`` (the share of undecodable images to skip before giving up), ``min_images_per_class``.
    """
    size = int(params["image_size"])
    with archive.open() as zip_file:
        listing = list_archive(zip_file, str(archive.path.name))
    for folder in listing.empty_classes:
        logger.warning("Class folder %r holds no image: left out", folder)
    if listing.skipped:
        logger.info("Skipped entries that are not class images: %s", listing.skipped)

    decoded = decode_many(archive.open, zipfile.ZipFile.read, listing.members, size, int(params.get("workers") or 0))
    broken = [result for result in decoded if isinstance(result, str)]
    for reason in broken:
        logger.warning("Skipping broken image %s", reason)
    share = len(broken) / len(decoded)
    if share > float(params["max_broken_fraction"]):
        raise ArchiveError(f"{archive.path.name}: {len(broken)} of {len(decoded)} images cannot be decoded ({share:.0%}, more "
                           f"than preprocess.max_broken_fraction={params['max_broken_fraction']}). Check the zip; the first is "
                           + broken[0])
    keep = [i for i, result in enumerate(decoded) if not isinstance(result, str)]
    labels = torch.tensor([listing.labels[i] for i in keep], dtype=torch.long)
    counts = torch.bincount(labels, minlength=len(listing.class_folders))
    too_small = [folder for folder, count in zip(listing.class_folders, counts) if count < int(params["min_images_per_class"])]
    if too_small:
        raise ArchiveError(f"{archive.path.name}: class folder(s) {', '.join(too_small)} keep fewer than "
                           f"{params['min_images_per_class']} readable images; add images or remove the folder(s)")
    summary = {"source": archive.source, "images": len(keep), "classes": len(listing.class_folders),
               "skipped_entries": listing.skipped, "broken_images": broken,
               "empty_class_folders": listing.empty_classes, "image_size": size}
    logger.info("Decoded %d images in %d classes to %dx%d grayscale", len(keep), len(listing.class_folders), size, size)
    images = torch.from_numpy(np.stack([decoded[i] for i in keep])).unsqueeze(1).contiguous()
    return ModelInput(images=images, labels=labels, class_names=display_labels(listing.class_folders),
                      class_folders=listing.class_folders, members=[listing.members[i] for i in keep],
                      source=archive.source, fingerprint=archive.fingerprint), summary


def invert_ink(images: torch.Tensor) -> torch.Tensor:
    """uint8 images with ink and background swapped (MNIST's white on black <-> dark on white)."""
    return 255 - images


def array_images(images: np.ndarray, size: int, invert: bool) -> torch.Tensor:
    """uint8 [N, H, W] arrays (MNIST's) to uint8 [N, 1, size, size] through ``preprocess_image``;
    ``invert`` turns white ink on black into the project's dark ink on white."""
    arrays = [preprocess_image(Image.fromarray(image), size) for image in images]
    resized = torch.from_numpy(np.stack(arrays)) if arrays else torch.zeros((0, size, size), dtype=torch.uint8)
    return (invert_ink(resized) if invert else resized).unsqueeze(1).contiguous()


def train_test_input(
    train_images: torch.Tensor, train_labels: torch.Tensor, test_images: torch.Tensor, test_labels: torch.Tensor,
    members: list[str], source: dict[str, Any], fingerprint: str,
) -> tuple[ModelInput, dict[str, Any]]:
    """One model input of the digits 0-9 holding training then test images, and the split naming
    them ``train`` and ``test`` (training scores ``test``: after every epoch, or as ``train.val_every`` says)."""
    n_train, n_test = len(train_images), len(test_images)
    model_input = ModelInput(images=torch.cat([train_images, test_images]), labels=torch.cat([train_labels, test_labels]).long(),
                             class_names=list(DIGITS), class_folders=list(DIGITS), members=members, source=source,
                             fingerprint=fingerprint)
    split = {"train": torch.arange(n_train), "test": torch.arange(n_train, n_train + n_test), "fingerprint": fingerprint}
    return model_input, split


def digit_subset(model_input: ModelInput, split: dict[str, Any]) -> tuple[ModelInput, dict[str, Any]]:
    """``model_input`` restricted to the classes named ``0`` .. ``9``, relabelled 0-9, and
    ``split``'s train/val assignment of those images (so no validation image is trained on)."""
    names = list(model_input["class_names"])
    missing = [d for d in DIGITS if d not in names]
    if missing:
        raise ValueError(f"the Task 1 data has no class for digit(s) {', '.join(missing)}; its classes are {names[:12]}...")
    old_labels = torch.tensor([names.index(d) for d in DIGITS])
    labels = model_input["labels"]
    keep = torch.nonzero(torch.isin(labels, old_labels)).flatten()
    new_label = torch.full((len(names),), -1, dtype=torch.long)
    new_label[old_labels] = torch.arange(len(DIGITS))
    position = torch.full((len(labels),), -1, dtype=torch.long)
    position[keep] = torch.arange(len(keep))
    fingerprint = f"{model_input['fingerprint']}|digits"
    subset = ModelInput(images=model_input["images"][keep], labels=new_label[labels[keep]], class_names=list(DIGITS),
                        class_folders=[model_input["class_folders"][i] for i in old_labels.tolist()],
                        members=[model_input["members"][i] for i in keep.tolist()], source=model_input["source"],
                        fingerprint=fingerprint)
    subset_split = {part: position[split[part]][position[split[part]] >= 0] for part in ("train", "val")}
    logger.info("Digit subset: %d training and %d validation images", len(subset_split["train"]), len(subset_split["val"]))
    return subset, {**subset_split, "fingerprint": fingerprint}


def shuffled_per_class(labels: torch.Tensor, num_classes: int, generator: torch.Generator) -> list[torch.Tensor]:
    """For every class in order, the indices of its images in a seeded random order."""
    members = [torch.nonzero(labels == label).flatten() for label in range(num_classes)]
    return [m[torch.randperm(len(m), generator=generator)] for m in members]


def split_settings(params: dict[str, Any]) -> dict[str, Any]:
    """The ``split`` parameters that decide a split, as :func:`split_train_val` records them."""
    return {"val_fraction": float(params["val_fraction"]), "seed": int(params["seed"])}


def split_train_val(character_images: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    """A stratified, seeded split: ``val_fraction`` of every class (at least one) goes to val.
    Returns sorted index tensors ``train`` and ``val`` into the cache, with the settings used."""
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
    return {"train": torch.cat(train).sort().values, "val": torch.cat(val).sort().values, **settings,
            "fingerprint": character_images["fingerprint"]}
