"""Learning curves: two starts (scratch, pretrained) at several training sizes, several seeds each, and the
verdict per size in words. Nothing here writes files."""

from __future__ import annotations

import math

import pandas as pd

from playing_with_mnist.reporting import figure_markdown

STARTS = ("scratch", "pretrained")  # the baseline first
NOT_JUDGED = "not judged (one seed)"
CURVE_RULE = ("Rule: pretraining **helps** at a size where the pretrained runs' mean test accuracy exceeds the scratch runs' "
              "by more than the combined spread, sqrt(sd_scratch² + sd_pretrained²) (standard deviations over the seeds); "
              "it **hurts** where it falls short by more; otherwise there is **no clear difference**. "
              "With one seed there is no spread, and no verdict.")


def curve_verdict(difference: float, spread: float, seeds: int) -> str:
    """The verdict at one size (see :data:`CURVE_RULE`): ``helps``, ``hurts``, ``no clear difference`` or
    :data:`NOT_JUDGED` (fewer than two seeds, or a number missing). ``difference``: pretrained minus scratch."""
    if seeds < 2 or math.isnan(difference) or math.isnan(spread):
        return NOT_JUDGED
    if difference > spread:
        return "helps"
    return "hurts" if difference < -spread else "no clear difference"


def learning_curve_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Per training size (ascending), from one row per run (``size``, ``start``, ``seed``, ``test_accuracy``): the seeds
    both starts ran, each start's mean and standard deviation (n-1) over its seeds, ``difference`` (pretrained minus
    scratch, means), ``spread`` (the two deviations combined) and ``verdict`` (:func:`curve_verdict`)."""
    rows = []
    for size, runs in table.astype({"test_accuracy": float}).groupby("size", sort=True):
        accuracy = {start: runs.loc[runs["start"] == start, "test_accuracy"] for start in STARTS}
        mean = {start: values.mean() for start, values in accuracy.items()}
        std = {start: values.std(ddof=1) for start, values in accuracy.items()}  # NaN for one seed
        seeds = min(len(values) for values in accuracy.values())
        difference, spread = mean["pretrained"] - mean["scratch"], math.hypot(std["scratch"], std["pretrained"])
        rows.append({"size": int(size), "seeds": seeds, **{f"{start}_{stat}": values[start] for start in STARTS
                                                           for stat, values in (("mean", mean), ("std", std))},
                     "difference": difference, "spread": spread, "verdict": curve_verdict(difference, spread, seeds)})
    return pd.DataFrame(rows, columns=["size", "seeds", "scratch_mean", "scratch_std", "pretrained_mean", "pretrained_std",
                                       "difference", "spread", "verdict"])


def _points(value: float, sign: str = "") -> str:
    """A fraction in points (0.012 -> "1.2", with ``sign="+"`` "+1.2"); "n/a" for NaN."""
    return "n/a" if math.isnan(value) else f"{value * 100:{sign}.1f}"


def curve_verdict_text(summary: pd.DataFrame) -> str:
    """The verdict in words from a :func:`learning_curve_summary`: at which sizes pretraining helps, makes no clear
    difference or hurts, and by how many points (pretrained minus scratch ± the combined spread)."""
    sentences = []
    for verdict_, opening in (("helps", "Pretraining helps"), ("no clear difference", "It makes no clear difference"),
                              ("hurts", "It hurts"), (NOT_JUDGED, "Not judged, with one seed")):
        rows = summary[summary["verdict"] == verdict_]
        if len(rows):
            sizes = ", ".join(f"{r.size:,} images ({_points(r.difference, '+')} ± {_points(r.spread)} points)" for r in rows.itertuples())
            sentences.append(f"{opening} at {sizes}.")
    return " ".join(sentences) or "No training size was run."


def learning_curve_markdown(summary: pd.DataFrame) -> list[str]:
    """The Markdown blocks of a learning curve: the verdict in words, the rule, the table per size and the figure
    (``learning_curves.png`` of the same run)."""
    table = ["| training images | seeds | scratch | pretrained | pretrained - scratch (points) | verdict |", "|---:|---:|---:|---:|---:|:---|",
             *(f"| {r.size:,} | {r.seeds} | {r.scratch_mean:.1%} ± {_points(r.scratch_std)} | {r.pretrained_mean:.1%} ± {_points(r.pretrained_std)} | "
               f"{_points(r.difference, '+')} ± {_points(r.spread)} | {r.verdict} |" for r in summary.itertuples())]
    return [curve_verdict_text(summary), CURVE_RULE, table, figure_markdown("Test accuracy against training size", "learning_curves.png")]
