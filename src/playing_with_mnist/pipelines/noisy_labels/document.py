"""The ``noisy_labels`` results document: a node that turns the run's numbers into Markdown."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from playing_with_mnist.analysis.metrics import comparison_markdown
from playing_with_mnist.reporting import describe_source, figure_markdown, markdown
from playing_with_mnist.training.checkpoints import TrainedModel


def _pct(value: float | None) -> str:
    return "unknown" if value is None else f"{value:.1%}"


def _class_name(value: Any) -> str | None:
    """A class name as the table held it; read back from CSV, "7" is 7 (or 7.0 beside an empty cell)."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, (int, float, np.number)) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _other_digit_folders(wrong_share: pd.DataFrame) -> str:
    """The folders the clean model mostly reads as one other class: systematic, not scattered, noise."""
    other = [(_class_name(r.folder), _class_name(r.main_reading), r.main_reading_share) for r in wrong_share.itertuples()
             if _class_name(r.main_reading) not in (None, _class_name(r.folder)) and r.main_reading_share > 0.5]
    if not other:
        return "No folder mostly holds one other digit: where labels are wrong, they are wrong in scattered ways."
    return (f"{len(other)} of {len(wrong_share)} folders mostly hold one other digit (the clean model's reading): "
            + ", ".join(f"`{folder}` {reading} ({share:.0%})" for folder, reading, share in other) + ".")


def write_noisy_document(comparison: pd.DataFrame, noise_summary: dict[str, Any], wrong_share: pd.DataFrame,
                         cleaning_summary: dict[str, Any], noisy_split: dict[str, Any], noisy_input: dict[str, Any],
                         mnist_model: TrainedModel, scratch_model: TrainedModel) -> str:
    """Task 3's results as Markdown: the data, the noise analysis, the cleaning, the four runs (whose settings are
    ``scratch_model``'s) and a verdict (links carry ``{save_version}``, which the report dataset fills with this run's version)."""
    return markdown(
        "# Task 3: training on labels that cannot be trusted",
        [f"- Training set: {describe_source(noisy_input['source'])}, {len(noisy_split['train']):,} images in folders 0-9; "
         f"scored on the MNIST test set ({len(noisy_split['test']):,} images).",
         f"- Clean model: Task 2's MNIST model (`mnist_model`, its `{mnist_model.selected_run or '?'}` run, trained on clean labels), "
         f"{_pct(noise_summary['clean_model_test_accuracy'])} accuracy on the MNIST test set. Every estimate below is only as good as it is: "
         "its own mistakes count as wrong labels."],
        *_noise(noise_summary, wrong_share),
        *_cleaning(cleaning_summary),
        "## Four runs, scored on the MNIST test set",
        "`scratch`: random initialisation; `from_task1`: Task 1's 62-class model with a new head; "
        "`from_task2`: Task 2's MNIST model; `cleaned`: random initialisation on the cleaned labels. "
        f"Same seed, hyper-parameters and epochs: {scratch_model.train_config.describe()}.",
        *comparison_markdown(comparison, baseline="scratch", val_every=scratch_model.train_config.val_every),
    )


def _noise(noise_summary: dict[str, Any], wrong_share: pd.DataFrame) -> list:
    """How noisy the labels are, against the truth where it is known, and the figures."""
    known = noise_summary["true_wrong_share"] is not None
    difference = noise_summary["estimate_vs_truth"]
    noisiest = wrong_share.nlargest(3, "estimated_wrong_share")
    return [
        "## How noisy are the labels?",
        [f"The clean model disagrees with the folder for **{_pct(noise_summary['estimated_wrong_share'])}** of the images"
         + (f"; the true share of wrong labels is **{_pct(noise_summary['true_wrong_share'])}**." if known else
            " (the true share is unknown for this zip)."),
         "Noisiest folders (estimated): " + ", ".join(f"`{r.folder}` {r.estimated_wrong_share:.0%}" for r in noisiest.itertuples()) + ".",
         _other_digit_folders(wrong_share)],
        f"Estimated noise matrix against the true one: mean absolute difference {difference['mean_abs_error']:.3f}, "
        f"largest {difference['max_abs_error']:.3f}, on the diagonal {difference['diagonal_mean_abs_error']:.3f}." if known else None,
        figure_markdown("Noise matrix", "noise_matrix.png"),
        figure_markdown("Wrong labels per folder", "wrong_label_share.png"),
        "Images of every folder, titled with the clean model's reading (red: it disagrees with the folder):",
        figure_markdown("Images per folder", "folder_samples.png"),
    ]


def _cleaning(summary: dict[str, Any]) -> list:
    """What the cleaning flagged, and against the truth where it is known."""
    lines = [
        f"Policy `{summary['policy']}`: {summary['suspects']:,} of {summary['images']:,} images flagged (the clean model's "
        f"loss on the folder label is high and it is sure of another digit); {summary['dropped']:,} dropped, "
        f"{summary['relabelled']:,} relabelled.",
    ]
    if "wrong_share_after" in summary:
        lines.append(f"Of the flags, {_pct(summary['flags_that_were_wrong_labels'])} were wrong labels; "
                     f"{_pct(summary['wrong_labels_flagged'])} of the wrong labels were flagged. Wrong labels in the "
                     f"training set: {_pct(summary['wrong_share_before'])} before, {_pct(summary['wrong_share_after'])} after.")
    return ["## Cleaning the labels", lines]
