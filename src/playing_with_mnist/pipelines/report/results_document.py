"""The ``report`` pipeline's Results document: the run's metrics, settings and tables in, the seed's Results
section, filled in, out as Markdown linking the graphs the same run saves."""

from __future__ import annotations

from typing import Any

import pandas as pd

from playing_with_mnist.reporting import artifact_link, figure_markdown, markdown
from playing_with_mnist.training.checkpoints import TrainedModel
from playing_with_mnist.training.config import TrainConfig
from playing_with_mnist.training.progress import format_duration


def describe_preprocessing(summary: dict[str, Any]) -> str:
    """One line: images kept, entries skipped by kind, broken images, empty class folders."""
    skipped = ", ".join(f"{count} {kind}" for kind, count in sorted(summary["skipped_entries"].items())) or "none"
    text = (f"{summary['images']} images in {summary['classes']} classes at {summary['image_size']}x{summary['image_size']}; "
            f"entries skipped: {skipped}; broken images skipped: {len(summary['broken_images'])}")
    if summary["empty_class_folders"]:
        text += f"; empty class folders left out: {', '.join(summary['empty_class_folders'])}"
    return text


def write_results_document(
    training_metrics: dict[str, Any], trained_model: TrainedModel, preprocess_summary: dict[str, Any],
    per_class_accuracy: pd.DataFrame, confused_pairs: pd.DataFrame,
) -> str:
    """The seed's Results section as Markdown; its links (``reporting.artifact_link``) carry ``{save_version}``,
    which the report dataset replaces with the run's version."""
    config = trained_model.train_config
    return markdown(
        *_setting(training_metrics, config, preprocess_summary),
        *_results(training_metrics, config),
        *_confusions(per_class_accuracy, confused_pairs),
        *_confidence(training_metrics["calibration"]),
        "## Where it fails", figure_markdown("Highest-loss validation images", "highest_loss_images.png"),
        "## The inputs", "What the network sees: 32x32 grayscale.", figure_markdown("Sample inputs", "sample_inputs.png"),
    )


def _setting(m: dict[str, Any], config: TrainConfig, preprocess_summary: dict[str, Any]) -> list:
    """The title and what was trained on what, how."""
    return ["# Playing With Mnist: Task 1 results", [
        f"- Data: {m['data_source_description']}",
        f"- Preprocessing: {describe_preprocessing(preprocess_summary)}",
        f"- Trained on: {m['device']}, {m['precision']}, {m['epochs']} epoch{'s' if m['epochs'] != 1 else ''} in {format_duration(m['training_seconds'])}",
        f"- Hyper-parameters: lr {config.lr}, weight decay {config.weight_decay}, batch {config.batch_size}, "
        f"val batch {config.val_batch_size}, dropout {config.dropout}, optimizer {config.optimizer}, seed {config.seed}",
        f"- Recipe options: {config.describe_options()}",
    ]]


def _results(m: dict[str, Any], config: TrainConfig) -> list:
    """The seed's four accuracies, the saved model's own, and the loss and accuracy graphs."""
    saved = "the saved model" + (" (moving average of the weights)" if m["ema"] else "") + (
        ", averaged over the image and its test-time views (shifted, turned, resized)" if m["tta"] else "")
    folded = m["val_accuracy_case_folded"]
    # how training batches differ from evaluation: why training accuracy reads lower
    conditions = ", ".join(name for name, on in [("dropout on", True), ("blocks skipped at random", config.model.drop_path),
                                                  ("augmented", config.augment.enabled)] if on)
    return [
        "## Results", [
            "| | accuracy | epoch |",
            "|---|---:|---:|",
            f"| Max training accuracy | {m['max_train_accuracy']:.2%} | {m['max_train_accuracy_epoch']} |",
            f"| Max validation accuracy | {m['max_val_accuracy']:.2%} | {m['max_val_accuracy_epoch']} |",
            f"| Training accuracy on last epoch | {m['last_train_accuracy']:.2%} | {m['epochs']} |",
            f"| Validation accuracy on last epoch | {m['last_val_accuracy']:.2%} | {m['epochs']} |",
        ],
        f"Training accuracy is measured on the training batches as they are trained on ({conditions}).",
        f"Validation accuracy of {saved}: **{m['val_accuracy']:.2%}**"
        + (f"; ignoring case (o/O, s/S ... counted right): **{folded:.2%}**." if folded is not None else "."),
        "### Loss graph", figure_markdown("Loss graph", "loss_graph.png"),
        "### Accuracy graph", figure_markdown("Accuracy graph", "accuracy_graph.png"),
    ]


def _confidence(calibration: dict[str, Any]) -> list:
    """What a printed confidence means: the temperature and the calibration error before and after it."""
    return ["## How far to trust a confidence", (
        f"One temperature, T = {calibration['temperature']:.2f}, fitted on the {calibration['images']} validation images "
        f"(lowest log-loss), divides the network's logits before the softmax everywhere the model answers. Expected "
        f"calibration error ({calibration['bins']} bins, on the same images, so the second number flatters): "
        f"{calibration['ece_before']:.1%} before, {calibration['ece_after']:.1%} after. Score a test zip "
        "(`--pipelines=evaluate`) for the error on images the temperature has not seen."),
        figure_markdown("Reliability diagram", "reliability_diagram.png")]


def _confusions(per_class_accuracy: pd.DataFrame, confused_pairs: pd.DataFrame) -> list:
    """The confusion matrix, the most confused pairs and the classes with the lowest accuracy."""
    lowest = per_class_accuracy.nsmallest(5, "accuracy")
    worst_classes = ", ".join(f"`{name}` {accuracy:.0%}" for name, accuracy in zip(lowest["class"], lowest["accuracy"]))
    return [
        "## What the model confuses",
        figure_markdown("Confusion matrix", "confusion_matrix.png"),
        "Most confused pairs on the validation set:",
        ["| true | predicted as | count |", "|---|---|---:|",
         *(f"| `{r.true}` | `{r.predicted}` | {r.count} |" for r in confused_pairs.itertuples())],
        f"Per-class accuracy ([table]({artifact_link('per_class_accuracy.csv')})), the five lowest: {worst_classes}.",
        figure_markdown("Per-class accuracy", "per_class_accuracy.png"),
    ]
