"""The sweep's configurations: which trainings ``kedro run --pipelines=sweep`` makes (and the points of
Task 2's learning curve, also read when the pipelines are registered: :func:`registered_points`).

``conf/base/parameters_sweep.yml`` declares recipes (each one's changes to ``train``) and seeds; the
OmegaConf resolver ``sweep_runs`` (``settings.py``) makes ``sweep.runs`` of them: ``<recipe>_s<seed>`` ->
that training's changes to ``train``. Kedro builds pipelines before it reads parameters, so the
registry reads them once itself (:func:`registered_runs`) and makes one training per entry.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

RUN_NAME = re.compile(r"^(?P<recipe>.+)_s(?P<seed>\d+)$")
CURVE_POINT = re.compile(r"^n(?P<size>\d+)_s(?P<seed>\d+)\.")  # a learning curve's training: n300_s1.scratch
MNIST_EXPERIMENTS = ("mnist_transfer", "noisy_labels")  # their trainings lay `mnist_recipe` over `train`


def run_name(recipe: str, seed: int) -> str:
    """``tuned``, 2 -> ``tuned_s2``: the training's namespace inside ``sweep``."""
    return f"{recipe}_s{int(seed)}"


def recipe_and_seed(name: str) -> tuple[str, int | None]:
    """``tuned_s2`` -> (``tuned``, 2); a run listed by hand under another name is its own recipe."""
    match = RUN_NAME.match(name)
    return (match["recipe"], int(match["seed"])) if match else (name, None)


def _plain(value: Any) -> Any:
    return OmegaConf.to_container(value, resolve=True) if isinstance(value, (DictConfig, ListConfig)) else value


def _whole_numbers(values: Any) -> bool:
    return isinstance(values, list) and all(isinstance(v, int) and not isinstance(v, bool) for v in values)


def sweep_runs(recipes: Any, seeds: Any) -> dict[str, dict[str, Any]]:
    """Every recipe at every seed: ``{"seed_s0": {"seed": 0}, "tuned_s0": {..., "seed": 0}, ...}``, each laid over
    ``train`` by the training node (so ``--params=train.epochs=1`` shortens every training of the sweep)."""
    recipes, seeds = _plain(recipes) or {}, _plain(seeds) or []
    if not isinstance(recipes, dict) or not all(isinstance(v, dict) for v in recipes.values()):
        raise ValueError(f"sweep.recipes must map recipe names to their changes to `train`, got {recipes!r}")
    if not _whole_numbers(seeds):
        raise ValueError(f"sweep.seeds must be a list of whole numbers, got {seeds!r}")
    return {run_name(recipe, seed): {**changes, "seed": seed} for recipe, changes in recipes.items() for seed in seeds}


def curve_points(sizes: Any, seeds: Any) -> dict[str, dict[str, int]]:
    """Every training size at every seed, the points of Task 2's learning curve, sizes outer:
    ``{"n100_s0": {"train_size": 100, "seed": 0}, "n100_s1": ...}``."""
    if not _whole_numbers(sizes) or not sizes or min(sizes) < 10 or len(set(sizes)) != len(sizes):
        raise ValueError(f"mnist_transfer.train_sizes must list different whole numbers of at least 10 (one image a digit), got {sizes!r}")
    if not _whole_numbers(seeds) or not seeds or min(seeds) < 0 or len(set(seeds)) != len(seeds):
        raise ValueError(f"mnist_transfer.seeds must list different whole numbers of at least 0, got {seeds!r}")
    return {f"n{size}_s{seed}": {"train_size": size, "seed": seed} for size in sizes for seed in seeds}


def project_root() -> Path:
    """The Kedro project the command runs in (the folder with ``pyproject.toml`` above the cwd)."""
    from kedro.utils import find_kedro_project

    found = find_kedro_project(Path.cwd())
    return Path(found) if found else Path(__file__).resolve().parents[2]


def env_train_changes(env: str, *without: str) -> dict[str, Any]:
    """What the Kedro environment ``conf/<env>`` changes in ``train`` (its own files only), less the keys
    in ``without``: the sweep's ``tuned`` recipe reads ``conf/tuned`` so (``${env_train:tuned,epochs}``)."""
    from kedro.framework.project import settings

    folder = project_root() / settings.CONF_SOURCE / env
    files = sorted(folder.glob("parameters*.yml")) + sorted(folder.glob("parameters*.yaml"))
    if not files:
        raise ValueError(f"the sweep names the recipe of environment {env!r}, but {folder} has no parameters file")
    changes = [_plain(OmegaConf.load(file)).get("train") or {} for file in files]  # a later file wins
    return {key: value for change in changes for key, value in change.items() if key not in without}


def registered_parameters() -> dict[str, Any]:
    """The parameters as ``kedro run`` reads them (base, then KEDRO_ENV or local), for pipelines whose nodes
    depend on them (Kedro builds pipelines before it reads parameters)."""
    from kedro.config import OmegaConfigLoader
    from kedro.framework.project import settings

    loader = OmegaConfigLoader(conf_source=str(project_root() / settings.CONF_SOURCE), env=os.environ.get("KEDRO_ENV"),
                               **settings.CONFIG_LOADER_ARGS)
    return loader["parameters"]


def registered_runs() -> dict[str, dict[str, Any]]:
    """The sweep's runs (name -> changes to ``train``) when the pipelines are registered."""
    if not (runs := (registered_parameters().get("sweep") or {}).get("runs")):
        raise ValueError("sweep.runs is empty: list recipes and seeds in conf/base/parameters_sweep.yml")
    return runs


def registered_points() -> dict[str, dict[str, int]]:
    """The learning curve's points (:func:`curve_points` of ``mnist_transfer.train_sizes`` and ``seeds``) when the
    pipelines are registered."""
    settings = registered_parameters().get("mnist_transfer") or {}
    return curve_points(settings.get("train_sizes"), settings.get("seeds"))


def training_tags(namespace: str) -> dict[str, str]:
    """Tags of a training beyond its run's: a sweep's (``sweep.tuned_s2``) its sweep, configuration, recipe and seed;
    an MNIST experiment's (``mnist_transfer.n300_s1.scratch``) the recipe ``tuned``, as its ``mnist_recipe`` is by
    default (its ``train.*`` parameters say what it ran), and a learning curve point's its size and seed."""
    experiment, _, configuration = namespace.partition(".")
    if experiment in MNIST_EXPERIMENTS:
        point = CURVE_POINT.match(configuration)
        return {"recipe": "tuned", **({"train_size": point["size"], "seed": point["seed"]} if point else {})}
    if experiment != "sweep" or not configuration:
        return {}
    recipe, seed = recipe_and_seed(configuration)
    return {"sweep": experiment, "configuration": configuration, "recipe": recipe, **({"seed": str(seed)} if seed is not None else {})}
