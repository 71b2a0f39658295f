"""Shared pieces of reports: the figure style, image grids, how a data source reads in a document,
and links from a document to the figures of the same run."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import matplotlib

matplotlib.use("Agg")  # reports are files; never open a window

import matplotlib.pyplot as plt  # noqa: E402

if TYPE_CHECKING:
    import torch

STYLE = {
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "figure.dpi": 110,
    "font.size": 10,
}


def describe_source(source: dict[str, Any]) -> str:
    """``trainPart1.zip (sha256 ab12...)`` or ``synthetic demo (seed 0)``."""
    if source.get("kind") in ("zip", "mnist"):
        return f"{source['name']} (sha256 {source['sha256']})"
    return f"{source.get('kind', 'synthetic demo')} (seed {source.get('seed')}, generator v{source.get('generator_version')})"


def new_figure(width: float = 7.0, height: float = 4.2) -> tuple[plt.Figure, plt.Axes]:
    with plt.rc_context(STYLE):
        figure, axes = plt.subplots(figsize=(width, height), layout="constrained")
    return figure, axes


# A Kedro run saves every versioned output under one version that nodes never see; a
# document writes this placeholder and MarkdownReportDataset fills in the run's version.
SAVE_VERSION = "{save_version}"


_ARTIFACT_LINK = "../../{name}/" + SAVE_VERSION + "/{name}"
# The same shape, read back: the file name is the group (and appears twice).
_ARTIFACT_LINK_PATTERN = re.compile(
    re.escape(_ARTIFACT_LINK).replace(re.escape("{name}"), r"([^/()]+)", 1).replace(re.escape("{name}"), r"\1"))


def artifact_link(file_name: str) -> str:
    """The relative link from a versioned document to ``file_name``, a versioned output of the
    same run in the same folder: ``../../loss_graph.png/{save_version}/loss_graph.png``."""
    return _ARTIFACT_LINK.replace("{name}", file_name)


def flat_artifact_links(document: str) -> str:
    """``document`` with each :func:`artifact_link` replaced by the bare file name, for places
    (an MLflow run's artifacts) where the document and its figures sit side by side."""
    return _ARTIFACT_LINK_PATTERN.sub(r"\1", document)


def figure_markdown(caption: str, file_name: str) -> str:
    """A Markdown image of the same run's ``file_name`` (see :func:`artifact_link`)."""
    return f"![{caption}]({artifact_link(file_name)})"


def plot_image_grid(images: torch.Tensor, titles: list[str], colours: list[str] | None = None, columns: int = 8, title: str = "") -> plt.Figure:
    """uint8 images [N, 1, S, S] in a grid, each with a small title."""
    rows = max(1, -(-len(images) // columns))
    figure, axes = plt.subplots(rows, columns, figsize=(columns * 1.25, rows * 1.45 + 0.4), squeeze=False, layout="constrained")
    for index, ax in enumerate(axes.flat):
        ax.axis("off")
        if index < len(images):
            ax.imshow(images[index, 0].numpy(), cmap="gray", vmin=0, vmax=255, interpolation="nearest")
            ax.set_title(titles[index], fontsize=8, color=(colours or ["black"] * len(images))[index])
    if title:
        figure.suptitle(title)
    return figure
