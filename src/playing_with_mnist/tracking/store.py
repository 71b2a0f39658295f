"""The MLflow store: a project-relative SQLite file made absolute, a lock for its first
creation, and a check that it opens before anything is trained."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from playing_with_mnist.file_lock import exclusive_lock


class TrackingStoreError(RuntimeError):
    """The MLflow store cannot be opened."""


def sqlite_file(uri: str) -> Path | None:
    """The file of a ``sqlite:///`` store (None for other stores and SQLite's in-memory one)."""
    return Path(uri.removeprefix("sqlite:///")) if uri.startswith("sqlite:///") and uri != "sqlite:///:memory:" else None


def absolute_store(uri: str | None, project_path: Path) -> str:
    """A relative ``sqlite:///name.db`` made absolute inside the project (MLflow reads it from the cwd)."""
    uri = uri or "sqlite:///mlflow.db"
    path = sqlite_file(uri)
    return f"sqlite:///{(project_path / path).resolve()}" if path is not None and not path.is_absolute() else uri


def mlflow_settings(loader: Any) -> dict[str, Any]:
    """kedro-mlflow's settings (``mlflow.yml``) as a Kedro config ``loader`` reads them; {} without an ``mlflow.yml``
    (kedro-mlflow's defaults)."""
    loader.config_patterns.setdefault("mlflow", ["mlflow*", "mlflow*/**", "**/mlflow*"])
    try:
        return dict(loader["mlflow"] or {})
    except Exception:  # no mlflow.yml at all
        return {}


def check_store(uri: str) -> None:
    """Open the store once (creating it if new), so that a broken one stops the run before anything is trained.
    Its first creation holds a lock beside a SQLite file: two runs creating its tables at once (two terminals,
    a sweep) would otherwise race through MLflow's migrations and one would fail."""
    from mlflow.tracking import MlflowClient

    path = sqlite_file(uri)
    if path is not None and not path.parent.is_dir():
        raise TrackingStoreError(f"the MLflow store {uri} is in a folder that does not exist ({path.parent})")
    try:
        with exclusive_lock(path.with_suffix(".lock")) if path is not None else contextlib.nullcontext():
            MlflowClient(tracking_uri=uri).search_experiments(max_results=1)
    except Exception as error:  # any failure to open it: corrupt file, no permission, unreachable server
        raise TrackingStoreError(
            f"the MLflow tracking store {uri} cannot be opened ({type(error).__name__}: {str(error).splitlines()[0][:200]}). "
            "Fix or remove it (a removed mlflow.db is made anew), point conf/local/mlflow.yml's "
            "server.mlflow_tracking_uri elsewhere, or run without tracking: --params=tracking.enabled=false"
        ) from error
