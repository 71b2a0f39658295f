"""The ``report`` pipeline's Results document: the seed's Results section, filled in.

Pure text: the run's metrics, settings and tables in, Markdown out. Its links name the
graphs the same run saves.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from playing_with_mnist.reporting import artifact_link, figure_markdown
from playing_with_mnist.training.progress import format_duration


def _augmentations_on(config: dict[str, Any]) -> dict[str, Any]:
    """The augmentations a training config turns on, with their settings."""
    return {k: v for k, v in config.get("augment", {}).items() if v and k != "elastic_sigma"}


def _training_conditions(config: dict[str, Any]) -> str:
    """How training batches differ from evaluation, in words: why training accuracy reads lower."""
    conditions = ["dropout on"]
    if (config.get("model") or {}).get("drop_path"):
        conditions.append("blocks skipped at random")
    if _augmentations_on(config):
        conditions.append("augmented")
    return ", ".join(conditions)


def describe_options(config: dict[str, Any]) -> str:
    """The options beyond the seed's recipe that are on, in words ("none" for the seed's)."""
    augment = _augmentations_on(config)
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
        f"Training accuracy is measured on the training batches as they are trained on ({_training_conditions(config)}).",
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
