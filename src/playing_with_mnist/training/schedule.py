"""Learning-rate schedules, stepped once per batch, peaking at ``train.lr``.

- ``constant``: ``train.lr`` throughout (the seed), after an optional linear warm-up;
- ``cosine``: linear warm-up, then a cosine decay to zero at the last batch;
- ``onecycle``: PyTorch's ``OneCycleLR`` (warm-up from lr/25, cosine down to lr/25e4, with the
  momentum, or Adam's beta1, cycled the other way); its rising phase is ``warmup_fraction`` of
  the run (0.3, OneCycleLR's default, when that is 0).
"""

from __future__ import annotations

import math

import torch
from torch.optim.lr_scheduler import LambdaLR, LRScheduler, OneCycleLR

SCHEDULES = ("constant", "cosine", "onecycle")
WARMUP_START = 1.0 / 25.0  # the warm-up starts at lr/25, as OneCycleLR's does


def lr_factor(step: int, total_steps: int, warmup_steps: int, schedule: str) -> float:
    """The share of the peak learning rate at ``step`` (0-based) of ``total_steps``."""
    if warmup_steps > 0 and step < warmup_steps:
        return WARMUP_START + (1.0 - WARMUP_START) * step / warmup_steps
    if schedule == "cosine":
        decay_steps = max(1, total_steps - warmup_steps)
        progress = min(1.0, (step - warmup_steps) / decay_steps)
        return 0.5 * (1.0 + math.cos(math.pi * progress))
    return 1.0


def make_scheduler(
    optimizer: torch.optim.Optimizer, schedule: str, epochs: int, steps_per_epoch: int, warmup_fraction: float
) -> LRScheduler:
    total_steps = max(1, epochs * steps_per_epoch)
    warmup_steps = min(total_steps - 1, round(warmup_fraction * total_steps))
    if schedule == "onecycle":
        peak = [group["lr"] for group in optimizer.param_groups]
        return OneCycleLR(optimizer, max_lr=peak, total_steps=total_steps, pct_start=warmup_fraction or 0.3)
    return LambdaLR(optimizer, lambda step: lr_factor(step, total_steps, warmup_steps, schedule))
