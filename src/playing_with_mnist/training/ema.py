"""An exponential moving average (EMA) of a model's weights, used to validate and saved as the model."""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn


class WeightAverage:
    """EMA of every floating-point parameter and buffer (BatchNorm statistics included) of a model.

    The decay ramps up as ``min(decay, (1 + n) / (10 + n))`` after ``n`` updates, so the
    average follows the model closely at first instead of remembering its random start.
    Integer buffers (BatchNorm's batch counter) are copied.
    """

    def __init__(self, model: nn.Module, decay: float) -> None:
        self.module = copy.deepcopy(model).eval().requires_grad_(False)
        self.decay = decay
        self.updates = 0

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """Move the average towards ``model``'s current weights (call after each optimizer step)."""
        self.updates += 1
        decay = min(self.decay, (1 + self.updates) / (10 + self.updates))
        averaged, current = [], []
        for mine, theirs in zip(self.module.state_dict().values(), model.state_dict().values(), strict=True):
            if mine.is_floating_point():
                averaged.append(mine)
                current.append(theirs)
            else:
                mine.copy_(theirs)
        # One fused kernel per dtype and device, as torch.optim.swa_utils' own EMA does.
        torch._foreach_lerp_(averaged, current, 1.0 - decay)

    def state_dict(self) -> dict[str, Any]:
        return {"module": self.module.state_dict(), "updates": self.updates}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.module.load_state_dict(state["module"])
        self.updates = int(state["updates"])
