"""Nodes of the ``sweep`` pipeline: the comparison of every training of the sweep."""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.ticker import PercentFormatter

from playing_with_mnist.analysis.figures import STYLE, new_figure
from playing_with_mnist.analysis.metrics import run_summary
from playing_with_mnist.sweep import recipe_and_seed

# run_summary speaks of the MNIST test set; here val_* is Task 1's validation split.
RENAMED = {"final_test_accuracy": "final_val_accuracy", "best_test_accuracy": "best_val_accuracy",
           "final_test_loss": "final_val_loss"}


def sweep_table(histories: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per training: run, recipe, seed, epochs, final and best validation accuracy, best
    epoch, final validation loss and seconds (``metrics.run_summary``, without thresholds)."""
    table = run_summary(histories, thresholds=()).rename(columns=RENAMED)
    recipes, seeds = zip(*(recipe_and_seed(run) for run in table["run"])) if len(table) else ((), ())
    table.insert(1, "recipe", list(recipes))
    table.insert(2, "seed", pd.array(list(seeds), dtype="Int64"))
    return table


def recipe_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Per recipe: how many runs, and the mean, standard deviation (n-1; 0 for one run), minimum
    and maximum of the final and of the best validation accuracy."""
    rows = []
    for recipe, runs in table.groupby("recipe", sort=False):
        row: dict[str, Any] = {"recipe": recipe, "runs": len(runs)}
        for column in ("final_val_accuracy", "best_val_accuracy"):
            values = runs[column].astype(float)
            row |= {f"{column}_mean": values.mean(), f"{column}_std": values.std(ddof=1) if len(values) > 1 else 0.0,
                    f"{column}_min": values.min(), f"{column}_max": values.max()}
        rows.append(row)
    return pd.DataFrame(rows)


def plot_sweep_curves(histories: dict[str, pd.DataFrame]) -> plt.Figure:
    """Validation accuracy per epoch: every run as a thin line, and per recipe the mean over its
    runs with a band of one standard deviation."""
    figure, axes = new_figure()
    groups: dict[str, list[pd.DataFrame]] = {}
    for run, history in histories.items():
        groups.setdefault(recipe_and_seed(run)[0], []).append(history.sort_values("epoch"))
    with plt.rc_context(STYLE):
        for index, (recipe, runs) in enumerate(groups.items()):
            colour = f"C{index}"
            for history in runs:
                axes.plot(history["epoch"], history["val_accuracy"], color=colour, lw=0.6, alpha=0.35)
            curves = pd.concat([h.set_index("epoch")["val_accuracy"] for h in runs], axis=1)
            mean, spread = curves.mean(axis=1), curves.std(axis=1, ddof=1).fillna(0.0)
            axes.plot(mean.index, mean, color=colour, lw=2, marker="o", markersize=3, label=f"{recipe} (mean of {len(runs)})")
            axes.fill_between(mean.index, mean - spread, mean + spread, color=colour, alpha=0.15, lw=0)
        axes.set(title="Sweep: validation accuracy per epoch (band: one standard deviation)", xlabel="epoch",
                 ylabel="validation accuracy")
        axes.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
        axes.yaxis.set_major_formatter(PercentFormatter(xmax=1.0))
        axes.legend(frameon=False, loc="lower right")
    return figure


def compare_sweep(runs: dict[str, Any], *histories: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, plt.Figure]:
    """The sweep's report from every training's history, in the order of ``runs`` (``sweep.runs``):
    the table of runs, the summary per recipe and the validation curves."""
    if len(runs) != len(histories):
        raise ValueError(f"the sweep lists {len(runs)} runs but {len(histories)} histories were given")
    named = dict(zip(runs, histories))
    table = sweep_table(named)
    return table, recipe_summary(table), plot_sweep_curves(named)
