"""The report nodes: metrics from the history, graphs, the Results document."""

from __future__ import annotations

from dataclasses import replace

import matplotlib.pyplot as plt
import pandas as pd
import pytest

from playing_with_mnist.models import ResNetConfig
from playing_with_mnist.pipelines.report.nodes import plot_accuracy, plot_loss, summarise_training
from playing_with_mnist.pipelines.report.results_document import write_results_document
from playing_with_mnist.training.checkpoints import TrainedModel, TrainingRun
from playing_with_mnist.training.config import TrainConfig

HISTORY = pd.DataFrame({
    "epoch": [1, 2, 3], "train_loss": [2.0, 1.0, 0.5], "train_accuracy": [0.2, 0.6, 0.5],
    "val_loss": [2.1, 1.2, 1.3], "val_accuracy": [0.25, 0.55, 0.5], "seconds": [3.0, 2.0, 2.0], "train_seconds": [2.5, 1.5, 1.5],
})
MODEL = TrainedModel(
    model_config=ResNetConfig(num_classes=4), state_dict={}, class_names=["0", "1", "o", "O"], class_folders=["0", "1", "o", "O"],
    train_config=TrainConfig(), run=TrainingRun(device="cpu (test)", precision="bf16"),
    source={"kind": "synthetic demo", "seed": 0, "generator_version": 1}, fingerprint="", temperature=2.0,
)
# The saved model's validation predictions: 3 of 4 right; the one wrong is "o" read as "O".
PREDICTIONS = pd.DataFrame({"label": [0, 1, 2, 3], "predicted_label": [0, 1, 3, 3],
                            "true": ["0", "1", "o", "O"], "predicted": ["0", "1", "O", "O"],
                            "confidence": [0.9, 0.8, 0.6, 0.7], "uncalibrated_confidence": [0.99, 0.95, 0.9, 0.9]})
SUMMARY = {"images": 160, "classes": 4, "image_size": 32, "skipped_entries": {"macOS metadata": 3, "not an image": 1},
           "broken_images": ["train/A/x.png: cannot decode image"], "empty_class_folders": ["Z"]}


def test_metrics_are_the_seeds_four_accuracies_with_their_epochs() -> None:
    metrics = summarise_training(HISTORY, MODEL, PREDICTIONS)
    assert (metrics["max_train_accuracy"], metrics["max_train_accuracy_epoch"]) == (0.6, 2)
    assert (metrics["max_val_accuracy"], metrics["max_val_accuracy_epoch"]) == (0.55, 2)
    assert (metrics["last_train_accuracy"], metrics["last_val_accuracy"]) == (0.5, 0.5)
    assert metrics["data_source_description"] == "synthetic demo (seed 0, generator v1)"
    assert metrics["precision"] == "bf16" and metrics["training_seconds"] == pytest.approx(7.0)


def test_metrics_give_the_calibration_error_before_and_after_the_temperature() -> None:
    calibration = summarise_training(HISTORY, MODEL, PREDICTIONS)["calibration"]
    # after: each image alone in its bin, gaps 0.1, 0.2, 0.6, 0.3; before: 0.99 and 0.95 share a bin (both right,
    # gap 0.03), the two 0.9 share one (one right, gap 0.4)
    assert calibration["ece_after"] == pytest.approx(0.3)
    assert calibration["ece_before"] == pytest.approx((2 * 0.03 + 2 * 0.4) / 4)
    assert (calibration["temperature"], calibration["bins"], calibration["images"]) == (2.0, 15, 4)


def test_metrics_give_the_saved_models_accuracy_and_the_case_folded_one() -> None:
    metrics = summarise_training(HISTORY, MODEL, PREDICTIONS)
    assert metrics["val_accuracy"] == pytest.approx(0.75)
    assert metrics["val_accuracy_case_folded"] == pytest.approx(1.0)
    digits_only = replace(MODEL, class_names=list("0123"))
    assert summarise_training(HISTORY, digits_only, PREDICTIONS)["val_accuracy_case_folded"] is None


