"""Per-class accuracy, confusions and their figures."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from playing_with_mnist.analysis.figures import plot_confusion
from playing_with_mnist.analysis.metrics import confusion_counts, most_confused_pairs, per_class_accuracy, prediction_table

NAMES = ["0", "O", "o"]


def table() -> pd.DataFrame:
    # true 0,0,0,O,O,o ; predicted 0,O,O,O,0,o
    probabilities = torch.tensor([[0.8, 0.1, 0.1], [0.3, 0.6, 0.1], [0.2, 0.7, 0.1], [0.1, 0.8, 0.1], [0.5, 0.4, 0.1], [0.1, 0.1, 0.8]])
    return prediction_table(probabilities, torch.tensor([0, 0, 0, 1, 1, 2]), NAMES, [f"f{i}.png" for i in range(6)])


def test_prediction_table() -> None:
    t = table()
    assert t["predicted"].tolist() == ["0", "O", "O", "O", "0", "o"]
    assert np.allclose(t["loss"], -np.log([0.8, 0.3, 0.2, 0.8, 0.4, 0.8]), atol=1e-6)


def test_confusions_and_per_class_accuracy() -> None:
    matrix = confusion_counts(table(), 3)
    assert matrix.tolist() == [[1, 2, 0], [1, 1, 0], [0, 0, 1]]
    per_class = per_class_accuracy(table(), NAMES)
    assert per_class["accuracy"].round(3).tolist() == [0.333, 0.5, 1.0]
    pairs = most_confused_pairs(matrix, NAMES, top=10)
    assert pairs.to_dict("records") == [{"true": "0", "predicted": "O", "count": 2}, {"true": "O", "predicted": "0", "count": 1}]


def test_a_class_without_images_has_no_accuracy() -> None:
    per_class = per_class_accuracy(table(), NAMES + ["x"])
    assert per_class["images"].tolist()[-1] == 0 and np.isnan(per_class["accuracy"].iloc[-1])


def test_confusion_figure_is_row_normalised() -> None:
    figure = plot_confusion(confusion_counts(table(), 3), NAMES, "t")
    shown = figure.axes[0].images[0].get_array()
    assert np.allclose(np.asarray(shown).sum(1), 1.0)
    assert [t.get_text() for t in figure.axes[0].get_xticklabels()] == NAMES
