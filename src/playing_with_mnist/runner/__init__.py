"""Runners of the project: ``kedro run --runner=playing_with_mnist.runner.DaskRunner``."""

from .dask_runner import DaskRunner

__all__ = ["DaskRunner"]
