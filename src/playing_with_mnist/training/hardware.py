"""Choosing where and in what precision to run: automatic, overridable by parameters."""

from __future__ import annotations

import platform
from pathlib import Path

import torch

DEVICES = ("auto", "cpu", "cuda", "mps")
PRECISIONS = ("auto", "fp32", "bf16")


def cpu_has_fast_bf16() -> bool:
    """True on x86 CPUs with AMX or AVX512-BF16, where bf16 matmuls beat fp32 by far."""
    if platform.system() != "Linux":
        return False
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return any(flag in flags for flag in ("amx_bf16", "avx512_bf16"))


def select_device(requested: str = "auto") -> torch.device:
    """CUDA, then Apple MPS, then CPU for ``auto``; a named device (one of DEVICES) must be available."""
    available = {
        "cuda": torch.cuda.is_available(),
        "mps": getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available(),
        "cpu": True,
    }
    if requested == "auto":
        return torch.device(next(name for name in ("cuda", "mps", "cpu") if available[name]))
    if not available.get(requested):
        raise ValueError(f"train.device={requested} was asked for but is not available here; use auto or cpu")
    return torch.device(requested)


def select_precision(requested: str, device: torch.device) -> str:
    """``bf16`` where the hardware runs it well, else ``fp32``; explicit values are honoured."""
    if requested != "auto":
        return requested
    fast_bf16 = {"cuda": torch.cuda.is_bf16_supported, "cpu": cpu_has_fast_bf16}.get(device.type)
    return "bf16" if fast_bf16 is not None and fast_bf16() else "fp32"


def describe_device(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    if device.type == "cpu":
        return f"cpu ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"
    return device.type
