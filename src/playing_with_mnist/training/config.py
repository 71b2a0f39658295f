"""Training settings: the seed's hyper-parameters by default, checked once, before anything trains.

A training's settings are ``train`` with, for an experiment's own runs, its overrides laid on top
(``mnist_train``, a sweep's recipe): :meth:`TrainConfig.from_params` merges and checks them, once
per training, and the result is handed to the training node. Each option's ``describe`` metadata
is how the Results document names it when it is on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from playing_with_mnist.models.resnet import Architecture
from playing_with_mnist.typed_settings import describe_changes, from_mapping

from .augment import AugmentConfig
from .hardware import DEVICES, PRECISIONS
from .schedule import SCHEDULES

OPTIMIZERS = ("adam", "adamw", "sgd")
SWITCHES = ("auto", True, False)
# Settings earlier versions had, dropped when a checkpoint that holds them is read.
RETIRED = ("sam_rho",)


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 50
    lr: float = 0.001
    weight_decay: float = 0.0001
    batch_size: int = 32
    val_batch_size: int = 64
    # Validate after every val_every-th epoch and after the last (0: the last only): scoring a large
    # validation set (MNIST's 10,000 test digits) each epoch can cost more than training a small subset.
    val_every: int = 1
    dropout: float = 0.7
    optimizer: str = "adam"
    seed: int = 42
    device: str = "auto"
    precision: str = "auto"
    channels_last: Any = "auto"
    compile: Any = "auto"
    resume: bool = False
    model: Architecture = field(default_factory=Architecture)
    # Options beyond the seed's recipe, all off by default (conf/tuned turns them on).
    augment: AugmentConfig = field(default_factory=AugmentConfig, metadata={"describe": "augmentation ({})"})
    # Scale inputs by the training set's mean and std (stored with the model).
    normalize: bool = field(default=False, metadata={"describe": "input normalisation"})
    schedule: str = field(default="constant", metadata={"describe": "{} schedule"})  # peaking at lr
    # Share of the run spent warming up (onecycle: rising; 0 there = 0.3).
    warmup_fraction: float = field(default=0.0, metadata={"describe": "warm-up {} of the run"})
    label_smoothing: float = field(default=0.0, metadata={"describe": "label smoothing {}"})
    # 0 = off; else alpha of Beta(alpha, alpha): blend image pairs and their labels.
    mixup: float = field(default=0.0, metadata={"describe": "mixup (alpha {})"})
    # 0 = off; else the EMA of the weights validates and is saved.
    ema_decay: float = field(default=0.0, metadata={"describe": "weight EMA {}"})
    # Evaluate/predict average the image and its views (augment.TTA_VIEWS).
    tta: bool = field(default=False, metadata={"describe": "test-time augmentation"})

    @classmethod
    def from_params(cls, train: dict[str, Any], overrides: dict[str, Any] | None = None, section: str = "train") -> TrainConfig:
        """``train`` with ``overrides`` laid on top (nested ``model`` and ``augment`` merge key by
        key), checked; a wrong name or value is a ValueError naming the parameter under ``section``."""
        if overrides and section != "train":
            cls.from_params(train)  # a wrong value in train itself is named as train's
        values = dict(train)
        for key, value in (overrides or {}).items():
            nested = isinstance(value, dict) and isinstance(values.get(key), dict)
            values[key] = {**values[key], **value} if nested else value
        for name, kind in (("model", Architecture), ("augment", AugmentConfig)):
            if not isinstance(values.get(name, {}), dict):
                raise ValueError(f"{section}.{name} must be a mapping of settings, got {values[name]!r}")
            values[name] = from_mapping(kind, values.get(name, {}), f"{section}.{name}")
        config = from_mapping(cls, values, section)
        config.check(section)
        return config

    @classmethod
    def from_checkpoint(cls, values: dict[str, Any]) -> TrainConfig:
        """The settings a saved model or checkpoint was trained with (its ``to_dict()`` form)."""
        return cls.from_params({k: v for k, v in values.items() if k not in RETIRED}, section="train_config")

    def check(self, section: str = "train") -> None:
        for names, valid, rule in _RULES:
            for name in names:
                if not valid(getattr(self, name)):
                    raise ValueError(f"{section}.{name} {rule}, got {getattr(self, name)!r}")

    def to_dict(self) -> dict[str, Any]:
        """Plain values (as the parameters spell them), as checkpoints and metrics files keep them."""
        return {**asdict(self), "model": self.model.to_dict()}

    def describe_options(self) -> str:
        """The options beyond the seed's recipe that are on, in words ("none" for the seed's)."""
        return ", ".join(describe_changes(self)) or "none (the seed's recipe)"

    def describe(self) -> str:
        """What a document says a training used: epochs, lr, batch, dropout and the options on."""
        return (f"{self.epochs} epoch{'s' if self.epochs != 1 else ''}, lr {self.lr:g}, batch {self.batch_size}, "
                f"dropout {self.dropout:g}; options beyond the seed's recipe: {self.describe_options()}")

    @property
    def scheduled(self) -> bool:
        """Whether the learning rate follows a schedule (then a resumed run cannot be given more epochs)."""
        return self.schedule != "constant" or self.warmup_fraction > 0

    def without(self, *names: str) -> TrainConfig:
        """These settings back at their defaults: what two configs must share to continue one another."""
        defaults = TrainConfig()
        return replace(self, **{name: getattr(defaults, name) for name in names})


def _number(low: float, high: float | None = None, low_open: bool = False) -> Callable[[Any], bool]:
    def valid(value: Any) -> bool:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        return (value > low if low_open else value >= low) and (high is None or value < high)
    return valid


def _whole(low: int) -> Callable[[Any], bool]:
    return lambda value: isinstance(value, int) and not isinstance(value, bool) and value >= low


_RULES: list[tuple[tuple[str, ...], Callable[[Any], bool], str]] = [
    (("epochs", "batch_size", "val_batch_size"), _whole(1), "must be a whole number of at least 1"),
    (("val_every",), _whole(0), "must be a whole number of at least 0: 1 validates every epoch, 0 only the last"),
    (("lr",), _number(0, low_open=True), "must be a number above 0"),
    (("weight_decay",), _number(0), "must be a number of at least 0"),
    (("dropout", "label_smoothing"), _number(0, 1), "must be in [0, 1)"),
    (("optimizer",), lambda v: v in OPTIMIZERS, f"must be one of {', '.join(OPTIMIZERS)}"),
    (("device",), lambda v: v in DEVICES, f"must be one of {', '.join(DEVICES)}"),
    (("precision",), lambda v: v in PRECISIONS, f"must be one of {', '.join(PRECISIONS)}"),
    (("channels_last", "compile"), lambda v: v in SWITCHES, "must be auto, true or false"),
    (("resume", "normalize", "tta"), lambda v: isinstance(v, bool), "must be true or false"),
    (("schedule",), lambda v: v in SCHEDULES, f"must be one of {', '.join(SCHEDULES)}"),
    (("warmup_fraction",), _number(0, 1), "must be a share of the run in [0, 1)"),
    (("mixup",), _number(0), "must be a number of at least 0: 0 turns it off, 0.2 blends gently"),
    (("ema_decay",), _number(0, 1), "must be in [0, 1): 0 turns the average off, 0.998 keeps a long memory"),
]
