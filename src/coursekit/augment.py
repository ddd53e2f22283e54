"""Batched image augmentation on the device.

Every function takes a whole batch (N, C, H, W), of any dtype, and returns a batch of
the same shape, dtype and device: random masks and gathers instead of per-image PIL
calls, so augmentation costs a few tensor ops per batch (airbench's approach).
``AUGMENTATIONS`` maps the names used in chapter parameters to pipelines.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

__all__ = ["AUGMENTATIONS", "get_augmentation", "random_crop", "random_hflip"]


def random_hflip(images: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """Flip each image of an (N, C, H, W) batch left-right with probability 1/2."""
    flip = torch.rand(len(images), device=images.device, generator=generator) < 0.5
    return torch.where(flip.view(-1, 1, 1, 1), images.flip(-1), images)


def random_crop(images: Tensor, padding: int = 4,
                generator: torch.Generator | None = None) -> Tensor:
    """Pad each image by ``padding`` pixels (reflection) and cut a random H x W window.

    The standard CIFAR "random crop with padding 4"; each image gets its own offset.
    """
    n, _, h, w = images.shape
    padded = torch.nn.functional.pad(images.float(), (padding,) * 4, mode="reflect")
    dy, dx = (torch.randint(0, 2 * padding + 1, (2, n), device=images.device,
                            generator=generator))
    rows = dy[:, None] + torch.arange(h, device=images.device)        # (N, H)
    cols = dx[:, None] + torch.arange(w, device=images.device)        # (N, W)
    batch = torch.arange(n, device=images.device)[:, None, None]      # (N, 1, 1)
    crops = padded[batch, :, rows[:, :, None], cols[:, None, :]]      # (N, H, W, C)
    return crops.permute(0, 3, 1, 2).to(images.dtype)                 # (N, C, H, W)


def _compose(*steps: Callable[..., Tensor]) -> Callable[..., Tensor]:
    def pipeline(images: Tensor, generator: torch.Generator | None = None) -> Tensor:
        for step in steps:
            images = step(images, generator=generator)
        return images
    return pipeline


AUGMENTATIONS: dict[str, Callable[..., Tensor]] = {
    "none": lambda images, generator=None: images,
    "flip": random_hflip,
    "flip_crop": _compose(random_crop, random_hflip),
}


def get_augmentation(name: str) -> Callable[..., Tensor]:
    """The named batch augmentation ``fn(images, generator=None) -> images``.

    Raises:
        ValueError: if ``name`` is not one of ``AUGMENTATIONS``.
    """
    if name not in AUGMENTATIONS:
        raise ValueError(f"unknown augmentation {name!r}; "
                         f"choose one of {sorted(AUGMENTATIONS)}")
    return AUGMENTATIONS[name]
