"""The training options beyond the seed's recipe: each does what it says, and resumes exactly."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
import torch

from playing_with_mnist.analysis.inference import predict
from playing_with_mnist.analysis.metrics import accuracies, case_folded_accuracy
from playing_with_mnist.datasets import CheckpointFile
from playing_with_mnist.models import ResNetConfig, build_model
from playing_with_mnist.training.augment import (
    TTA_VIEWS,
    AugmentConfig,
    TTAView,
    augment_batch,
    change_stroke_width,
    shift_batch,
    view_batch,
)
from playing_with_mnist.training.checkpoints import TrainedModel, TrainingRun
from playing_with_mnist.training.config import TrainConfig
from playing_with_mnist.training.engine import predict_logits
from playing_with_mnist.training.hardware import select_device, select_precision
from playing_with_mnist.training.loop import fit
from playing_with_mnist.training.mixup import mixup_batch
from playing_with_mnist.training.pipeline import train_model
from playing_with_mnist.training.schedule import make_scheduler

from .params import TRAIN

AUGMENT = {"rotate": 12, "scale": 0.1, "shear": 10, "translate": 0.1, "elastic": 2, "stroke": 0.5, "erase": 0.5}
TUNED = {**TRAIN, "augment": AUGMENT, "normalize": True, "schedule": "onecycle", "warmup_fraction": 0.3,
         "label_smoothing": 0.1, "mixup": 0.4, "ema_decay": 0.9, "tta": True, "dropout": 0.1}
SLIM = {"block_channels": (8, 8, 16, 16, 16), "hidden_units": (16, 8)}


def glyphs(count: int = 8, size: int = 32) -> torch.Tensor:
    """Float [count, 1, size, size]: white with a dark bar in a different place in each image."""
    images = torch.ones(count, 1, size, size)
    for i in range(count):
        images[i, 0, 6 + 2 * i : 10 + 2 * i, 8:24] = 0.0
    return images


def generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_augmented_batch_differs_per_image_and_repeats_for_the_same_seed() -> None:
    config = AugmentConfig(**AUGMENT)
    images = glyphs()
    same = glyphs(2)[:1].expand(2, -1, -1, -1).contiguous()
    first = augment_batch(images, config, generator(1))
    assert first.shape == images.shape and not torch.equal(first, images)
    assert torch.equal(images, glyphs()), "the input is not changed"
    assert torch.equal(first, augment_batch(images, config, generator(1)))
    assert not torch.equal(first, augment_batch(images, config, generator(2)))
    twins = augment_batch(same, config, generator(3))
    assert not torch.equal(twins[0], twins[1]), "each image draws its own parameters"


def test_augmented_images_stay_where_their_own_originals_are() -> None:
    # Image i must still show glyph i (its label stays right): 16 images, each a square of ink
    # in one of four corners; after the warp each one's ink is still nearest its own corner.
    config = AugmentConfig(**{"rotate": 10, "scale": 0.1, "shear": 8, "translate": 0.05})
    corners = torch.tensor([[10, 10], [10, 22], [22, 10], [22, 22]])
    which = torch.randperm(16, generator=generator(0)) % 4
    images = torch.ones(16, 1, 32, 32)
    for i, (row, column) in enumerate(corners[which].tolist()):
        images[i, 0, row - 2 : row + 2, column - 2 : column + 2] = 0.0
    ink = 1 - augment_batch(images, config, generator(4))[:, 0]
    grid = torch.arange(32, dtype=torch.float32) + 0.5
    centres = torch.stack([(ink.sum(2) * grid).sum(1), (ink.sum(1) * grid).sum(1)], 1) / ink.sum((1, 2))[:, None]
    assert torch.equal(torch.cdist(centres, corners.float()).argmin(1), which)


def test_background_stays_background_and_values_stay_in_range() -> None:
    config = AugmentConfig(**AUGMENT)
    blank = torch.ones(6, 1, 32, 32)
    assert torch.allclose(augment_batch(blank, config, generator(0)), blank)
    warped = augment_batch(glyphs(), config, generator(0))
    assert warped.min() >= 0 and warped.max() <= 1
    assert torch.allclose(warped[..., 0, :], torch.ones(8, 1, 32)), "a 10% shift pulls in white, not black"


def test_no_augmentation_is_the_identity_and_erasing_only_removes_ink() -> None:
    images = glyphs()
    assert augment_batch(images, AugmentConfig(), generator(0)) is images
    erased = augment_batch(images, AugmentConfig(**{"erase": 1.0}), generator(0))
    assert (erased >= images).all() and (erased > images).any(), "erasing paints background over ink"


def test_stroke_width_grows_or_shrinks_the_ink_and_keeps_the_background() -> None:
    bar = 1 - glyphs(1)  # ink: one 4-pixel-thick bar
    thicker, same, thinner = change_stroke_width(bar.expand(3, -1, -1, -1), torch.tensor([1.0, 0.0, -1.0]))
    assert torch.equal(same, bar[0])
    assert thicker.sum() == (4 + 2) * (16 + 2), "a whole pixel more on every side"
    assert thinner.sum() == (4 - 2) * (16 - 2), "a whole pixel less on every side"
    half = change_stroke_width(bar, torch.tensor([0.5]))
    assert torch.allclose(half, (bar + thicker) / 2), "fractions blend with the thicker stroke"
    config = AugmentConfig(**{"stroke": 1.0})
    blank = torch.ones(4, 1, 32, 32)
    assert torch.equal(augment_batch(blank, config, generator(0)), blank)
    images = glyphs()
    changed = (1 - augment_batch(images, config, generator(0))).sum((1, 2, 3)) / (1 - images).sum((1, 2, 3))
    assert (changed > 1).any() and (changed < 1).any(), "each image draws its own width, thicker or thinner"


@pytest.mark.parametrize("params, message", [
    ({"stroke": 1.5}, "train.augment.stroke is at most 1"),
    ({"rotate": -1}, "train.augment.rotate must be a number of at least 0"),
    ({"flip": 1}, "unknown parameter.*train.augment.flip"),
    ({"scale": 1.5}, "train.augment.scale must be below 1"),
    ({"erase": 2}, "train.augment.erase is a probability"),
])
def test_bad_augmentation_settings_name_the_parameter(params: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TrainConfig.from_params({**TRAIN, "augment": params})


@pytest.mark.parametrize("key, value, message", [
    ("schedule", "step", "train.schedule must be one of constant, cosine, onecycle"),
    ("warmup_fraction", 1.0, "train.warmup_fraction must be a share"),
    ("label_smoothing", 1.0, "train.label_smoothing must be in"),
    ("ema_decay", 1.0, "train.ema_decay must be in"),
    ("mixup", -0.2, "train.mixup must be a number of at least 0"),
    ("mixup", True, "train.mixup must be a number of at least 0"),
    ("sam_rho", 0.05, r"unknown parameter\(s\) train.sam_rho"),
    ("tta", "yes", "train.tta must be true or false"),
    ("val_every", -1, "train.val_every must be a whole number of at least 0"),
    ("model", {"downsample": "max"}, "train.model.downsample must be one of stride, pool"),
    ("model", {"stride": [1, 1, 1, 6, 1]}, "unknown parameter.*train.model.stride"),
    ("model", {"strides": [1, 6]}, "train.model.block_channels and strides must have the same length"),
    ("model", [64, 128], "train.model must be a mapping"),
    ("model", {"drop_path": 1}, r"train.model.drop_path must be a number in \[0, 1\)"),
    ("model", {"zero_init_residual": "yes"}, "train.model.zero_init_residual must be true or false"),
])
def test_bad_recipe_settings_name_the_parameter(key: str, value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TrainConfig.from_params({**TRAIN, key: value})


def test_mixup_blends_each_image_with_another_and_their_labels_alike() -> None:
    images, labels = glyphs(), torch.arange(8)
    torch.manual_seed(5)  # Beta draws from PyTorch's global random state
    mixed = mixup_batch(images, labels, 0.4, generator(5))
    assert torch.equal(images, glyphs()), "the input is not changed"
    assert 0.5 <= mixed.share < 1.0 and torch.equal(mixed.targets, labels)
    assert sorted(mixed.partners.tolist()) == labels.tolist() and not torch.equal(mixed.partners, labels)
    # Each glyph is a bar of its own: the blend is share * own + (1 - share) * its partner's.
    expected = mixed.share * images + (1 - mixed.share) * images[mixed.partners]
    assert torch.allclose(mixed.inputs, expected)
    assert torch.allclose(mixup_batch(torch.ones(4, 1, 8, 8), labels[:4], 0.4, generator(5)).inputs, torch.ones(4, 1, 8, 8)), \
        "background blended with background stays background"
    torch.manual_seed(5)
    again = mixup_batch(images, labels, 0.4, generator(5))
    assert torch.equal(again.inputs, mixed.inputs) and torch.equal(again.partners, mixed.partners)
    assert mixup_batch(images, labels, 0.0, generator(5)).inputs is images


def test_mixup_loss_blends_the_two_labels_losses() -> None:
    images, labels = glyphs(), torch.arange(8)
    mixed = mixup_batch(images, labels, 1.0, generator(6))
    logits = torch.randn(8, 8, generator=generator(7))
    own = torch.nn.functional.cross_entropy(logits, labels, label_smoothing=0.1)
    other = torch.nn.functional.cross_entropy(logits, mixed.partners, label_smoothing=0.1)
    assert mixed.loss(logits, 0.1).item() == pytest.approx(mixed.share * own.item() + (1 - mixed.share) * other.item(), rel=1e-6)


def learning_rates(schedule: str, warmup: float, epochs: int = 4, steps: int = 10, lr: float = 0.01) -> list[float]:
    optimizer = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=lr)
    scheduler = make_scheduler(optimizer, schedule, epochs, steps, warmup)
    rates = []
    for _ in range(epochs * steps):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return rates


def test_schedules_peak_at_lr_with_their_warm_up_and_decay() -> None:
    assert learning_rates("constant", 0.0) == pytest.approx([0.01] * 40)
    constant = learning_rates("constant", 0.25)
    assert constant[0] == pytest.approx(0.01 / 25) and constant[5] < constant[9] and constant[10:] == pytest.approx([0.01] * 30)
    cosine = learning_rates("cosine", 0.25)
    assert cosine[0] == pytest.approx(0.01 / 25) and max(cosine) == pytest.approx(0.01) and cosine.index(max(cosine)) == 10
    assert all(a >= b for a, b in zip(cosine[10:], cosine[11:])) and cosine[-1] < 0.0005
    onecycle = learning_rates("onecycle", 0.25)
    assert onecycle[0] == pytest.approx(0.01 / 25) and max(onecycle) == pytest.approx(0.01, rel=1e-3)
    assert 9 <= onecycle.index(max(onecycle)) <= 10 and onecycle[-1] < 0.0001


def split_of(cache: dict) -> tuple:
    labels = cache["labels"]
    return (cache["images"][:30], labels[:30]), (cache["images"][30:], labels[30:])


def test_ema_weights_are_validated_and_saved(tiny_cache: dict, tmp_path: Path) -> None:
    config = TrainConfig.from_params({**TRAIN, "epochs": 2, "ema_decay": 0.9})
    store = CheckpointFile(tmp_path / "last.pt")
    result = fit(build_model(ResNetConfig(num_classes=6, **SLIM)), *split_of(tiny_cache), config, store)
    state = store.load()
    raw, averaged, saved = state["model"], state["ema"]["module"], result.model.state_dict()
    assert state["ema"]["updates"] == 2 * math.ceil(30 / TRAIN["batch_size"])
    assert any(not torch.equal(raw[k], averaged[k]) for k in raw if raw[k].is_floating_point())
    assert all(torch.equal(saved[k], averaged[k]) for k in saved)
    assert result.run.ema


@pytest.mark.parametrize("val_every, validated", [(2, [2, 4, 5]), (0, [5]), (1, [1, 2, 3, 4, 5])])
def test_val_every_validates_those_epochs_and_always_the_last(tiny_cache: dict, val_every: int, validated: list[int]) -> None:
    config = TrainConfig.from_params({**TRAIN, "epochs": 5, "val_every": val_every, "model": SLIM})
    result = fit(build_model(ResNetConfig(num_classes=6, **SLIM)), *split_of(tiny_cache), config)
    history = pd.DataFrame(result.history)
    assert history.loc[history["val_accuracy"].notna(), "epoch"].tolist() == validated
    assert history["val_loss"].notna().tolist() == history["val_accuracy"].notna().tolist()


def test_normalisation_is_stored_with_the_model_and_applied_by_it(tiny_cache: dict, tiny_split: dict) -> None:
    trained, _ = train_model(tiny_cache, tiny_split, TrainConfig.from_params({**TRAIN, "normalize": True}))
    pixels = tiny_cache["images"][tiny_split["train"]].float() / 255
    assert trained.model_config.input_mean == pytest.approx(float(pixels.mean()), rel=1e-5)
    assert trained.model_config.input_std == pytest.approx(float(pixels.std()), rel=1e-5)
    plain, _ = train_model(tiny_cache, tiny_split, TrainConfig.from_params(TRAIN))
    assert (plain.model_config.input_mean, plain.model_config.input_std) == (0.0, 1.0)


def test_a_model_started_from_pretrained_weights_keeps_their_downsampling(tiny_cache: dict, tiny_split: dict) -> None:
    pooled = TrainConfig.from_params(TRAIN, {"model": {"downsample": "pool"}}, "digits_train")
    pretrained, _ = train_model(tiny_cache, tiny_split, pooled)
    assert pretrained.model_config.downsample == "pool"
    # Asked for the strided default, the run still pools: the carried-over convs learned on pooled inputs.
    started, _ = train_model(tiny_cache, tiny_split, TrainConfig.from_params(TRAIN), initial_model=pretrained)
    assert started.model_config.downsample == "pool"
    assert started.model_config.block_channels == (8, 8, 16, 16, 16)


def test_tta_averages_the_probabilities_of_the_views() -> None:
    # A linear model sees where every pixel is, so each shifted, turned or resized copy scores differently.
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(32 * 32, 5))
    images = (glyphs(3) * 255).to(torch.uint8)
    averaged = predict_logits(model, images, 2, "fp32", tta=True)
    assert averaged.shape == (3, 5)
    with torch.no_grad():
        inputs = images.float() / 255
        expected = sum(model(view_batch(inputs, view)).softmax(1) for view in TTA_VIEWS) / len(TTA_VIEWS)
    assert torch.allclose(averaged.exp(), expected, atol=1e-5)
    assert not torch.allclose(averaged.exp(), predict_logits(model, images, 2, "fp32").softmax(1), atol=1e-4)


def test_predict_uses_tta_as_the_model_was_trained_unless_told() -> None:
    torch.manual_seed(0)
    config = ResNetConfig(num_classes=4, **SLIM)
    model = build_model(config).eval()
    with torch.no_grad():
        model.classifier.weight.mul_(100)  # an untrained head is too flat for the views to show
    trained = TrainedModel(model_config=config, state_dict=model.state_dict(), class_names=list("abcd"), class_folders=list("abcd"),
                           train_config=TrainConfig(tta=True), run=TrainingRun(), source={}, fingerprint="")
    images = (glyphs(3) * 255).to(torch.uint8)
    # `predict` picks the precision for this machine (bf16 on a CPU with AVX512-BF16 or AMX):
    # the references are computed at the same one.
    precision = select_precision("auto", select_device("auto"))
    with_tta = predict_logits(model, images, 2, precision, tta=True).exp()
    without = predict_logits(model, images, 2, precision).softmax(1)
    assert not torch.allclose(with_tta, without, atol=1e-4)
    assert torch.allclose(predict(trained, images), with_tta, atol=1e-5)
    assert torch.allclose(predict(trained, images, tta=False), without, atol=1e-5)
    plain = replace(trained, train_config=TrainConfig(tta=False))
    assert torch.allclose(predict(plain, images), without, atol=1e-5)
    assert torch.allclose(predict(plain, images, tta=True), with_tta, atol=1e-5)


def test_a_shift_moves_the_image_and_fills_with_background() -> None:
    image = torch.ones(1, 1, 4, 4)
    image[0, 0, 0, 0] = 0.0
    moved = shift_batch(image, 1, 1)
    assert moved[0, 0, 1, 1] == 0.0 and moved.sum() == 15.0
    assert shift_batch(image, -1, 0).sum() == 16.0, "moved out of the picture, leaving background"


def test_tta_views_turn_and_resize_about_the_centre_and_keep_the_background() -> None:
    image = torch.ones(1, 1, 32, 32)
    image[..., 8:24, 14:18] = 0.0  # a centred vertical bar, 16 x 4 pixels of ink
    original = image.clone()

    def ink(batch: torch.Tensor) -> float:
        return (1.0 - batch).sum().item()

    assert torch.equal(view_batch(image, TTAView()), image)
    turned = view_batch(image, TTAView(rotate=6.0))
    assert not torch.equal(turned, image)
    assert abs(ink(turned) - ink(image)) < 0.05 * ink(image), "a turn moves the ink, it does not add any"
    assert (1.0 - turned[..., 8:24, :]).sum(dim=(0, 1, 2)).nonzero().numel() > 4, "the bar now leans across more columns"
    smaller, bigger = view_batch(image, TTAView(size=0.93)), view_batch(image, TTAView(size=1.07))
    assert ink(smaller) < ink(image) < ink(bigger)
    for view in (turned, smaller, bigger):
        assert view.min() >= 0.0 and view.max() <= 1.0
        assert view[..., :4, :].eq(1.0).all() and view[..., :, :8].eq(1.0).all(), "the background stays background"
    assert torch.equal(image, original), "the input is not changed"
    assert len(set(TTA_VIEWS)) == len(TTA_VIEWS) and TTAView() in TTA_VIEWS


class StopAfter(CheckpointFile):
    """Saves like the real store, then interrupts training after ``epoch``."""

    def __init__(self, path: Path, epoch: int) -> None:
        super().__init__(path)
        self.stop_epoch = epoch

    def save(self, state: dict) -> None:
        super().save(state)
        if state["epoch"] == self.stop_epoch:
            raise KeyboardInterrupt


def test_resume_with_every_option_equals_an_uninterrupted_run(tiny_cache: dict, tmp_path: Path) -> None:
    params = {**TUNED, "epochs": 3}
    train, val = split_of(tiny_cache)

    def new_model() -> torch.nn.Module:
        torch.manual_seed(0)
        return build_model(ResNetConfig(num_classes=6, dropout=0.1, drop_path=0.2, **SLIM))

    torch.manual_seed(1)
    whole = fit(new_model(), train, val, TrainConfig.from_params(params), CheckpointFile(tmp_path / "whole.pt"))
    torch.manual_seed(1)
    with pytest.raises(KeyboardInterrupt):
        fit(new_model(), train, val, TrainConfig.from_params(params), StopAfter(tmp_path / "cut.pt", 1))
    torch.manual_seed(123)  # whatever happened in between, the checkpoint restores the random state
    resumed = fit(new_model(), train, val, TrainConfig.from_params({**params, "resume": True}), CheckpointFile(tmp_path / "cut.pt"))

    strip = lambda rows: [{k: v for k, v in row.items() if "seconds" not in k} for row in rows]  # noqa: E731
    assert strip(resumed.history) == strip(whole.history)
    assert all(torch.equal(a, b) for a, b in zip(resumed.model.state_dict().values(), whole.model.state_dict().values()))


def checkpoint_after_one_epoch(params: dict, train: tuple, val: tuple, path: Path) -> CheckpointFile:
    """The checkpoint of a run of ``params`` interrupted after its first epoch."""
    with pytest.raises(KeyboardInterrupt):
        fit(build_model(ResNetConfig(num_classes=6, **SLIM)), train, val, TrainConfig.from_params(params), StopAfter(path, 1))
    return CheckpointFile(path)


def test_a_checkpoint_from_before_an_option_existed_resumes_with_it_off(tiny_cache: dict, tmp_path: Path) -> None:
    params = {**TRAIN, "epochs": 2}
    train, val = split_of(tiny_cache)
    store = checkpoint_after_one_epoch(params, train, val, tmp_path / "old.pt")
    state = store.load()
    del state["train_config"]["mixup"]  # as saved by a version without the options
    del state["train_config"]["model"]["drop_path"], state["train_config"]["model"]["zero_init_residual"]
    store.save(state)
    with_model_options_off = {**params, "resume": True, "model": {**params["model"], "drop_path": 0, "zero_init_residual": False}}
    resumed = fit(build_model(ResNetConfig(num_classes=6, **SLIM)), train, val, TrainConfig.from_params(with_model_options_off), store)
    assert [row["epoch"] for row in resumed.history] == [1, 2]
    with pytest.raises(ValueError, match="made with other settings"):
        fit(build_model(ResNetConfig(num_classes=6, **SLIM)), train, val,
            TrainConfig.from_params({**params, "resume": True, "mixup": 0.2}), CheckpointFile(tmp_path / "old.pt"))
    with pytest.raises(ValueError, match="made with other settings"):
        fit(build_model(ResNetConfig(num_classes=6, **SLIM)), train, val,
            TrainConfig.from_params({**with_model_options_off, "model": {**params["model"], "drop_path": 0.1}}), CheckpointFile(tmp_path / "old.pt"))


def test_a_checkpoint_from_a_newer_version_is_refused_with_the_resume_message(tiny_cache: dict, tmp_path: Path) -> None:
    params = {**TRAIN, "epochs": 2}
    train, val = split_of(tiny_cache)
    store = checkpoint_after_one_epoch(params, train, val, tmp_path / "new.pt")
    state = store.load()
    state["train_config"]["model"]["a_later_option"] = 1  # as saved by a version with a model setting this one lacks
    store.save(state)
    with pytest.raises(ValueError, match="made with other settings"):
        fit(build_model(ResNetConfig(num_classes=6, **SLIM)), train, val, TrainConfig.from_params({**params, "resume": True}), store)


def test_a_scheduled_run_refuses_to_resume_with_other_epochs(tiny_cache: dict, tmp_path: Path) -> None:
    params = {**TRAIN, "epochs": 2, "schedule": "cosine"}
    train, val = split_of(tiny_cache)
    store = checkpoint_after_one_epoch(params, train, val, tmp_path / "c.pt")
    with pytest.raises(ValueError, match="made with other settings"):
        fit(build_model(ResNetConfig(num_classes=6, **SLIM)), train, val, TrainConfig.from_params({**params, "epochs": 5, "resume": True}), store)


def test_experiment_parameters_merge_over_train_key_by_key() -> None:
    train = {**TRAIN, "epochs": 50, "augment": {"rotate": 10, "scale": 0.1}}
    config = TrainConfig.from_params(train, {"epochs": 3, "augment": {"rotate": 0}}, section="mnist_train")
    assert (config.epochs, config.lr, config.augment.rotate, config.augment.scale) == (3, TRAIN["lr"], 0, 0.1)
    assert config.model.hidden_units == tuple(TRAIN["model"]["hidden_units"])
    assert train["epochs"] == 50 and train["augment"]["rotate"] == 10, "the inputs are not changed"
    assert TrainConfig.from_params(train, None) == TrainConfig.from_params(train)
    with pytest.raises(ValueError, match=r"mnist_train.lr must be a number above 0"):
        TrainConfig.from_params(train, {"lr": -1}, section="mnist_train")
    with pytest.raises(ValueError, match=r"^train.lr must be a number above 0"):  # named where it was set
        TrainConfig.from_params({**train, "lr": -1}, {"epochs": 3}, section="mnist_train")

def test_case_folded_accuracy_counts_a_wrong_case_as_right() -> None:
    names = ["1", "O", "S", "l", "o", "s", "x", "y"]
    table = pd.DataFrame({"true": ["o", "S", "x", "1"], "predicted": ["O", "S", "y", "l"]})
    assert case_folded_accuracy(table, names) == pytest.approx(0.5)
    assert case_folded_accuracy(table.iloc[:0], list("0123")) is None
    predicted, labels = torch.tensor([1, 2, 7, 3]), torch.tensor([4, 2, 6, 0])  # the table above, as class indices
    assert accuracies(predicted, labels, names) == (pytest.approx(0.25), pytest.approx(0.5))
    assert accuracies(torch.tensor([0, 1]), torch.tensor([0, 2]), list("0123")) == (pytest.approx(0.5), None)
