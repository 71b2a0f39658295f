"""Nodes of the ``mnist_transfer`` pipeline (Task 2): the comparison, the choice of model, the document.

The digit subset is ``data.model_input.digit_subset``."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from playing_with_mnist.analysis.figures import compare_runs
from playing_with_mnist.analysis.metrics import THRESHOLDS, comparison_markdown
from playing_with_mnist.reporting import describe_source, markdown
from playing_with_mnist.training.checkpoints import TrainedModel

logger = logging.getLogger(__name__)


def compare_transfer(scratch_history: pd.DataFrame, pretrained_history: pd.DataFrame) -> tuple[pd.DataFrame, Figure, Figure]:
    """Summary table and figures of the two MNIST runs (see :func:`metrics.run_summary`)."""
    return compare_runs({"scratch": scratch_history, "pretrained": pretrained_history}, "MNIST from scratch vs from the digits model")


def select_mnist_model(scratch_model: TrainedModel, pretrained_model: TrainedModel, comparison: pd.DataFrame) -> TrainedModel:
    """The run with the higher final test accuracy (scratch on a tie): Task 2's MNIST model, which
    Task 3 starts from and uses as its clean model. Records which run it is in ``selected_run``."""
    accuracy = comparison.set_index("run")["final_test_accuracy"]
    run = "pretrained" if accuracy["pretrained"] > accuracy["scratch"] else "scratch"
    logger.info("Task 2's MNIST model: the %s run (final test accuracy %.2f%%)", run, 100 * accuracy[run])
    chosen = pretrained_model if run == "pretrained" else scratch_model
    return replace(chosen, selected_run=run)


def write_transfer_document(comparison: pd.DataFrame, digits_history: pd.DataFrame, mnist_split: dict[str, Any],
                            mnist_images: dict[str, Any], mnist_model: TrainedModel) -> str:
    """Task 2's results as Markdown: the data, the digits model, the comparison and its verdict."""
    digits = digits_history.iloc[-1]
    thresholds = ", ".join(f"{t:.0%}" for t in THRESHOLDS)
    return markdown(
        "# Task 2: does pretraining on the handwritten digits help on MNIST?",
        [
            f"- MNIST: {describe_source(mnist_images['source'])}, {len(mnist_split['train']):,} training and "
            f"{len(mnist_split['test']):,} test images, brought to 32x32 by Task 1's preprocessing.",
            "- The pretrained digits model: the seed's ResNet trained on the digit classes 0-9 of Task 1's data "
            f"(Task 1's images and train/val split) for {int(digits['epoch'])} epoch(s); validation accuracy "
            f"{digits['val_accuracy']:.2%} (best {digits_history['val_accuracy'].max():.2%}).",
            "- Two MNIST runs, same seed, hyper-parameters and number of epochs: from a random initialisation "
            "(`scratch`) and from the digits model with a new 10-way head (`pretrained`). "
            "Test accuracy is measured after every epoch. The run that ends higher is published as `mnist_model`, "
            f"the model Task 3 starts from: here `{mnist_model.selected_run}`.",
        ],
        f"## Verdict, and epochs and seconds to {thresholds} test accuracy",
        *comparison_markdown(comparison, baseline="scratch"),
    )
