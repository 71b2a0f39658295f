"""Nodes of the ``search`` pipeline: prepare the study, run trials against it, report on it.

The study itself lives in Optuna's storage (``search.storage``), which every trial-running node shares;
what goes between the nodes is only the plan and a count of the trials each node ran."""

from __future__ import annotations

import logging
import time
import warnings
from typing import Any

import matplotlib.pyplot as plt
import optuna
import pandas as pd
import yaml
from sqlalchemy.engine import make_url

from playing_with_mnist.analysis.figures import styled
from playing_with_mnist.search import (
    FINISHED,
    fail_stale_trials,
    finished_trials,
    load_study,
    objective,
    parse_space,
    recipe_settings,
    storage_url,
)

logger = logging.getLogger(__name__)
TABLE_START = ["number", "state", "value", "epochs", "seconds"]


def prepare_search(search: dict[str, Any], train: dict[str, Any]) -> dict[str, Any]:
    """Check ``search.space`` against ``train`` (an unknown key stops the run here, before any trial), open or
    create the study, fail trials left running by a search that died, and on a new study queue the recipe's
    own settings as the first trial. Returns the plan: the space and the deadline (epoch seconds, or None)."""
    space = parse_space(search.get("space") or {}, train)
    study = load_study(search)
    fail_stale_trials(study)
    if not study.trials:
        study.enqueue_trial(recipe_settings(space, train))
    minutes = search.get("timeout_minutes")
    logger.info("Study %r: %d of %d trials finished", study.study_name, finished_trials(study), search["n_trials"])
    return {"space": list(space), "deadline": time.time() + 60 * minutes if minutes else None}


def run_trials(plan: dict[str, Any], search: dict[str, Any], train: dict[str, Any], model_input: dict[str, Any],
               split: dict[str, Any], worker: int = 0) -> int:
    """Run trials of the study until ``search.n_trials`` are complete or pruned (counting other workers' and
    earlier runs') or the deadline passes; each trains ``train`` with the trial's settings on the cache and split.
    Returns how many trials this node ran."""
    space = parse_space(search.get("space") or {}, train)
    study = load_study(search, worker)
    remaining = int(search["n_trials"]) - finished_trials(study)
    timeout = None if plan["deadline"] is None else plan["deadline"] - time.time()
    if remaining <= 0 or (timeout is not None and timeout <= 0):
        return 0
    ran: list[int] = []
    stop = optuna.study.MaxTrialsCallback(int(search["n_trials"]), states=FINISHED)
    study.optimize(lambda trial: objective(trial, train, space, model_input, split), n_trials=remaining, timeout=timeout,
                   callbacks=[lambda _, trial: ran.append(trial.number), stop], gc_after_trial=True)
    return len(ran)


def trials_table(study: optuna.Study) -> pd.DataFrame:
    """One row per trial: number, state, value, epochs trained, seconds, then each searched setting."""
    rows = [{"number": t.number, "state": t.state.name.lower(), "value": t.value, "epochs": t.user_attrs.get("epochs", 0),
             "seconds": t.duration.total_seconds() if t.duration else None, **t.params} for t in study.trials]
    return pd.DataFrame(rows, columns=TABLE_START + sorted({key for t in study.trials for key in t.params}))


def plot_history(table: pd.DataFrame) -> plt.Figure:
    """Each complete trial's value by trial number, pruned ones at their last reported accuracy, and the best so far."""
    with styled() as (figure, axes):
        complete = table[table["state"] == "complete"]
        axes.plot(complete["number"], complete["value"], "o", color="C0", label="complete")
        if "last_reported" in table:
            pruned = table[table["state"] == "pruned"]
            axes.plot(pruned["number"], pruned["last_reported"], "x", color="C3", label="pruned (last epoch's accuracy)")
        best = complete.set_index("number")["value"].cummax()
        axes.step(best.index, best.values, where="post", color="C1", label="best so far")
        axes.set(title="Search: validation accuracy per trial", xlabel="trial", ylabel="validation accuracy")
        axes.legend(loc="lower right")
    return figure


