"""Training settings: the seed's hyper-parameters by default, validated up front."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from playing_with_mnist.models.resnet import ResNetConfig

from .augment import AugmentConfig
from .hardware import DEVICES, PRECISIONS
from .schedule import SCHEDULES

OPTIMIZERS = ("adam", "adamw", "sgd")
SWITCHES = ("auto", True, False)


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 50
    lr: float = 0.001
    weight_decay: float = 0.0001
    batch_size: int = 32
    val_batch_size: int = 64
    dropout: float = 0.7
    optimizer: str = "adam"
    seed: int = 42
    device: str = "auto"
    precision: str = "auto"
    channels_last: Any = "auto"
    compile: Any = "auto"
    resume: bool = False
    model: dict = field(default_factory=dict)
    # Options beyond the seed's recipe, all off by default (conf/tuned turns them on).
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    normalize: bool = False       # scale inputs by the training set's mean and std (stored with the model)
    schedule: str = "constant"    # constant | cosine | onecycle, peaking at lr
    warmup_fraction: float = 0.0  # share of the run spent warming up (onecycle: rising; 0 there = 0.3)
    label_smoothing: float = 0.0
    mixup: float = 0.0            # 0 = off; else alpha of Beta(alpha, alpha): blend image pairs and their labels
    ema_decay: float = 0.0        # 0 = off; else the EMA of the weights validates and is saved
    tta: bool = False             # evaluate/predict average the image and its views (augment.TTA_VIEWS)
    sam_rho: float = 0.0          # 0 = off; else sharpness-aware steps: the gradient taken this far uphill (twice the cost)

    @classmethod
    def from_params(cls, params: dict[str, Any], section: str = "train") -> "TrainConfig":
        """Build from the ``train`` parameters; a wrong name or value names the parameter."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(params) - known)
        if unknown:
            raise ValueError(f"unknown parameter(s) {', '.join(f'{section}.{k}' for k in unknown)}; known: {', '.join(sorted(known))}")
        values = dict(params)
        if not isinstance(values.get("augment", {}), (dict, AugmentConfig)):
            raise ValueError(f"{section}.augment must be a mapping of augmentation settings, got {values['augment']!r}")
        if isinstance(values.get("augment"), dict):
            values["augment"] = AugmentConfig.from_params(values["augment"], f"{section}.augment")
        config = cls(**values)
        config.validate(section)
        return config

    def validate(self, section: str = "train") -> None:
        def fail(name: str, rule: str) -> None:
            raise ValueError(f"{section}.{name} {rule}, got {getattr(self, name)!r}")

        for name in ("epochs", "batch_size", "val_batch_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                fail(name, "must be a whole number of at least 1")
        if not isinstance(self.lr, (int, float)) or not self.lr > 0:
            fail("lr", "must be a number above 0")
        if not isinstance(self.weight_decay, (int, float)) or self.weight_decay < 0:
            fail("weight_decay", "must be a number of at least 0")
        if not isinstance(self.dropout, (int, float)) or not 0 <= self.dropout < 1:
            fail("dropout", "must be in [0, 1)")
        if self.optimizer not in OPTIMIZERS:
            fail("optimizer", f"must be one of {', '.join(OPTIMIZERS)}")
        if self.device not in DEVICES:
            fail("device", f"must be one of {', '.join(DEVICES)}")
        if self.precision not in PRECISIONS:
            fail("precision", f"must be one of {', '.join(PRECISIONS)}")
        for name in ("channels_last", "compile"):
            if getattr(self, name) not in SWITCHES:
                fail(name, "must be auto, true or false")
        for name in ("resume", "normalize", "tta"):
            if not isinstance(getattr(self, name), bool):
                fail(name, "must be true or false")
        if self.schedule not in SCHEDULES:
            fail("schedule", f"must be one of {', '.join(SCHEDULES)}")
        if not isinstance(self.warmup_fraction, (int, float)) or isinstance(self.warmup_fraction, bool) or not 0 <= self.warmup_fraction < 1:
            fail("warmup_fraction", "must be a share of the run in [0, 1)")
        if not isinstance(self.label_smoothing, (int, float)) or not 0 <= self.label_smoothing < 1:
            fail("label_smoothing", "must be in [0, 1)")
        if not isinstance(self.mixup, (int, float)) or isinstance(self.mixup, bool) or self.mixup < 0:
            fail("mixup", "must be a number of at least 0: 0 turns it off, 0.2 blends gently")
        if not isinstance(self.ema_decay, (int, float)) or not 0 <= self.ema_decay < 1:
            fail("ema_decay", "must be in [0, 1): 0 turns the average off, 0.998 keeps a long memory")
        if not isinstance(self.sam_rho, (int, float)) or isinstance(self.sam_rho, bool) or self.sam_rho < 0:
            fail("sam_rho", "must be a number of at least 0: 0 turns it off, 0.05 is the usual radius")
        self._validate_model(section)

    def _validate_model(self, section: str) -> None:
        # The class count, dropout and image size come from the data and `dropout`, not from here.
        settable = {f.name for f in fields(ResNetConfig)} - {"num_classes", "dropout", "image_size", "input_mean", "input_std"}
        if not isinstance(self.model, dict):
            raise ValueError(f"{section}.model must be a mapping of architecture settings, got {self.model!r}")
        unknown = sorted(set(self.model) - settable)
        if unknown:
            raise ValueError(f"unknown parameter(s) {', '.join(f'{section}.model.{k}' for k in unknown)}; known: {', '.join(sorted(settable))}")
        try:
            ResNetConfig.from_dict({**self.model, "num_classes": 2})
        except (TypeError, ValueError) as error:
            raise ValueError(f"{section}.model: {error}") from None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def merge_train_params(train: dict[str, Any], overrides: dict[str, Any] | None) -> dict[str, Any]:
    """``train`` with ``overrides`` on top; nested settings (``model``, ``augment``) merge key by key.

    The MNIST experiments' parameters (``mnist_train`` ...) hold only what differs from ``train``,
    so a recipe that changes ``train`` (``--env=tuned``) changes their training too.
    """
    merged = dict(train)
    for key, value in (overrides or {}).items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return merged
