"""Shared pieces of reports: how a data source and durations read in a document."""

from __future__ import annotations

from typing import Any

import matplotlib

matplotlib.use("Agg")  # reports are files; never open a window

import matplotlib.pyplot as plt  # noqa: E402

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
