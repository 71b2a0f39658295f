"""Label noise: estimate it with a clean model, find the suspect labels, and draw both.

The images of a noisy set sit in folders named by a *given* label that is often wrong.
A model trained on clean data stands in for the true class: counting (prediction,
given label) pairs estimates the noise matrix P(given label | true class). Labels
go in as integer class indices (numpy arrays or torch tensors), probabilities as
float [N, C] rows that sum to 1. Nothing here writes files; figures are returned.
"""

from __future__ import annotations

import logging
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.colors import PowerNorm

from playing_with_mnist.reporting import STYLE, new_figure

logger = logging.getLogger(__name__)

POLICIES = ("drop", "relabel", "none")
_MIN_PROBABILITY = 1e-12  # a probability of exactly 0 would make the loss infinite
_WRONG_COLOUR = "#c0392b"


def _to_numpy(values: Any) -> np.ndarray:
    # Torch tensors (possibly on a GPU) go through .cpu(); torch itself need not be imported.
    if hasattr(values, "detach"):
        values = values.detach().cpu().numpy()
    return np.asarray(values)


def _labels(values: Any, num_classes: int, name: str) -> np.ndarray:
    """``values`` as a new int64 array, checked to be class indices in [0, num_classes)."""
    labels = _to_numpy(values).astype(np.int64).ravel()  # astype copies: the caller's array stays as it was
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"{name} must lie in [0, {num_classes}), got {labels.min()}..{labels.max()}")
    return labels


def _row_shares(rows: Any, columns: Any, num_classes: int) -> np.ndarray:
    """Counts of (row, column) pairs [C, C], each row divided by its total; an empty row is NaN."""
    row_labels, column_labels = _labels(rows, num_classes, "rows"), _labels(columns, num_classes, "columns")
    if len(row_labels) != len(column_labels):
        raise ValueError(f"label arrays differ in length: {len(row_labels)} and {len(column_labels)}")
    # One bincount over flat cell indices is much faster than np.add.at for large N.
    counts = np.bincount(row_labels * num_classes + column_labels, minlength=num_classes**2).reshape(num_classes, num_classes)
    totals = counts.sum(axis=1, keepdims=True)
    empty = np.flatnonzero(totals[:, 0] == 0)
    if empty.size:
        logger.warning("No samples for classes %s: their rows of the noise matrix are NaN", empty.tolist())
    return np.divide(counts, totals, out=np.full(counts.shape, np.nan), where=totals > 0)


def noise_matrix_estimate(given_labels: Any, predicted_labels: Any, num_classes: int) -> np.ndarray:
    """Estimated P(given label | true class) [C, C]: rows the clean model's prediction, columns the given label."""
    return _row_shares(predicted_labels, given_labels, num_classes)


def empirical_noise_matrix(given_labels: Any, true_labels: Any, num_classes: int) -> np.ndarray:
    """The noise matrix [C, C] actually realised in a sample whose true labels are known."""
    return _row_shares(true_labels, given_labels, num_classes)


