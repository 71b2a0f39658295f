"""The seed's ResNet and tools to inspect it."""

from .resnet import BasicBlock, ResNet, ResNetConfig, build_model, layer_summary
from .transfer import load_pretrained

__all__ = ["BasicBlock", "ResNet", "ResNetConfig", "build_model", "layer_summary", "load_pretrained"]
