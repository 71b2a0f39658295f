"""The Optuna search's pieces: its space, its storage, its sampler and pruner, and one trial's training.

``conf/base/parameters_search.yml`` declares ``search``; ``search.space`` maps ``train`` settings (dotted
for nested ones: ``augment.rotate``) to distributions. A study lives in Optuna's RDB storage (SQLite in the
project by default), so a search run again continues it, and every trial-running node of a run shares it.
Not kedro-datasets' ``optuna.StudyDataset``: it cannot create a study on load, opens its storage without
heartbeats (needed to fail the trials of a process that died) and resolves a SQLite file against the cwd.
"""

from __future__ import annotations

import logging
import math
import os
import socket
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import optuna
from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution

from playing_with_mnist.sweep import project_root, registered_parameters
from playing_with_mnist.tracking import trials as trial_tracking
from playing_with_mnist.tracking.store import absolute_store
from playing_with_mnist.training.config import TrainConfig
from playing_with_mnist.training.pipeline import train_model

logger = logging.getLogger(__name__)

RANGE_KEYS = {"low", "high", "log", "step"}
FINISHED = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)


def train_settings() -> set[str]:
    """Every setting of ``train`` by its dotted name (``lr``, ``augment.rotate``, ``model.drop_path``)."""
    flat = set()
    for name, value in TrainConfig().to_dict().items():
        flat |= {f"{name}.{key}" for key in value} if isinstance(value, dict) else {name}
    return flat


def nested(values: dict[str, Any]) -> dict[str, Any]:
    """``{"augment.rotate": 5, "lr": 0.01}`` -> ``{"augment": {"rotate": 5}, "lr": 0.01}`` (changes to ``train``)."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        head, _, tail = key.partition(".")
        if tail:
            out.setdefault(head, {})[tail] = value
        else:
            out[key] = value
    return out


def recipe_value(train: dict[str, Any], key: str) -> Any:
    """The value of the dotted setting ``key`` in the run's ``train`` (checked, with defaults filled in)."""
    value: Any = TrainConfig.from_params(train).to_dict()
    for part in key.split("."):
        value = value[part]
    return value


def parse_space(space: dict[str, Any], train: dict[str, Any]) -> dict[str, BaseDistribution]:
    """``search.space`` as Optuna distributions: ``{choices: [...]}`` is categorical, ``{low, high[, log, step]}``
    an int range when low and high are whole numbers, else a float range. A key that is not a ``train`` setting,
    a malformed entry, a bound or choice ``train`` rejects, or a space without the recipe's own value (the first
    trial) is a ValueError naming ``search.space.<key>``."""
    known, distributions = train_settings(), {}
    for key, spec in (space or {}).items():
        where = f"search.space.{key}"
        if key not in known:
            raise ValueError(f"{where}: {key!r} is not a train setting (known: {', '.join(sorted(known))})")
        if not isinstance(spec, dict) or not (set(spec) == {"choices"} or {"low", "high"} <= set(spec) <= RANGE_KEYS):
            raise ValueError(f"{where} must be {{choices: [...]}} or {{low: .., high: .., log: bool, step: ..}}, got {spec!r}")
        if "choices" in spec:
            if not isinstance(spec["choices"], list) or not spec["choices"]:
                raise ValueError(f"{where}.choices must be a non-empty list, got {spec['choices']!r}")
            distribution: BaseDistribution = CategoricalDistribution(spec["choices"])
            candidates = list(spec["choices"])
        else:
            whole = all(isinstance(spec[b], int) and not isinstance(spec[b], bool) for b in ("low", "high"))
            kind = IntDistribution if whole else FloatDistribution
            try:
                distribution = kind(spec["low"], spec["high"], log=bool(spec.get("log", False)),
                                    step=spec.get("step", 1 if whole else None))
            except (TypeError, ValueError) as error:
                raise ValueError(f"{where}: {error}") from error
            candidates = [spec["low"], spec["high"]]
        for candidate in candidates:
            TrainConfig.from_params(train, nested({key: candidate}), section="search.space")
        own = recipe_value(train, key)
        if not (own in spec["choices"] if "choices" in spec else spec["low"] <= own <= spec["high"]):
            raise ValueError(f"{where} must include the recipe's own value {own!r} (the study's first trial), got {spec!r}")
        distributions[key] = distribution
    if not distributions:
        raise ValueError("search.space is empty: name at least one train setting to search")
    return distributions


def recipe_settings(space: dict[str, BaseDistribution], train: dict[str, Any]) -> dict[str, Any]:
    """The recipe's own value of every searched setting (a categorical one as its choice spells it): the first trial."""
    own = {key: recipe_value(train, key) for key in space}
    return {key: next(c for c in d.choices if c == own[key]) if isinstance(d, CategoricalDistribution) else own[key]
            for key, d in space.items()}


def registered_workers() -> int:
    """``search.workers``: how many trial-running nodes the pipeline has (read when it is registered)."""
    workers = (registered_parameters().get("search") or {}).get("workers", 2)
    if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
        raise ValueError(f"search.workers must be a whole number of at least 1, got {workers!r}")
    return workers


