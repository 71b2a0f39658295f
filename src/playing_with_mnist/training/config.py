"""Training settings: the seed's hyper-parameters by default, validated up front."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from .hardware import DEVICES, PRECISIONS

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

    @classmethod
    def from_params(cls, params: dict[str, Any], section: str = "train") -> "TrainConfig":
        """Build from the ``train`` parameters; a wrong name or value names the parameter."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(params) - known)
        if unknown:
            raise ValueError(f"unknown parameter(s) {', '.join(f'{section}.{k}' for k in unknown)}; known: {', '.join(sorted(known))}")
        config = cls(**params)
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
        if not isinstance(self.resume, bool):
            fail("resume", "must be true or false")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
