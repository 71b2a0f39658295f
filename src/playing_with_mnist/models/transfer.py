"""Start a model from another one's weights: the trunk carries over, a new head where classes differ."""

from __future__ import annotations

import logging

import torch
from torch import nn

logger = logging.getLogger(__name__)


def load_pretrained(model: nn.Module, pretrained_state: dict[str, torch.Tensor]) -> list[str]:
    """Copy into ``model`` every tensor of ``pretrained_state`` whose name and shape match.

    Only the final classifier may differ (another number of classes): it keeps its fresh
    initialisation. Anything else that does not match means another architecture, which
    raises ``ValueError`` naming the first mismatch. ``model`` is changed in place (it is
    the freshly built model the caller owns). Returns the names of the tensors left new.
    """
    own = model.state_dict()
    copied = {name: value for name, value in pretrained_state.items() if name in own and own[name].shape == value.shape}
    left_new = [name for name in own if name not in copied]
    mismatched = [name for name in left_new if not name.startswith("classifier.")]
    if mismatched:
        first = mismatched[0]
        theirs = tuple(pretrained_state[first].shape) if first in pretrained_state else "absent"
        raise ValueError(
            f"the pretrained model has another architecture: {first} is {theirs} there and "
            f"{tuple(own[first].shape)} here. Train both with the same train.model settings."
        )
    model.load_state_dict({**own, **copied})
    logger.info("Started from pretrained weights: %d tensors copied, new: %s", len(copied), ", ".join(left_new) or "none")
    return left_new
