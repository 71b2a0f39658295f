"""Figures of the analyses: a shared style, image grids, confusions and per-class accuracy,
training curves of compared runs, and the label-noise figures. Figures are returned, never
saved: a catalog dataset saves and closes them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import matplotlib

matplotlib.use("Agg")  # reports are files; never open a window

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.colors import PowerNorm  # noqa: E402
from matplotlib.ticker import PercentFormatter  # noqa: E402

from .calibration import calibration_summary, reliability_table  # noqa: E402
from .metrics import THRESHOLDS, run_summary  # noqa: E402
from .noise import as_labels, to_numpy  # noqa: E402

if TYPE_CHECKING:
    import torch

STYLE = {"axes.spines.top": False, "axes.spines.right": False, "axes.grid": True, "grid.alpha": 0.3, "figure.dpi": 110,
         "font.size": 10}
_WRONG_COLOUR = "#c0392b"


@contextmanager
def styled(width: float = 7.0, height: float = 4.2, grid: bool = True,
           panels: tuple[int, int] | None = None) -> Iterator[tuple[plt.Figure, Any]]:
    """A new figure and its axes (an [rows, columns] array of them for ``panels``), drawn in the shared style."""
    with plt.rc_context({**STYLE, "axes.grid": grid}):
        rows, columns = panels or (1, 1)
        yield plt.subplots(rows, columns, figsize=(width, height), squeeze=panels is None, layout="constrained")


def epoch_axes(axes: plt.Axes, title: str, ylabel: str, percent: bool = False, **legend: Any) -> None:
    """Title and labels of an axes of per-epoch curves: whole epochs on x, test accuracy in percent where ``percent``."""
    axes.set(title=title, xlabel="epoch", ylabel=ylabel)
    axes.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
    if percent:  # decimals="auto": the interesting range is often 97-100%, where 0 decimals repeat labels
        axes.yaxis.set_major_formatter(PercentFormatter(xmax=1.0))
    axes.legend(frameon=False, **legend)


def plot_image_grid(images: torch.Tensor, titles: list[str], colours: list[str] | None = None, columns: int = 8, title: str = "") -> plt.Figure:
    """uint8 images [N, 1, S, S] in a grid, each with a small title."""
    rows = max(1, -(-len(images) // columns))
    figure, axes = plt.subplots(rows, columns, figsize=(columns * 1.25, rows * 1.45 + 0.4), squeeze=False, layout="constrained")
    for index, ax in enumerate(axes.flat):
        ax.axis("off")
        if index < len(images):
            ax.imshow(images[index, 0].numpy(), cmap="gray", vmin=0, vmax=255, interpolation="nearest")
            ax.set_title(titles[index], fontsize=8, color=(colours or ["black"] * len(images))[index])
    if title:
        figure.suptitle(title)
    return figure


def plot_confusion(matrix: np.ndarray, names: list[str], title: str) -> plt.Figure:
    """Row-normalised confusion matrix; a power norm keeps small confusions visible."""
    rows = matrix.sum(1, keepdims=True)
    share = np.divide(matrix, rows, out=np.zeros(matrix.shape, dtype=float), where=rows > 0)
    side = max(5.0, 0.16 * len(names) + 2)
    with styled(side + 1.2, side, grid=False) as (figure, axes):  # grid lines would cut through the cells
        image = axes.imshow(share, cmap="magma_r", norm=PowerNorm(gamma=0.4, vmin=0, vmax=1), interpolation="nearest")
        ticks = np.arange(len(names))
        fontsize = 7 if len(names) > 30 else 9
        axes.set_xticks(ticks, names, fontsize=fontsize)
        axes.set_yticks(ticks, names, fontsize=fontsize)
        axes.set(xlabel="predicted", ylabel="true", title=title)
        figure.colorbar(image, ax=axes, fraction=0.04, label="share of the true class (row)")
    return figure


def plot_per_class_accuracy(per_class: pd.DataFrame, title: str) -> plt.Figure:
    """Bars of per-class accuracy in class order, the mean as a line."""
    with styled(max(7.0, 0.15 * len(per_class) + 2), 3.6) as (figure, axes):
        accuracy = per_class["accuracy"].fillna(0)
        colours = plt.cm.RdYlGn(accuracy.to_numpy())
        axes.bar(per_class["class"], accuracy, color=colours, edgecolor="none")
        axes.axhline(per_class["accuracy"].mean(), color="#333", lw=1, ls="--", label=f"mean {per_class['accuracy'].mean():.0%}")
        axes.set_ylim(0, 1.02)
        axes.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:.0%}"))
        axes.tick_params(axis="x", labelsize=7 if len(per_class) > 30 else 9)
        axes.set(title=title, xlabel="class", ylabel="accuracy")
        axes.legend(frameon=False, loc="lower right")
    return figure


def plot_reliability(predictions: pd.DataFrame, temperature: float, title: str) -> plt.Figure:
    """Reliability diagram of a prediction table (``calibration_summary``'s columns): accuracy against mean
    confidence per confidence bin, before and after the temperature; a calibrated model sits on the diagonal."""
    summary = calibration_summary(predictions, temperature)
    correct = (predictions["label"] == predictions["predicted_label"]).to_numpy()
    with styled(5.4, 5.0) as (figure, axes):
        axes.plot([0, 1], [0, 1], color="#777", lw=0.8, ls="--", label="calibrated")
        for column, label, colour in (("uncalibrated_confidence", f"network (ECE {summary['ece_before']:.1%})", "#c0392b"),
                                      ("confidence", f"T = {temperature:.2f} (ECE {summary['ece_after']:.1%})", "#2471a3")):
            table = reliability_table(predictions[column].to_numpy(), correct).query("images > 0")
            axes.plot(table["confidence"], table["accuracy"], marker="o", color=colour, label=label)
            for _, row in table.iterrows():  # how many images each point stands for
                axes.annotate(str(int(row["images"])), (row["confidence"], row["accuracy"]), fontsize=6, color=colour,
                              xytext=(3, -8), textcoords="offset points")
        axes.set(xlim=(0, 1), ylim=(0, 1.02), xlabel="confidence of the top class (mean per bin)", ylabel="accuracy in the bin",
                 title=title)
        axes.xaxis.set_major_formatter(PercentFormatter(1.0))
        axes.yaxis.set_major_formatter(PercentFormatter(1.0))
        axes.legend(frameon=False, loc="upper left")
    return figure


def plot_accuracy_curves(histories: dict[str, pd.DataFrame], title: str, thresholds: tuple[float, ...] = THRESHOLDS) -> plt.Figure:
    """Test accuracy per epoch, one line per run, with the thresholds as thin dashed lines."""
    with styled() as (figure, axes):
        for run, history in histories.items():
            history = history.sort_values("epoch")
            axes.plot(history["epoch"], history["val_accuracy"], marker="o", markersize=3, label=run)
        for threshold in thresholds:
            # no label: the legend lists runs only; the percent axis already names the level
            axes.axhline(threshold, color="#777", lw=0.7, ls="--", zorder=0)
        epoch_axes(axes, title, "test accuracy", percent=True, loc="lower right")
    return figure


def plot_loss_curves(histories: dict[str, pd.DataFrame], title: str) -> plt.Figure:
    """Train loss (solid) and test loss (dashed) per epoch, one colour per run, log scale."""
    with styled() as (figure, axes):
        for index, (run, history) in enumerate(histories.items()):
            history, colour = history.sort_values("epoch"), f"C{index}"
            axes.plot(history["epoch"], history["train_loss"], color=colour, marker="o", markersize=3, label=f"{run} train")
            axes.plot(history["epoch"], history["val_loss"], color=colour, ls="--", marker="o", markersize=3,
                      label=f"{run} test")
        # losses fall by orders of magnitude; on a linear axis the late epochs, where runs differ, look flat
        axes.set_yscale("log")
        epoch_axes(axes, title, "cross-entropy loss (log scale)")
    return figure


def compare_runs(histories: dict[str, pd.DataFrame], title: str) -> tuple[pd.DataFrame, plt.Figure, plt.Figure]:
    """The summary table and both figures (test accuracy, losses) for ``histories``: what every
    experiment's comparison node returns."""
    return run_summary(histories), plot_accuracy_curves(histories, f"{title}: test accuracy"), plot_loss_curves(histories, f"{title}: loss")


def plot_learning_curve(table: pd.DataFrame, title: str) -> plt.Figure:
    """Test accuracy against training size (log scale), from one row per run (``size``, ``start``, ``test_accuracy``):
    every run a faint dot, every start its mean over seeds with error bars of one standard deviation (n-1)."""
    sizes = sorted(table["size"].unique())
    with styled() as (figure, axes):
        starts = list(dict.fromkeys(table["start"]))
        for index, start in enumerate(starts):
            runs, colour = table[table["start"] == start], f"C{index}"
            shift = 1 + 0.03 * (index - (len(starts) - 1) / 2)  # side by side, so that the bars do not hide each other
            stats = runs.groupby("size")["test_accuracy"].agg(["mean", "std"]).fillna(0.0)
            axes.scatter(runs["size"] * shift, runs["test_accuracy"], color=colour, s=12, alpha=0.35, lw=0)
            axes.errorbar(stats.index * shift, stats["mean"], yerr=stats["std"], color=colour, marker="o", markersize=4,
                          capsize=3, label=f"{start} (mean ± sd over seeds)")
        axes.set_xscale("log")
        axes.set_xticks(sizes, [f"{size:,}" for size in sizes], minor=False)
        axes.xaxis.set_minor_locator(plt.NullLocator())
        axes.set(title=title, xlabel="MNIST training images (log scale)", ylabel="test accuracy")
        axes.yaxis.set_major_formatter(PercentFormatter(xmax=1.0))
        axes.legend(frameon=False, loc="lower right")
    return figure


def plot_noise_matrices(estimate: np.ndarray, class_names: list[str], truth: np.ndarray | None = None) -> plt.Figure:
    """Heat map of the estimated noise matrix, beside the true one when given, each cell's value in percent."""
    panels = [(np.asarray(estimate, dtype=float), "estimated", "true (clean model)")]
    if truth is not None:
        panels.append((np.asarray(truth, dtype=float), "true", "true"))
    # One norm for all panels, so that a colour means the same share in each; the power
    # norm keeps the small off-diagonal shares visible next to a large diagonal.
    norm = PowerNorm(gamma=0.5, vmin=0.0, vmax=1.0)
    side = max(4.0, 0.45 * len(class_names) + 1.5)
    ticks = np.arange(len(class_names))
    fontsize = 6 if len(class_names) > 15 else 8
    # grid lines would cut through the cells
    with styled(side * len(panels) + 1.0, side, grid=False, panels=(1, len(panels))) as (figure, axes):
        for ax, (matrix, title, row_label) in zip(axes[0], panels):
            image = ax.imshow(matrix, cmap="magma_r", norm=norm, interpolation="nearest")
            for (row, column), value in np.ndenumerate(matrix):
                if not np.isnan(value):
                    colour = "white" if norm(value) > 0.6 else "black"  # readable on dark and light cells
                    ax.text(column, row, f"{value:.0%}", ha="center", va="center", fontsize=fontsize, color=colour)
            ax.set_xticks(ticks, class_names)
            ax.set_yticks(ticks, class_names)
            ax.set(title=title, xlabel="given label", ylabel=row_label)
        figure.colorbar(image, ax=list(axes[0]), fraction=0.04, label="share of the row")
    return figure


def plot_wrong_share(table: pd.DataFrame) -> plt.Figure:
    """Bars per folder of the estimated share of wrong labels, beside the true share when the table has it."""
    series = [("estimated_wrong_share", "estimated", "#4c72b0")]
    if "true_wrong_share" in table.columns:
        series.append(("true_wrong_share", "true", "#dd8452"))
    width, positions = 0.8 / len(series), np.arange(len(table))
    with styled(max(7.0, 0.3 * len(table) + 2), 3.6) as (figure, axes):
        for index, (column, label, colour) in enumerate(series):
            offset = (index - (len(series) - 1) / 2) * width
            axes.bar(positions + offset, table[column].fillna(0.0), width, label=label, color=colour, edgecolor="none")
        axes.set_xticks(positions, table["folder"])
        axes.yaxis.set_major_formatter(plt.FuncFormatter(lambda value, _: f"{value:.0%}"))
        axes.set(title="images whose label differs from the class", xlabel="folder (given label)", ylabel="wrong labels")
        axes.legend(frameon=False)
    return figure


def plot_folder_grid(
    images: Any, given_labels: Any, class_names: list[str], per_folder: int = 10, predicted_labels: Any = None, seed: int = 0
) -> plt.Figure:
    """One row per folder of up to ``per_folder`` of its uint8 images [N, 1, S, S], drawn with ``seed``; with
    ``predicted_labels``, each image titled with its prediction, in red where that differs from the folder."""
    if per_folder < 1:
        raise ValueError(f"per_folder must be at least 1, got {per_folder}")
    pixels = to_numpy(images)
    pixels = pixels.reshape(len(pixels), *pixels.shape[-2:])  # [N, 1, S, S] or [N, S, S] -> [N, S, S]
    given = as_labels(given_labels, len(class_names), "given_labels")
    predicted = None if predicted_labels is None else as_labels(predicted_labels, len(class_names), "predicted_labels")
    rng, rows = np.random.default_rng(seed), len(class_names)
    with styled(per_folder * 0.9 + 0.8, rows * 0.95 + 0.3, grid=False, panels=(rows, per_folder)) as (figure, axes):
        for folder, row_axes in enumerate(axes):
            members = np.flatnonzero(given == folder)
            chosen = np.sort(rng.choice(members, size=min(per_folder, len(members)), replace=False))
            for ax in row_axes:  # ticks and frame off by hand: axis("off") would hide the row label too
                ax.set(xticks=[], yticks=[])
                ax.spines[:].set_visible(False)
            row_axes[0].set_ylabel(class_names[folder], rotation=0, ha="right", va="center", fontsize=10)
            for ax, index in zip(row_axes, chosen):
                ax.imshow(pixels[index], cmap="gray", vmin=0, vmax=255, interpolation="nearest")
                if predicted is not None:
                    wrong = predicted[index] != folder
                    ax.set_title(class_names[predicted[index]], fontsize=7, pad=2, color=_WRONG_COLOUR if wrong else "black")
    return figure
