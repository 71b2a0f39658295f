"""Data augmentation on whole batches, on the device: affine warps, elastic distortion, stroke
width, erasing; and the fixed views of test-time augmentation.

Every image of a batch gets its own random rotation, scale, shear and translation through
one batched affine grid (``F.affine_grid`` + ``F.grid_sample``, one matrix per image):
torchvision's v2 transforms draw one set of parameters per call, so a batch would move as
one. Never flips: they turn b into d and p into q.

Images are dark ink on a white background (1.0). Warps work on the ink (``1 - x``) so that
whatever a warp pulls in from outside the image, and whatever is erased, is background.
The random numbers come from a CPU ``torch.Generator`` (seeded from ``train.seed``, its
state saved in checkpoints), so a batch is augmented the same way on every device.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class AugmentConfig:
    """Strength of each augmentation; 0 turns it off (the default: the seed augments nothing).

    ``describe`` metadata: how the Results document names a setting that is on.
    """

    rotate: float = field(default=0.0, metadata={"describe": "rotate {}"})        # degrees, from [-rotate, rotate]
    scale: float = field(default=0.0, metadata={"describe": "scale {}"})          # relative size change, from [1 - scale, 1 + scale]
    shear: float = field(default=0.0, metadata={"describe": "shear {}"})          # degrees of horizontal shear, from [-shear, shear]
    translate: float = field(default=0.0, metadata={"describe": "translate {}"})  # shift as a share of the side, from [-translate, translate] each way
    elastic: float = field(default=0.0, metadata={"describe": "elastic {}"})      # elastic distortion: largest displacement in pixels (Simard et al. 2003)
    elastic_sigma: float = 3.0  # smoothness of the elastic field, in pixels
    stroke: float = field(default=0.0, metadata={"describe": "stroke {}"})        # stroke width change: pixels on each side, from [-stroke, stroke]
    erase: float = field(default=0.0, metadata={"describe": "erase {}"})          # probability that an image has one random rectangle erased to background

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ValueError(f"{f.name} must be a number of at least 0, got {value!r}")
            object.__setattr__(self, f.name, float(value))
        if self.scale >= 1:
            raise ValueError(f"scale must be below 1, got {self.scale!r}")
        if self.stroke > 1:
            raise ValueError(f"stroke is at most 1 (one pixel on each side of a stroke), got {self.stroke!r}")
        if self.erase > 1:
            raise ValueError(f"erase is a probability: it must be at most 1, got {self.erase!r}")
        if self.elastic > 0 and self.elastic_sigma <= 0:
            raise ValueError(f"elastic_sigma must be above 0 when elastic is on, got {self.elastic_sigma!r}")

    @property
    def enabled(self) -> bool:
        return any((self.rotate, self.scale, self.shear, self.translate, self.elastic, self.stroke, self.erase))


def _uniform(count: int, low: float, high: float, generator: torch.Generator) -> torch.Tensor:
    return torch.rand(count, generator=generator) * (high - low) + low


def affine_matrices(count: int, config: AugmentConfig, generator: torch.Generator) -> torch.Tensor:
    """``count`` random 2x3 matrices (rotation, shear, scale, translation) for ``F.affine_grid``."""
    angle = torch.deg2rad(_uniform(count, -config.rotate, config.rotate, generator))
    shear = torch.tan(torch.deg2rad(_uniform(count, -config.shear, config.shear, generator)))
    size = _uniform(count, 1.0 - config.scale, 1.0 + config.scale, generator)
    shift = _uniform(2 * count, -config.translate, config.translate, generator).view(count, 2) * 2.0  # [-1, 1] spans the side
    return compose_affine(angle, shear, size, shift)


def compose_affine(angle: torch.Tensor, shear: torch.Tensor, size: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """2x3 matrices [N, 2, 3] for ``F.affine_grid``: rotation @ shear @ scale, then a shift.

    ``angle`` in radians, ``shear`` as its tangent, ``size`` the glyph's size factor (1.1 is 10%
    bigger), ``shift`` [N, 2] in grid units (2 is the whole side).
    """
    # grid_sample maps output to input coordinates: dividing by the size makes the glyph that much bigger.
    scale = 1.0 / size
    cos, sin = torch.cos(angle), torch.sin(angle)
    matrices = torch.zeros(len(angle), 2, 3)
    matrices[:, 0, 0] = cos * scale
    matrices[:, 0, 1] = (cos * shear - sin) * scale
    matrices[:, 1, 0] = sin * scale
    matrices[:, 1, 1] = (sin * shear + cos) * scale
    matrices[:, :, 2] = shift
    return matrices


def _gaussian_blur(fields: torch.Tensor, sigma: float) -> torch.Tensor:
    """Blur each channel of [N, C, S, S] with a Gaussian, as two 1-D passes.

    Separable on purpose: torchvision's ``gaussian_blur`` convolves with the full 2-D kernel
    and gives the same fields (to 1e-6) about 6x slower (6.2 ms against 1.1 ms for a batch
    of 32 fields at sigma 3, one core of an AVX2 AMD EPYC).
    """
    radius = math.ceil(3 * sigma)
    offsets = torch.arange(-radius, radius + 1, dtype=fields.dtype)
    kernel = torch.exp(-0.5 * (offsets / sigma) ** 2)
    kernel = (kernel / kernel.sum()).repeat(fields.shape[1], 1, 1, 1)  # [C, 1, 1, K]
    channels = fields.shape[1]
    blurred = F.conv2d(F.pad(fields, (radius, radius, 0, 0), mode="reflect"), kernel, groups=channels)
    return F.conv2d(F.pad(blurred, (0, 0, radius, radius), mode="reflect"), kernel.transpose(2, 3), groups=channels)


def elastic_offsets(count: int, size: int, config: AugmentConfig, generator: torch.Generator) -> torch.Tensor:
    """Smooth random displacement fields [count, size, size, 2] in grid units (Simard et al. 2003)."""
    noise = torch.rand(count, 2, size, size, generator=generator) * 2 - 1
    field = _gaussian_blur(noise, config.elastic_sigma)
    # Blurring shrinks the field; rescale so its largest displacement is ``elastic`` pixels.
    field = field / field.abs().amax(dim=(1, 2, 3), keepdim=True).clamp_min(1e-8)
    return (field * config.elastic * 2.0 / size).permute(0, 2, 3, 1)


def change_stroke_width(ink: torch.Tensor, amounts: torch.Tensor) -> torch.Tensor:
    """Thicker (amount > 0) or thinner (< 0) strokes: ``ink`` [N, C, S, S] blended with its 3x3
    dilation or erosion by ``|amount|`` per image, so 1.0 adds or removes a whole pixel on each side.

    Writers' pens differ; a max filter over the ink grows it and one over the background shrinks it.
    """
    amounts = amounts.to(device=ink.device, dtype=ink.dtype).view(-1, 1, 1, 1)
    thicker = F.max_pool2d(ink, 3, stride=1, padding=1)
    thinner = -F.max_pool2d(-ink, 3, stride=1, padding=1)
    target = torch.where(amounts >= 0, thicker, thinner)
    return ink + amounts.abs() * (target - ink)


def erase_masks(count: int, size: int, probability: float, generator: torch.Generator) -> torch.Tensor:
    """Boolean masks [count, 1, size, size]: one rectangle (2-33% of the area, aspect 0.3-3.3) per chosen image."""
    chosen = torch.rand(count, generator=generator) < probability
    area = _uniform(count, 0.02, 0.33, generator) * size * size
    aspect = torch.exp(_uniform(count, math.log(0.3), math.log(3.3), generator))
    height = (area * aspect).sqrt().round().clamp(1, size)
    width = (area / aspect).sqrt().round().clamp(1, size)
    top = (torch.rand(count, generator=generator) * (size - height + 1)).floor()
    left = (torch.rand(count, generator=generator) * (size - width + 1)).floor()
    position = torch.arange(size, dtype=torch.float32)
    rows = (position >= top[:, None]) & (position < (top + height)[:, None])
    columns = (position >= left[:, None]) & (position < (left + width)[:, None])
    return (rows[:, :, None] & columns[:, None, :] & chosen[:, None, None]).unsqueeze(1)


def warp_ink(ink: torch.Tensor, matrices: torch.Tensor, offsets: torch.Tensor | None = None) -> torch.Tensor:
    """``ink`` [N, C, S, S] warped by 2x3 ``matrices`` (one per image, or [1, 2, 3] for all),
    plus displacement ``offsets`` [N, S, S, 2] in grid units when given.

    Whatever the warp pulls in from outside the image is zero ink: background.
    """
    # shape[0], not len(): traced for the ONNX export, len() would fix the batch size in the graph
    matrices = matrices.to(ink.device).expand(ink.shape[0], 2, 3)
    grid = F.affine_grid(matrices, list(ink.shape), align_corners=False)
    if offsets is not None:
        grid = grid + offsets.to(ink.device)
    return F.grid_sample(ink, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def augment_batch(inputs: torch.Tensor, config: AugmentConfig, generator: torch.Generator) -> torch.Tensor:
    """A new, randomly warped copy of ``inputs`` (float [B, C, S, S] in [0, 1], ink dark on white).

    Each image gets its own parameters, drawn from ``generator``. The input is not changed.
    """
    if not config.enabled or len(inputs) == 0:
        return inputs
    count, size, device = len(inputs), inputs.shape[-1], inputs.device
    ink = 1.0 - inputs
    if config.rotate or config.scale or config.shear or config.translate or config.elastic:
        matrices = affine_matrices(count, config, generator)
        offsets = elastic_offsets(count, size, config, generator) if config.elastic else None
        ink = warp_ink(ink, matrices, offsets)
    if config.stroke:
        ink = change_stroke_width(ink, _uniform(count, -config.stroke, config.stroke, generator))
    if config.erase:
        ink = ink.masked_fill(erase_masks(count, size, config.erase, generator).to(device), 0.0)
    return 1.0 - ink


@dataclass(frozen=True)
class TTAView:
    """One view of test-time augmentation: a shift by whole pixels, then a rotation and a size
    change about the centre."""

    dy: int = 0
    dx: int = 0
    rotate: float = 0.0  # degrees
    size: float = 1.0    # the glyph's size factor


# Test-time augmentation: the image itself, four one-pixel shifts, 6 degrees either way and 7%
# smaller and bigger: small steps inside the recipe's training warps (docs/recipes.md).
TTA_VIEWS = (
    TTAView(),
    TTAView(dy=0, dx=1), TTAView(dy=0, dx=-1), TTAView(dy=1, dx=0), TTAView(dy=-1, dx=0),
    TTAView(rotate=-6.0), TTAView(rotate=6.0),
    TTAView(size=0.93), TTAView(size=1.07),
)


def view_batch(inputs: torch.Tensor, view: TTAView) -> torch.Tensor:
    """``inputs`` (float [B, C, S, S], ink dark on white) as ``view`` sees them; the input is not changed."""
    moved = shift_batch(inputs, view.dy, view.dx)
    if view.rotate == 0 and view.size == 1:
        return moved
    matrix = compose_affine(torch.tensor([math.radians(view.rotate)]), torch.zeros(1), torch.tensor([view.size]), torch.zeros(1, 2))
    return 1.0 - warp_ink(1.0 - moved, matrix)


def shift_batch(inputs: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """``inputs`` moved by (dy, dx) pixels, the uncovered edge filled with background (1.0)."""
    if dy == 0 and dx == 0:
        return inputs
    size_y, size_x = inputs.shape[-2:]
    padded = F.pad(inputs, (max(dx, 0), max(-dx, 0), max(dy, 0), max(-dy, 0)), value=1.0)
    top, left = max(-dy, 0), max(-dx, 0)
    return padded[..., top : top + size_y, left : left + size_x]
