"""Figures of the label-noise analysis (``noise``): the noise matrices, the wrong-label share
per folder, and a grid of every folder's images titled with the clean model's reading."""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.colors import PowerNorm

from playing_with_mnist.noise import as_labels, to_numpy
from playing_with_mnist.reporting import STYLE, new_figure

_WRONG_COLOUR = "#c0392b"


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
    with plt.rc_context({**STYLE, "axes.grid": False}):  # grid lines would cut through the cells
        figure, axes = plt.subplots(1, len(panels), figsize=(side * len(panels) + 1.0, side), squeeze=False, layout="constrained")
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
    figure, axes = new_figure(max(7.0, 0.3 * len(table) + 2), 3.6)
    width = 0.8 / len(series)
    positions = np.arange(len(table))
    with plt.rc_context(STYLE):
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
    """One row per folder of up to ``per_folder`` of its uint8 images [N, 1, S, S], drawn with ``seed``.

    With ``predicted_labels``, each image is titled with its prediction, in red where
    that differs from the folder.
    """
    if per_folder < 1:
        raise ValueError(f"per_folder must be at least 1, got {per_folder}")
    pixels = to_numpy(images)
    pixels = pixels.reshape(len(pixels), *pixels.shape[-2:])  # [N, 1, S, S] or [N, S, S] -> [N, S, S]
    given = as_labels(given_labels, len(class_names), "given_labels")
    predicted = None if predicted_labels is None else as_labels(predicted_labels, len(class_names), "predicted_labels")
    rng = np.random.default_rng(seed)
    rows = len(class_names)
    with plt.rc_context({**STYLE, "axes.grid": False}):
        figure, axes = plt.subplots(rows, per_folder, figsize=(per_folder * 0.9 + 0.8, rows * 0.95 + 0.3), squeeze=False, layout="constrained")
        for folder, row_axes in enumerate(axes):
            members = np.flatnonzero(given == folder)
            chosen = np.sort(rng.choice(members, size=min(per_folder, len(members)), replace=False))
            for ax in row_axes:
                # Ticks and frame off by hand, not axis("off"), which would hide the row label too.
                ax.set_xticks([])
                ax.set_yticks([])
                ax.spines[:].set_visible(False)
            row_axes[0].set_ylabel(class_names[folder], rotation=0, ha="right", va="center", fontsize=10)
            for ax, index in zip(row_axes, chosen):
                ax.imshow(pixels[index], cmap="gray", vmin=0, vmax=255, interpolation="nearest")
                if predicted is not None:
                    wrong = predicted[index] != folder
                    ax.set_title(class_names[predicted[index]], fontsize=7, pad=2, color=_WRONG_COLOUR if wrong else "black")
    return figure
