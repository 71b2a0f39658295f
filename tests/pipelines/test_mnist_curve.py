"""Task 2 as a learning curve, and the MNIST experiments' settings: the points, the subsets, the verdict rule, the
summary node, the pipeline's structure, and the recipe the MNIST trainings get by default."""

from __future__ import annotations

import math

import pandas as pd
import pytest
import torch
import yaml

from playing_with_mnist.analysis.learning_curve import (
    NOT_JUDGED,
    curve_verdict,
    curve_verdict_text,
    learning_curve_markdown,
    learning_curve_summary,
)
from playing_with_mnist.pipelines.mnist_transfer.nodes import learning_curve, training_subset
from playing_with_mnist.sweep import curve_points
from playing_with_mnist.training.pipeline import resolve_train_config

from ..conftest import PROJECT_ROOT
from ..params import history


def test_the_points_are_every_size_at_every_seed_and_bad_lists_are_named() -> None:
    assert curve_points([100, 3000], [0, 1]) == {"n100_s0": {"train_size": 100, "seed": 0}, "n100_s1": {"train_size": 100, "seed": 1},
                                                 "n3000_s0": {"train_size": 3000, "seed": 0}, "n3000_s1": {"train_size": 3000, "seed": 1}}
    for sizes, seeds, named in (([5], [0], "train_sizes"), ([100, 100], [0], "train_sizes"), ([], [0], "train_sizes"),
                                ([100], ["a"], "seeds"), ([100], [], "seeds"), ([100], [-1], "seeds"), (None, [0], "train_sizes")):
        with pytest.raises(ValueError, match=f"mnist_transfer.{named}"):
            curve_points(sizes, seeds)


def mnist_like(train: int = 200, test: int = 30) -> tuple[dict, dict]:
    """A cache whose labels cycle unevenly through the digits (digit 9 rare), and its train/test split."""
    labels = torch.tensor([i % 10 if i % 7 else 3 for i in range(train + test)])
    cache = {"labels": labels, "class_names": [str(d) for d in range(10)], "fingerprint": "fp"}
    return cache, {"train": torch.arange(train), "test": torch.arange(train, train + test), "fingerprint": "fp"}


def test_a_training_subset_is_class_balanced_seeded_and_nested() -> None:
    cache, split = mnist_like()
    curve = {"train_sizes": [20, 55], "seeds": [0, 1]}
    points = curve_points(curve["train_sizes"], curve["seeds"])
    subsets = {point: training_subset(cache, split, curve, points, point) for point in points}

    small, large = subsets["n20_s0"], subsets["n55_s0"]
    assert torch.equal(small["test"], split["test"]) and small["fingerprint"] == "fp"
    assert len(small["train"]) == 20 and len(large["train"]) == 55
    assert torch.equal(torch.bincount(cache["labels"][small["train"]], minlength=10), torch.full((10,), 2))
    counts = torch.bincount(cache["labels"][large["train"]], minlength=10)
    assert counts.max() - counts.min() <= 1, counts  # 5 or 6 of every digit
    assert set(small["train"].tolist()) <= set(large["train"].tolist())  # one seed's subsets are nested
    assert not torch.equal(small["train"], subsets["n20_s1"]["train"])  # another seed, other images
    assert torch.equal(small["train"], training_subset(cache, split, curve, points, "n20_s0")["train"])  # and the same again
    assert set(small["train"].tolist()) <= set(split["train"].tolist())

    with pytest.raises(ValueError, match="asks for 500 training images, but MNIST's training split holds 200"):
        training_subset(cache, split, {"train_sizes": [500], "seeds": [0]}, curve_points([500], [0]), "n500_s0")
    with pytest.raises(ValueError, match="built with mnist_transfer.train_sizes=\\[20, 55\\].*not with --params"):
        training_subset(cache, split, {"train_sizes": [20, 55, 3000], "seeds": [0, 1]}, points, "n20_s0")


