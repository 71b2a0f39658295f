"""The MLflow store: a project-relative SQLite file made absolute, a lock for its first
creation, and a check that it opens before anything is trained."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Iterator
from urllib.parse import urlparse

from playing_with_mnist.file_lock import exclusive_lock

IN_MEMORY_STORE = "sqlite:///:memory:"


class TrackingStoreError(RuntimeError):
    """The MLflow store cannot be opened."""


def absolute_store(uri: str | None, project_path: Path) -> str:
    """A relative ``sqlite:///name.db`` made absolute inside the project (MLflow reads it from the cwd)."""
    uri = uri or "sqlite:///mlflow.db"
    if uri.startswith("sqlite:///") and uri != IN_MEMORY_STORE:
        path = Path(uri[len("sqlite:///"):])
        if not path.is_absolute():
            return f"sqlite:///{(project_path / path).resolve()}"
    return uri


@contextlib.contextmanager
def store_lock(uri: str) -> Iterator[None]:
    """Hold an exclusive lock beside a SQLite store: two runs that create its tables at once
    (two terminals, a sweep) would otherwise race through MLflow's migrations and one would fail."""
    if not uri.startswith("sqlite:///") or uri == IN_MEMORY_STORE:
        yield
        return
    with exclusive_lock(Path(urlparse(uri).path).with_suffix(".lock")):
        yield


def check_store(uri: str) -> None:
    """Open the store once (creating it if new), so that a broken one stops the run before anything is trained."""
    from mlflow.tracking import MlflowClient

    if uri.startswith("sqlite:///") and uri != IN_MEMORY_STORE:
        folder = Path(urlparse(uri).path).parent
        if not folder.is_dir():
            raise TrackingStoreError(f"the MLflow store {uri} is in a folder that does not exist ({folder})")
    try:
        with store_lock(uri):
            MlflowClient(tracking_uri=uri).search_experiments(max_results=1)
    except Exception as error:  # any failure to open it: corrupt file, no permission, unreachable server
        raise TrackingStoreError(
            f"the MLflow tracking store {uri} cannot be opened ({type(error).__name__}: {str(error).splitlines()[0][:200]}). "
            "Fix or remove it (a removed mlflow.db is made anew), point conf/local/mlflow.yml's "
            "server.mlflow_tracking_uri elsewhere, or run without tracking: --params=tracking.enabled=false"
        ) from error
