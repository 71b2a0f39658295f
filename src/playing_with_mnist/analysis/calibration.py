"""Honest confidences: one temperature fitted on held-out logits (Guo et al. 2017, "On Calibration of
Modern Neural Networks"), and the expected calibration error that says how far a confidence is from
the accuracy it promises."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from scipy.optimize import minimize_scalar

ECE_BINS = 15
# log(T) is searched in [-4, 4]: T from 0.02 to 55, far beyond what any trained network needs.
_LOG_T_BOUNDS = (-4.0, 4.0)


def calibrated(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """Class probabilities: ``softmax(logits / temperature)``. The top class never changes with the temperature."""
    return (logits.float() / temperature).softmax(1)


def fit_temperature(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """The temperature T > 0 that minimises the mean negative log-likelihood of ``softmax(logits / T)`` on
    ``labels`` (logits [N, C] of held-out images). 1.0 when there is nothing to fit on."""
    if len(labels) == 0:
        return 1.0
    logits64, labels = logits.double(), labels.long()

    def nll(log_t: float) -> float:
        return F.cross_entropy(logits64 / math.exp(log_t), labels).item()

    found = minimize_scalar(nll, bounds=_LOG_T_BOUNDS, method="bounded", options={"xatol": 1e-4})
    return float(math.exp(found.x))


def reliability_table(confidence: np.ndarray, correct: np.ndarray, bins: int = ECE_BINS) -> pd.DataFrame:
    """Per confidence bin ((0, 1] cut into ``bins`` equal widths): images, mean confidence, accuracy."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.searchsorted(edges, confidence, side="left") - 1, 0, bins - 1)
    frame = pd.DataFrame({"bin": which, "confidence": confidence, "correct": np.asarray(correct, dtype=float)})
    grouped = frame.groupby("bin").agg(images=("correct", "size"), confidence=("confidence", "mean"), accuracy=("correct", "mean"))
    table = grouped.reindex(range(bins))
    table["images"] = table["images"].fillna(0).astype(int)
    return table.assign(lower=edges[:-1], upper=edges[1:]).reset_index(drop=True)


def expected_calibration_error(confidence: np.ndarray, correct: np.ndarray, bins: int = ECE_BINS) -> float:
    """ECE: the image-weighted mean gap |accuracy - mean confidence| over equal-width confidence bins."""
    table = reliability_table(confidence, correct, bins)
    used = table[table["images"] > 0]
    if used.empty:
        return math.nan
    return float((used["images"] * (used["accuracy"] - used["confidence"]).abs()).sum() / used["images"].sum())


def calibration_summary(predictions: pd.DataFrame, temperature: float) -> dict[str, float | int]:
    """Of a prediction table with ``confidence`` (after the temperature) and ``uncalibrated_confidence``:
    the temperature and the ECE before and after it, on these images."""
    correct = (predictions["label"] == predictions["predicted_label"]).to_numpy()
    return {
        "temperature": float(temperature), "bins": ECE_BINS, "images": len(predictions),
        "ece_before": expected_calibration_error(predictions["uncalibrated_confidence"].to_numpy(), correct),
        "ece_after": expected_calibration_error(predictions["confidence"].to_numpy(), correct),
    }
