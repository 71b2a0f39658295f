"""What training writes, as types: the trained model (``data/06_models/resnet.pt``) and the
per-epoch training state a run resumes from.

On disk both stay plain dicts of tensors and values that ``torch.load(weights_only=True)``
reads; the conversions to and from them live here and nowhere else. A setting that a file
written by an older version lacks takes its default.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from functools import cached_property
from typing import Any

import torch
from torch import nn

from playing_with_mnist.models.resnet import ResNet, ResNetConfig
from playing_with_mnist.typed_settings import from_mapping

from .config import TrainConfig


@dataclass(frozen=True)
class TrainingRun:
    """Where and how a model was trained."""

    device: str = "unknown"
    device_type: str = "cpu"
    precision: str = "fp32"
    channels_last: bool = False
    compiled: bool = False
    ema: bool = False                # the saved weights are the moving average of the weights
    seconds: float = 0.0             # training and validation, all epochs
    started_at: float = 0.0          # wall clock (Unix time) of this process's training
    finished_at: float = 0.0


@dataclass(frozen=True)
class TrainedModel:
    """A trained network with everything needed to rebuild and use it."""

    model_config: ResNetConfig
    state_dict: dict[str, torch.Tensor]
    class_names: list[str]              # what each output means, in output order
    class_folders: list[str]            # the folders of the training zip, in the same order
    train_config: TrainConfig
    run: TrainingRun
    source: dict[str, Any]              # the data it was trained on (reporting.describe_source)
    fingerprint: str                    # of that data
    started_from: dict[str, Any] | None = None  # the pretrained model it started from, if any
    final_val_accuracy: float | None = None
    selected_run: str | None = None     # Task 2: which of its runs this model is
    temperature: float = 1.0            # logits are divided by it before the softmax (fitted on validation; 1.0: as trained)

    @property
    def image_size(self) -> int:
        return self.model_config.image_size

    @property
    def tta(self) -> bool:
        """Whether every prediction averages the test-time views (``train.tta``)."""
        return self.train_config.tta

    def build(self) -> nn.Module:
        """A new network with these weights, in eval mode."""
        model = ResNet(self.model_config)
        model.load_state_dict(self.state_dict)
        return model.eval()

    @cached_property
    def network(self) -> nn.Module:
        """The network for predicting, built once: a server answering request after request does not rebuild it."""
        return self.build()

    def __deepcopy__(self, memo: dict) -> TrainedModel:
        # Immutable: a deep copy (Kedro's MemoryDataset, kedro-mlflow's catalog for every request) is the model itself,
        # rather than 40 MB of weights copied and the network built again.
        return self

    def to_checkpoint(self) -> dict[str, Any]:
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        return {**values, "model_config": self.model_config.to_dict(), "train_config": self.train_config.to_dict(),
                "run": asdict(self.run), "image_size": self.image_size}

    @classmethod
    def from_checkpoint(cls, checkpoint: dict[str, Any]) -> TrainedModel:
        values = {k: v for k, v in checkpoint.items() if k != "image_size"}  # kept in the file for other readers
        return from_mapping(cls, {
            **values,
            "model_config": ResNetConfig.from_dict(checkpoint["model_config"]),
            "train_config": TrainConfig.from_checkpoint(checkpoint.get("train_config") or {}),
            "run": from_mapping(TrainingRun, checkpoint.get("run") or {}, "run"),
        }, "trained model")


@dataclass(frozen=True)
class TrainingState:
    """Everything to continue a training after its last finished epoch, bit for bit on the CPU."""

    model: dict[str, torch.Tensor]
    optimizer: dict[str, Any]
    epoch: int
    history: list[dict[str, float]]
    train_config: TrainConfig
    fingerprint: str                   # of the data (and the pretrained model) it trains on
    shuffle_rng: torch.Tensor
    torch_rng: torch.Tensor
    augment_rng: torch.Tensor
    cuda_rng: torch.Tensor | None = None
    scheduler: dict[str, Any] | None = None
    ema: dict[str, Any] | None = None

    def to_checkpoint(self) -> dict[str, Any]:
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        return {**values, "train_config": self.train_config.to_dict()}

    @classmethod
    def from_checkpoint(cls, checkpoint: dict[str, Any]) -> TrainingState:
        """The state; ValueError when it holds a setting this version does not know."""
        return from_mapping(cls, {**checkpoint, "train_config": TrainConfig.from_checkpoint(checkpoint["train_config"])},
                            "checkpoint")
