"""The ``width`` multiplier shared by the VGG and ResNet models."""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["scale_channels"]


def scale_channels(channels: Sequence[int], width: float, model: str) -> list[int]:
    """Multiply each channel count by ``width`` and round to the nearest integer.

    ``width=1.0`` gives the report's network; the cpu profile trains 0.125 or 0.25.

    Args:
        channels: the report's widths, e.g. (64, 128, 256, 512).
        width: a positive multiplier.
        model: the model's name, for the error message.
    Raises:
        ValueError: if ``width`` is not a positive number, or is so small that a
            layer would get 0 channels.
    Example:
        >>> scale_channels((64, 128, 256, 512), 0.125, "resnet18")
        [8, 16, 32, 64]
    """
    if (isinstance(width, bool) or not isinstance(width, (int, float))
            or not math.isfinite(width) or width <= 0):
        raise ValueError(f"{model}: width must be a positive number such as "
                         f"0.125, 0.25, 0.5 or 1.0 (1.0 = the report's widths), "
                         f"got {width!r}.")
    scaled = [round(c * width) for c in channels]
    if min(scaled) < 1:
        narrowest = min(channels)
        raise ValueError(
            f"{model}: width {width!r} rounds its {narrowest}-channel layers to "
            f"{narrowest} * {width!r} = {narrowest * width:g} -> 0 channels; use a "
            f"width >= {1 / narrowest:g} so that every layer keeps a channel.")
    return scaled