def test_the_verdict_rule_compares_the_difference_with_the_combined_spread() -> None:
    assert curve_verdict(0.03, 0.02, 3) == "helps"
    assert curve_verdict(-0.03, 0.02, 3) == "hurts"
    assert curve_verdict(0.015, 0.02, 3) == "no clear difference"
    assert curve_verdict(0.02, 0.02, 3) == "no clear difference"  # it must exceed the spread
    assert curve_verdict(0.03, math.nan, 1) == NOT_JUDGED

    # hand-made: at 100 images pretrained is far ahead, at 1,000 within the noise, at 3,000 clearly behind
    rows = [(100, "scratch", [0.50, 0.54, 0.52]), (100, "pretrained", [0.70, 0.72, 0.74]),
            (1000, "scratch", [0.90, 0.92, 0.94]), (1000, "pretrained", [0.91, 0.93, 0.92]),
            (3000, "scratch", [0.970, 0.972, 0.974]), (3000, "pretrained", [0.960, 0.961, 0.962])]
    table = pd.DataFrame([{"size": size, "start": start, "seed": seed, "test_accuracy": accuracy}
                          for size, start, accuracies in rows for seed, accuracy in enumerate(accuracies)])
    summary = learning_curve_summary(table.sample(frac=1, random_state=0))  # any row order
    assert list(summary["size"]) == [100, 1000, 3000] and (summary["seeds"] == 3).all()
    assert list(summary["verdict"]) == ["helps", "no clear difference", "hurts"]
    first = summary.iloc[0]
    assert first["scratch_mean"] == pytest.approx(0.52) and first["pretrained_mean"] == pytest.approx(0.72)
    assert first["scratch_std"] == pytest.approx(0.02) and first["spread"] == pytest.approx(math.hypot(0.02, 0.02))
    assert first["difference"] == pytest.approx(0.20)

    text = curve_verdict_text(summary)
    assert "Pretraining helps at 100 images (+20.0 ± 2.8 points)" in text
    assert "no clear difference at 1,000 images (+0.0 ± 2.2 points)" in text
    assert "It hurts at 3,000 images (-1.1 ± 0.2 points)" in text
    blocks = learning_curve_markdown(summary)
    assert "sqrt(sd_scratch² + sd_pretrained²)" in blocks[1]
    assert "| 100 | 3 | 52.0% ± 2.0 | 72.0% ± 2.0 | +20.0 ± 2.8 | helps |" in blocks[2]
    assert blocks[3].startswith("![Test accuracy against training size](../../learning_curves.png/")

    one_seed = learning_curve_summary(table[table["seed"] == 0])
    assert (one_seed["verdict"] == NOT_JUDGED).all() and "Not judged, with one seed at 100 images" in curve_verdict_text(one_seed)


def test_the_learning_curve_has_a_row_per_size_start_and_seed() -> None:
    curve = {"train_sizes": [20, 60], "seeds": [0, 1]}
    points = curve_points(curve["train_sizes"], curve["seeds"])
    accuracy = {("n20_s0", "scratch"): 0.5, ("n20_s0", "pretrained"): 0.7, ("n20_s1", "scratch"): 0.52, ("n20_s1", "pretrained"): 0.71,
                ("n60_s0", "scratch"): 0.8, ("n60_s0", "pretrained"): 0.79, ("n60_s1", "scratch"): 0.82, ("n60_s1", "pretrained"): 0.81}
    histories = [history([0.1, accuracy[point, start]]) for point in points for start in ("scratch", "pretrained")]
    table, summary, figure = learning_curve(curve, *histories, points=points)
    try:
        assert list(table.columns[:5]) == ["run", "size", "start", "seed", "epochs"]
        assert sorted(zip(table["size"], table["start"], table["seed"])) == sorted(
            (size, start, seed) for size in (20, 60) for start in ("scratch", "pretrained") for seed in (0, 1))
        assert all(table.set_index(["run"])["test_accuracy"][f"{point}_{start}"] == value for (point, start), value in accuracy.items())
        assert list(summary["size"]) == [20, 60] and list(summary["verdict"]) == ["helps", "no clear difference"]
        assert figure.axes[0].get_xscale() == "log"
    finally:
        figure.clear()
    with pytest.raises(ValueError, match="not with --params"):
        learning_curve({"train_sizes": [20], "seeds": [0, 1]}, *histories, points=points)


