"""Nodes of the ``report`` pipeline: metrics, curves and the Results document."""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import pandas as pd
import torch

from playing_with_mnist import scoring
from playing_with_mnist.reporting import STYLE, artifact_link, describe_source, figure_markdown, new_figure, plot_image_grid
from playing_with_mnist.training.progress import format_duration


def summarise_training(
    training_history: pd.DataFrame, trained_model: dict[str, Any], validation_predictions: pd.DataFrame
) -> dict[str, Any]:
    """The seed's four accuracies (fractions), the epochs of the maxima, source and device.

    Also the saved model's own validation accuracy, 62-class and case-folded (o/O counted
    right), from ``validation_predictions``: with test-time augmentation when the model
    uses it, so it can differ from the last epoch's.
    """
    history = training_history
    best_train, best_val = history["train_accuracy"].idxmax(), history["val_accuracy"].idxmax()
    last = history.iloc[-1]
    run = trained_model["run"]
    return {
        "max_train_accuracy": float(history.loc[best_train, "train_accuracy"]),
        "max_train_accuracy_epoch": int(history.loc[best_train, "epoch"]),
        "max_val_accuracy": float(history.loc[best_val, "val_accuracy"]),
        "max_val_accuracy_epoch": int(history.loc[best_val, "epoch"]),
        "last_train_accuracy": float(last["train_accuracy"]),
        "last_val_accuracy": float(last["val_accuracy"]),
        "last_train_loss": float(last["train_loss"]),
        "last_val_loss": float(last["val_loss"]),
        "val_accuracy": float((validation_predictions["label"] == validation_predictions["predicted_label"]).mean()),
        "val_accuracy_case_folded": scoring.case_folded_accuracy(validation_predictions, trained_model["class_names"]),
        "tta": scoring.uses_tta(trained_model),
        "ema": bool(run.get("ema", False)),
        "epochs": int(last["epoch"]),
        "training_seconds": float(history["seconds"].sum()),
        "num_classes": len(trained_model["class_names"]),
        "data_source": trained_model["source"],
        "data_source_description": describe_source(trained_model["source"]),
        "device": run["device"],
        "precision": run["precision"],
        "train_config": trained_model["train_config"],
    }


def _curves(history: pd.DataFrame, column: str, title: str, ylabel: str) -> plt.Figure:
    figure, axes = new_figure()
    with plt.rc_context(STYLE):
        for split, colour in (("train", "#1f77b4"), ("val", "#d62728")):
            axes.plot(history["epoch"], history[f"{split}_{column}"], marker="o", markersize=3, color=colour,
                      label="training" if split == "train" else "validation")
        best = history[f"val_{column}"].idxmin() if column == "loss" else history[f"val_{column}"].idxmax()
        axes.scatter([history.loc[best, "epoch"]], [history.loc[best, f"val_{column}"]], s=80,
                     facecolors="none", edgecolors="#d62728", zorder=3,
                     label=f"best validation (epoch {int(history.loc[best, 'epoch'])})")
        axes.set(title=title, xlabel="epoch", ylabel=ylabel)
        axes.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
        if column == "accuracy":
            axes.set_ylim(0, 1.02)
            axes.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:.0%}"))
        axes.legend(frameon=False)
    return figure


def plot_loss(training_history: pd.DataFrame) -> plt.Figure:
    """Training and validation cross-entropy per epoch: the seed's Loss Graph."""
    return _curves(training_history, "loss", "Loss per epoch", "cross-entropy loss")


def plot_accuracy(training_history: pd.DataFrame) -> plt.Figure:
    """Training and validation accuracy per epoch."""
    return _curves(training_history, "accuracy", "Accuracy per epoch", "accuracy")


