"""Batched image augmentation on the device.

Every function takes a whole batch (N, C, H, W), uint8 in [0, 255] or float in
[0, 1], and returns a batch of the same shape, dtype and device: random masks,
gathers and one ``grid_sample`` instead of per-image PIL calls, so augmentation costs
a few tensor ops per batch (airbench's approach). Each random function draws one
setting per image from ``generator`` (on the images' device), so the same seed gives
the same batch. ``AUGMENTATIONS`` maps the names used in chapter parameters to
pipelines; ``rotate`` and ``adjust_colors`` are the deterministic steps behind
``random_rotation`` and ``color_jitter``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import torch
from torch import Tensor
from torch.nn import functional as F

__all__ = ["AUGMENTATIONS", "adjust_colors", "color_jitter", "get_augmentation",
           "random_crop", "random_hflip", "random_rotation", "random_vflip", "rotate"]


def random_hflip(images: Tensor, p: float = 0.5,
                 generator: torch.Generator | None = None) -> Tensor:
    """Flip each image of an (N, C, H, W) batch left-right with probability ``p``."""
    flip = torch.rand(len(images), device=images.device, generator=generator) < p
    return torch.where(flip.view(-1, 1, 1, 1), images.flip(-1), images)


def random_vflip(images: Tensor, p: float = 0.5,
                 generator: torch.Generator | None = None) -> Tensor:
    """Flip each image of an (N, C, H, W) batch upside down with probability ``p``."""
    flip = torch.rand(len(images), device=images.device, generator=generator) < p
    return torch.where(flip.view(-1, 1, 1, 1), images.flip(-2), images)


def random_crop(images: Tensor, padding: int = 4,
                generator: torch.Generator | None = None) -> Tensor:
    """Pad each image by ``padding`` pixels (reflection) and cut a random H x W window.

    The standard CIFAR "random crop with padding 4"; each image gets its own offset,
    applied as two gathers (rows, then columns) over the whole batch.
    """
    n, c, h, w = images.shape
    # CPU pads uint8 directly (measured 4x faster than via float); CUDA pads floats only
    work = images if images.device.type == "cpu" else images.float()
    padded = torch.nn.functional.pad(work, (padding,) * 4, mode="reflect")
    dy, dx = torch.randint(0, 2 * padding + 1, (2, n, 1), device=images.device,
                           generator=generator)
    rows = (dy + torch.arange(h, device=images.device)).view(n, 1, h, 1)    # (N,1,H,1)
    cols = (dx + torch.arange(w, device=images.device)).view(n, 1, 1, w)    # (N,1,1,W)
    crops = padded.gather(2, rows.expand(n, c, h, w + 2 * padding))         # (N,C,H,W+2p)
    return crops.gather(3, cols.expand(n, c, h, w)).to(images.dtype)        # (N,C,H,W)


def _to_input_dtype(values: Tensor, like: Tensor) -> Tensor:
    """Float results back to ``like``'s dtype: uint8 is rounded and clamped to 0..255."""
    if like.is_floating_point():
        return values.to(like.dtype)
    return values.round_().clamp_(0, 255).to(like.dtype)


def rotate(images: Tensor, angles: Tensor | float,
           interpolation: str = "bilinear") -> Tensor:
    """Rotate each image of a batch about its centre by its own angle.

    A positive angle turns the picture counter-clockwise as displayed (row 0 at the
    top), torchvision's convention: ``rotate(x, 90)`` equals
    ``torch.rot90(x, 1, dims=(-2, -1))`` for square images. Pixels that come from
    outside the image are 0 (black), and the corners are cut off, as in
    torchvision's ``RandomRotation`` without ``expand``.

    Args:
        images: (N, C, H, W) uint8 or float.
        angles: (N,) angles in degrees, or one number for the whole batch.
        interpolation: "bilinear", or "nearest" (torchvision's default, which
            report B used).
    Returns:
        The rotated batch, same shape, dtype and device; uint8 is rounded.
    """
    n, _, h, w = images.shape
    degrees = torch.as_tensor(angles, dtype=torch.float32, device=images.device)
    radians = torch.deg2rad(degrees.expand(n))                                # (N,)
    cos, sin = torch.cos(radians), torch.sin(radians)
    # affine_grid maps each output pixel to where it samples the input, in
    # coordinates normalised to [-1, 1] along W (x) and H (y); the aspect ratios
    # turn a rotation of pixels into those coordinates for non-square images.
    zero = torch.zeros_like(cos)
    theta = torch.stack([torch.stack([cos, -sin * h / w, zero], 1),
                         torch.stack([sin * w / h, cos, zero], 1)], 1)      # (N, 2, 3)
    grid = F.affine_grid(theta, [n, 1, h, w], align_corners=False)           # (N,H,W,2)
    rotated = F.grid_sample(images.float(), grid, mode=interpolation,
                            padding_mode="zeros", align_corners=False)
    return _to_input_dtype(rotated, images)


