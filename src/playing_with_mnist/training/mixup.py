"""Mixup (Zhang et al. 2018): train on blends of two images and of their labels.

Each batch is blended with a shuffled copy of itself, ``lam * x + (1 - lam) * x[perm]``, and
the loss is the same blend of the two labels' losses. Images are dark ink on white, so a
blend keeps the background white and shows both glyphs' ink, each at its share.

``lam`` comes from Beta(alpha, alpha), drawn with the augmentation's ``torch.Generator``
(Johnk's method, uniforms only: ``torch.distributions`` cannot take a generator), so a run
is reproducible from ``train.seed`` and a resumed run continues the same random stream.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class MixedBatch:
    inputs: torch.Tensor
    targets: torch.Tensor        # the labels of ``inputs`` as given
    partners: torch.Tensor       # the labels of the images blended in
    share: float                 # lam: the weight of ``targets``, at least 0.5

    def loss(self, logits: torch.Tensor, label_smoothing: float = 0.0) -> torch.Tensor:
        """Cross-entropy against the blended labels."""
        own = F.cross_entropy(logits, self.targets, label_smoothing=label_smoothing)
        if self.share == 1.0:
            return own
        other = F.cross_entropy(logits, self.partners, label_smoothing=label_smoothing)
        return self.share * own + (1.0 - self.share) * other


def beta_sample(alpha: float, generator: torch.Generator) -> float:
    """One draw from Beta(alpha, alpha) using only ``generator``'s uniforms (Johnk 1964)."""
    while True:
        u, v = torch.rand(2, generator=generator, dtype=torch.float64).tolist()
        x, y = u ** (1.0 / alpha), v ** (1.0 / alpha)
        if 0.0 < x + y <= 1.0:
            return x / (x + y)


def mixup_batch(inputs: torch.Tensor, targets: torch.Tensor, alpha: float, generator: torch.Generator | None) -> MixedBatch:
    """``inputs`` blended with a shuffled copy of themselves; ``alpha`` 0 returns them unchanged.

    The share of the original image is ``max(lam, 1 - lam)``, so ``targets`` stay the dominant
    labels (the history's training accuracy is counted against them). The input is not changed.
    """
    if alpha <= 0 or len(inputs) < 2:
        return MixedBatch(inputs, targets, targets, 1.0)
    if generator is None:
        raise ValueError("mixup needs a torch.Generator for its random draws")
    lam = beta_sample(alpha, generator)
    share = max(lam, 1.0 - lam)
    order = torch.randperm(len(inputs), generator=generator).to(inputs.device)
    blended = inputs * share + inputs[order] * (1.0 - share)
    return MixedBatch(blended, targets, targets[order], share)