def describe_options(config: dict[str, Any]) -> str:
    """The options beyond the seed's recipe that are on, in words ("none" for the seed's)."""
    augment = {k: v for k, v in config.get("augment", {}).items() if v and k != "elastic_sigma"}
    model = config.get("model") or {}
    parts = []
    if model.get("downsample") == "pool":
        parts.append("pooled downsampling")
    if model.get("drop_path"):
        parts.append(f"stochastic depth (up to {model['drop_path']})")
    if model.get("zero_init_residual"):
        parts.append("residual branches started at zero")
    if augment:
        parts.append("augmentation (" + ", ".join(f"{k} {v}" for k, v in augment.items()) + ")")
    if config.get("normalize"):
        parts.append("input normalisation")
    if config.get("schedule", "constant") != "constant" or config.get("warmup_fraction"):
        parts.append(f"{config.get('schedule')} schedule (warm-up {config.get('warmup_fraction', 0):g} of the run)")
    if config.get("label_smoothing"):
        parts.append(f"label smoothing {config['label_smoothing']}")
    if config.get("mixup"):
        parts.append(f"mixup (alpha {config['mixup']})")
    if config.get("ema_decay"):
        parts.append(f"weight EMA {config['ema_decay']}")
    if config.get("sam_rho"):
        parts.append(f"sharpness-aware steps (rho {config['sam_rho']})")
    if config.get("tta"):
        parts.append("test-time augmentation")
    return ", ".join(parts) or "none (the seed's recipe)"


def describe_preprocessing(summary: dict[str, Any]) -> str:
    """One line: images kept, entries skipped by kind, broken images, empty class folders."""
    skipped = ", ".join(f"{count} {kind}" for kind, count in sorted(summary["skipped_entries"].items())) or "none"
    text = (f"{summary['images']} images in {summary['classes']} classes at {summary['image_size']}x{summary['image_size']}; "
            f"entries skipped: {skipped}; broken images skipped: {len(summary['broken_images'])}")
    if summary["empty_class_folders"]:
        text += f"; empty class folders left out: {', '.join(summary['empty_class_folders'])}"
    return text


def write_results_document(
    training_metrics: dict[str, Any], preprocess_summary: dict[str, Any], per_class_accuracy: pd.DataFrame, confused_pairs: pd.DataFrame
) -> str:
    """The seed's Results section, filled in, as Markdown linking this run's graphs.

    Links (``reporting.artifact_link``) carry ``{save_version}``, which the report dataset
    replaces with the run's version, so they point at the graphs saved by the same run.
    """
    m = training_metrics
    config = m["train_config"]

    def pct(value: float) -> str:
        return f"{value:.2%}"

    saved = "the saved model" + (" (moving average of the weights)" if m["ema"] else "") + (
        ", averaged over the image and its test-time views (shifted, turned, resized)" if m["tta"] else "")
    folded = m["val_accuracy_case_folded"]
    lowest = per_class_accuracy.nsmallest(5, "accuracy")
    worst_classes = ", ".join(f"`{name}` {accuracy:.0%}" for name, accuracy in zip(lowest["class"], lowest["accuracy"]))

    return "\n".join([
        "# Playing With Mnist: Task 1 results",
        "",
        f"- Data: {m['data_source_description']}",
        f"- Preprocessing: {describe_preprocessing(preprocess_summary)}",
        f"- Trained on: {m['device']}, {m['precision']}, {m['epochs']} epoch{'s' if m['epochs'] != 1 else ''} in {format_duration(m['training_seconds'])}",
        f"- Hyper-parameters: lr {config['lr']}, weight decay {config['weight_decay']}, batch {config['batch_size']}, "
        f"val batch {config['val_batch_size']}, dropout {config['dropout']}, optimizer {config['optimizer']}, seed {config['seed']}",
        f"- Recipe options: {describe_options(config)}",
        "",
        "## Results",
        "",
        "| | accuracy | epoch |",
        "|---|---:|---:|",
        f"| Max training accuracy | {pct(m['max_train_accuracy'])} | {m['max_train_accuracy_epoch']} |",
        f"| Max validation accuracy | {pct(m['max_val_accuracy'])} | {m['max_val_accuracy_epoch']} |",
        f"| Training accuracy on last epoch | {pct(m['last_train_accuracy'])} | {m['epochs']} |",
        f"| Validation accuracy on last epoch | {pct(m['last_val_accuracy'])} | {m['epochs']} |",
        "",
        "Training accuracy is measured on the training batches as they are trained on (dropout on"
        + (", augmented" if any(v for k, v in config.get("augment", {}).items() if k != "elastic_sigma") else "") + ").",
        "",
        f"Validation accuracy of {saved}: **{pct(m['val_accuracy'])}**"
        + (f"; ignoring case (o/O, s/S ... counted right): **{pct(folded)}**." if folded is not None else "."),
        "",
        "### Loss graph",
        "",
        figure_markdown("Loss graph", "loss_graph.png"),
        "",
        "### Accuracy graph",
        "",
        figure_markdown("Accuracy graph", "accuracy_graph.png"),
        "",
        "## What the model confuses",
        "",
        figure_markdown("Confusion matrix", "confusion_matrix.png"),
        "",
        "Most confused pairs on the validation set:",
        "",
        "| true | predicted as | count |",
        "|---|---|---:|",
        *[f"| `{r.true}` | `{r.predicted}` | {r.count} |" for r in confused_pairs.itertuples()],
        "",
        f"Per-class accuracy ([table]({artifact_link('per_class_accuracy.csv')})), "
        f"the five lowest: {worst_classes}.",
        "",
        figure_markdown("Per-class accuracy", "per_class_accuracy.png"),
        "",
        "## Where it fails",
        "",
        figure_markdown("Highest-loss validation images", "highest_loss_images.png"),
        "",
        "## The inputs",
        "",
        "What the network sees: 32x32 grayscale.",
        "",
        figure_markdown("Sample inputs", "sample_inputs.png"),
        "",
    ])


