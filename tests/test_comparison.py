"""Comparing runs: epochs/seconds to thresholds, the summary, the verdict, figures and the table."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import pandas as pd
import pytest

from playing_with_mnist.analysis.figures import plot_accuracy_curves, plot_loss_curves
from playing_with_mnist.analysis.metrics import (
    THRESHOLDS,
    comparison_markdown,
    first_epoch_reaching,
    run_summary,
    summary_markdown,
    verdict,
)


def history(accuracy: list[float], seconds: list[float] | None = None) -> pd.DataFrame:
    """A history whose test accuracy per epoch is ``accuracy``; losses fall with it."""
    epochs = len(accuracy)
    seconds = seconds or [10.0] * epochs
    return pd.DataFrame({
        "epoch": range(1, epochs + 1),
        "train_loss": [1.0 / (e + 1) for e in range(epochs)],
        "train_accuracy": [min(1.0, a + 0.005) for a in accuracy],
        "val_loss": [1.0 - a for a in accuracy],
        "val_accuracy": accuracy,
        "seconds": seconds,
        "train_seconds": [s * 0.8 for s in seconds],
    })


SCRATCH = history([0.95, 0.975, 0.982, 0.988, 0.991], [10.0, 11.0, 12.0, 13.0, 14.0])
PRETRAINED = history([0.985, 0.992, 0.994, 0.995, 0.996], [20.0, 5.0, 5.0, 5.0, 5.0])
NEVER = history([0.90, 0.95, 0.97], [1.0, 2.0, 3.0])


def test_first_epoch_reaching() -> None:
    assert first_epoch_reaching(SCRATCH, 0.98) == (3, 33.0)
    assert first_epoch_reaching(SCRATCH, 0.99) == (5, 60.0)
    assert first_epoch_reaching(PRETRAINED, 0.98) == (1, 20.0)
    assert first_epoch_reaching(NEVER, 0.98) == (None, None)
    assert first_epoch_reaching(SCRATCH, 0.982) == (3, 33.0)  # equal counts as reached


def test_first_epoch_reaching_skips_missing_accuracy_and_ignores_row_order() -> None:
    shuffled = history([math.nan, 0.99, 0.995], [1.0, 2.0, 4.0]).iloc[::-1]
    assert first_epoch_reaching(shuffled, 0.99) == (2, 3.0)


def test_run_summary_columns_and_values() -> None:
    summary = run_summary({"scratch": SCRATCH, "pretrained": PRETRAINED, "never": NEVER})
    assert list(summary.columns) == [
        "run", "epochs", "final_test_accuracy", "best_test_accuracy", "best_epoch", "final_test_loss", "total_seconds",
        "epochs_to_98", "seconds_to_98", "epochs_to_99", "seconds_to_99",
    ]
    assert summary["run"].tolist() == ["scratch", "pretrained", "never"]
    assert summary["epochs"].tolist() == [5, 5, 3]
    assert summary["final_test_accuracy"].tolist() == [0.991, 0.996, 0.97]
    assert summary["best_epoch"].tolist() == [5, 5, 3]
    assert summary["final_test_loss"].round(6).tolist() == [0.009, 0.004, 0.03]
    assert summary["total_seconds"].tolist() == [60.0, 40.0, 6.0]
    assert str(summary["epochs_to_98"].dtype) == "Int64" and str(summary["best_epoch"].dtype) == "Int64"
    assert summary["epochs_to_98"].tolist()[:2] == [3, 1] and summary["epochs_to_98"].isna().tolist() == [False, False, True]
    assert summary["seconds_to_99"].tolist()[:2] == [60.0, 25.0] and math.isnan(summary["seconds_to_99"].iloc[2])


def test_runs_scored_after_some_epochs_only_say_so_and_count_from_the_scored_epochs() -> None:
    sparse = history([math.nan, math.nan, math.nan, math.nan, 0.985])  # train.val_every: 0
    summary = run_summary({"scratch": SCRATCH, "sparse": sparse})
    assert summary["best_epoch"].tolist() == [5, 5] and summary["epochs_to_98"].tolist() == [3, 5]
    every_epoch, last_only = comparison_markdown(summary, "scratch"), comparison_markdown(summary, "scratch", val_every=0)
    assert last_only[1:] == every_epoch and "after the last epoch only" in last_only[0]
    assert "after every 5 epochs and after the last" in comparison_markdown(summary, "scratch", val_every=5)[0]
    # Epoch counts stay whole numbers beside a threshold a run never reached (pandas makes that row's cells floats).
    sparse_row = summary_markdown(summary).splitlines()[3].strip("| ").split(" | ")
    assert sparse_row[1] == "5" and sparse_row[-4] == "5" and sparse_row[-2:] == ["not reached", "not reached"]


def test_run_summary_other_thresholds_and_best_epoch_before_the_end() -> None:
    summary = run_summary({"peaked": history([0.9, 0.985, 0.97])}, thresholds=(0.985,))
    assert list(summary.columns[-2:]) == ["epochs_to_98.5", "seconds_to_98.5"]
    assert summary.loc[0, "best_epoch"] == 2 and summary.loc[0, "best_test_accuracy"] == 0.985
    assert summary.loc[0, "epochs_to_98.5"] == 2 and summary.loc[0, "seconds_to_98.5"] == 20.0


def test_run_summary_names_a_run_with_missing_columns() -> None:
    with pytest.raises(ValueError, match="broken"):
        run_summary({"broken": SCRATCH.drop(columns="seconds")})


def test_verdict_helped_when_final_accuracy_is_clearly_higher() -> None:
    text = verdict(run_summary({"scratch": SCRATCH, "pretrained": PRETRAINED}), "scratch")
    assert "pretrained helped" in text
    assert "+0.5 points" in text
    assert "99.60%" in text and "99.10%" in text
    assert "reached 99% at epoch 2 (25.0 s) vs epoch 5 (60.0 s)" in text
    assert "reached 98% at epoch 1 (20.0 s) vs epoch 3 (33.0 s)" in text
    assert "one seed" in text and text.rstrip().endswith("noise.")


def test_verdict_hurt_and_not_reached() -> None:
    text = verdict(run_summary({"scratch": SCRATCH, "never": NEVER}), "scratch")
    assert "never hurt" in text and "-2.1 points" in text
    assert "did not reach 99% in 3 epochs" in text and "did not reach 98% in 3 epochs" in text


def test_verdict_within_noise_decided_by_speed_to_the_highest_threshold() -> None:
    # exactly 0.2 points higher is helped, though (0.9884 - 0.9864) * 100 is 0.19999999999998908 in floats
    ahead = history([0.95, 0.97, 0.98, 0.985, 0.9884])
    behind = history([0.95, 0.97, 0.98, 0.985, 0.9864])
    assert "ahead helped" in verdict(run_summary({"behind": behind, "ahead": ahead}), "behind")
    assert "behind hurt" in verdict(run_summary({"ahead": ahead, "behind": behind}), "ahead")
    base = history([0.95, 0.97, 0.98, 0.985, 0.990])
    # 0.1 points higher, and 99% one epoch sooner: helped
    sooner = history([0.95, 0.97, 0.98, 0.991, 0.991])
    assert "sooner helped" in verdict(run_summary({"base": base, "sooner": sooner}), "base")
    # 0.1 points lower and 99% later than the baseline: within noise, so no clear difference
    later = history([0.95, 0.97, 0.98, 0.985, 0.989])
    early = history([0.95, 0.97, 0.99, 0.99, 0.990])
    text = verdict(run_summary({"early": early, "later": later}), "early")
    assert "later made no clear difference" in text and "-0.1 points" in text
    # same epochs to 99% and same accuracy: no clear difference
    assert "twin made no clear difference" in verdict(run_summary({"base": base, "twin": base}), "base")


def test_verdict_when_no_run_reached_any_threshold() -> None:
    other = history([0.90, 0.95, 0.971], [1.0, 2.0, 3.0])
    text = verdict(run_summary({"never": NEVER, "other": other}), "never")
    assert "other made no clear difference" in text and "neither reached 99%" in text and "+0.1 points" in text


def test_verdict_survives_missing_accuracy() -> None:
    broken = history([0.95, math.nan])
    text = verdict(run_summary({"scratch": SCRATCH, "broken": broken}), "scratch")
    assert "could not be judged" in text and "unknown" in text


def test_verdict_rejects_an_unknown_baseline() -> None:
    with pytest.raises(ValueError, match="imagenet"):
        verdict(run_summary({"scratch": SCRATCH}), "imagenet")


def test_verdict_with_only_the_baseline() -> None:
    assert "nothing to compare" in verdict(run_summary({"scratch": SCRATCH}), "scratch")


def test_accuracy_figure_has_one_line_per_run() -> None:
    figure = plot_accuracy_curves({"scratch": SCRATCH, "pretrained": PRETRAINED}, "Test accuracy")
    try:
        axes = figure.axes[0]
        runs = [line.get_label() for line in axes.get_lines() if not line.get_label().startswith("_")]
        assert runs == ["scratch", "pretrained"]
        assert len(axes.get_lines()) == 2 + len(THRESHOLDS)  # plus the unlabelled threshold lines
        assert [t.get_text() for t in axes.get_legend().get_texts()] == ["scratch", "pretrained"]
        assert axes.yaxis.get_major_formatter()(0.99, 0).endswith("%")
    finally:
        plt.close(figure)


def test_loss_figure_has_a_train_and_a_test_line_per_run_in_one_colour() -> None:
    figure = plot_loss_curves({"scratch": SCRATCH, "pretrained": PRETRAINED}, "Loss")
    try:
        lines = {line.get_label(): line for line in figure.axes[0].get_lines()}
        assert list(lines) == ["scratch train", "scratch test", "pretrained train", "pretrained test"]
        assert lines["scratch train"].get_color() == lines["scratch test"].get_color() != lines["pretrained train"].get_color()
        assert lines["scratch train"].get_linestyle() == "-" and lines["scratch test"].get_linestyle() == "--"
    finally:
        plt.close(figure)


def test_summary_markdown_table() -> None:
    table = summary_markdown(run_summary({"scratch": SCRATCH, "never": NEVER}))
    lines = table.splitlines()
    assert len(lines) == 2 + 2  # header, separator, one row per run
    assert lines[0].startswith("| run | epochs | final test accuracy") and "epochs to 99%" in lines[0]
    assert set(lines[1]) <= set("|:-")
    assert lines[2].startswith("| scratch | 5 | 99.10% |") and "| 60.0 |" in lines[2]
    assert lines[3].count("not reached") == 4
    assert all(line.count("|") == lines[0].count("|") for line in lines)
