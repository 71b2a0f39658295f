"""Nodes of the ``mnist_transfer`` pipeline (Task 2): the digit subset, the comparison, the document."""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd
import torch
from matplotlib.figure import Figure

from playing_with_mnist.comparison import THRESHOLDS, compare_runs, comparison_markdown
from playing_with_mnist.pipelines.mnist_data.nodes import DIGITS
from playing_with_mnist.reporting import describe_source

logger = logging.getLogger(__name__)


def select_digit_classes(character_images: dict[str, Any], train_val_split: dict[str, Any]) -> tuple[dict, dict]:
    """Task 1's cache and split restricted to the classes named ``0`` .. ``9``, relabelled 0-9.

    Returns ``digit_images`` (the cache format training takes) and ``digit_split`` (Task 1's
    train/val assignment of those images, so no validation image was trained on).
    """
    names = list(character_images["class_names"])
    missing = [d for d in DIGITS if d not in names]
    if missing:
        raise ValueError(f"the Task 1 data has no class for digit(s) {', '.join(missing)}; its classes are {names[:12]}...")
    old_labels = torch.tensor([names.index(d) for d in DIGITS])
    labels = character_images["labels"]
    keep = torch.nonzero(torch.isin(labels, old_labels)).flatten()
    new_label = torch.full((len(names),), -1, dtype=torch.long)
    new_label[old_labels] = torch.arange(len(DIGITS))
    position = torch.full((len(labels),), -1, dtype=torch.long)
    position[keep] = torch.arange(len(keep))
    fingerprint = f"{character_images['fingerprint']}|digits"
    cache = {
        "images": character_images["images"][keep],
        "labels": new_label[labels[keep]],
        "class_names": list(DIGITS),
        "class_folders": [character_images["class_folders"][i] for i in old_labels.tolist()],
        "members": [character_images["members"][i] for i in keep.tolist()],
        "source": character_images["source"],
        "fingerprint": fingerprint,
    }
    split = {part: position[train_val_split[part]][position[train_val_split[part]] >= 0] for part in ("train", "val")}
    logger.info("Digit subset of Task 1: %d training and %d validation images", len(split["train"]), len(split["val"]))
    return cache, {**split, "fingerprint": fingerprint}


def compare_transfer(scratch_history: pd.DataFrame, pretrained_history: pd.DataFrame) -> tuple[pd.DataFrame, Figure, Figure]:
    """Summary table and figures of the two MNIST runs (see :func:`comparison.run_summary`)."""
    return compare_runs({"scratch": scratch_history, "pretrained": pretrained_history}, "MNIST from scratch vs from the digits model")


def select_mnist_model(scratch_model: dict[str, Any], pretrained_model: dict[str, Any], comparison: pd.DataFrame) -> dict[str, Any]:
    """The run with the higher final test accuracy (scratch on a tie): Task 2's MNIST model, which
    Task 3 starts from and uses as its clean model. Records which run it is in ``selected_run``."""
    accuracy = comparison.set_index("run")["final_test_accuracy"]
    run = "pretrained" if accuracy["pretrained"] > accuracy["scratch"] else "scratch"
    logger.info("Task 2's MNIST model: the %s run (final test accuracy %.2f%%)", run, 100 * accuracy[run])
    chosen = pretrained_model if run == "pretrained" else scratch_model
    return {**chosen, "selected_run": run}


def write_transfer_document(comparison: pd.DataFrame, digits_history: pd.DataFrame, mnist_split: dict[str, Any],
                            mnist_images: dict[str, Any], mnist_model: dict[str, Any]) -> str:
    """Task 2's results as Markdown: the data, the digits model, the comparison and its verdict."""
    digits = digits_history.iloc[-1]
    thresholds = ", ".join(f"{t:.0%}" for t in THRESHOLDS)
    return "\n".join([
        "# Task 2: does pretraining on the handwritten digits help on MNIST?",
        "",
        f"- MNIST: {describe_source(mnist_images['source'])}, {len(mnist_split['train']):,} training and "
        f"{len(mnist_split['val']):,} test images, brought to 32x32 by Task 1's preprocessing.",
        "- The pretrained digits model: the seed's ResNet trained on the digit classes 0-9 of Task 1's data "
        f"(Task 1's images and train/val split) for {int(digits['epoch'])} epoch(s); validation accuracy "
        f"{digits['val_accuracy']:.2%} "
        f"(best {digits_history['val_accuracy'].max():.2%}).",
        "- Two MNIST runs, same seed, hyper-parameters and number of epochs: from a random initialisation "
        "(`scratch`) and from the digits model with a new 10-way head (`pretrained`). "
        "Test accuracy is measured after every epoch. The run that ends higher is published as `mnist_model`, "
        f"the model Task 3 starts from: here `{mnist_model['selected_run']}`.",
        "",
        f"## Verdict, and epochs and seconds to {thresholds} test accuracy",
        "",
        *comparison_markdown(comparison, baseline="scratch"),
    ])