def predict_validation(trained_model: dict[str, Any], character_images: dict[str, Any], train_val_split: dict[str, Any]) -> pd.DataFrame:
    """The trained model's prediction for every validation image: file, true, predicted, confidence, loss."""
    index = train_val_split["val"]
    probabilities = scoring.predict(trained_model, character_images["images"][index])
    members = [character_images["members"][i] for i in index.tolist()]
    table = scoring.prediction_table(probabilities, character_images["labels"][index], trained_model["class_names"], members)
    return table.assign(cache_index=index.numpy())


def summarise_confusions(validation_predictions: pd.DataFrame, trained_model: dict[str, Any]) -> tuple[plt.Figure, pd.DataFrame, pd.DataFrame, plt.Figure]:
    """Confusion matrix figure, per-class accuracy (table and bar chart) and the ten most confused pairs."""
    names = trained_model["class_names"]
    matrix = scoring.confusion_counts(validation_predictions, len(names))
    per_class = scoring.per_class_accuracy(validation_predictions, names)
    return (
        scoring.plot_confusion(matrix, names, "Validation confusion matrix (row-normalised)"),
        per_class,
        scoring.most_confused_pairs(matrix, names, top=10),
        scoring.plot_per_class_accuracy(per_class, "Validation accuracy per class"),
    )


def plot_highest_loss(validation_predictions: pd.DataFrame, character_images: dict[str, Any], count: int = 24) -> plt.Figure:
    """The validation images the model gets most wrong: true -> predicted (confidence)."""
    worst = validation_predictions.nlargest(count, "loss")
    images = character_images["images"][torch.tensor(worst["cache_index"].tolist())]
    titles = [f"{t} -> {p} ({c:.0%})" for t, p, c in zip(worst["true"], worst["predicted"], worst["confidence"])]
    colours = ["#2a7" if t == p else "#c22" for t, p in zip(worst["true"], worst["predicted"])]
    return plot_image_grid(images, titles, colours, title="Highest-loss validation images: true -> predicted (confidence)")
