"""The ResNet of "Playing With Mnist", Task 1.

Five basic blocks (64, 128, 256, 512, 512 channels) after a 3x3 stem, a global
average pool and three Linear layers with ReLU and Dropout between them:
9,789,822 trainable parameters for 62 classes, layer for layer the seed's
summary table. The seed does not say how 32x32 becomes 6x6; stride 6 on the
first 512-channel block (its 3x3 conv and its 1x1 shortcut) is the one stride
that gives 6x6, so that is the default ``strides``. A 3x3 conv with stride 6 reads
only a quarter of the positions before it; ``downsample="pool"`` averages the input
down to the same size first and convolves that with stride 1 (same layers, same
parameters, same output shapes: the pooling is functional, like the global one).
``drop_path`` (stochastic depth) and ``zero_init_residual`` change how the blocks train,
not what they hold: the table and the parameter count stay the seed's.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.ops import stochastic_depth

from playing_with_mnist.typed_settings import from_mapping

DOWNSAMPLING = ("stride", "pool")


@dataclass(frozen=True)
class Architecture:
    """The network's shape, as ``train.model`` sets it; the seed's by default.

    ``describe`` metadata: how the Results document names a setting that is not the seed's.
    """

    in_channels: int = 1
    stem_channels: int = 64
    block_channels: tuple[int, ...] = (64, 128, 256, 512, 512)
    strides: tuple[int, ...] = (1, 1, 1, 6, 1)
    hidden_units: tuple[int, ...] = (256, 128)
    # How a block with stride s > 1 shrinks its input: "stride" (the conv and the shortcut
    # skip positions) or "pool" (average-pool to the strided output size, then stride 1).
    downsample: str = field(default="stride", metadata={"describe": "{} downsampling"})
    # Stochastic depth (Huang et al. 2016): in training, each image skips a block's residual
    # branch (keeping its shortcut) with a chance growing linearly over the blocks to this.
    drop_path: float = field(default=0.0, metadata={"describe": "stochastic depth (up to {})"})
    # Start each block's last BatchNorm scale at 0, so every block begins as its shortcut
    # (Goyal et al. 2017; torchvision's zero_init_residual).
    zero_init_residual: bool = field(default=False, metadata={"describe": "residual branches started at zero"})

    def __post_init__(self) -> None:
        for name in ("block_channels", "strides", "hidden_units"):  # YAML gives lists
            object.__setattr__(self, name, tuple(getattr(self, name)))
        if len(self.block_channels) != len(self.strides):
            raise ValueError("block_channels and strides must have the same length")
        if self.downsample not in DOWNSAMPLING:
            raise ValueError(f"downsample must be one of {', '.join(DOWNSAMPLING)}, got {self.downsample!r}")
        if not isinstance(self.drop_path, (int, float)) or not 0.0 <= self.drop_path < 1.0:
            raise ValueError(f"drop_path must be a number in [0, 1), got {self.drop_path!r}")
        if not isinstance(self.zero_init_residual, bool):
            raise ValueError(f"zero_init_residual must be true or false, got {self.zero_init_residual!r}")

    def to_dict(self) -> dict[str, Any]:
        """Plain types only, so the config survives ``torch.load(weights_only=True)``."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