def matrix_difference(estimate: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """Mean, max and diagonal-mean absolute error of ``estimate`` against ``truth`` (both [C, C]).

    Rows that are NaN in either matrix (a class without samples) are left out; with no
    row left, every value is NaN.
    """
    estimate, truth = np.asarray(estimate, dtype=np.float64), np.asarray(truth, dtype=np.float64)
    if estimate.shape != truth.shape or estimate.ndim != 2 or estimate.shape[0] != estimate.shape[1]:
        raise ValueError(f"need two square matrices of one shape, got {estimate.shape} and {truth.shape}")
    rows = ~(np.isnan(estimate).any(axis=1) | np.isnan(truth).any(axis=1))
    if not rows.any():
        return {"mean_abs_error": float("nan"), "max_abs_error": float("nan"), "diagonal_mean_abs_error": float("nan")}
    error = np.abs(estimate - truth)
    return {
        "mean_abs_error": float(error[rows].mean()),
        "max_abs_error": float(error[rows].max()),
        "diagonal_mean_abs_error": float(np.diag(error)[rows].mean()),
    }


def wrong_label_share(given_labels: Any, predicted_labels: Any, class_names: list[str], true_labels: Any = None) -> pd.DataFrame:
    """Per folder (given label): ``folder``, ``images``, ``estimated_wrong_share``, ``main_reading``,
    ``main_reading_share`` and, with true labels, ``true_wrong_share``.

    A share is the fraction of the folder's images whose prediction (or true label)
    differs from the folder; it is NaN for an empty folder. ``main_reading`` is the class
    the clean model reads most often in the folder and ``main_reading_share`` its share:
    where labels are systematically wrong it names the digit the folder really holds
    (folder "3" mostly 7s), which no share of wrong labels says. An empty folder has neither.
    """
    num_classes = len(class_names)
    given = _labels(given_labels, num_classes, "given_labels")
    images = np.bincount(given, minlength=num_classes)

    def other_labels(other: Any, name: str) -> np.ndarray:
        labels = _labels(other, num_classes, name)
        if len(labels) != len(given):
            raise ValueError(f"{name} has {len(labels)} labels, given_labels {len(given)}")
        return labels

    def share_wrong(labels: np.ndarray) -> np.ndarray:
        wrong = np.bincount(given[labels != given], minlength=num_classes)
        return np.divide(wrong, images, out=np.full(num_classes, np.nan), where=images > 0)

    predicted = other_labels(predicted_labels, "predicted_labels")
    readings = np.bincount(given * num_classes + predicted, minlength=num_classes**2).reshape(num_classes, num_classes)
    table = pd.DataFrame({
        "folder": list(class_names), "images": images, "estimated_wrong_share": share_wrong(predicted),
        "main_reading": [class_names[c] if n else None for c, n in zip(readings.argmax(axis=1), images)],
        "main_reading_share": np.divide(readings.max(axis=1), images, out=np.full(num_classes, np.nan), where=images > 0),
    })
    if true_labels is not None:
        table["true_wrong_share"] = share_wrong(other_labels(true_labels, "true_labels"))
    return table


def flag_suspect_labels(given_labels: Any, probabilities: Any, loss_threshold: float, min_confidence: float) -> np.ndarray:
    """Bool [N]: the clean model's loss -log p[given] exceeds ``loss_threshold`` and it picks another class with p >= ``min_confidence``.

    Both conditions are needed: a high loss alone also marks images the model merely
    finds hard (flat probabilities), which are not evidence of a wrong label.
    """
    probabilities = _to_numpy(probabilities).astype(np.float64)
    if probabilities.ndim != 2:
        raise ValueError(f"probabilities must be [N, C], got shape {probabilities.shape}")
    given = _labels(given_labels, probabilities.shape[1], "given_labels")
    if len(given) != len(probabilities):
        raise ValueError(f"{len(given)} labels for {len(probabilities)} rows of probabilities")
    loss = -np.log(np.clip(probabilities[np.arange(len(given)), given], _MIN_PROBABILITY, 1.0))
    top = probabilities.argmax(axis=1)
    return (loss > loss_threshold) & (top != given) & (probabilities.max(axis=1) >= min_confidence)


def clean_labels(
    given_labels: Any, probabilities: Any, policy: str, loss_threshold: float, min_confidence: float
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Apply ``policy`` to the suspect labels (see :func:`flag_suspect_labels` and :func:`apply_label_policy`)."""
    suspect = flag_suspect_labels(given_labels, probabilities, loss_threshold, min_confidence)
    return apply_label_policy(given_labels, probabilities, suspect, policy)


def apply_label_policy(
    given_labels: Any, probabilities: Any, suspect: np.ndarray, policy: str
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Apply ``policy`` to the labels marked in ``suspect`` (bool [N]).

    Returns ``(kept, labels, summary)``: int64 indices of the images kept, their labels
    (the given labels' dtype), and ``{policy, images, suspects, dropped, relabelled}``.
    "drop" leaves suspects out, "relabel" keeps all and gives suspects the model's top
    class, "none" changes nothing (the suspects are still counted).
    """
    if policy not in POLICIES:
        raise ValueError(f"unknown label policy {policy!r}; valid policies are {', '.join(POLICIES)}")
    labels = _to_numpy(given_labels).ravel().copy()  # a copy, so relabelling never writes into the caller's array
    suspect = _to_numpy(suspect).astype(bool).ravel()  # ~ on an int array would not be "not"
    if len(suspect) != len(labels):
        raise ValueError(f"suspect has {len(suspect)} flags for {len(labels)} labels")
    kept = np.arange(len(labels), dtype=np.int64)
    if policy == "drop":
        kept = kept[~suspect]
    elif policy == "relabel":
        labels[suspect] = _to_numpy(probabilities).argmax(axis=1)[suspect].astype(labels.dtype)
    suspects = int(suspect.sum())  # a plain int, not numpy's, so the summary serialises anywhere
    if policy == "drop" and suspects > len(labels) / 2:
        logger.warning("Label policy drop leaves %d of %d images: most labels look wrong (systematic noise?); "
                       "policy relabel would keep them with the clean model's label", len(labels) - suspects, len(labels))
    summary = {
        "policy": policy, "images": len(labels), "suspects": suspects,
        "dropped": suspects if policy == "drop" else 0, "relabelled": suspects if policy == "relabel" else 0,
    }
    logger.info("Label policy %s: %d of %d images suspect, %d dropped, %d relabelled",
                policy, summary["suspects"], summary["images"], summary["dropped"], summary["relabelled"])
    return kept, labels[kept], summary


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
    pixels = _to_numpy(images)
    pixels = pixels.reshape(len(pixels), *pixels.shape[-2:])  # [N, 1, S, S] or [N, S, S] -> [N, S, S]
    given = _labels(given_labels, len(class_names), "given_labels")
    predicted = None if predicted_labels is None else _labels(predicted_labels, len(class_names), "predicted_labels")
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
