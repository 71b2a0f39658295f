"""A Dask worker preload for the killed-worker test (``dask worker --preload``).

A training on a tiny zip can finish all its epochs before a test gets to kill its worker.
With this preload, a worker that saves the checkpoint named in the hold file (the path in
``PLAYING_WITH_MNIST_TEST_HOLD``) stops right after saving it, for as long as the hold file
exists (two minutes at most), so the test kills a training that is certainly mid-way.
Without a hold file the worker behaves as any other.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from playing_with_mnist.datasets import CheckpointFile

HOLD_FILE = Path(os.environ.get("PLAYING_WITH_MNIST_TEST_HOLD", "no-hold-file"))


def save_then_hold(self: CheckpointFile, state: dict) -> None:
    self.save_without_hold(state)
    deadline = time.time() + 120
    while HOLD_FILE.is_file() and HOLD_FILE.read_text().strip() == self.path.name and time.time() < deadline:
        time.sleep(0.1)


if not hasattr(CheckpointFile, "save_without_hold"):  # a worker may run its preloads more than once
    CheckpointFile.save_without_hold = CheckpointFile.save
    CheckpointFile.save = save_then_hold
