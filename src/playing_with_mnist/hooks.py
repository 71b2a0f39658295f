"""Project hooks."""

from __future__ import annotations

import os

import matplotlib
from kedro.framework.hooks import hook_impl


class RunEnvironmentHooks:
    """Make every run headless (no plot windows) and keep kedro-telemetry off in child processes too."""

    @hook_impl
    def after_context_created(self, context) -> None:  # noqa: ANN001 - Kedro's signature
        matplotlib.use("Agg")
        os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "1")
