"""The raw character images: the real zip when it is there, else the synthetic demo set."""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path

from kedro.io import DatasetError

from playing_with_mnist.demo.characters import GENERATOR_VERSION, demo_file_name, write_demo_zip
from playing_with_mnist.demo.noisy_digits import noise_matrix, noisy_label_truth, write_noisy_label_zip
from playing_with_mnist.ingest.archive import ArchiveError, CharacterArchive, KnownLabels

from .raw import RawDataset

logger = logging.getLogger(__name__)


class CharacterArchiveDataset(RawDataset):
    """Loads a :class:`CharacterArchive` (``None`` for an optional zip not given); read-only.

    Args (see :class:`RawDataset`):
        filepath: a zip chosen by the user (e.g. ``--params=raw_zip=path.zip``); it must exist.
        default: ``{filepath: data/01_raw/trainPart1.zip}``; left out for an optional zip (the sweep's test zip).
        demo: ``path`` (a folder), ``seed``, ``images_per_class``, ``image_size`` ([w, h]) of the synthetic
            stand-in; its file name records them, so a changed setting never reuses an old file.
    """

    def load(self) -> CharacterArchive:
        path = self._filepath or self._default_filepath
        if path is None:
            return None  # an optional zip that was not given
        if self._filepath is None and self._demo is not None and not path.exists():
            return self._demo_archive()
        try:
            return CharacterArchive.from_zip(path)  # a missing file raises: names it, says what to do
        except ArchiveError as error:
            raise DatasetError(str(error)) from error

    def _demo_archive(self) -> CharacterArchive:
        seed, per_class = int(self._demo.get("seed", 0)), int(self._demo.get("images_per_class", 40))
        width, height = (int(v) for v in self._demo.get("image_size", (1200, 900)))
        path = Path(self._demo["path"]) / demo_file_name(seed, per_class, (width, height))
        logger.info("%s not found: using the synthetic demo set (seed %d). Put the real trainPart1.zip there to train "
                    "on it.", self._default_filepath, seed)
        source = {"kind": "synthetic demo", "seed": seed, "images_per_class": per_class,
                  "image_size": [width, height], "generator_version": GENERATOR_VERSION}
        fingerprint = f"synthetic-demo:v{GENERATOR_VERSION}:seed={seed}:n={per_class}:size={width}x{height}"

        def make() -> None:
            logger.info("Generating the synthetic demo set at %s (once; about a minute at full size)", path)
            write_demo_zip(path, seed=seed, images_per_class=per_class, image_size=(width, height))

        return CharacterArchive(path, source, fingerprint, prepare=make)


class NoisyDigitArchiveDataset(CharacterArchiveDataset):
    """A zip of digit images in folders ``0`` .. ``9`` named by a label that may be wrong: the real
    ``mnistTask3.zip``, else a synthetic stand-in that knows every image's true label (``known_labels``).
    ``demo``: ``path`` (a folder), ``seed``, ``count``, ``noise_rate`` (the share of labels drawn wrong),
    ``noise_kind`` (``random``, the default, or ``systematic``: see ``demo.noisy_digits.noise_matrix``).
    A real zip whose true labels are known (one made by relabelling real digits) hands them over in a file beside it,
    ``<zip name without .zip>.truth.json``: ``{"true_labels": {member: digit}, "noise_matrix": 10x10 rows}``.
    """

    def load(self) -> CharacterArchive:
        archive = super().load()
        truth_file = archive.path.with_name(archive.path.stem + ".truth.json")
        if archive.known_labels is not None or not truth_file.is_file():
            return archive

        def truth() -> KnownLabels:
            try:
                known = KnownLabels(**json.loads(truth_file.read_text()))
            except (ValueError, TypeError) as error:
                raise DatasetError(f"{truth_file}: not a truth file ({error}). It must hold true_labels and "
                                   "noise_matrix; remove it to use the zip without one.") from error
            return dataclasses.replace(known, true_labels={member: int(label) for member, label in known.true_labels.items()})

        logger.info("%s: true labels from %s", archive.path, truth_file.name)
        return dataclasses.replace(archive, known_labels=truth)

    def _demo_archive(self) -> CharacterArchive:
        seed, count = int(self._demo.get("seed", 0)), int(self._demo.get("count", 3000))
        noise_rate = float(self._demo.get("noise_rate", 0.35))
        noise_kind = str(self._demo.get("noise_kind", "random"))
        try:
            matrix = noise_matrix(noise_rate, seed, noise_kind)  # checks both settings before anything is written
        except ValueError as error:
            raise DatasetError(f"raw_noisy_digits demo settings: {error}") from error
        # The default kind keeps the names it always had, so zips made before stay valid.
        kind_tag = "" if noise_kind == "random" else f"_{noise_kind}"
        path = Path(self._demo["path"]) / f"mnistTask3_v{GENERATOR_VERSION}_seed{seed}_{count}_noise{noise_rate:g}{kind_tag}.zip"
        logger.info("%s not found: using a synthetic noisy-label set (seed %d, %.0f%% %s noise). Put the real "
                    "mnistTask3.zip there to train on it.", self._default_filepath, seed, 100 * noise_rate, noise_kind)
        source = {"kind": "synthetic noisy digits", "seed": seed, "count": count, "noise_rate": noise_rate,
                  "noise_kind": noise_kind, "generator_version": GENERATOR_VERSION}
        fingerprint = (f"synthetic-noisy-digits:v{GENERATOR_VERSION}:seed={seed}:n={count}:noise={noise_rate:g}"
                       + (f":kind={noise_kind}" if kind_tag else ""))

        def make() -> None:
            logger.info("Generating the synthetic noisy-label set at %s (once)", path)
            write_noisy_label_zip(path, count, matrix, seed)

        def truth() -> KnownLabels:
            known = noisy_label_truth(count, matrix, seed)
            return KnownLabels(dict(zip(known["members"], known["true_labels"].tolist())), known["noise_matrix"].tolist())

        return CharacterArchive(path, source, fingerprint, prepare=make, known_labels=truth)
