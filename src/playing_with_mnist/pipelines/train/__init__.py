"""Cached tensors + split -> trained ResNet and its per-epoch history."""
