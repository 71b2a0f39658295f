"""Comparing training runs of one model (e.g. "scratch" vs "pretrained") on MNIST.

Every function takes ``histories``: run name -> that run's per-epoch history table with the
columns ``epoch`` (1..E), ``train_loss``, ``train_accuracy``, ``val_loss``, ``val_accuracy``
(fractions 0..1), ``seconds`` (wall seconds of the epoch, evaluation included) and
``train_seconds``. In these experiments ``val_*`` is measured on the MNIST test set, so
everything produced here says "test". Figures are returned, never saved: a catalog dataset
saves and closes them.
"""

from __future__ import annotations

import logging
import math

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.ticker import PercentFormatter

from playing_with_mnist.reporting import STYLE, figure_markdown, new_figure

logger = logging.getLogger(__name__)

THRESHOLDS = (0.98, 0.99)
NOISE_POINTS = 0.2  # accuracy differences below this (in points) are not a clear effect
REQUIRED = ("epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "seconds", "train_seconds")


def _percent(threshold: float) -> str:
    """0.98 -> "98", 0.995 -> "99.5": the threshold as it appears in column names and text."""
    return f"{threshold * 100:g}"


def first_epoch_reaching(history: pd.DataFrame, threshold: float) -> tuple[int | None, float | None]:
    """The first epoch whose test accuracy is >= ``threshold`` and the wall seconds spent up to
    and including it; ``(None, None)`` if no epoch reached it."""
    history = history.sort_values("epoch")
    reached = (history["val_accuracy"] >= threshold).to_numpy()  # NaN compares False: not reached
    if not reached.any():
        return None, None
    position = int(reached.argmax())
    return int(history["epoch"].iloc[position]), float(history["seconds"].iloc[: position + 1].sum())


def run_summary(histories: dict[str, pd.DataFrame], thresholds: tuple[float, ...] = THRESHOLDS) -> pd.DataFrame:
    """One row per run, in ``histories`` order: run, epochs, final/best test accuracy, best epoch,
    final test loss, total seconds, and per threshold (e.g. 98) ``epochs_to_98`` (Int64, <NA> if
    never reached) and ``seconds_to_98`` (float, NaN if never reached)."""
    rows = []
    for run, history in histories.items():
        missing = [column for column in REQUIRED if column not in history.columns]
        if missing:
            raise ValueError(f"history of run {run!r} lacks columns {missing}")
        history = history.sort_values("epoch")
        accuracy = history["val_accuracy"]
        if accuracy.isna().any():
            logger.warning("Run %r has %d epochs without a test accuracy", run, int(accuracy.isna().sum()))
        has_accuracy = accuracy.notna().any()
        row = {
            "run": run,
            "epochs": len(history),
            "final_test_accuracy": float(accuracy.iloc[-1]) if len(history) else math.nan,
            "best_test_accuracy": float(accuracy.max()) if has_accuracy else math.nan,
            "best_epoch": int(history.loc[accuracy.idxmax(), "epoch"]) if has_accuracy else None,
            "final_test_loss": float(history["val_loss"].iloc[-1]) if len(history) else math.nan,
            "total_seconds": float(history["seconds"].sum()),
        }
        for threshold in thresholds:
            epoch, seconds = first_epoch_reaching(history, threshold)
            row[f"epochs_to_{_percent(threshold)}"] = epoch
            row[f"seconds_to_{_percent(threshold)}"] = math.nan if seconds is None else seconds
        rows.append(row)
    columns = ["run", "epochs", "final_test_accuracy", "best_test_accuracy", "best_epoch", "final_test_loss", "total_seconds"]
    columns += [f"{kind}_to_{_percent(t)}" for t in thresholds for kind in ("epochs", "seconds")]
    summary = pd.DataFrame(rows, columns=columns)
    # Int64 keeps "never reached" as <NA> instead of turning every epoch count into a float
    integers = ["best_epoch"] + [f"epochs_to_{_percent(t)}" for t in thresholds]
    return summary.astype({column: "Int64" for column in integers} | {"epochs": "int64"})


def plot_accuracy_curves(histories: dict[str, pd.DataFrame], title: str, thresholds: tuple[float, ...] = THRESHOLDS) -> plt.Figure:
    """Test accuracy per epoch, one line per run, with the thresholds as thin dashed lines."""
    figure, axes = new_figure()
    with plt.rc_context(STYLE):
        for run, history in histories.items():
            history = history.sort_values("epoch")
            axes.plot(history["epoch"], history["val_accuracy"], marker="o", markersize=3, label=run)
        for threshold in thresholds:
            # no label: the legend lists runs only; the percent axis already names the level
            axes.axhline(threshold, color="#777", lw=0.7, ls="--", zorder=0)
        axes.set(title=title, xlabel="epoch", ylabel="test accuracy")
        axes.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
        # decimals="auto": the interesting range is often 97-100%, where 0 decimals repeat labels
        axes.yaxis.set_major_formatter(PercentFormatter(xmax=1.0))
        axes.legend(frameon=False, loc="lower right")
    return figure


def plot_loss_curves(histories: dict[str, pd.DataFrame], title: str) -> plt.Figure:
    """Train loss (solid) and test loss (dashed) per epoch, one colour per run, log scale."""
    figure, axes = new_figure()
    with plt.rc_context(STYLE):
        for index, (run, history) in enumerate(histories.items()):
            history, colour = history.sort_values("epoch"), f"C{index}"
            axes.plot(history["epoch"], history["train_loss"], color=colour, marker="o", markersize=3, label=f"{run} train")
            axes.plot(history["epoch"], history["val_loss"], color=colour, ls="--", marker="o", markersize=3,
                      label=f"{run} test")
        # losses fall by orders of magnitude; on a linear axis the late epochs, where runs differ, look flat
        axes.set_yscale("log")
        axes.set(title=title, xlabel="epoch", ylabel="cross-entropy loss (log scale)")
        axes.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
        axes.legend(frameon=False)
    return figure


def _reached(row: pd.Series, threshold: float) -> tuple[int | None, float | None]:
    epoch, seconds = row[f"epochs_to_{_percent(threshold)}"], row[f"seconds_to_{_percent(threshold)}"]
    return (None, None) if pd.isna(epoch) else (int(epoch), float(seconds))


def _threshold_clause(run: pd.Series, base: pd.Series, threshold: float) -> str:
    """How ``run`` and ``base`` compare in reaching one threshold, as a clause."""
    label = f"{_percent(threshold)}%"
    (epoch, seconds), (base_epoch, base_seconds) = _reached(run, threshold), _reached(base, threshold)
    if epoch is None and base_epoch is None:
        return f"neither reached {label} ({run['epochs']} vs {base['epochs']} epochs)"
    if epoch is None:
        return f"did not reach {label} in {run['epochs']} epochs ({base['run']}: epoch {base_epoch}, {base_seconds:.1f} s)"
    if base_epoch is None:
        return f"reached {label} at epoch {epoch} ({seconds:.1f} s); {base['run']} did not in {base['epochs']} epochs"
    return f"reached {label} at epoch {epoch} ({seconds:.1f} s) vs epoch {base_epoch} ({base_seconds:.1f} s)"


def _judgement(run: pd.Series, base: pd.Series, points: float, thresholds: tuple[float, ...]) -> str:
    if math.isnan(points):
        return "could not be judged (a final test accuracy is missing)"
    if points >= NOISE_POINTS:
        return "helped"
    if points <= -NOISE_POINTS:
        return "hurt"
    # within noise on accuracy: decide on speed to the highest threshold that either run reached
    for threshold in sorted(thresholds, reverse=True):
        epoch, base_epoch = _reached(run, threshold)[0], _reached(base, threshold)[0]
        if epoch is not None or base_epoch is not None:
            faster = epoch is not None and (base_epoch is None or epoch < base_epoch)
            return "helped" if faster else "made no clear difference"
    return "made no clear difference"


def verdict(summary: pd.DataFrame, baseline: str, thresholds: tuple[float, ...] = THRESHOLDS) -> str:
    """A plain-English paragraph comparing every run in ``summary`` (from ``run_summary`` with the
    same ``thresholds``) with the ``baseline`` run: accuracy difference in points, epochs and
    seconds to each threshold, and whether it helped, hurt or made no clear difference."""
    if baseline not in set(summary["run"]):
        raise ValueError(f"baseline run {baseline!r} is not in the summary (runs: {list(summary['run'])})")
    base = summary.loc[summary["run"] == baseline].iloc[0]
    sentences = []
    for _, run in summary.loc[summary["run"] != baseline].iterrows():
        # rounded so that 99.2% vs 99.0% counts as exactly 0.2 points despite float error
        points = round((run["final_test_accuracy"] - base["final_test_accuracy"]) * 100, 9)
        difference = "unknown" if math.isnan(points) else f"{points:+.1f} points"
        clauses = "; ".join(_threshold_clause(run, base, t) for t in thresholds)
        sentences.append(
            f"Against {baseline}, {run['run']} {_judgement(run, base, points, thresholds)}: final test accuracy "
            f"{run['final_test_accuracy']:.2%} vs {base['final_test_accuracy']:.2%} ({difference}); {clauses}."
        )
    if not sentences:
        sentences.append(f"Only {baseline} is in the summary, so there is nothing to compare it with.")
    sentences.append("Each run is one seed, so differences of a few tenths of a point are within run-to-run noise.")
    return " ".join(sentences)


def _cell(column: str, value: object) -> str:
    if pd.isna(value):
        return "not reached" if "_to_" in column else "n/a"
    if column.endswith("accuracy"):
        return f"{value:.2%}"
    if column.startswith("seconds") or column.endswith("seconds"):
        return f"{value:.1f}"
    if column.endswith("loss"):
        return f"{value:.4f}"
    return str(value).replace("|", "\\|")  # a pipe in a run name would split the cell


def summary_markdown(summary: pd.DataFrame) -> str:
    """``summary`` as a GitHub Markdown table: accuracies in percent, seconds to 0.1 s,
    "not reached" for a threshold a run never reached."""
    headers = [column.replace("_", " ") + ("%" if "_to_" in column else "") for column in summary.columns]
    lines = ["| " + " | ".join(headers) + " |",
             "|" + "|".join(":---" if column == "run" else "---:" for column in summary.columns) + "|"]
    for _, row in summary.iterrows():
        lines.append("| " + " | ".join(_cell(column, row[column]) for column in summary.columns) + " |")
    return "\n".join(lines)


def compare_runs(histories: dict[str, pd.DataFrame], title: str) -> tuple[pd.DataFrame, plt.Figure, plt.Figure]:
    """The summary table and both figures (test accuracy, losses) for ``histories``: what every
    experiment's comparison node returns."""
    return run_summary(histories), plot_accuracy_curves(histories, f"{title}: test accuracy"), plot_loss_curves(histories, f"{title}: loss")


def comparison_markdown(summary: pd.DataFrame, baseline: str) -> list[str]:
    """The Markdown lines every experiment's document ends with: the verdict against ``baseline``,
    the summary table and the two figures of the same run (``{save_version}`` is filled in by
    ``MarkdownReportDataset``)."""
    return [
        verdict(summary, baseline=baseline),
        "",
        summary_markdown(summary),
        "",
        figure_markdown("Test accuracy per epoch", "accuracy_curves.png"),
        "",
        figure_markdown("Loss curves", "loss_curves.png"),
        "",
    ]