def random_rotation(images: Tensor, degrees: float = 20,
                    generator: torch.Generator | None = None) -> Tensor:
    """Rotate each image by its own angle drawn uniformly from [-degrees, degrees].

    Report B's ``transforms.RandomRotation(20)``, on the whole batch at once: see
    ``rotate`` for the direction and the zero fill. Interpolation is bilinear,
    smoother than torchvision's default (nearest).
    """
    unit = torch.rand(len(images), device=images.device, generator=generator)
    return rotate(images, (2 * unit - 1) * degrees)


_GREY_WEIGHTS = (0.2989, 0.587, 0.114)  # ITU-R 601 luma, as torchvision's greyscale


def adjust_colors(images: Tensor, brightness: Tensor | float = 1.0,
                  contrast: Tensor | float = 1.0,
                  saturation: Tensor | float = 1.0) -> Tensor:
    """Scale the brightness, contrast and saturation of each image by its own factor.

    torchvision's ``adjust_brightness``, ``adjust_contrast`` and
    ``adjust_saturation``, in this fixed order, for a whole batch: brightness
    multiplies the image; contrast blends it with its grey mean, one number per
    image; saturation blends it with its grey version, pixel by pixel. A factor of 1
    changes nothing, 0 gives black, the grey mean or grey. Values are clamped to the
    valid range after each step, as in torchvision; uint8 is rounded once at the end
    where torchvision truncates after each step, so uint8 results may differ from
    torchvision's by a few levels of 255 (float results agree to 1e-6).

    Args:
        images: (N, C, H, W), C = 3 (RGB) or 1 (saturation then does nothing);
            uint8 in [0, 255] or float in [0, 1].
        brightness, contrast, saturation: (N,) factors >= 0, or one for all.
    Returns:
        The adjusted batch, same shape, dtype and device.
    Raises:
        ValueError: if C is neither 1 nor 3.
    """
    n, c = images.shape[:2]
    if c not in (1, 3):
        raise ValueError(f"adjust_colors needs RGB (C = 3) or grey (C = 1) images, "
                         f"got C = {c} in a batch of shape {tuple(images.shape)}.")
    bound = 1.0 if images.is_floating_point() else 255.0

    def blend(x: Tensor, other: Tensor | float, factor: Tensor | float) -> Tensor:
        factor = torch.as_tensor(factor, dtype=torch.float32, device=x.device)
        factor = factor.expand(n).view(n, 1, 1, 1)
        return (factor * x + (1 - factor) * other).clamp_(0, bound)

    def grey(x: Tensor) -> Tensor:  # (N, 1, H, W)
        if c == 1:
            return x
        weights = torch.tensor(_GREY_WEIGHTS, device=x.device).view(1, 3, 1, 1)
        luma = (x * weights).sum(1, keepdim=True)
        return luma if images.is_floating_point() else luma.floor_()  # as torchvision

    out = blend(images.float(), 0.0, brightness)
    out = blend(out, grey(out).mean(dim=(-3, -2, -1), keepdim=True), contrast)
    if c == 3:
        out = blend(out, grey(out), saturation)
    return _to_input_dtype(out, images)


def color_jitter(images: Tensor, brightness: float = 0.4, contrast: float = 0.3,
                 saturation: float = 0.1,
                 generator: torch.Generator | None = None) -> Tensor:
    """torchvision's ``ColorJitter(brightness, contrast, saturation)`` for a batch.

    Each image gets its own three factors, drawn uniformly from [max(0, 1 - s), 1 + s]
    for strength s, and ``adjust_colors`` applies them in a fixed order (brightness,
    contrast, saturation) where torchvision shuffles the order per call. Defaults
    are report B's 0.4, 0.3, 0.1; strengths of 0 change nothing.

    Args:
        images: (N, C, H, W) uint8 in [0, 255] or float in [0, 1]; C = 3 or 1.
        brightness, contrast, saturation: strengths >= 0.
        generator: random source on the images' device.
    Raises:
        ValueError: for a negative strength, or C neither 1 nor 3.
    """
    strengths = {"brightness": brightness, "contrast": contrast,
                 "saturation": saturation}
    for name, strength in strengths.items():
        if not strength >= 0:
            raise ValueError(f"color_jitter: {name} must be >= 0 (0 = unchanged), "
                             f"got {strength!r}.")
    unit = torch.rand(3, len(images), device=images.device, generator=generator)
    factors = [max(0.0, 1 - s) + (1 + s - max(0.0, 1 - s)) * u          # (N,) each
               for s, u in zip(strengths.values(), unit)]
    return adjust_colors(images, *factors)


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
    # Report D (D1) names "random cropping, horizontal flipping, and color jittering"
    # but no strengths; 0.2 each is our choice, milder than report B's.
    "flip_crop_jitter": _compose(
        random_crop, random_hflip,
        functools.partial(color_jitter, brightness=0.2, contrast=0.2, saturation=0.2)),
    # Report B (B1): RandomHorizontalFlip, RandomVerticalFlip, RandomRotation(20),
    # ColorJitter(brightness=0.4, contrast=0.3, saturation=0.1), in that order.
    "flip_vflip_rotate_jitter": _compose(
        random_hflip, random_vflip,
        functools.partial(random_rotation, degrees=20),
        functools.partial(color_jitter, brightness=0.4, contrast=0.3, saturation=0.1)),
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
