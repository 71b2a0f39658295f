"""The MNIST experiments' nodes: digit subset, MNIST input, noisy-label truth, noise analysis, cleaning, transfer."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from kedro.io import DatasetError
from PIL import Image

from playing_with_mnist.datasets import MnistDataset, NoisyDigitArchiveDataset
from playing_with_mnist.demo.noisy_digits import label_permutation, noise_matrix, noisy_label_truth, write_noisy_label_zip
from playing_with_mnist.ingest.archive import CharacterArchive
from playing_with_mnist.ingest.idx import MNIST_FILES, write_idx
from playing_with_mnist.ingest.images import preprocess_image
from playing_with_mnist.ingest.model_input import digit_subset
from playing_with_mnist.models import ResNetConfig, build_model, load_pretrained
from playing_with_mnist.pipelines.mnist_data.nodes import mnist_model_input
from playing_with_mnist.pipelines.noisy_labels.document import _other_digit_folders
from playing_with_mnist.pipelines.noisy_labels.nodes import (
    analyse_noise,
    clean_training_set,
    decode_noisy_digits,
    known_label_truth,
    noisy_model_input,
)

from ..params import PREPROCESS

SLIM = {"block_channels": (8, 8, 16, 16, 16), "hidden_units": (16, 8)}
NOISE_PARAMS = {"grid_per_folder": 3, "cleaning": {"policy": "relabel", "loss_threshold": 2.3, "min_confidence": 0.8}}


def fake_cache(names: list[str], per_class: int = 4) -> dict:
    labels = torch.arange(len(names)).repeat_interleave(per_class)
    return {
        "images": (labels.view(-1, 1, 1, 1) * torch.ones(1, 1, 32, 32)).to(torch.uint8),  # every pixel = its class
        "labels": labels, "class_names": names, "class_folders": [f"Sample{i + 1:03d}" for i in range(len(names))],
        "members": [f"m{i}" for i in range(len(labels))], "source": {"kind": "zip", "name": "x.zip", "sha256": "0"},
        "fingerprint": "fp",
    }


def test_the_digit_subset_keeps_digits_only_relabelled_and_keeps_the_split() -> None:
    names = ["A", *[str(d) for d in range(10)], "b"]  # digits not first: labels must be remapped
    cache = fake_cache(names)
    split = {"train": torch.tensor([i for i in range(len(cache["labels"])) if i % 4]), "val": torch.arange(0, 48, 4),
             "fingerprint": "fp"}
    digits, digit_split = digit_subset(cache, split)

    assert digits["class_names"] == [str(d) for d in range(10)]
    assert len(digits["images"]) == 40
    # every image is filled with its old class index; the new label is that digit
    old_class = digits["images"][:, 0, 0, 0].long()
    assert torch.equal(digits["labels"], torch.tensor([int(names[c]) for c in old_class]))
    train_members = {digits["members"][i] for i in digit_split["train"].tolist()}
    val_members = {digits["members"][i] for i in digit_split["val"].tolist()}
    assert not train_members & val_members
    assert train_members == {cache["members"][i] for i in split["train"].tolist() if names[cache["labels"][i]].isdigit()}
    assert val_members == {cache["members"][i] for i in split["val"].tolist() if names[cache["labels"][i]].isdigit()}
    assert digit_split["fingerprint"] == digits["fingerprint"]
    assert torch.equal(cache["labels"], fake_cache(names)["labels"]), "the input is not changed"


def test_the_digit_subset_names_missing_digits() -> None:
    cache = fake_cache([str(d) for d in range(6)])
    with pytest.raises(ValueError, match="6, 7, 8, 9"):
        digit_subset(cache, {"train": torch.arange(12), "val": torch.arange(12, 24), "fingerprint": "fp"})


def raw_mnist(train: int = 30, test: int = 10) -> dict:
    rng = np.random.default_rng(0)
    return {"train_images": rng.integers(0, 256, (train, 28, 28), dtype=np.uint8), "train_labels": (np.arange(train) % 10).astype(np.uint8),
            "test_images": rng.integers(0, 256, (test, 28, 28), dtype=np.uint8), "test_labels": (np.arange(test) % 10).astype(np.uint8),
            "source": {"kind": "mnist", "name": "mnist", "sha256": "0"}, "fingerprint": "mnist:0"}


def test_mnist_input_uses_task_1_preprocessing_and_names_the_test_set() -> None:
    raw = raw_mnist()
    cache, split = mnist_model_input(raw, {"invert": False, "max_train_images": None}, PREPROCESS)
    assert cache["images"].shape == (40, 1, 32, 32) and cache["images"].dtype == torch.uint8
    assert np.array_equal(cache["images"][0, 0].numpy(), preprocess_image(Image.fromarray(raw["train_images"][0]), 32))
    assert np.array_equal(cache["images"][30, 0].numpy(), preprocess_image(Image.fromarray(raw["test_images"][0]), 32))
    assert torch.equal(split["train"], torch.arange(30)) and torch.equal(split["test"], torch.arange(30, 40))
    assert torch.equal(cache["labels"][split["test"]], torch.from_numpy(raw["test_labels"].astype(np.int64)))

    inverted, limited = mnist_model_input(raw, {"invert": True, "max_train_images": 12}, PREPROCESS)
    assert torch.equal(inverted["images"][:12], 255 - cache["images"][:12])
    assert len(limited["train"]) == 12 and len(limited["test"]) == 10
    assert inverted["fingerprint"] != cache["fingerprint"]


def test_mnist_dataset_makes_the_stand_in_and_reads_real_files(tmp_path: Path) -> None:
    dataset = MnistDataset(default={"filepath": str(tmp_path / "mnist")}, demo={"path": str(tmp_path / "demo"), "train_count": 20, "test_count": 10})
    demo = dataset.load()
    assert demo["train_images"].shape == (20, 28, 28) and demo["test_labels"].shape == (10,)
    assert demo["source"]["kind"] == "synthetic MNIST"

    real = tmp_path / "mnist"
    for key, array in (("train_images", demo["train_images"]), ("train_labels", demo["train_labels"])):
        write_idx(real / MNIST_FILES[key], array)
    with pytest.raises(DatasetError, match="t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz"):
        dataset.load()  # half a real set is a mistake, not a reason to fall back to the demo
    for key, array in (("test_images", demo["test_images"]), ("test_labels", demo["test_labels"])):
        write_idx(real / MNIST_FILES[key], array)
    loaded = dataset.load()
    assert loaded["source"]["kind"] == "mnist" and loaded["fingerprint"].startswith("mnist:sha256:")
    assert np.array_equal(loaded["train_images"], demo["train_images"])


@pytest.fixture(scope="module")
def noisy_demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[CharacterArchive, dict, dict]:
    """The synthetic noisy zip as the catalog makes it (80 digits, 40% noise), decoded, and what the generator wrote."""
    folder = tmp_path_factory.mktemp("noisy")
    dataset = NoisyDigitArchiveDataset(default={"filepath": str(folder / "mnistTask3.zip")},
                                       demo={"path": str(folder), "seed": 4, "count": 80, "noise_rate": 0.4})
    archive = dataset.load()
    decoded = decode_noisy_digits(archive, PREPROCESS)
    written = write_noisy_label_zip(folder / "again.zip", 80, noise_matrix(0.4, 4), 4)
    return archive, decoded, written


def test_the_truth_of_the_stand_in_matches_what_was_written(noisy_demo: tuple[CharacterArchive, dict, dict]) -> None:
    archive, decoded, written = noisy_demo
    truth = known_label_truth(archive, decoded)
    assert truth["known"]
    sample = [int(Path(m).stem) - 1 for m in decoded["members"]]
    assert torch.equal(decoded["labels"], torch.from_numpy(written["noisy_labels"][sample].astype(np.int64)))
    assert torch.equal(truth["true_labels"], torch.from_numpy(written["true_labels"][sample].astype(np.int64)))
    assert np.allclose(truth["noise_matrix"], written["noise_matrix"])
    assert (truth["true_labels"] != decoded["labels"]).float().mean() > 0.2
    # The same zip read as a real one (a user's mnistTask3.zip): nobody hands over its truth.
    assert known_label_truth(CharacterArchive.from_zip(archive.path), decoded) == {"known": False}


def noisy_input_for(decoded: dict) -> tuple[dict, dict]:
    cache, split = mnist_model_input(raw_mnist(), {"invert": True, "max_train_images": None}, PREPROCESS)
    return noisy_model_input(decoded, cache, split, {"invert": True})


def test_a_perfect_clean_model_recovers_the_true_noise_and_relabelling_removes_it(noisy_demo: tuple[CharacterArchive, dict, dict]) -> None:
    archive, decoded, _ = noisy_demo
    truth = known_label_truth(archive, decoded)
    noisy_input, noisy_split = noisy_input_for(decoded)
    assert torch.equal(noisy_input["images"][:80], 255 - decoded["images"])
    perfect = torch.nn.functional.one_hot(truth["true_labels"], 10).float()

    table, shares, *figures, summary = analyse_noise(noisy_input, noisy_split, perfect, 1.0, truth, NOISE_PARAMS)
    assert summary["estimate_vs_truth"]["max_abs_error"] == pytest.approx(0.0, abs=1e-9)
    assert summary["estimated_wrong_share"] == pytest.approx(summary["true_wrong_share"])
    assert np.allclose(shares["estimated_wrong_share"], shares["true_wrong_share"], equal_nan=True)
    assert table.shape == (10, 11)
    for figure in figures:
        figure.clear()

    cleaned, cleaned_split, report = clean_training_set(noisy_input, noisy_split, perfect, truth, NOISE_PARAMS)
    assert report["wrong_share_after"] == 0.0 and report["flags_that_were_wrong_labels"] == 1.0
    assert torch.equal(cleaned["labels"][cleaned_split["train"]], truth["true_labels"])
    assert torch.equal(cleaned["labels"][cleaned_split["test"]], noisy_input["labels"][noisy_split["test"]])

    drop = {**NOISE_PARAMS, "cleaning": {**NOISE_PARAMS["cleaning"], "policy": "drop"}}
    kept, kept_split, dropped = clean_training_set(noisy_input, noisy_split, perfect, truth, drop)
    assert len(kept_split["train"]) == 80 - dropped["dropped"] and dropped["wrong_share_after"] == 0.0
    true_by_member = dict(zip(decoded["members"], truth["true_labels"].tolist()))
    assert all(kept["labels"][i] == true_by_member[kept["members"][i]] for i in kept_split["train"].tolist())


@pytest.fixture(scope="module")
def systematic_demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[CharacterArchive, dict, Path]:
    """The stand-in with systematic noise (each digit mostly labelled as one other, 90% wrong), decoded, and its folder."""
    folder = tmp_path_factory.mktemp("systematic")
    dataset = NoisyDigitArchiveDataset(default={"filepath": str(folder / "mnistTask3.zip")},
                                       demo={"path": str(folder), "seed": 4, "count": 80, "noise_rate": 0.9,
                                             "noise_kind": "systematic"})
    archive = dataset.load()
    return archive, decode_noisy_digits(archive, PREPROCESS), folder


def test_the_systematic_stand_in_records_its_kind_and_its_truth(systematic_demo: tuple[CharacterArchive, dict, Path]) -> None:
    archive, decoded, folder = systematic_demo
    assert decoded["source"]["noise_kind"] == "systematic" and decoded["fingerprint"].endswith(":kind=systematic")
    assert [path.name for path in folder.glob("*.zip")] == [f"mnistTask3_v{decoded['source']['generator_version']}_seed4_80_noise0.9_systematic.zip"]
    truth = known_label_truth(archive, decoded)
    assert np.array_equal(truth["noise_matrix"], noise_matrix(0.9, 4, "systematic"))
    # The zip's folders are the recomputed noisy labels: the truth belongs to this zip.
    written = noisy_label_truth(80, noise_matrix(0.9, 4, "systematic"), 4)
    sample = [int(Path(m).stem) - 1 for m in decoded["members"]]
    assert torch.equal(decoded["labels"], torch.from_numpy(written["noisy_labels"][sample].astype(np.int64)))
    assert torch.equal(truth["true_labels"], torch.from_numpy(written["true_labels"][sample].astype(np.int64)))
    assert (truth["true_labels"] != decoded["labels"]).float().mean() > 0.75


def test_the_stand_in_names_a_bad_noise_kind(tmp_path: Path) -> None:
    dataset = NoisyDigitArchiveDataset(default={"filepath": str(tmp_path / "mnistTask3.zip")},
                                       demo={"path": str(tmp_path), "count": 10, "noise_kind": "sorted"})
    with pytest.raises(DatasetError, match="noise_kind must be one of random, systematic, got 'sorted'"):
        dataset.load()
    assert not list(tmp_path.iterdir())  # nothing generated


def test_with_most_labels_wrong_a_perfect_clean_model_still_recovers_the_noise_and_cleans_it(
        systematic_demo: tuple[CharacterArchive, dict, Path], tmp_path: Path) -> None:
    archive, decoded, _ = systematic_demo
    truth = known_label_truth(archive, decoded)
    noisy_input, noisy_split = noisy_input_for(decoded)
    perfect = torch.nn.functional.one_hot(truth["true_labels"], 10).float()

    table, shares, *figures, summary = analyse_noise(noisy_input, noisy_split, perfect, 1.0, truth, NOISE_PARAMS)
    for figure in figures:
        figure.clear()
    assert summary["true_wrong_share"] > 0.75
    assert summary["estimate_vs_truth"]["max_abs_error"] == pytest.approx(0.0, abs=1e-9)
    assert summary["estimated_wrong_share"] == pytest.approx(summary["true_wrong_share"])
    # Folders the permutation fills mostly with one digit are read as that digit, and the document says so,
    # also from the table as the CSV dataset gives it back (folder names as numbers).
    perm = label_permutation(4)
    mostly_other = shares[shares["main_reading_share"] > 0.5]
    assert len(mostly_other) >= 5
    assert all(perm[int(r.main_reading)] == int(r.folder) for r in mostly_other.itertuples())
    shares.to_csv(tmp_path / "shares.csv", index=False)
    for table_form in (shares, pd.read_csv(tmp_path / "shares.csv")):
        line = _other_digit_folders(table_form)
        assert line.startswith(f"{len(mostly_other)} of 10 folders mostly hold one other digit")
        assert all(f"`{r.folder}` {r.main_reading} (" in line for r in mostly_other.itertuples())

    cleaned, cleaned_split, report = clean_training_set(noisy_input, noisy_split, perfect, truth, NOISE_PARAMS)
    assert report["wrong_share_before"] > 0.75 and report["wrong_share_after"] == 0.0
    assert report["wrong_labels_flagged"] == 1.0 and report["flags_that_were_wrong_labels"] == 1.0
    assert torch.equal(cleaned["labels"][cleaned_split["train"]], truth["true_labels"])


def test_pretrained_weights_keep_the_trunk_and_get_a_new_head() -> None:
    torch.manual_seed(0)
    source = build_model(ResNetConfig(num_classes=62, **SLIM))
    target = build_model(ResNetConfig(num_classes=10, **SLIM))
    fresh_head = target.classifier.weight.clone()
    new = load_pretrained(target, source.state_dict())
    assert new == ["classifier.weight", "classifier.bias"]
    assert torch.equal(target.conv1.weight, source.conv1.weight)
    assert torch.equal(target.hidden[0].weight, source.hidden[0].weight)
    assert torch.equal(target.classifier.weight, fresh_head)

    other = build_model(ResNetConfig(num_classes=10, block_channels=(8, 8, 16, 16, 32), hidden_units=(16, 8)))
    with pytest.raises(ValueError, match="another architecture"):
        load_pretrained(other, source.state_dict())


def test_a_real_zip_hands_over_its_true_labels_in_a_truth_file_beside_it(systematic_demo: tuple[CharacterArchive, dict, Path],
                                                                          tmp_path: Path) -> None:
    archive, decoded, _ = systematic_demo
    zip_path = tmp_path / "relabelled.zip"
    zip_path.write_bytes(archive.path.read_bytes())
    dataset = NoisyDigitArchiveDataset(filepath=str(zip_path))
    assert known_label_truth(dataset.load(), decoded) == {"known": False}

    written = noisy_label_truth(80, noise_matrix(0.9, 4, "systematic"), 4)
    truth_file = tmp_path / "relabelled.truth.json"
    truth_file.write_text(json.dumps({"true_labels": dict(zip(written["members"], written["true_labels"].tolist())),
                                      "noise_matrix": written["noise_matrix"].tolist()}))
    truth = known_label_truth(dataset.load(), decoded)
    assert truth["known"] and np.allclose(truth["noise_matrix"], noise_matrix(0.9, 4, "systematic"))
    assert torch.equal(truth["true_labels"], known_label_truth(archive, decoded)["true_labels"])

    truth_file.write_text(json.dumps({"labels": {}}))
    with pytest.raises(DatasetError, match="relabelled.truth.json: not a truth file"):
        known_label_truth(dataset.load(), decoded)
