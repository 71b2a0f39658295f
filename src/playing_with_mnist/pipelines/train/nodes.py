"""Nodes of the ``train`` pipeline."""

from __future__ import annotations

import logging
from typing import Any

from playing_with_mnist.ingest.archive import CharacterArchive
from playing_with_mnist.ingest.model_input import split_settings
from playing_with_mnist.reporting import describe_source

logger = logging.getLogger(__name__)


def check_cache_is_current(raw_character_zip: CharacterArchive, character_images: dict[str, Any]) -> dict[str, Any]:
    """The cache, if it was made from the data the catalog points at now (by fingerprint, a sha256 of the zip);
    a cache of other data stops the run, saying to run preprocess again."""
    if raw_character_zip.fingerprint != character_images["fingerprint"]:
        raise ValueError(
            f"character_images was made from {describe_source(character_images['source'])}, but the data is now "
            f"{describe_source(raw_character_zip.source)}. Run `kedro run --pipelines=preprocess` again "
            "(or plain `kedro run`) to rebuild the cache."
        )
    return character_images


def _describe_split(settings: dict[str, Any]) -> str:
    return " and ".join(f"split.{name}={value}" for name, value in settings.items())


def check_split_is_current(train_val_split: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    """The split, if it was made with this run's ``split`` parameters (``val_fraction``, ``seed``); one saved under
    another ``--env`` or ``--params`` stops the run, saying to run preprocess again."""
    wanted = split_settings(params)
    made = {name: train_val_split[name] for name in wanted}
    if made != wanted:
        raise ValueError(
            f"train_val_split was made with {_describe_split(made)}, but this run "
            f"asks for {_describe_split(wanted)} (another --env or --params). Run "
            "`kedro run --pipelines=preprocess` with this run's --env and --params first (or run the whole "
            "pipeline: plain `kedro run`) to make the split again."
        )
    return train_val_split
