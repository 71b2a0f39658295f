"""Scoring a trained model: predictions, per-class accuracy, confusions, and their figures.

Used by the ``report`` pipeline (validation set) and the ``evaluate`` pipeline (a test zip).
"""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from matplotlib.colors import PowerNorm

from playing_with_mnist.data.archive import CharacterArchive
from playing_with_mnist.data.model_input import ModelInput, decode_archive
from playing_with_mnist.models import build_model
from playing_with_mnist.reporting import STYLE, new_figure
from playing_with_mnist.training.engine import predict_logits
from playing_with_mnist.training.hardware import select_device, select_precision


def load_model(trained_model: dict[str, Any]) -> torch.nn.Module:
    """Rebuild the network from a saved checkpoint dict (config + weights)."""
    model = build_model(trained_model["model_config"])
    model.load_state_dict(trained_model["state_dict"])
    return model.eval()


def decode_test_zip(archive: CharacterArchive, trained_model: dict[str, Any], params: dict[str, Any]) -> tuple[ModelInput, torch.Tensor]:
    """A labelled zip in the training layout, decoded exactly as the training set was
    (``decode_archive`` at the model's image size), and its labels as the model's class indices.

    Class folders are matched to the model's by name; a folder the model does not know is an
    error that lists them all.
    """
    test, _ = decode_archive(archive, {**params, "image_size": trained_model["image_size"]})
    known = {folder: index for index, folder in enumerate(trained_model["class_folders"])}
    unknown = [folder for folder in test["class_folders"] if folder not in known]
    if unknown:
        raise ValueError(
            f"{archive.path.name}: class folder(s) the model was not trained on: {', '.join(unknown)}. "
            f"The model knows {len(known)} classes: {', '.join(trained_model['class_folders'])}"
        )
    to_model = torch.tensor([known[folder] for folder in test["class_folders"]])
    return test, to_model[test["labels"]]


def uses_tta(trained_model: dict[str, Any]) -> bool:
    """Whether the model was trained with ``train.tta``: then every prediction averages its test-time views."""
    return bool(trained_model.get("train_config", {}).get("tta", False))


def predict(trained_model: dict[str, Any], images: torch.Tensor, batch_size: int = 256, tta: bool | None = None) -> torch.Tensor:
    """Class probabilities [N, C] for uint8 images [N, 1, S, S], on the best device available.

    Test-time augmentation is on when the model was trained with ``train.tta`` (``tta=None``)
    or when ``tta`` says so.
    """
    device = select_device("auto")
    model = load_model(trained_model).to(device)
    tta = uses_tta(trained_model) if tta is None else tta
    logits = predict_logits(model, images.to(device), batch_size, select_precision("auto", device), tta=tta)
    return logits.softmax(1).cpu()


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
    return pd.DataFrame({
        "file": members,
        "label": labels.numpy(),
        "true": [names[i] for i in labels],
        "predicted_label": predicted.numpy(),
        "predicted": [names[i] for i in predicted],
        "confidence": confidence.numpy(),
        "loss": loss.numpy(),
    })


def confusion_counts(table: pd.DataFrame, num_classes: int) -> np.ndarray:
    """Counts [true, predicted]."""
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (table["label"].to_numpy(), table["predicted_label"].to_numpy()), 1)
    return matrix


def per_class_accuracy(table: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    """Per class: images, correct, accuracy (NaN for a class with no image)."""
    grouped = table.assign(correct=table["label"] == table["predicted_label"]).groupby("label")["correct"]
    counts = grouped.count().reindex(range(len(names)), fill_value=0)
    correct = grouped.sum().reindex(range(len(names)), fill_value=0)
    return pd.DataFrame({
        "class": names, "images": counts.to_numpy(), "correct": correct.to_numpy(),
        "accuracy": np.where(counts > 0, correct / counts.clip(lower=1), np.nan),
    })


def most_confused_pairs(matrix: np.ndarray, names: list[str], top: int = 10) -> pd.DataFrame:
    """The ``top`` (true, predicted) pairs with the most mistakes."""
    off_diagonal = matrix.copy()
    np.fill_diagonal(off_diagonal, 0)
    order = np.argsort(off_diagonal, axis=None)[::-1][:top]
    rows = [np.unravel_index(i, matrix.shape) for i in order]
    return pd.DataFrame(
        [{"true": names[t], "predicted": names[p], "count": int(off_diagonal[t, p])} for t, p in rows if off_diagonal[t, p] > 0],
        columns=["true", "predicted", "count"],
    )


def plot_confusion(matrix: np.ndarray, names: list[str], title: str) -> plt.Figure:
    """Row-normalised confusion matrix; a power norm keeps small confusions visible."""
    rows = matrix.sum(1, keepdims=True)
    share = np.divide(matrix, rows, out=np.zeros(matrix.shape, dtype=float), where=rows > 0)
    side = max(5.0, 0.16 * len(names) + 2)
    figure, axes = new_figure(side + 1.2, side)
    with plt.rc_context({**STYLE, "axes.grid": False}):
        axes.grid(False)  # grid lines would cut through the cells
        image = axes.imshow(share, cmap="magma_r", norm=PowerNorm(gamma=0.4, vmin=0, vmax=1), interpolation="nearest")
        ticks = np.arange(len(names))
        fontsize = 7 if len(names) > 30 else 9
        axes.set_xticks(ticks, names, fontsize=fontsize)
        axes.set_yticks(ticks, names, fontsize=fontsize)
        axes.set(xlabel="predicted", ylabel="true", title=title)
        figure.colorbar(image, ax=axes, fraction=0.04, label="share of the true class (row)")
    return figure


def plot_per_class_accuracy(per_class: pd.DataFrame, title: str) -> plt.Figure:
    """Bars of per-class accuracy in class order, the mean as a line."""
    figure, axes = new_figure(max(7.0, 0.15 * len(per_class) + 2), 3.6)
    with plt.rc_context(STYLE):
        accuracy = per_class["accuracy"].fillna(0)
        colours = plt.cm.RdYlGn(accuracy.to_numpy())
        axes.bar(per_class["class"], accuracy, color=colours, edgecolor="none")
        axes.axhline(per_class["accuracy"].mean(), color="#333", lw=1, ls="--", label=f"mean {per_class['accuracy'].mean():.0%}")
        axes.set_ylim(0, 1.02)
        axes.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:.0%}"))
        axes.tick_params(axis="x", labelsize=7 if len(per_class) > 30 else 9)
        axes.set(title=title, xlabel="class", ylabel="accuracy")
        axes.legend(frameon=False, loc="lower right")
    return figure