def test_the_mnist_experiments_train_with_the_tuned_recipe_and_task_1_with_the_seeds() -> None:
    from kedro.config import OmegaConfigLoader
    from kedro.framework.project import settings

    from playing_with_mnist import settings as project_settings

    settings.configure("playing_with_mnist.settings")
    params = OmegaConfigLoader(str(PROJECT_ROOT / "conf"), **project_settings.CONFIG_LOADER_ARGS)["parameters"]
    tuned = yaml.safe_load((PROJECT_ROOT / "conf/tuned/parameters_train.yml").read_text())["train"]
    task1 = resolve_train_config(params["train"])
    assert task1.dropout == 0.7 and task1.schedule == "constant" and task1.describe_options() == "none (the seed's recipe)"
    for block in ("digits_train", "mnist_train", "noisy_train"):
        config = resolve_train_config(params["train"], params["mnist_recipe"], params[block], sections=("mnist_recipe", block))
        for key in ("lr", "batch_size", "dropout", "normalize", "schedule", "warmup_fraction", "label_smoothing", "ema_decay", "tta"):
            assert getattr(config, key) == tuned[key], (block, key)
        assert config.model.downsample == "pool" and config.augment.rotate == tuned["augment"]["rotate"]
        assert config.model.block_channels == (64, 128, 256, 512, 512)  # the seed's architecture, merged key by key
    assert resolve_train_config(params["train"], params["mnist_recipe"], params["mnist_train"], sections=("a", "b")).epochs == 10
    assert resolve_train_config(params["train"], params["mnist_recipe"], params["digits_train"], sections=("a", "b")).epochs == 50
    # a point's seed is laid over last; a wrong setting is named under the layer that holds it
    assert resolve_train_config(params["train"], {"seed": 3}, {"epochs": 2}, sections=("a", "b"), changes={"seed": 7}).seed == 7
    with pytest.raises(ValueError, match="mnist_train.lr must be a number above 0"):
        resolve_train_config(params["train"], params["mnist_recipe"], {"lr": -1}, sections=("mnist_recipe", "mnist_train"))
    with pytest.raises(ValueError, match="unknown parameter\\(s\\) mnist_recipe.dropuot"):
        resolve_train_config(params["train"], {"dropuot": 0.1}, {}, sections=("mnist_recipe", "mnist_train"))


def test_the_pipeline_trains_both_starts_at_every_point_side_by_side(monkeypatch: pytest.MonkeyPatch) -> None:
    from kedro.framework.project import settings

    from playing_with_mnist.pipeline_registry import register_pipelines

    settings.configure("playing_with_mnist.settings")
    monkeypatch.chdir(PROJECT_ROOT)  # the points are read from the project the command runs in: the defaults

    pipeline = register_pipelines()["mnist_transfer"]
    points = [f"n{size}_s{seed}" for size in (100, 300, 1000, 3000) for seed in (0, 1, 2)]
    trainings = sorted(n.name for n in pipeline.nodes if n.name.endswith(".train_model"))
    assert trainings == sorted(["mnist_transfer.digits.train_model",
                                *(f"mnist_transfer.{p}.{start}.train_model" for p in points for start in ("scratch", "pretrained"))])
    nodes = {n.name: n for n in pipeline.nodes}
    assert nodes["mnist_transfer.n300_s1.pretrained.train_model"].inputs == [
        "mnist_images", "mnist_transfer.n300_s1.train_split", "mnist_transfer.n300_s1.pretrained.train_config",
        "mnist_transfer.n300_s1.pretrained.training_checkpoints", "mnist_transfer.digits_model"]
    assert nodes["mnist_transfer.n300_s1.scratch.resolve_train_config"].inputs == ["params:train", "params:mnist_recipe", "params:mnist_train"]
    assert nodes["mnist_transfer.summarise_learning_curve"].inputs == [
        "params:mnist_transfer", *(f"mnist_transfer.{p}_{start}_history" for p in points for start in ("scratch", "pretrained"))]
    assert nodes["mnist_transfer.select_mnist_model"].inputs[:2] == ["mnist_transfer.n3000_s0_scratch_model",
                                                                     "mnist_transfer.n3000_s0_pretrained_model"]
    # no training of the curve depends on another: the Dask runner may run them all at once
    curve = {n for n in pipeline.nodes if n.name.endswith(".train_model") and ".digits." not in n.name}
    assert all(not (pipeline.node_dependencies[n] & curve) for n in curve)
    assert nodes["mnist_transfer.n300_s1.scratch.resolve_train_config"].run(
        {"params:train": {"epochs": 1}, "params:mnist_recipe": {}, "params:mnist_train": {}})[
            "mnist_transfer.n300_s1.scratch.train_config"].seed == 1
