"""The preprocess nodes: decode once into uint8 tensors, split by class."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from playing_with_mnist.ingest.archive import CharacterArchive
from playing_with_mnist.ingest.model_input import split_train_val
from playing_with_mnist.pipelines.preprocess.nodes import build_image_cache

from ..params import PREPROCESS


def test_cache_holds_grayscale_uint8_images_and_labels(tiny_cache: dict) -> None:
    images, labels = tiny_cache["images"], tiny_cache["labels"]
    assert images.dtype == torch.uint8 and images.shape == (36, 1, 32, 32)
    assert labels.tolist() == [c for c in range(6) for _ in range(6)]
    # paper is light, ink is dark: every image has both
    assert (images.flatten(1).max(1).values > 150).all() and (images.flatten(1).min(1).values < 110).all()
    assert tiny_cache["source"]["name"] == "tiny.zip"


def test_labels_are_characters_for_sample_folders(tiny_cache: dict) -> None:
    # Sample001..Sample006 read as the first six characters of 0-9, A-Z, a-z
    assert tiny_cache["class_names"] == ["0", "1", "2", "3", "4", "5"]
    assert tiny_cache["class_folders"][0] == "Sample001"


def test_an_up_to_date_cache_is_reused_without_decoding(tiny_zip: Path, tiny_cache: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    import playing_with_mnist.pipelines.preprocess.nodes as nodes

    monkeypatch.setattr(nodes, "decode_archive", lambda *a, **k: pytest.fail("decoded despite a valid cache"))
    cache, summary = build_image_cache(CharacterArchive.from_zip(tiny_zip), tiny_cache, PREPROCESS)
    assert cache is tiny_cache and summary["images"] == 36


def test_a_cache_from_other_settings_is_rebuilt(tiny_zip: Path, tiny_cache: dict) -> None:
    cache, _ = build_image_cache(CharacterArchive.from_zip(tiny_zip), tiny_cache, {**PREPROCESS, "image_size": 16})
    assert cache["images"].shape == (36, 1, 16, 16)


def test_split_is_stratified_disjoint_and_seeded(tiny_cache: dict) -> None:
    split = split_train_val(tiny_cache, {"val_fraction": 0.34, "seed": 7})
    train, val = set(split["train"].tolist()), set(split["val"].tolist())
    assert not train & val and len(train | val) == 36
    assert torch.bincount(tiny_cache["labels"][split["val"]]).tolist() == [2] * 6
    again = split_train_val(tiny_cache, {"val_fraction": 0.34, "seed": 7})
    assert torch.equal(again["val"], split["val"])
    other = split_train_val(tiny_cache, {"val_fraction": 0.34, "seed": 8})
    assert not torch.equal(other["val"], split["val"])


def test_split_rejects_a_bad_fraction(tiny_cache: dict) -> None:
    with pytest.raises(ValueError, match="split.val_fraction"):
        split_train_val(tiny_cache, {"val_fraction": 1.5, "seed": 0})
