"""MNIST as the four standard IDX files: the real set when it is there, else a synthetic stand-in."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Any

from kedro.io import DatasetError

from playing_with_mnist.demo.characters import GENERATOR_VERSION
from playing_with_mnist.demo.mnist import write_mnist_demo
from playing_with_mnist.ingest.archive import file_sha256
from playing_with_mnist.ingest.idx import MNIST_FILES, IdxError, mnist_file, read_mnist

from .raw import RawDataset

logger = logging.getLogger(__name__)


def _present(folder: Path) -> dict[str, bool]:
    """Which of the four files ``folder`` holds (gzipped or unpacked)."""
    return {key: mnist_file(folder, key).exists() for key in MNIST_FILES}


class MnistDataset(RawDataset):
    """Loads ``{train_images, train_labels, test_images, test_labels, source, fingerprint}``, read-only:
    images uint8 [N, 28, 28] (white digit on black, as MNIST stores them), labels uint8 [N].

    Args (see :class:`RawDataset`):
        filepath: a folder chosen by the user (``--params=mnist_dir=path``); it must hold the four files.
        default: ``{filepath: data/01_raw/mnist}``, where the real MNIST files are looked for.
        demo: used when the default folder holds none of the files: ``path`` (a folder; a subfolder named
            by the settings is written once), ``seed``, ``train_count``, ``test_count``.
    """

    def load(self) -> dict[str, Any]:
        folder = self._filepath or self._default_filepath
        present = _present(folder)
        if self._filepath is None and self._demo is not None and not any(present.values()):
            return self._load_demo()
        if not all(present.values()):
            missing = ", ".join(MNIST_FILES[key] for key, here in present.items() if not here)
            raise DatasetError(f"MNIST folder {folder} lacks {missing}. Put the four standard MNIST IDX files there "
                               "(gzipped or not), or remove them all to use the synthetic stand-in.")
        try:
            arrays = read_mnist(folder)
        except IdxError as error:
            raise DatasetError(f"{error}. Replace the file with an intact copy of the MNIST file.") from error
        # One sha256 for the four files: of their own sha256s, in the standard order.
        digest = hashlib.sha256("".join(file_sha256(mnist_file(folder, key)) for key in MNIST_FILES).encode()).hexdigest()
        return {**arrays, "source": {"kind": "mnist", "name": folder.name, "sha256": digest}, "fingerprint": f"mnist:sha256:{digest}"}

    def _load_demo(self) -> dict[str, Any]:
        seed = int(self._demo.get("seed", 0))
        train_count, test_count = int(self._demo.get("train_count", 3000)), int(self._demo.get("test_count", 1000))
        folder = Path(self._demo["path"]) / f"mnist_v{GENERATOR_VERSION}_seed{seed}_{train_count}x{test_count}"
        if not all(_present(folder).values()):
            logger.info("%s holds no MNIST files: generating a synthetic stand-in at %s (once)", self._default_filepath, folder)
            write_mnist_demo(folder, train_count=train_count, test_count=test_count, seed=seed)
        else:
            logger.info("%s holds no MNIST files: using the synthetic stand-in at %s", self._default_filepath, folder)
        source = {"kind": "synthetic MNIST", "seed": seed, "train_count": train_count, "test_count": test_count,
                  "generator_version": GENERATOR_VERSION}
        fingerprint = f"synthetic-mnist:v{GENERATOR_VERSION}:seed={seed}:{train_count}x{test_count}"
        return {**read_mnist(folder), "source": source, "fingerprint": fingerprint}
