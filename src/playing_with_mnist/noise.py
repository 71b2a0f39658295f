"""Label noise: estimate it with a clean model and find the suspect labels (figures: ``noise_figures``).

The images of a noisy set sit in folders named by a *given* label that is often wrong.
A model trained on clean data stands in for the true class: counting (prediction,
given label) pairs estimates the noise matrix P(given label | true class). Labels
go in as integer class indices (numpy arrays or torch tensors), probabilities as
float [N, C] rows that sum to 1. Nothing here writes files.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

logger = logging.getLogger(__name__)

POLICIES = ("drop", "relabel", "none")
_MIN_PROBABILITY = 1e-12  # a probability of exactly 0 would make the loss infinite


def to_numpy(values: Any) -> np.ndarray:
    # Torch tensors (possibly on a GPU) go through .cpu(); torch itself need not be imported.
    if hasattr(values, "detach"):
        values = values.detach().cpu().numpy()
    return np.asarray(values)


def as_labels(values: Any, num_classes: int, name: str) -> np.ndarray:
    """``values`` as a new int64 array, checked to be class indices in [0, num_classes)."""
    labels = to_numpy(values).astype(np.int64).ravel()  # astype copies: the caller's array stays as it was
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"{name} must lie in [0, {num_classes}), got {labels.min()}..{labels.max()}")
    return labels


def _row_shares(rows: Any, columns: Any, num_classes: int) -> np.ndarray:
    """Counts of (row, column) pairs [C, C], each row divided by its total; an empty row is NaN."""
    row_labels, column_labels = as_labels(rows, num_classes, "rows"), as_labels(columns, num_classes, "columns")
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
    given = as_labels(given_labels, num_classes, "given_labels")
    images = np.bincount(given, minlength=num_classes)

    def other_labels(other: Any, name: str) -> np.ndarray:
        labels = as_labels(other, num_classes, name)
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
    probabilities = to_numpy(probabilities).astype(np.float64)
    if probabilities.ndim != 2:
        raise ValueError(f"probabilities must be [N, C], got shape {probabilities.shape}")
    given = as_labels(given_labels, probabilities.shape[1], "given_labels")
    if len(given) != len(probabilities):
        raise ValueError(f"{len(given)} labels for {len(probabilities)} rows of probabilities")
    loss = -np.log(np.clip(probabilities[np.arange(len(given)), given], _MIN_PROBABILITY, 1.0))
    top = probabilities.argmax(axis=1)
    return (loss > loss_threshold) & (top != given) & (probabilities.max(axis=1) >= min_confidence)


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
    labels = to_numpy(given_labels).ravel().copy()  # a copy, so relabelling never writes into the caller's array
    suspect = to_numpy(suspect).astype(bool).ravel()  # ~ on an int array would not be "not"
    if len(suspect) != len(labels):
        raise ValueError(f"suspect has {len(suspect)} flags for {len(labels)} labels")
    kept = np.arange(len(labels), dtype=np.int64)
    if policy == "drop":
        kept = kept[~suspect]
    elif policy == "relabel":
        labels[suspect] = to_numpy(probabilities).argmax(axis=1)[suspect].astype(labels.dtype)
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
