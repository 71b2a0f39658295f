"""Sharpness-aware minimisation (Foret et al. 2021): step with the gradient of a nearby, worse point.

After the usual backward pass, every weight moves ``rho`` along the normalised gradient
(``w + rho * g / ||g||``, the steepest ascent within a ball of radius ``rho``); the batch's loss
is computed and differentiated there; the weights go back to where they were, and the
optimizer steps with that second gradient. Flat minima, where the loss stays low around
the weights, are favoured; each step costs two forward and backward passes.

BatchNorm's running statistics are put back as the first pass left them: the second pass
sees the same batch and would count it twice.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn


def sharpness_aware_gradients(model: nn.Module, rho: float, loss_at_weights: Callable[[], torch.Tensor]) -> None:
    """Replace the gradients in ``model`` (from a first backward pass) by those at the perturbed weights.

    ``loss_at_weights`` computes the same batch's loss with the model's current weights.
    On return the weights are exactly what they were; only the ``.grad`` tensors changed.
    """
    params = [p for p in model.parameters() if p.grad is not None]
    if not params:
        return
    norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(p.grad.float()) for p in params]))
    scale = rho / (norm + 1e-12)
    # Weights and buffers (BatchNorm's running statistics and batch counts) are copied back
    # afterwards, not stepped back: w + e - e is not always w in floats.
    saved = [(t, t.detach().clone()) for t in (*params, *model.buffers())]
    with torch.no_grad():
        for p in params:
            p.add_(p.grad * scale.to(p.grad.dtype))
    try:
        for p in params:
            p.grad = None
        loss_at_weights().backward()
    finally:
        with torch.no_grad():
            for tensor, original in saved:
                tensor.copy_(original)
