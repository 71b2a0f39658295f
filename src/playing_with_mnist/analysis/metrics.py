"""Numbers about trained models: accuracies and confusions of predictions, and comparisons of
training runs (and their verdict in words). Nothing here writes files. (Label noise: ``noise``.)

Comparisons take ``histories``: run name -> per-epoch history with the columns of ``REQUIRED``
(accuracies as fractions, ``seconds`` per epoch). In the MNIST experiments ``val_*`` is measured
on the MNIST test set, so everything produced from them says "test".
"""

from __future__ import annotations

import logging
import math

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from playing_with_mnist.reporting import figure_markdown

logger = logging.getLogger(__name__)


# ---- predictions ---------------------------------------------------------------------------------

def case_folded_accuracy(table: pd.DataFrame, class_names: list[str]) -> float | None:
    """Accuracy of a :func:`prediction_table` when a prediction counts as right if it is the
    same character ignoring case (o/O, s/S, x/X).

    ``None`` when no two of ``class_names`` differ only by case (digits alone): it would equal the accuracy.
    """
    if len({name.casefold() for name in class_names}) == len(set(class_names)):
        return None
    return float((table["true"].str.casefold() == table["predicted"].str.casefold()).mean())


def accuracies(predicted: torch.Tensor, labels: torch.Tensor, names: list[str]) -> tuple[float, float | None]:
    """Accuracy of predicted class indices against ``labels``, and its case-folded twin
    (:func:`case_folded_accuracy`: ``None`` when no two of ``names`` differ only by case)."""
    table = pd.DataFrame({"true": [names[i] for i in labels], "predicted": [names[i] for i in predicted]})
    return float((predicted == labels).float().mean()), case_folded_accuracy(table, names)


def prediction_table(probabilities: torch.Tensor, labels: torch.Tensor, names: list[str], members: list[str]) -> pd.DataFrame:
    """One row per image: file, true and predicted class, confidence, loss."""
    confidence, predicted = probabilities.max(1)
    loss = F.nll_loss(probabilities.clamp_min(1e-12).log(), labels, reduction="none")
    return pd.DataFrame({"file": members, "label": labels.numpy(), "true": [names[i] for i in labels],
                         "predicted_label": predicted.numpy(), "predicted": [names[i] for i in predicted],
                         "confidence": confidence.numpy(), "loss": loss.numpy()})


def pair_counts(rows: np.ndarray, columns: np.ndarray, num_classes: int) -> np.ndarray:
    """Counts of (row, column) label pairs [C, C]: one bincount over flat cells, much faster than np.add.at."""
    return np.bincount(rows * num_classes + columns, minlength=num_classes**2).reshape(num_classes, num_classes)


def confusion_counts(table: pd.DataFrame, num_classes: int) -> np.ndarray:
    """Counts [true, predicted]."""
    return pair_counts(table["label"].to_numpy(), table["predicted_label"].to_numpy(), num_classes)


