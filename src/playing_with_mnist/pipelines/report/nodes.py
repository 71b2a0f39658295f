"""Nodes of the ``report`` pipeline: metrics, curves and the validation analyses (the document: ``results_document.py``)."""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import pandas as pd
import torch

from playing_with_mnist.analysis import figures, inference, metrics
from playing_with_mnist.analysis.calibration import calibration_summary
from playing_with_mnist.analysis.figures import epoch_axes, plot_image_grid, styled
from playing_with_mnist.reporting import describe_source
from playing_with_mnist.training.checkpoints import TrainedModel


def summarise_training(
    training_history: pd.DataFrame, trained_model: TrainedModel, validation_predictions: pd.DataFrame
) -> dict[str, Any]:
    """The seed's four accuracies (fractions), the epochs of the maxima, source and device; also the saved model's
    own validation accuracy, 62-class and case-folded (o/O counted right), from ``validation_predictions`` (with
    test-time augmentation when the model uses it, so it can differ from the last epoch's), and how well its
    confidences match its accuracy before and after the calibration temperature (``calibration``)."""
    history, run, last = training_history, trained_model.run, training_history.iloc[-1]
    summary: dict[str, Any] = {}
    for split in ("train", "val"):
        best = history.loc[history[f"{split}_accuracy"].idxmax()]
        summary |= {f"max_{split}_accuracy": float(best[f"{split}_accuracy"]), f"max_{split}_accuracy_epoch": int(best["epoch"])}
    summary |= {f"last_{column}": float(last[column]) for column in ("train_accuracy", "val_accuracy", "train_loss", "val_loss")}
    return summary | {
        "val_accuracy": float((validation_predictions["label"] == validation_predictions["predicted_label"]).mean()),
        "val_accuracy_case_folded": metrics.case_folded_accuracy(validation_predictions, trained_model.class_names),
        "calibration": calibration_summary(validation_predictions, trained_model.temperature),
        "tta": trained_model.tta, "ema": run.ema,
        "epochs": int(last["epoch"]), "training_seconds": float(history["seconds"].sum()),
        "num_classes": len(trained_model.class_names), "data_source": trained_model.source,
        "data_source_description": describe_source(trained_model.source), "device": run.device, "precision": run.precision,
        "train_config": trained_model.train_config.to_dict(),
    }


def _curves(history: pd.DataFrame, column: str, title: str, ylabel: str) -> plt.Figure:
    with styled() as (figure, axes):
        for split, colour in (("train", "#1f77b4"), ("val", "#d62728")):
            axes.plot(history["epoch"], history[f"{split}_{column}"], marker="o", markersize=3, color=colour,
                      label="training" if split == "train" else "validation")
        best = history[f"val_{column}"].idxmin() if column == "loss" else history[f"val_{column}"].idxmax()
        axes.scatter([history.loc[best, "epoch"]], [history.loc[best, f"val_{column}"]], s=80,
                     facecolors="none", edgecolors="#d62728", zorder=3,
                     label=f"best validation (epoch {int(history.loc[best, 'epoch'])})")
        if column == "accuracy":
            axes.set_ylim(0, 1.02)
            axes.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:.0%}"))
        epoch_axes(axes, title, ylabel)
    return figure


def plot_loss(training_history: pd.DataFrame) -> plt.Figure:
    """Training and validation cross-entropy per epoch: the seed's Loss Graph."""
    return _curves(training_history, "loss", "Loss per epoch", "cross-entropy loss")


def plot_accuracy(training_history: pd.DataFrame) -> plt.Figure:
    """Training and validation accuracy per epoch."""
    return _curves(training_history, "accuracy", "Accuracy per epoch", "accuracy")


def predict_validation(trained_model: TrainedModel, character_images: dict[str, Any], train_val_split: dict[str, Any]) -> pd.DataFrame:
    """The trained model's prediction for every validation image: file, true, predicted, confidence (and before
    calibration), loss."""
    index = train_val_split["val"]
    members = [character_images["members"][i] for i in index.tolist()]
    table = inference.prediction_table(trained_model, character_images["images"][index], character_images["labels"][index], members)
    return table.assign(cache_index=index.numpy())


def plot_validation_reliability(validation_predictions: pd.DataFrame, trained_model: TrainedModel) -> plt.Figure:
    """The reliability diagram of the validation images (the ones the temperature was fitted on)."""
    return figures.plot_reliability(validation_predictions, trained_model.temperature,
                                    f"Confidence vs accuracy: {len(validation_predictions)} validation images")


def summarise_confusions(validation_predictions: pd.DataFrame, trained_model: TrainedModel) -> tuple[plt.Figure, pd.DataFrame, pd.DataFrame, plt.Figure]:
    """Confusion matrix figure, per-class accuracy (table and bar chart) and the ten most confused pairs."""
    names = trained_model.class_names
    matrix, per_class, pairs = metrics.confusion_summary(validation_predictions, names)
    return (figures.plot_confusion(matrix, names, "Validation confusion matrix (row-normalised)"), per_class, pairs,
            figures.plot_per_class_accuracy(per_class, "Validation accuracy per class"))


def plot_highest_loss(validation_predictions: pd.DataFrame, character_images: dict[str, Any], count: int = 24) -> plt.Figure:
    """The validation images the model gets most wrong: true -> predicted (confidence)."""
    worst = validation_predictions.nlargest(count, "loss")
    images = character_images["images"][torch.tensor(worst["cache_index"].tolist())]
    titles = [f"{t} -> {p} ({c:.0%})" for t, p, c in zip(worst["true"], worst["predicted"], worst["confidence"])]
    colours = ["#2a7" if t == p else "#c22" for t, p in zip(worst["true"], worst["predicted"])]
    return plot_image_grid(images, titles, colours, title="Highest-loss validation images: true -> predicted (confidence)")
