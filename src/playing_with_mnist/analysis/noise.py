"""Label noise: the images of a noisy set sit in folders named by a *given* label that is often
wrong. A model trained on clean data stands in for the true class: counting (prediction, given
label) pairs estimates the noise matrix P(given label | true class). Labels go in as integer class
indices (numpy arrays or torch tensors), probabilities as float [N, C] rows that sum to 1."""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np
import pandas as pd

from .metrics import pair_counts

logger = logging.getLogger(__name__)

POLICIES = ("drop", "relabel", "none")
_MIN_PROBABILITY = 1e-12  # a probability of exactly 0 would make the loss infinite


def to_numpy(values: Any) -> np.ndarray:
    """A numpy array of ``values`` (a torch tensor, possibly on a GPU, goes through ``.cpu()``)."""
    return np.asarray(values.detach().cpu().numpy() if hasattr(values, "detach") else values)


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
    counts = pair_counts(row_labels, column_labels, num_classes)
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
    """Mean, max and diagonal-mean absolute error of ``estimate`` against ``truth`` (both [C, C]), over the rows
    that are not NaN in either (a class without samples); NaN with no row left."""
    estimate, truth = np.asarray(estimate, dtype=np.float64), np.asarray(truth, dtype=np.float64)
    if estimate.shape != truth.shape or estimate.ndim != 2 or estimate.shape[0] != estimate.shape[1]:
        raise ValueError(f"need two square matrices of one shape, got {estimate.shape} and {truth.shape}")
    rows = ~(np.isnan(estimate).any(axis=1) | np.isnan(truth).any(axis=1))
    error = np.abs(estimate - truth)
    values = (error[rows].mean(), error[rows].max(), np.diag(error)[rows].mean()) if rows.any() else (math.nan,) * 3
    return dict(zip(("mean_abs_error", "max_abs_error", "diagonal_mean_abs_error"), map(float, values)))


def wrong_label_share(given_labels: Any, predicted_labels: Any, class_names: list[str], true_labels: Any = None) -> pd.DataFrame:
    """Per folder (given label): ``folder``, ``images``, ``estimated_wrong_share``, ``main_reading``,
    ``main_reading_share`` and, with true labels, ``true_wrong_share``.

    A share is the fraction of the folder's images whose prediction (or true label) differs from
    the folder (NaN for an empty folder). ``main_reading`` is the class the clean model reads most
    often in the folder: with systematic noise, the digit the folder really holds.
    """
    num_classes = len(class_names)
    given = as_labels(given_labels, num_classes, "given_labels")
    images = np.bincount(given, minlength=num_classes)

    def share(counts: np.ndarray) -> np.ndarray:
        return np.divide(counts, images, out=np.full(num_classes, np.nan), where=images > 0)

    def checked(other: Any, name: str) -> np.ndarray:
        if len(labels := as_labels(other, num_classes, name)) != len(given):
            raise ValueError(f"{name} has {len(labels)} labels, given_labels {len(given)}")
        return labels

    predicted = checked(predicted_labels, "predicted_labels")
    readings = pair_counts(given, predicted, num_classes)
    table = pd.DataFrame({
        "folder": list(class_names), "images": images,
        "estimated_wrong_share": share(np.bincount(given[predicted != given], minlength=num_classes)),
        "main_reading": [class_names[c] if n else None for c, n in zip(readings.argmax(axis=1), images)],
        "main_reading_share": share(readings.max(axis=1)),
    })
    if true_labels is not None:
        wrong = checked(true_labels, "true_labels") != given
        table["true_wrong_share"] = share(np.bincount(given[wrong], minlength=num_classes))
    return table


def flag_suspect_labels(given_labels: Any, probabilities: Any, loss_threshold: float, min_confidence: float) -> np.ndarray:
    """Bool [N]: the clean model's loss -log p[given] exceeds ``loss_threshold`` and it picks another class with
    p >= ``min_confidence`` (a high loss alone also marks images it merely finds hard, flat probabilities)."""
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
    """``(kept, labels, summary)`` after ``policy`` on the labels marked in ``suspect`` (bool [N]): int64 indices of
    the images kept, their labels (the given labels' dtype) and ``{policy, images, suspects, dropped, relabelled}``.
    "drop" leaves suspects out, "relabel" gives them the model's top class, "none" changes nothing (but counts)."""
    if policy not in POLICIES:
        raise ValueError(f"unknown label policy {policy!r}; valid policies are {', '.join(POLICIES)}")
    labels = to_numpy(given_labels).ravel().copy()  # a copy, so relabelling never writes into the caller's array
    suspect = to_numpy(suspect).astype(bool).ravel()  # ~ on an int array would not be "not"
    if len(suspect) != len(labels):
        raise ValueError(f"suspect has {len(suspect)} flags for {len(labels)} labels")
    kept = np.flatnonzero(~suspect) if policy == "drop" else np.arange(len(labels), dtype=np.int64)
    if policy == "relabel":
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
