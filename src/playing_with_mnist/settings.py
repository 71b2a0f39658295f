"""Project settings: Kedro defaults, plus the hooks that tune the run."""

from playing_with_mnist.hooks import RunEnvironmentHooks

HOOKS = (RunEnvironmentHooks(),)

CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
}
