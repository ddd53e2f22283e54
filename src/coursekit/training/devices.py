"""Where a computation runs and how it repeats: the device, the seeds, mixed precision."""

from __future__ import annotations

import random

import numpy as np
import torch

__all__ = ["autocast", "check_seeds", "model_device", "resolve_device", "seed_everything",
           "synchronize", "use_fp16_scaler"]


def resolve_device(device: str = "auto") -> torch.device:
    """``"auto"`` means CUDA when a GPU is present, else CPU; other strings pass through."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def model_device(model: torch.nn.Module) -> torch.device:
    """Where ``model`` lives: its parameters', or a count model's buffers' device."""
    return next(iter(model.state_dict().values())).device


def check_seeds(seeds) -> list[int]:
    """The seeds of a run over several seeds, checked before anything trains.

    >>> check_seeds((2, 0))
    [2, 0]

    Raises:
        ValueError: for no seeds or a seed listed twice.
    """
    seeds = list(seeds)
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must list one or more different seeds, got {seeds!r}")
    return seeds


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and PyTorch (CPU and CUDA) so a run repeats exactly on CPU."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def autocast(device: torch.device, enabled: bool):
    """bf16 autocast on CUDA (fp16 where bf16 is missing); a no-op on CPU."""
    if device.type != "cuda" or not enabled:
        return torch.autocast(device.type, enabled=False)
    dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.autocast("cuda", dtype=dtype)


def use_fp16_scaler(device: torch.device, amp: bool) -> bool:
    """Whether fp16 autocast needs loss scaling here (bf16 and fp32 do not)."""
    return device.type == "cuda" and amp and not torch.cuda.is_bf16_supported()


def synchronize(device: torch.device) -> None:
    """Wait for the GPU's queued work, so timers measure it; nothing on the CPU."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
