"""A finished run's Kedro catalog and its scored test zip, for the benchmarks that re-score saved models.

``ensemble.py`` and ``tta_views.py`` open a run folder (a Kedro project that has trained) the
way ``kedro run --pipelines=evaluate --params=test_zip=...`` does, and decode the test zip
the way its model was trained to read images.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch


@contextmanager
def run_catalog(project: Path, env: str | None, test_zip: Path | None = None) -> Iterator[Any]:
    """The project's data catalog under ``env``; with ``test_zip`` its ``test_character_zip`` reads that zip."""
    from kedro.framework.session import KedroSession
    from kedro.framework.startup import bootstrap_project

    bootstrap_project(project)
    runtime = {"test_zip": str(test_zip.resolve())} if test_zip else {}
    with KedroSession.create(project_path=project, env=env, runtime_params=runtime) as session:
        yield session.load_context().catalog


def scored_test_set(catalog: Any, trained_model: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """The test zip's uint8 images and their labels in ``trained_model``'s class order."""
    from playing_with_mnist.analysis.inference import decode_test_zip

    test, labels = decode_test_zip(catalog.load("test_character_zip"), trained_model, catalog.load("params:preprocess"))
    return test["images"], labels
