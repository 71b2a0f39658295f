"""Mixup (Zhang et al. 2018): train on blends of two images and of their labels.

Each batch is blended with a shuffled copy of itself, ``lam * x + (1 - lam) * x[perm]``, and
the loss is the same blend of the two labels' losses. Images are dark ink on white, so a
blend keeps the background white and shows both glyphs' ink, each at its share.

``lam`` comes from ``torch.distributions.Beta(alpha, alpha)``, which draws from PyTorch's global
random state (seeded from ``train.seed`` and saved in checkpoints, as dropout's); the pairing
comes from the augmentation's ``torch.Generator``. A run is reproducible from ``train.seed``
and a resumed run continues the same random streams.
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


def mixup_batch(inputs: torch.Tensor, targets: torch.Tensor, alpha: float, generator: torch.Generator | None) -> MixedBatch:
    """``inputs`` blended with a shuffled copy of themselves; ``alpha`` 0 returns them unchanged.

    The share of the original image is ``max(lam, 1 - lam)``, so ``targets`` stay the dominant
    labels (the history's training accuracy is counted against them). The input is not changed.
    """
    if alpha <= 0 or len(inputs) < 2:
        return MixedBatch(inputs, targets, targets, 1.0)
    if generator is None:
        raise ValueError("mixup needs a torch.Generator for its random draws")
    lam = float(torch.distributions.Beta(alpha, alpha).sample())
    share = max(lam, 1.0 - lam)
    order = torch.randperm(len(inputs), generator=generator).to(inputs.device)
    blended = inputs * share + inputs[order] * (1.0 - share)
    return MixedBatch(blended, targets, targets[order], share)
