"""One training epoch and one validation pass: ``train_one_epoch``, ``validate``, ``predict_logits``.

Batches are sliced from uint8 tensors that already sit on the device: no decoding,
no per-sample Python work. One precision path: autocast is on or off by a flag; the
recipe's options (augmentation, label smoothing, schedule, EMA) are on or off the same way.
``loop.fit`` runs the epochs.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.optim.lr_scheduler import LRScheduler

from .augment import TTA_VIEWS, AugmentConfig, TTAView, augment_batch, view_batch
from .ema import WeightAverage
from .mixup import mixup_batch


class NonFiniteLossError(RuntimeError):
    """The loss became NaN or infinite."""


@dataclass
class EpochResult:
    loss: float
    accuracy: float
    images: int


@dataclass
class StepOptions:
    """What the recipe adds to a plain training step; the defaults are the seed's plain step."""

    augment: AugmentConfig | None = None
    augment_generator: torch.Generator | None = None
    label_smoothing: float = 0.0
    mixup: float = 0.0                    # Beta(alpha, alpha) of mixup; 0 = off
    scheduler: LRScheduler | None = None  # stepped after every batch
    ema: WeightAverage | None = None      # updated after every optimizer step


def to_model_input(
    images: torch.Tensor,
    channels_last: bool = False,
    augment: AugmentConfig | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """uint8 [N, 1, H, W] in 0..255 to float in [0, 1], the scale the model takes; augmented when asked."""
    batch = images.float().div_(255.0)
    if augment is not None and augment.enabled:
        batch = augment_batch(batch, augment, generator)
    return _memory_format(batch, channels_last)


def autocast(device: torch.device, precision: str) -> torch.autocast:
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=precision == "bf16")


def batch_slices(count: int, batch_size: int, order: torch.Tensor | None = None) -> list[torch.Tensor | slice]:
    """Index batches over ``count`` items; a last batch of one is merged away (BatchNorm needs 2)."""
    starts = list(range(0, count, batch_size))
    if len(starts) > 1 and count - starts[-1] == 1:
        starts.pop()  # train mode: drop a lone sample rather than crash BatchNorm
    bounds = [(s, min(s + batch_size, count)) for s in starts]
    if order is None:
        return [slice(a, b) for a, b in bounds]
    return [order[a:b] for a, b in bounds]


def train_one_epoch(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    images: torch.Tensor,
    labels: torch.Tensor,
    batch_size: int,
    generator: torch.Generator,
    precision: str,
    channels_last: bool = False,
    epoch: int = 0,
    on_batch: Callable[[int], None] | None = None,
    options: StepOptions | None = None,
) -> EpochResult:
    """One pass over shuffled ``images`` (uint8, on the model's device).

    Loss and accuracy are those of the batches as trained on (augmented, dropout on,
    the loss with label smoothing and mixup when they are on; with mixup the accuracy
    counts the dominant image's label).
    """
    options = options or StepOptions()
    model.train()
    device = images.device
    order = torch.randperm(len(images), generator=generator).to(device)
    total_loss = torch.zeros((), device=device)
    correct = torch.zeros((), device=device, dtype=torch.long)
    # The first batch whose loss was not finite, kept on the device: checking it after every
    # step would make the host wait for the GPU at each batch. Checked once, at the epoch's end,
    # before anything is saved, so a NaN never reaches a checkpoint.
    first_bad_batch = torch.full((), -1, device=device, dtype=torch.long)
    seen = 0
    for batch_index, index in enumerate(batch_slices(len(images), batch_size, order)):
        inputs = to_model_input(images[index], channels_last, options.augment, options.augment_generator)
        targets = labels[index]
        batch = mixup_batch(inputs, targets, options.mixup, options.augment_generator)
        with autocast(device, precision):
            logits = model(batch.inputs)
            loss = batch.loss(logits.float(), options.label_smoothing)
        not_finite = ~torch.isfinite(loss.detach())
        first_bad_batch = torch.where(not_finite & (first_bad_batch < 0), batch_index, first_bad_batch)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if options.scheduler is not None:
            options.scheduler.step()
        if options.ema is not None:
            options.ema.update(model)
        total_loss += loss.detach() * len(targets)
        correct += (logits.argmax(1) == targets).sum()
        seen += len(targets)
        if on_batch is not None:
            on_batch(len(targets))
    if (bad := int(first_bad_batch.item())) >= 0:
        raise NonFiniteLossError(
            f"the loss stopped being a finite number at epoch {epoch}, batch {bad + 1}; "
            "lower train.lr (e.g. --params=train.lr=0.0001) and run again"
        )
    return EpochResult(total_loss.item() / seen, correct.item() / seen, seen)


@torch.inference_mode()
def predict_logits(
    model: nn.Module, images: torch.Tensor, batch_size: int, precision: str, channels_last: bool = False, tta: bool = False,
    views: Sequence[TTAView] = TTA_VIEWS,
) -> torch.Tensor:
    """Float32 logits for uint8 ``images`` in eval mode, batch by batch.

    With ``tta`` every view of ``views`` (by default the recipe's ``TTA_VIEWS``: the image,
    shifted, turned, resized) is classified and their probabilities averaged; the result is
    returned as log-probabilities (valid logits).
    """
    model.eval()
    device = images.device
    outputs = []
    for start in range(0, len(images), batch_size):
        inputs = to_model_input(images[start : start + batch_size])
        with autocast(device, precision):
            if not tta:
                outputs.append(model(_memory_format(inputs, channels_last)).float())
                continue
            outputs.append(view_averaged_logits(model, inputs, views, channels_last))
    if not outputs:
        return torch.empty(0, 0)
    return torch.cat(outputs)


def view_averaged_logits(
    model: nn.Module, inputs: torch.Tensor, views: Sequence[TTAView] = TTA_VIEWS, channels_last: bool = False
) -> torch.Tensor:
    """Test-time augmentation of one batch (float [B, C, S, S] in [0, 1], ink dark on white): the mean of the
    ``views``' softmax probabilities, as log-probabilities (valid logits). The ONNX export traces it too."""
    probabilities = sum(model(_memory_format(view_batch(inputs, view), channels_last)).float().softmax(1) for view in views)
    return (probabilities / len(views)).log()


def _memory_format(inputs: torch.Tensor, channels_last: bool) -> torch.Tensor:
    return inputs.contiguous(memory_format=torch.channels_last) if channels_last else inputs


def validate(
    model: nn.Module, images: torch.Tensor, labels: torch.Tensor, batch_size: int, precision: str, channels_last: bool = False
) -> EpochResult:
    """Mean cross-entropy and accuracy of ``model`` on ``images``."""
    if len(images) == 0:
        return EpochResult(math.nan, math.nan, 0)
    logits = predict_logits(model, images, batch_size, precision, channels_last)
    loss = F.cross_entropy(logits, labels, reduction="mean").item()
    accuracy = (logits.argmax(1) == labels).float().mean().item()
    return EpochResult(loss, accuracy, len(images))
