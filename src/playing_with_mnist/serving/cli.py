"""``playing-with-mnist serve`` and ``playing-with-mnist draw``: a registered version of the model, from the project's
store, served by MLflow's scoring server or on a page to write characters on. Both listen on 127.0.0.1 by default."""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from pathlib import Path

from .registry import MODEL_NAME, ModelVersion, RegistryError, find_version, load_version, project_store

EXIT_FAILED = 1


def build_parser(command: str) -> argparse.ArgumentParser:
    what = {"serve": "Serve the model over HTTP with MLflow's scoring server (POST /invocations).",
            "draw": "Open a local page to write a character on and see the model's top 3."}[command]
    parser = argparse.ArgumentParser(prog=f"playing-with-mnist {command}", description=what)
    parser.add_argument("--version", type=int, default=None, help=f"the registered version of {MODEL_NAME} (default: the newest)")
    parser.add_argument("--host", default="127.0.0.1", help="the address to listen on (default: 127.0.0.1, this machine only)")
    parser.add_argument("--port", type=int, default=5001 if command == "serve" else 7860)
    parser.add_argument("--store", default=None, help="the MLflow store (default: the project's, from conf/*/mlflow.yml)")
    parser.add_argument("--env", default=None, help="the Kedro environment whose mlflow.yml names the store")
    return parser


def describe(found: ModelVersion) -> str:
    tags = found.tags
    accuracy = f", validation accuracy {float(tags['val_accuracy']):.1%}" if "val_accuracy" in tags else ""
    return f"{MODEL_NAME} version {found.number} (recipe {tags.get('recipe', '?')}{accuracy}; {tags.get('data', 'data unknown')})"


def main(command: str, argv: list[str] | None = None) -> int:
    """Run ``serve`` or ``draw`` on ``argv`` (the arguments after the command); return the exit code."""
    args = build_parser(command).parse_args(argv)
    if command == "draw":
        try:  # before the model loads: a missing extra is said at once
            from .page import launch
        except ModuleNotFoundError as error:
            if (error.name or "").partition(".")[0] != "gradio":
                raise
            print('Error: the draw page needs Gradio, which is not installed: pip install -e ".[demo]"', file=sys.stderr)
            return EXIT_FAILED
    # Kedro 1.7 calls an OmegaConf API that OmegaConf 2.4 marks deprecated (as in settings.py).
    warnings.filterwarnings("ignore", message=r"register_new_resolver\(\) is deprecated", category=UserWarning)
    from kedro.utils import find_kedro_project

    project = find_kedro_project(Path.cwd()) or Path.cwd()
    store = args.store or project_store(project, args.env)
    try:
        found = find_version(store, args.version)
        model = load_version(store, found)  # before serving: a version this install cannot load is said here, plainly
    except RegistryError as error:
        print(f"Error: {error}", file=sys.stderr)
        return EXIT_FAILED
    print(f"Serving {describe(found)} at http://{args.host}:{args.port}", file=sys.stderr)
    if command == "draw":
        launch(model, describe(found), args.host, args.port)
        return 0
    # MLflow's own scoring server, in this environment; its uvicorn is found beside this Python.
    environment = {**os.environ, "MLFLOW_TRACKING_URI": store, "MLFLOW_REGISTRY_URI": store,
                   "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])}
    command_line = [sys.executable, "-m", "mlflow", "models", "serve", "-m", found.uri, "--env-manager", "local",
                    "--host", args.host, "--port", str(args.port)]
    os.execve(sys.executable, command_line, environment)
    return EXIT_FAILED  # not reached: execve replaces this process