def test_results_document_fills_the_seeds_results_and_says_what_was_skipped() -> None:
    per_class = pd.DataFrame({"class": ["0", "1", "o", "O"], "images": [2] * 4, "correct": [2, 1, 0, 2], "accuracy": [1.0, 0.5, 0.0, 1.0]})
    pairs = pd.DataFrame({"true": ["2", "1"], "predicted": ["3", "0"], "count": [2, 1]})
    text = write_results_document(summarise_training(HISTORY, MODEL, PREDICTIONS), MODEL, SUMMARY, per_class, pairs)
    assert "| Max validation accuracy | 55.00% | 2 |" in text
    assert "| Training accuracy on last epoch | 50.00% | 3 |" in text
    assert "3 macOS metadata, 1 not an image" in text and "broken images skipped: 1" in text and "left out: Z" in text
    assert "](../../loss_graph.png/{save_version}/loss_graph.png)" in text
    assert "| `2` | `3` | 2 |" in text and "the five lowest: `o` 0%, `1` 50%" in text
    assert "the saved model: **75.00%**; ignoring case (o/O, s/S ... counted right): **100.00%**" in text
    assert "Recipe options: none (the seed's recipe)" in text
    assert "T = 2.00, fitted on the 4 validation images" in text and "21.5% before, 30.0% after" in text
    assert "](../../reliability_diagram.png/{save_version}/reliability_diagram.png)" in text
    assert "as they are trained on (dropout on)." in text


def test_results_document_says_why_training_accuracy_reads_lower_under_the_recipe() -> None:
    per_class = pd.DataFrame({"class": ["0"], "images": [2], "correct": [2], "accuracy": [1.0]})
    pairs = pd.DataFrame({"true": [], "predicted": [], "count": []})
    model = replace(MODEL, train_config=TrainConfig.from_params({"augment": {"rotate": 10}, "model": {"drop_path": 0.1}}))
    metrics = summarise_training(HISTORY, model, PREDICTIONS)
    text = write_results_document(metrics, model, SUMMARY, per_class, pairs)
    assert "as they are trained on (dropout on, blocks skipped at random, augmented)." in text


def test_the_recipe_options_that_are_on_are_named_with_their_settings() -> None:
    options = TrainConfig.from_params({"augment": {"rotate": 10, "elastic": 0, "elastic_sigma": 3}, "label_smoothing": 0.1,
                                       "ema_decay": 0, "tta": True}).describe_options()
    assert options == "augmentation (rotate 10.0), label smoothing 0.1, test-time augmentation"
    assert TrainConfig.from_params({"augment": {"rotate": 0}, "model": {"downsample": "stride", "drop_path": 0}}).describe_options() \
        == "none (the seed's recipe)"
    model = {"downsample": "pool", "drop_path": 0.1, "zero_init_residual": True, "hidden_units": [256, 128]}
    assert TrainConfig.from_params({"model": model}).describe_options() \
        == "pool downsampling, stochastic depth (up to 0.1), residual branches started at zero"


@pytest.mark.parametrize("plot", [plot_loss, plot_accuracy])
def test_graphs_show_train_and_val(plot) -> None:
    figure = plot(HISTORY)
    lines = figure.axes[0].get_lines()
    assert [line.get_label() for line in lines] == ["training", "validation"]
    assert list(lines[0].get_xdata()) == [1, 2, 3]
    plt.close(figure)


def test_validation_reports_from_a_trained_model(tiny_cache: dict, tiny_split: dict) -> None:
    from playing_with_mnist.pipelines.report.nodes import plot_highest_loss, predict_validation, summarise_confusions
    from playing_with_mnist.training.pipeline import train_model

    from ..params import TRAIN

    trained, _ = train_model(tiny_cache, tiny_split, TrainConfig.from_params(TRAIN))
    table = predict_validation(trained, tiny_cache, tiny_split)
    assert len(table) == len(tiny_split["val"]) and table["confidence"].between(0, 1).all()
    assert (table["true"] == [tiny_cache["class_names"][i] for i in tiny_cache["labels"][tiny_split["val"]]]).all()
    confusion, per_class, pairs, bars = summarise_confusions(table, trained)
    assert per_class["images"].sum() == len(table) and list(per_class["class"]) == tiny_cache["class_names"]
    assert pairs["count"].sum() <= len(table) and (pairs["true"] != pairs["predicted"]).all()
    grid = plot_highest_loss(table, tiny_cache, count=4)
    for figure in (confusion, bars, grid):
        plt.close(figure)
