"""Nodes of the ``mnist_transfer`` pipeline (Task 2): each point's training subset, the learning curve, the
per-epoch comparison at the largest size, the choice of model, the document.

The digit subset is ``data.model_input.digit_subset``."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

import pandas as pd
import torch
from matplotlib.figure import Figure

from playing_with_mnist.analysis.figures import compare_runs, plot_learning_curve
from playing_with_mnist.analysis.learning_curve import STARTS, learning_curve_markdown, learning_curve_summary
from playing_with_mnist.analysis.metrics import THRESHOLDS, comparison_markdown, run_summary
from playing_with_mnist.ingest.model_input import shuffled_per_class
from playing_with_mnist.reporting import describe_source, markdown
from playing_with_mnist.sweep import curve_points
from playing_with_mnist.training.checkpoints import TrainedModel

logger = logging.getLogger(__name__)


def check_points(curve: dict[str, Any], points: dict[str, dict[str, int]]) -> None:
    """Stop where this run's ``mnist_transfer`` parameters (``curve``) no longer give the ``points`` the pipeline was
    built with (read from conf/ when the pipelines are registered: ``--params`` cannot change them)."""
    if curve_points(curve.get("train_sizes"), curve.get("seeds")).keys() != points.keys():
        sizes, seeds = sorted({p["train_size"] for p in points.values()}), sorted({p["seed"] for p in points.values()})
        raise ValueError(f"the learning curve was built with mnist_transfer.train_sizes={sizes} and seeds={seeds}, but this run "
                         f"says {curve.get('train_sizes')} and {curve.get('seeds')}: the pipeline is built from conf/base and "
                         "conf/local (or the KEDRO_ENV environment) when it is registered, so change them there, not with --params")


def training_subset(model_input: dict[str, Any], split: dict[str, Any], curve: dict[str, Any],
                    points: dict[str, dict[str, int]], point: str) -> dict[str, Any]:
    """``split`` with ``train`` cut to the ``train_size`` of ``points[point]``, class-balanced and drawn with its
    ``seed``: each digit in a seeded order, then the first of every digit, the second of every digit ... (every digit
    gets size // 10 images, the first size % 10 digits one more, where a digit has enough). One seed's subsets are
    nested: a smaller size's images are among a larger size's. ``test`` is unchanged. ``curve``: :func:`check_points`."""
    check_points(curve, points)
    size, seed, train = points[point]["train_size"], points[point]["seed"], split["train"]
    if size > len(train):
        raise ValueError(f"mnist_transfer.train_sizes asks for {size:,} training images, but MNIST's training split holds "
                         f"{len(train):,} (see mnist_input.max_train_images and the data it reads)")
    per_class = shuffled_per_class(model_input["labels"][train], len(model_input["class_names"]), torch.Generator().manual_seed(seed))
    rank = torch.cat([torch.arange(len(members)) for members in per_class])
    digit = torch.cat([torch.full((len(members),), label) for label, members in enumerate(per_class)])
    order = torch.cat(per_class)[torch.argsort(rank * len(per_class) + digit)]
    return {**split, "train": train[order[:size]].sort().values}


def learning_curve(curve: dict[str, Any], *histories: pd.DataFrame, points: dict[str, dict[str, int]]) -> tuple[pd.DataFrame, pd.DataFrame, Figure]:
    """The learning curve from every point's ``scratch`` and ``pretrained`` history, in the order of ``points`` and
    :data:`STARTS`: one row per run (run, size, start, seed, test accuracy of the last epoch ...: ``metrics.run_summary``),
    the summary and verdict per size, and the figure. ``curve``: :func:`check_points`."""
    check_points(curve, points)
    runs = [(point, start) for point in points for start in STARTS]
    table = run_summary({f"{point}_{start}": history for (point, start), history in zip(runs, histories, strict=True)}, thresholds=())
    table = table.rename(columns={"final_test_accuracy": "test_accuracy"})
    table.insert(1, "size", [points[point]["train_size"] for point, _ in runs])
    table.insert(2, "start", [start for _, start in runs])
    table.insert(3, "seed", [points[point]["seed"] for point, _ in runs])
    summary = learning_curve_summary(table)
    for row in summary.itertuples():
        logger.info("%s training images: scratch %.2f%%, pretrained %.2f%% (mean of %d seeds): %s", f"{row.size:,}",
                    100 * row.scratch_mean, 100 * row.pretrained_mean, row.seeds, row.verdict)
    return table, summary, plot_learning_curve(table, "MNIST from scratch vs from the digits model, by training size")


def compare_transfer(scratch_history: pd.DataFrame, pretrained_history: pd.DataFrame) -> tuple[pd.DataFrame, Figure, Figure]:
    """Summary table and figures of two MNIST runs, per epoch (see :func:`metrics.run_summary`)."""
    return compare_runs({"scratch": scratch_history, "pretrained": pretrained_history}, "MNIST from scratch vs from the digits model")


def select_mnist_model(scratch_model: TrainedModel, pretrained_model: TrainedModel, comparison: pd.DataFrame) -> TrainedModel:
    """Task 2's MNIST model, which Task 3 starts from and uses as its clean model: of the two runs of one point (the
    pipeline passes the largest training size at the first seed: the most MNIST, and the same seed as a single
    comparison would have), the one with the higher final test accuracy, scratch on a tie. Records which run it is
    in ``selected_run``."""
    accuracy = comparison.set_index("run")["final_test_accuracy"]
    run = "pretrained" if accuracy["pretrained"] > accuracy["scratch"] else "scratch"
    logger.info("Task 2's MNIST model: the %s run (final test accuracy %.2f%%)", run, 100 * accuracy[run])
    chosen = pretrained_model if run == "pretrained" else scratch_model
    return replace(chosen, selected_run=run)


def write_transfer_document(curve_summary: pd.DataFrame, comparison: pd.DataFrame, digits_history: pd.DataFrame,
                            digits_model: TrainedModel, mnist_split: dict[str, Any], mnist_images: dict[str, Any],
                            mnist_model: TrainedModel) -> str:
    """Task 2's results as Markdown: the data, the settings, the learning curve and its verdict per size, then the
    two runs of the largest size per epoch and which of them is ``mnist_model``."""
    digits = digits_history.iloc[-1]
    thresholds = ", ".join(f"{t:.0%}" for t in THRESHOLDS)
    sizes, seeds = [f"{size:,}" for size in curve_summary["size"]], int(curve_summary["seeds"].max())
    largest, seed = int(curve_summary["size"].max()), mnist_model.train_config.seed
    return markdown(
        "# Task 2: does pretraining on the handwritten digits help on MNIST?",
        [
            f"- MNIST: {describe_source(mnist_images['source'])}, {len(mnist_split['train']):,} training and "
            f"{len(mnist_split['test']):,} test images, brought to 32x32 by Task 1's preprocessing.",
            "- The pretrained digits model: the seed's ResNet trained on the digit classes 0-9 of Task 1's data "
            f"(Task 1's images and train/val split), validation accuracy {digits['val_accuracy']:.2%} after its last epoch "
            f"(best {digits_history['val_accuracy'].max():.2%}). Settings: {digits_model.train_config.describe()}.",
            f"- Every MNIST run: {mnist_model.train_config.describe()}; the seed is the run's own.",
            f"- Training sizes {', '.join(sizes)} images, {seeds} seed(s) each. At every size and seed, two runs with the "
            "same seed, settings and epochs: from a random initialisation (`scratch`) and from the digits model with a new "
            "10-way head (`pretrained`). A size's images are a class-balanced subset of MNIST's training images drawn with "
            "the seed. Test accuracy: the last epoch's, on all the test images (the weight average where it is on, "
            "without test-time augmentation).",
        ],
        "## Verdict: test accuracy against training size",
        *learning_curve_markdown(curve_summary),
        f"## The largest size ({largest:,} images, seed {seed}) per epoch, and epochs and seconds to {thresholds} test accuracy",
        f"The run that ends higher is published as `mnist_model`, the model Task 3 starts from: here `{mnist_model.selected_run}`.",
        *comparison_markdown(comparison, baseline="scratch", val_every=mnist_model.train_config.val_every),
    )
