"""Project settings: Kedro defaults, plus the hooks that tune the run."""

import warnings

from playing_with_mnist.context import ProjectContext
from playing_with_mnist.hooks import (
    MissingInputsHooks,
    RunEnvironmentHooks,
    RunSummaryHooks,
    SearchStorageHooks,
    TrainingParametersHooks,
)
from playing_with_mnist.sweep import env_train_changes, sweep_runs
from playing_with_mnist.tracking import TrainingTrackingHooks

# Kedro 1.7 calls an OmegaConf API that OmegaConf 2.4 marks deprecated; it is not ours to fix.
warnings.filterwarnings("ignore", message=r"register_new_resolver\(\) is deprecated", category=UserWarning)
# MLflow asks every PythonModel class for type hints as it is defined; kedro-mlflow's has none (not ours to fix).
warnings.filterwarnings("ignore", message=r".*Add type hints to the `predict` method", category=UserWarning)

# TrainingTrackingHooks runs kedro-mlflow's hook (one MLflow run per `kedro run`), a new one for each
# session instead of the one per process that kedro-mlflow registers as a plugin; it keeps the store
# in the project and adds a run per training.
HOOKS = (RunEnvironmentHooks(), SearchStorageHooks(), MissingInputsHooks(), TrainingParametersHooks(), TrainingTrackingHooks(),
         RunSummaryHooks())
DISABLE_HOOKS_FOR_PLUGINS = ("kedro_mlflow", "kedro-mlflow")  # its distribution name, in both spellings

# Each run claims a save version of its own, even when two start in the same millisecond.
CONTEXT_CLASS = ProjectContext

CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
    # An environment (conf/local, conf/tuned) changes parameters key by key instead of
    # replacing whole top-level blocks: conf/tuned lists only what the tuned recipe changes.
    "merge_strategy": {"parameters": "soft"},
    # The sweep (conf/base/parameters_sweep.yml): one training per recipe and seed.
    "custom_resolvers": {"sweep_runs": sweep_runs, "env_train": env_train_changes},
}