def plot_importance(study: optuna.Study) -> plt.Figure:
    """Optuna's parameter importances (matplotlib backend); a figure saying why when there are too few trials."""
    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    if len(complete) >= 2 and any(len({repr(t.params.get(k)) for t in complete}) > 1 for k in complete[0].params):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                figure = optuna.visualization.matplotlib.plot_param_importances(study).figure
                figure.tight_layout()  # Optuna's layout cuts long setting names (augment.rotate) at the left
                return figure
        except (RuntimeError, ValueError) as error:  # e.g. settings that never varied among complete trials
            reason = str(error)
    else:
        reason = f"{len(complete)} complete trial(s) with varied settings: importances need at least 2"
    with styled(grid=False) as (figure, axes):
        axes.axis("off")
        axes.text(0.5, 0.5, f"No parameter importances yet:\n{reason}", ha="center", va="center", wrap=True)
    return figure


def best_recipe(study: optuna.Study) -> str:
    """The best trial's complete ``train`` block as YAML, to save as ``conf/<env>/parameters_train.yml``."""
    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    if not complete:
        return "# no complete trial yet: run the search again to continue it\n"
    best = study.best_trial
    header = f"# Study {study.study_name!r}, trial {best.number}: validation accuracy {best.value:.4f}\n"
    return header + yaml.safe_dump({"train": best.user_attrs["train"]}, sort_keys=False)


def results_document(study: optuna.Study, table: pd.DataFrame, search: dict[str, Any]) -> str:
    """The search in Markdown: the study, its trials by state, the best trial and the ten best."""
    counts = table["state"].value_counts().to_dict()
    lines = [f"# Search: study `{study.study_name}`", "",
             f"Storage: `{make_url(storage_url(search)).render_as_string(hide_password=True)}`; budget {search['n_trials']} "
             f"complete or pruned trials.", "",
             "Trials: " + ", ".join(f"{counts.get(state, 0)} {state}" for state in ("complete", "pruned", "fail", "running", "waiting")),
             ""]
    if (table["state"] == "complete").any():
        best = study.best_trial
        lines += [f"Best: trial {best.number}, validation accuracy {best.value:.4f}, settings "
                  + ", ".join(f"`{key}={value}`" for key, value in best.params.items()) + " (best_recipe.yml).", "",
                  "## Best ten complete trials", "",
                  markdown_table(table[table["state"] == "complete"].nlargest(10, "value")), ""]
    lines += ["Figures: history.png (value per trial, best so far), importance.png (parameter importances).",
              f"Browse the study: `optuna-dashboard {make_url(storage_url(search)).render_as_string(hide_password=True)}`.", ""]
    return "\n".join(lines)


def markdown_table(table: pd.DataFrame) -> str:
    cells = [[f"{v:.4g}" if isinstance(v, float) else str(v) for v in row] for row in table.itertuples(index=False)]
    return "\n".join("| " + " | ".join(row) + " |" for row in [list(table.columns), ["---"] * len(table.columns), *cells])


def summarise_search(search: dict[str, Any], *ran: int) -> tuple[pd.DataFrame, plt.Figure, plt.Figure, str, str]:
    """After the trial nodes (``ran``: how many each ran): the study's trials table, history and importance
    figures, best recipe and results document."""
    study = load_study(search)
    fail_stale_trials(study)  # a trial whose worker died, if no later trial has marked it failed yet
    table = trials_table(study)
    logger.info("This run ran %d trials; the study holds %d", sum(ran), len(table))
    last = {t.number: t.intermediate_values[max(t.intermediate_values)] for t in study.trials if t.intermediate_values}
    figure = plot_history(table.assign(last_reported=table["number"].map(last)))
    return table, figure, plot_importance(study), best_recipe(study), results_document(study, table, search)