def storage_url(search: dict[str, Any], project_path: Path | None = None) -> str:
    """``search.storage`` (a relative ``sqlite:///`` file is made absolute in ``project_path``, by default the
    project of the cwd; default ``optuna.db``)."""
    return absolute_store(search.get("storage") or "sqlite:///optuna.db", project_path or project_root())


def open_storage(search: dict[str, Any]) -> optuna.storages.RDBStorage:
    """The study's storage, with heartbeats: a trial whose process died (killed, a lost worker) stops beating
    and is marked failed once ``heartbeat_seconds`` x 2 have passed (by the next trial that starts)."""
    beat, url = int(search.get("heartbeat_seconds", 30)), storage_url(search)
    with warnings.catch_warnings():  # heartbeats are "experimental" in Optuna since 2.9, and what it offers for this
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        # SQLite: wait for another worker's write rather than fail at once
        return optuna.storages.RDBStorage(url, heartbeat_interval=beat, grace_period=2 * beat,
                                          engine_kwargs={"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {})


def fail_stale_trials(study: optuna.Study) -> None:
    """Mark failed the trials of ``study`` left running by a process that died (their heartbeat stopped)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)


def make_pruner(config: dict[str, Any] | None) -> optuna.pruners.BasePruner:
    """``search.pruner``: ``{class: MedianPruner | SuccessiveHalvingPruner | NopPruner | ..., <its arguments>}``."""
    config = dict(config or {"class": "MedianPruner"})
    name = config.pop("class", "MedianPruner")
    if not isinstance(getattr(optuna.pruners, name, None), type):
        raise ValueError(f"search.pruner.class {name!r} is not one of Optuna's pruners")
    return getattr(optuna.pruners, name)(**config)


def load_study(search: dict[str, Any], worker: int = 0) -> optuna.Study:
    """The study ``search.study_name`` (created when new), maximising validation accuracy, with a TPE sampler
    seeded from ``search.seed``, the worker and the trials already made (so neither two workers nor a continued
    study draw the same settings again) and ``search.pruner``."""
    storage = open_storage(search)
    made = sum(s.n_trials for s in optuna.get_all_study_summaries(storage, include_best_trial=False) if s.study_name == search["study_name"])
    seed = int(np.random.SeedSequence([int(search.get("seed", 0)), worker, made]).generate_state(1)[0])
    return optuna.create_study(study_name=search["study_name"], storage=storage, direction="maximize", load_if_exists=True,
                               sampler=optuna.samplers.TPESampler(seed=seed), pruner=make_pruner(search.get("pruner")))


def finished_trials(study: optuna.Study) -> int:
    """Trials that count against ``search.n_trials``: complete and pruned ones (failed ones do not)."""
    return len(study.get_trials(deepcopy=False, states=FINISHED))


def objective(trial: optuna.Trial, train: dict[str, Any], space: dict[str, BaseDistribution],
              model_input: dict[str, Any], split: dict[str, Any]) -> float:
    """Train ``train`` with the trial's settings laid over it; its validation accuracy after every epoch goes to
    the pruner (a pruned trial stops at once). Returns the last epoch's validation accuracy."""
    chosen = {key: _suggest(trial, key, distribution) for key, distribution in space.items()}
    config = TrainConfig.from_params(train, nested(chosen), section="search.space")
    trial.set_user_attr("train", config.to_dict())
    trial.set_user_attr("process", f"{socket.gethostname()}:{os.getpid()}")  # where it ran, on a cluster
    tracker = trial_tracking.current()
    run = tracker.start(trial.number, chosen) if tracker else None
    started = time.perf_counter()

    def report(epoch: int, row: dict[str, float]) -> None:
        trial.set_user_attr("epochs", epoch)
        trial.set_user_attr("seconds", time.perf_counter() - started)
        if math.isnan(row["val_accuracy"]):  # not validated after this epoch (train.val_every): nothing to judge
            return
        trial.report(row["val_accuracy"], epoch)
        if tracker:
            tracker.epoch(run, epoch, row)
        if trial.should_prune():
            raise optuna.TrialPruned(f"validation accuracy {row['val_accuracy']:.4f} after epoch {epoch}")

    try:
        _, history = train_model(model_input, split, config, on_epoch=report)
    except optuna.TrialPruned:
        if tracker:
            tracker.end(run, "pruned")
        raise
    except BaseException:
        if tracker:
            tracker.end(run, "failed")
        raise
    value = float(history["val_accuracy"].iloc[-1])
    if tracker:
        tracker.end(run, "complete", value)
    return value


def _suggest(trial: optuna.Trial, name: str, distribution: BaseDistribution) -> Any:
    if isinstance(distribution, CategoricalDistribution):
        return trial.suggest_categorical(name, distribution.choices)
    if isinstance(distribution, IntDistribution):
        return trial.suggest_int(name, distribution.low, distribution.high, step=distribution.step, log=distribution.log)
    return trial.suggest_float(name, distribution.low, distribution.high, step=distribution.step, log=distribution.log)
