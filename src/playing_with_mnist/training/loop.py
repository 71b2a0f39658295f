"""``fit``: epochs of training and validation with history, progress and checkpoints (every training calls it)."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import torch
from torch import nn

from .checkpoints import TrainingRun, TrainingState
from .config import TrainConfig
from .ema import WeightAverage
from .engine import EpochResult, StepOptions, batch_slices, train_one_epoch, validate
from .hardware import describe_device, select_device, select_precision
from .progress import format_duration, live_progress
from .schedule import make_scheduler

logger = logging.getLogger(__name__)


class CheckpointStore(Protocol):
    """Where ``fit`` keeps its state after each epoch (see ``datasets.CheckpointFileDataset``)."""

    def load(self) -> dict | None: ...
    def save(self, state: dict) -> None: ...


@dataclass
class FitResult:
    model: nn.Module
    history: list[dict[str, float]]
    run: TrainingRun


def make_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    if config.optimizer == "sgd":
        return torch.optim.SGD(model.parameters(), lr=config.lr, momentum=0.9, weight_decay=config.weight_decay)
    kind = torch.optim.AdamW if config.optimizer == "adamw" else torch.optim.Adam
    return kind(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)


def _resume_state(config: TrainConfig, checkpoints: CheckpointStore | None, fingerprint: str) -> TrainingState | None:
    if not config.resume or checkpoints is None:
        return None
    saved = checkpoints.load()
    if saved is None:
        logger.info("train.resume=true but no checkpoint exists yet: starting from epoch 1")
        return None
    # More epochs may be asked of a resumed run, unless a schedule is laid out over the epochs.
    free = ("resume", "val_every") if config.scheduled else ("epochs", "resume", "val_every")
    try:
        state = TrainingState.from_checkpoint(saved)
    except ValueError:  # a setting this version does not know: other settings, by definition
        state = None
    if state is None or state.train_config.without(*free) != config.without(*free) or state.fingerprint != fingerprint:
        raise ValueError(
            "the checkpoint was made with other settings or data, so it cannot be resumed; "
            "run without train.resume=true to start again"
        )
    return state


def fit(
    model: nn.Module,
    train_data: tuple[torch.Tensor, torch.Tensor],
    val_data: tuple[torch.Tensor, torch.Tensor],
    config: TrainConfig,
    checkpoints: CheckpointStore | None = None,
    fingerprint: str = "",
    on_epoch: Callable[[int, dict[str, float]], None] | None = None,
) -> FitResult:
    """Train ``model`` on uint8 image tensors for ``config.epochs`` epochs.

    Returns the trained model (on the CPU), the per-epoch history and a description of
    the run (device, precision, seconds). With ``config.resume`` a saved checkpoint
    is continued; the result equals an uninterrupted run's on the CPU. With
    ``config.ema_decay`` the returned model is the moving average of the weights, which
    is also what is validated (after each ``config.val_every``-th epoch and the last; the history's
    val columns are NaN after the others). ``on_epoch(epoch, history_row)`` is called after each
    epoch's checkpoint; an exception it raises (a search's pruned trial) stops the training there.
    """
    device = select_device(config.device)
    precision = select_precision(config.precision, device)
    # Measured on a 2-core CPU: channels_last is +12% with bf16 (oneDNN's bf16 convs prefer NHWC), nothing in fp32.
    auto_channels_last = device.type == "cuda" or (device.type == "cpu" and precision == "bf16")
    channels_last = auto_channels_last if config.channels_last == "auto" else bool(config.channels_last)
    # torch.compile is off unless asked for: on the CPU it costs ~35 s of compiling for a few percent;
    # on a GPU a whole seed run takes about as long as compiling would.
    compiled = config.compile != "auto" and bool(config.compile)
    # cuDNN picks the fastest kernels for each input shape once; the shapes here never change.
    torch.backends.cudnn.benchmark = device.type == "cuda"
    model = model.to(device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = make_optimizer(model, config)
    step_model = torch.compile(model) if compiled else model

    train_images, train_labels = (t.to(device) for t in train_data)
    val_images, val_labels = (t.to(device) for t in val_data)
    generator = torch.Generator().manual_seed(config.seed)
    steps_per_epoch = len(batch_slices(len(train_images), config.batch_size))
    options = StepOptions(
        augment=config.augment if config.augment.enabled else None,
        # Its own stream, derived from train.seed, so that augmenting never changes the shuffling.
        augment_generator=torch.Generator().manual_seed(int(np.random.SeedSequence([config.seed, 1]).generate_state(1)[0])),
        label_smoothing=float(config.label_smoothing),
        mixup=float(config.mixup),
        scheduler=make_scheduler(optimizer, config.schedule, config.epochs, steps_per_epoch, config.warmup_fraction)
        if config.scheduled else None,
        ema=WeightAverage(model, float(config.ema_decay)) if config.ema_decay > 0 else None,
    )
    # What a checkpoint keeps (see TrainingState), by its field names.
    parts = {"model": model, "optimizer": optimizer, "scheduler": options.scheduler, "ema": options.ema}
    generators = {"shuffle_rng": generator, "augment_rng": options.augment_generator}
    history: list[dict[str, float]] = []
    if (state := _resume_state(config, checkpoints, fingerprint)) is not None:
        history = [dict(row) for row in state.history]
        for name, part in parts.items():
            if part is not None:
                part.load_state_dict(getattr(state, name))
        for name, rng in generators.items():
            rng.set_state(getattr(state, name))
        torch.set_rng_state(state.torch_rng)
        if device.type == "cuda" and state.cuda_rng is not None:
            torch.cuda.set_rng_state(state.cuda_rng)
        logger.info("Resuming after epoch %d of %d", len(history), config.epochs)

    logger.info(
        "Training on %s in %s (channels_last=%s, compile=%s): %d train, %d val images, %d epochs",
        describe_device(device), precision, channels_last, compiled, len(train_images), len(val_images), config.epochs,
    )
    scored_model = options.ema.module if options.ema is not None else step_model
    started, first_epoch, started_at = time.perf_counter(), len(history) + 1, time.time()
    with live_progress("training images", len(train_images) * max(0, config.epochs - len(history))) as advance:
        for epoch in range(len(history) + 1, config.epochs + 1):
            epoch_start = time.perf_counter()
            train = train_one_epoch(step_model, optimizer, train_images, train_labels, config.batch_size,
                                    generator, precision, channels_last, epoch, advance, options)
            train_seconds = time.perf_counter() - epoch_start
            validated = epoch == config.epochs or (config.val_every > 0 and epoch % config.val_every == 0)
            val = (validate(scored_model, val_images, val_labels, config.val_batch_size, precision, channels_last)
                   if validated else EpochResult(math.nan, math.nan, 0))  # NaN: not validated after this epoch
            seconds = time.perf_counter() - epoch_start
            history.append({
                "epoch": epoch, "train_loss": train.loss, "train_accuracy": train.accuracy,
                "val_loss": val.loss, "val_accuracy": val.accuracy, "seconds": seconds, "train_seconds": train_seconds,
            })
            remaining = (time.perf_counter() - started) / (epoch - first_epoch + 1) * (config.epochs - epoch)
            scored = f"val loss {val.loss:.4f} acc {val.accuracy:.3f}" if validated else "val not scored"
            logger.info("epoch %d/%d  train loss %.4f acc %.3f  %s  %.1fs  (%s left)", epoch, config.epochs,
                        train.loss, train.accuracy, scored, seconds, format_duration(remaining))
            if checkpoints is not None:
                checkpoints.save(TrainingState(
                    epoch=epoch, history=history, train_config=config, fingerprint=fingerprint,
                    torch_rng=torch.get_rng_state(), cuda_rng=torch.cuda.get_rng_state() if device.type == "cuda" else None,
                    **{name: part.state_dict() if part is not None else None for name, part in parts.items()},
                    **{name: rng.get_state() for name, rng in generators.items()},
                ).to_checkpoint())
            if on_epoch is not None:
                on_epoch(epoch, history[-1])
    if options.ema is not None:
        model = options.ema.module
    model = model.to("cpu", memory_format=torch.contiguous_format)
    run = TrainingRun(
        device=describe_device(device), device_type=device.type, precision=precision, channels_last=channels_last,
        compiled=compiled, ema=options.ema is not None, seconds=sum(row["seconds"] for row in history),
        started_at=started_at, finished_at=time.time(),
    )
    return FitResult(model, history, run)
