"""The seed's ResNet and tools to inspect it."""

from .resnet import BasicBlock, ResNet, ResNetConfig, build_model, layer_summary

__all__ = ["BasicBlock", "ResNet", "ResNetConfig", "build_model", "layer_summary"]
