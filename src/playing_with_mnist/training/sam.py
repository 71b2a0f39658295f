"""Sharpness-aware minimisation (Foret et al. 2021): step with the gradient of a nearby, worse point.

After the usual backward pass, every weight moves ``rho`` along the normalised gradient
(``w + rho * g / ||g||``, the steepest ascent within a ball of radius ``rho``); the batch's loss
is computed and differentiated there; the weights go back to where they were, and the
optimizer steps with that second gradient. Flat minima, where the loss stays low around
the weights, are favoured; each step costs two forward and backward passes.

BatchNorm's running statistics are left as the first pass set them: the second pass sees
the same batch and would count it twice.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm


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
    # The weights are copied back afterwards, not stepped back: w + e - e is not always w in floats.
    originals = [p.detach().clone() for p in params]
    with torch.no_grad():
        for p in params:
            p.add_(p.grad * scale.to(p.grad.dtype))
    frozen = _freeze_batchnorm_statistics(model)
    try:
        for p in params:
            p.grad = None
        loss_at_weights().backward()
    finally:
        for module, momentum, batches in frozen:
            module.momentum = momentum
            module.num_batches_tracked.copy_(batches)
        with torch.no_grad():
            for p, original in zip(params, originals):
                p.copy_(original)


def _freeze_batchnorm_statistics(model: nn.Module) -> list[tuple[_BatchNorm, float | None, torch.Tensor]]:
    # momentum 0 keeps running_mean and running_var as they are; the batch count is put back after.
    frozen = []
    for module in model.modules():
        if isinstance(module, _BatchNorm) and module.track_running_stats and module.momentum is not None:
            frozen.append((module, module.momentum, module.num_batches_tracked.clone()))
            module.momentum = 0.0
    return frozen
