"""A search's trials in MLflow: each trial a run nested under the ``kedro run``'s, tagged with its number and
state, with its settings and its validation accuracy per epoch.

Trials are not nodes, so the node-level hooks cannot open their runs: :class:`TrainingTrackingHooks` makes
a :class:`TrialTracker` current while a node tagged :data:`SEARCH_TAG` runs (in the driver, or in a Dask
worker with the driver's parent run), and the objective logs through :func:`current`.
"""

from __future__ import annotations

from typing import Any

SEARCH_TAG = "search_trials"  # nodes that run a search's trials
_current: TrialTracker | None = None


class TrialTracker:
    """Logs trials into ``client``'s store under ``parent`` (run id, experiment id)."""

    def __init__(self, client: Any, parent: tuple[str, str], tags: dict[str, str]):
        self.client, self.parent, self.tags = client, parent, tags

    def start(self, number: int, settings: dict[str, Any]) -> str:
        from mlflow.entities import Param

        run = self.client.create_run(self.parent[1], run_name=f"trial_{number}",
                                     tags={"mlflow.parentRunId": self.parent[0], "trial": str(number), "state": "running",
                                           **self.tags})
        self.client.log_batch(run.info.run_id, params=[Param(key, str(value)) for key, value in settings.items()])
        return run.info.run_id

    def epoch(self, run_id: str, epoch: int, row: dict[str, float]) -> None:
        self.client.log_metric(run_id, "val_accuracy", float(row["val_accuracy"]), step=epoch)

    def end(self, run_id: str, state: str, value: float | None = None) -> None:
        self.client.set_tag(run_id, "state", state)
        if value is not None:
            self.client.log_metric(run_id, "value", value)
        self.client.set_terminated(run_id, "FAILED" if state == "failed" else "FINISHED")


def current() -> TrialTracker | None:
    """The tracker of the search node running in this process; ``None`` when nothing is tracked."""
    return _current


def activate(tracker: TrialTracker | None) -> None:
    global _current
    _current = tracker
