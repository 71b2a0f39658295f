"""Nodes of the ``sweep`` pipeline: the comparison of every training of the sweep, scored on a
labelled test zip when one is given (``--params=sweep.test_zip=path/to/test.zip``)."""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import pandas as pd

from playing_with_mnist.analysis import inference
from playing_with_mnist.analysis.figures import epoch_axes, styled
from playing_with_mnist.analysis.metrics import accuracies, run_summary
from playing_with_mnist.ingest.archive import CharacterArchive
from playing_with_mnist.sweep import recipe_and_seed
from playing_with_mnist.training.checkpoints import TrainedModel

# run_summary speaks of the MNIST test set; here val_* is Task 1's validation split.
RENAMED = {"final_test_accuracy": "final_val_accuracy", "best_test_accuracy": "best_val_accuracy",
           "final_test_loss": "final_val_loss"}
TEST_COLUMNS = ["run", "test_accuracy", "test_accuracy_case_folded"]
# Summarised per recipe; the test columns only where the sweep was scored on a test zip.
SUMMARISED = ("final_val_accuracy", "best_val_accuracy", "test_accuracy", "test_accuracy_case_folded")


def score_sweep(test_zip: CharacterArchive | None, params: dict[str, Any], runs: dict[str, Any], *models: TrainedModel) -> pd.DataFrame:
    """Each run's accuracy and case-folded accuracy (:func:`metrics.accuracies`) on the labelled test zip, decoded
    as that model's training images were; no rows when no test zip is given (``test_zip`` is ``None``)."""
    if test_zip is None:
        return pd.DataFrame(columns=TEST_COLUMNS)
    rows = []
    for run, model in zip(runs, models, strict=True):
        test, labels = inference.decode_test_zip(test_zip, model, params)
        predicted = inference.predict(model, test["images"]).argmax(1)
        accuracy, case_folded = accuracies(predicted, labels, model.class_names)
        rows.append({"run": run, "test_accuracy": accuracy, "test_accuracy_case_folded": case_folded})
    return pd.DataFrame(rows, columns=TEST_COLUMNS)


def sweep_table(histories: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per training: run, recipe, seed, epochs, final and best validation accuracy, best
    epoch, final validation loss and seconds (``metrics.run_summary``, without thresholds)."""
    table = run_summary(histories, thresholds=()).rename(columns=RENAMED)
    parsed = [recipe_and_seed(run) for run in table["run"]]
    table.insert(1, "recipe", [recipe for recipe, _ in parsed])
    table.insert(2, "seed", pd.array([seed for _, seed in parsed], dtype="Int64"))
    return table


def recipe_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Per recipe: how many runs, and the mean, standard deviation (n-1; 0 for one run), minimum and maximum of
    each of ``SUMMARISED`` that the table has."""
    columns = [column for column in SUMMARISED if column in table]
    recipes = table.astype({column: float for column in columns}).groupby("recipe", sort=False)
    stats = recipes[columns].agg(["mean", "std", "min", "max"])
    runs = recipes.size().rename("runs")
    stats.loc[runs == 1, [column for column in stats.columns if column[1] == "std"]] = 0.0
    stats.columns = [f"{column}_{statistic}" for column, statistic in stats.columns]
    return pd.concat([runs, stats], axis=1).reset_index()


def plot_sweep_curves(histories: dict[str, pd.DataFrame]) -> plt.Figure:
    """Validation accuracy per epoch: every run as a thin line, and per recipe the mean over its
    runs with a band of one standard deviation."""
    groups: dict[str, list[pd.DataFrame]] = {}
    for run, history in histories.items():
        groups.setdefault(recipe_and_seed(run)[0], []).append(history.sort_values("epoch"))
    with styled() as (figure, axes):
        for index, (recipe, runs) in enumerate(groups.items()):
            colour = f"C{index}"
            for history in runs:
                axes.plot(history["epoch"], history["val_accuracy"], color=colour, lw=0.6, alpha=0.35)
            curves = pd.concat([h.set_index("epoch")["val_accuracy"] for h in runs], axis=1)
            mean, spread = curves.mean(axis=1), curves.std(axis=1, ddof=1).fillna(0.0)
            axes.plot(mean.index, mean, color=colour, lw=2, marker="o", markersize=3, label=f"{recipe} (mean of {len(runs)})")
            axes.fill_between(mean.index, mean - spread, mean + spread, color=colour, alpha=0.15, lw=0)
        epoch_axes(axes, "Sweep: validation accuracy per epoch (band: one standard deviation)", "validation accuracy",
                   percent=True, loc="lower right")
    return figure


def compare_sweep(runs: dict[str, Any], test_scores: pd.DataFrame, *histories: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, plt.Figure]:
    """The sweep's report from every training's history, in the order of ``runs`` (``sweep.runs``),
    and its ``test_scores`` (:func:`score_sweep`; its columns join the table when it has rows):
    the table of runs, the summary per recipe and the validation curves."""
    if len(runs) != len(histories):
        raise ValueError(f"the sweep lists {len(runs)} runs but {len(histories)} histories were given")
    named = dict(zip(runs, histories))
    table = sweep_table(named)
    if len(test_scores):
        table = table.merge(test_scores, on="run", how="left")
    return table, recipe_summary(table), plot_sweep_curves(named)