@dataclass(frozen=True, kw_only=True)
class ResNetConfig(Architecture):
    """Everything needed to rebuild the network (its architecture and what the data decides); stored with its weights."""

    num_classes: int
    dropout: float = 0.7
    image_size: int = 32
    # Input normalisation, (x - input_mean) / input_std, part of the model so that every
    # user of a checkpoint feeds it the same way. 0 and 1 (the seed's) change nothing.
    input_mean: float = 0.0
    input_std: float = 1.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.num_classes < 2:
            raise ValueError(f"num_classes must be at least 2, got {self.num_classes}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if not self.input_std > 0:
            raise ValueError(f"input_std must be above 0, got {self.input_std}")

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "ResNetConfig":
        """The config from its ``to_dict()`` form (a setting it lacks takes its default)."""
        return from_mapping(cls, values, "model_config")


def average_down(x: torch.Tensor, stride: int) -> torch.Tensor:
    """``x`` [N, C, H, W] average-pooled to the output size of a 3x3 conv (padding 1) or a 1x1 conv at ``stride``:
    (H - 1) // stride + 1 (32 -> 6 at stride 6), with ``F.adaptive_avg_pool2d``'s windows.

    ONNX has no adaptive pooling to a size that does not divide the input, so in an ONNX export the same
    averages are two products with constant matrices (H and W are fixed there; only the batch varies).
    """
    if not torch.onnx.is_in_onnx_export():
        return F.adaptive_avg_pool2d(x, [(side - 1) // stride + 1 for side in x.shape[-2:]])
    rows, columns = (_window_means(int(side), (int(side) - 1) // stride + 1) for side in x.shape[-2:])
    return rows @ x @ columns.T


def _window_means(side: int, size: int) -> torch.Tensor:
    """[size, side]: row i averages adaptive pooling's window i, [floor(i * side / size), ceil((i + 1) * side / size))."""
    start = torch.arange(size) * side // size
    end = -(-(torch.arange(size) + 1) * side // size)
    position = torch.arange(side)
    window = ((position >= start[:, None]) & (position < end[:, None])).float()
    return window / window.sum(1, keepdim=True)


class BasicBlock(nn.Module):
    """Two 3x3 convs with BatchNorm and an identity or 1x1-conv shortcut.

    ``pool=True`` shrinks the input by ``stride`` with an average pool, to the size the
    strided convs would give, and runs the convs with stride 1. In training, each image
    skips the residual branch with probability ``drop_path`` (the rest are scaled up).
    """

    def __init__(self, in_planes: int, planes: int, stride: int = 1, pool: bool = False, drop_path: float = 0.0) -> None:
        super().__init__()
        self.drop_path = drop_path
        self.pool_stride = stride if pool and stride != 1 else 1
        conv_stride = stride // self.pool_stride
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=conv_stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_planes != planes:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_planes, planes, 1, stride=conv_stride, bias=False),
                nn.BatchNorm2d(planes),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pool_stride != 1:
            x = average_down(x, self.pool_stride)
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.drop_path:  # off, the forward pass stays the seed's (torchvision logs every call)
            out = stochastic_depth(out, self.drop_path, "row", self.training)
        return F.relu(out + self.shortcut(x))


class ResNet(nn.Module):
    """Stem, basic blocks, global average pool, MLP head with dropout."""

    def __init__(self, config: ResNetConfig) -> None:
        super().__init__()
        self.config = config
        self.conv1 = nn.Conv2d(config.in_channels, config.stem_channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(config.stem_channels)
        blocks, in_planes, count = [], config.stem_channels, len(config.block_channels)
        for index, (planes, stride) in enumerate(zip(config.block_channels, config.strides)):
            drop_path = config.drop_path * (index + 1) / count
            blocks.append(BasicBlock(in_planes, planes, stride, pool=config.downsample == "pool", drop_path=drop_path))
            in_planes = planes
        self.layers = nn.Sequential(*blocks)
        if config.zero_init_residual:
            for block in blocks:
                nn.init.zeros_(block.bn2.weight)
        head, width = [], in_planes
        for units in config.hidden_units:
            head += [nn.Linear(width, units), nn.Dropout(config.dropout)]
            width = units
        self.hidden = nn.ModuleList(head)
        self.classifier = nn.Linear(width, config.num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.config.input_mean != 0.0 or self.config.input_std != 1.0:
            x = (x - self.config.input_mean) / self.config.input_std
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layers(out)
        out = torch.flatten(F.adaptive_avg_pool2d(out, 1), 1)
        for layer in self.hidden:
            # ReLU after each Linear, before its Dropout (functional, as in the seed's table)
            out = F.relu(layer(out)) if isinstance(layer, nn.Linear) else layer(out)
        return self.classifier(out)


def build_model(config: ResNetConfig | dict[str, Any]) -> ResNet:
    """A freshly initialised ResNet from a config or its ``to_dict()`` form."""
    if isinstance(config, dict):
        config = ResNetConfig.from_dict(config)
    return ResNet(config)


@dataclass
class LayerRow:
    name: str
    output_shape: tuple[int, ...]
    params: int


def layer_summary(model: nn.Module, input_shape: tuple[int, ...]) -> list[LayerRow]:
    """Rows like torchsummary's table: every leaf layer and block in execution order.

    ``input_shape`` excludes the batch dimension; output shapes start with -1.
    """
    rows: list[LayerRow] = []
    counters: dict[str, int] = {}
    handles = []

    def hook(module: nn.Module, _inputs: Any, output: torch.Tensor) -> None:
        kind = type(module).__name__
        counters[kind] = counters.get(kind, 0) + 1
        # Own weights only, as torchsummary counts them: a block's convs are rows of their own.
        params = sum(p.numel() for p in module.parameters(recurse=False) if p.requires_grad)
        rows.append(LayerRow(f"{kind}-{len(rows) + 1}", (-1, *output.shape[1:]), params))

    for module in model.modules():
        if module is model or isinstance(module, (nn.Sequential, nn.ModuleList)):
            continue
        handles.append(module.register_forward_hook(hook))
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(torch.zeros(2, *input_shape))
    finally:
        model.train(was_training)
        for handle in handles:
            handle.remove()
    return rows
