"""Temperature scaling and the expected calibration error, on logits whose right answer is known."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch

from playing_with_mnist.analysis.calibration import (
    calibrated,
    calibration_summary,
    expected_calibration_error,
    fit_temperature,
    reliability_table,
)


def overconfident_logits(n: int = 4000, classes: int = 5, true_temperature: float = 3.0, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits whose labels are drawn from softmax(logits / true_temperature): the network is ``true_temperature``
    times too sure of itself, and the right fitted temperature is ``true_temperature``."""
    generator = torch.Generator().manual_seed(seed)
    logits = torch.randn(n, classes, generator=generator) * 6
    labels = torch.multinomial((logits / true_temperature).softmax(1), 1, generator=generator).squeeze(1)
    return logits, labels


def test_fit_temperature_recovers_the_temperature_the_labels_were_drawn_with() -> None:
    logits, labels = overconfident_logits()
    assert fit_temperature(logits, labels) == pytest.approx(3.0, rel=0.1)


def test_fitting_lowers_the_log_loss_and_keeps_every_top_class() -> None:
    logits, labels = overconfident_logits()
    temperature = fit_temperature(logits, labels)
    before = torch.nn.functional.nll_loss(calibrated(logits, 1.0).log(), labels)
    after = torch.nn.functional.nll_loss(calibrated(logits, temperature).log(), labels)
    assert after < before
    assert torch.equal(calibrated(logits, temperature).argmax(1), logits.argmax(1))


def test_nothing_to_fit_on_leaves_the_logits_as_they_are() -> None:
    assert fit_temperature(torch.empty(0, 5), torch.empty(0, dtype=torch.long)) == 1.0


def test_ece_by_hand() -> None:
    # bin (0.8, 0.867]: confidences 0.85, 0.85, 1 of 2 right -> gap 0.35; bin (0.933, 1]: 1.0, 1.0, both right -> gap 0
    confidence, correct = np.array([0.85, 0.85, 1.0, 1.0]), np.array([1, 0, 1, 1])
    assert expected_calibration_error(confidence, correct) == pytest.approx(0.5 * 0.35)
    table = reliability_table(confidence, correct)
    assert table["images"].sum() == 4 and (table["images"] > 0).sum() == 2
    assert table.loc[table["images"] > 0, "accuracy"].tolist() == [0.5, 1.0]


def test_a_calibrated_model_has_a_small_ece_and_temperature_scaling_reaches_it() -> None:
    logits, labels = overconfident_logits(n=20000)
    table = pd.DataFrame({"label": labels.numpy(), "predicted_label": logits.argmax(1).numpy(),
                          "uncalibrated_confidence": calibrated(logits, 1.0).amax(1).numpy(),
                          "confidence": calibrated(logits, 3.0).amax(1).numpy()})
    summary = calibration_summary(table, 3.0)
    assert summary["ece_after"] < 0.02 < 0.1 < summary["ece_before"]
    assert summary["bins"] == 15 and summary["images"] == 20000 and math.isclose(summary["temperature"], 3.0)