def per_class_accuracy(table: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    """Per class: images, correct, accuracy (NaN for a class with no image)."""
    matrix = confusion_counts(table, len(names))
    images, correct = matrix.sum(axis=1), np.diag(matrix)
    accuracy = np.divide(correct, images, out=np.full(len(names), np.nan), where=images > 0)
    return pd.DataFrame({"class": names, "images": images, "correct": correct, "accuracy": accuracy})


def most_confused_pairs(matrix: np.ndarray, names: list[str], top: int = 10) -> pd.DataFrame:
    """The ``top`` (true, predicted) pairs with the most mistakes: true, predicted, count."""
    off_diagonal = matrix.copy()
    np.fill_diagonal(off_diagonal, 0)
    rows = [np.unravel_index(i, matrix.shape) for i in np.argsort(off_diagonal, axis=None)[::-1][:top]]
    return pd.DataFrame([(names[t], names[p], int(off_diagonal[t, p])) for t, p in rows if off_diagonal[t, p] > 0],
                        columns=["true", "predicted", "count"])


def confusion_summary(table: pd.DataFrame, names: list[str]) -> tuple[np.ndarray, pd.DataFrame, pd.DataFrame]:
    """Of a :func:`prediction_table`: confusion counts, per-class accuracy and the ten most confused pairs."""
    matrix = confusion_counts(table, len(names))
    return matrix, per_class_accuracy(table, names), most_confused_pairs(matrix, names)

# ---- comparing training runs ---------------------------------------------------------------------

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
        if missing := [column for column in REQUIRED if column not in history.columns]:
            raise ValueError(f"history of run {run!r} lacks columns {missing}")
        history = history.sort_values("epoch")
        accuracy = history["val_accuracy"]
        final = history.iloc[-1] if len(history) else pd.Series({"val_accuracy": math.nan, "val_loss": math.nan})
        if len(history) and math.isnan(final["val_accuracy"]):  # earlier epochs may be unscored: train.val_every
            logger.warning("Run %r has no test accuracy after its last epoch", run)
        best = accuracy.idxmax() if accuracy.notna().any() else None
        row = {"run": run, "epochs": len(history), "final_test_accuracy": float(final["val_accuracy"]),
               "best_test_accuracy": math.nan if best is None else float(accuracy[best]),
               "best_epoch": None if best is None else int(history.loc[best, "epoch"]),
               "final_test_loss": float(final["val_loss"]), "total_seconds": float(history["seconds"].sum())}
        for threshold in thresholds:
            epoch, seconds = first_epoch_reaching(history, threshold)
            row |= {f"epochs_to_{_percent(threshold)}": epoch,
                    f"seconds_to_{_percent(threshold)}": math.nan if seconds is None else seconds}
        rows.append(row)
    columns = ["run", "epochs", "final_test_accuracy", "best_test_accuracy", "best_epoch", "final_test_loss", "total_seconds"]
    columns += [f"{kind}_to_{_percent(t)}" for t in thresholds for kind in ("epochs", "seconds")]
    summary = pd.DataFrame(rows, columns=columns)
    # Int64 keeps "never reached" as <NA> instead of turning every epoch count into a float
    integers = ["best_epoch"] + [f"epochs_to_{_percent(t)}" for t in thresholds]
    return summary.astype({column: "Int64" for column in integers} | {"epochs": "int64"})


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
    if "epoch" in column and float(value).is_integer():  # iterrows turns a row's Int64 counts into floats beside NaN
        return str(int(value))
    return str(value).replace("|", "\\|")  # a pipe in a run name would split the cell


def summary_markdown(summary: pd.DataFrame) -> str:
    """``summary`` as a GitHub Markdown table: accuracies in percent, seconds to 0.1 s,
    "not reached" for a threshold a run never reached."""
    headers = [column.replace("_", " ") + ("%" if "_to_" in column else "") for column in summary.columns]
    rows = [[_cell(column, row[column]) for column in summary.columns] for _, row in summary.iterrows()]
    align = "|" + "|".join(":---" if column == "run" else "---:" for column in summary.columns) + "|"
    return "\n".join(["| " + " | ".join(headers) + " |", align, *("| " + " | ".join(row) + " |" for row in rows)])


def comparison_markdown(summary: pd.DataFrame, baseline: str, val_every: int = 1) -> list[str]:
    """The Markdown blocks (see ``reporting.markdown``) every experiment's document ends with: the verdict
    against ``baseline``, the summary table and the two figures of the same run. ``val_every``: the runs'
    ``train.val_every`` (their test accuracy after every epoch where 1; else the reader is told which)."""
    scored = ("after the last epoch only" if val_every == 0 else f"after every {val_every} epochs and after the last") + \
        " (`val_every`): best epochs and epochs to a threshold are the first such epoch, not the first epoch."
    return [*([f"Test accuracy was scored {scored}"] if val_every != 1 else []), verdict(summary, baseline=baseline), summary_markdown(summary),
            figure_markdown("Test accuracy per epoch", "accuracy_curves.png"), figure_markdown("Loss curves", "loss_curves.png")]
