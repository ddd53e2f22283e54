"""VGG-13 of report B, part I (chapter B1), with a width multiplier."""

from __future__ import annotations

import torch
from torch import nn

from ._width import scale_channels

__all__ = ["VGG13"]

# Report B's VGG_13_CNN: five blocks of two 3x3 convs, each block ending in a 2x2
# max-pool; then 4096 -> 4096 -> classes. "M" marks a max-pool.
_CONV_PLAN = (64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M")
_HIDDEN = 4096


class VGG13(nn.Module):
    """VGG-13 as report B builds it: no adaptive pooling, flatten, three linear layers.

    The attribute names ``conv`` and ``fc`` and the layer order follow report B's
    ``VGG_13_CNN`` code. For 64x64 inputs the five pools leave 512 x 2 x 2 features,
    hence its ``nn.Linear(512*4, 4096)``. Explained in chapter B1.

    Report B's printout has no batch norm; ``use_batchnorm=True`` adds one after
    every conv (VGG-13-BN), an option for small widths, not a report variant.

    Args:
        num_classes: size of the output layer (3 in report B).
        in_channels: 3 for RGB, 1 for grayscale.
        image_size: input height = width in pixels (64 in report B); sets the first
            linear layer's width, (512 * width) * (image_size // 32) ** 2.
        width: multiplies every conv and hidden linear width (64 ... 512, 4096),
            rounded to integers; 1.0 is the report's network.
        dropout: probabilities of the dropouts after the first and second hidden
            linear layers; (0.3, 0.1) in report B's VGG_13_CNN_D, none when 0.
        use_batchnorm: add BatchNorm2d after every conv.
    Raises:
        ValueError: for a width that is not positive or leaves a layer with no
            channels, an image_size below 32, or a dropout that is not a pair.
    """

    def __init__(self, num_classes: int = 3, in_channels: int = 3, image_size: int = 64,
                 width: float = 1.0, dropout: tuple[float, float] = (0.0, 0.0),
                 use_batchnorm: bool = False) -> None:
        super().__init__()
        if image_size < 32:
            raise ValueError(f"VGG13: image_size must be at least 32 (five 2x2 "
                             f"max-pools), got {image_size}.")
        if len(dropout) != 2:
            raise ValueError(f"VGG13: dropout takes two probabilities (after the first "
                             f"and second hidden linear layers), got {dropout!r}.")
        channels = scale_channels([c for c in _CONV_PLAN if c != "M"] + [_HIDDEN],
                                  width, "VGG13")
        hidden = channels.pop()
        layers: list[nn.Module] = []
        c_in = in_channels
        for item in _CONV_PLAN:
            if item == "M":
                layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
                continue
            c_out = channels.pop(0)
            layers += [nn.Conv2d(c_in, c_out, kernel_size=3, padding=1),
                       *([nn.BatchNorm2d(c_out)] if use_batchnorm else []),
                       nn.ReLU(inplace=True)]
            c_in = c_out
        self.conv = nn.Sequential(*layers)

        side = image_size // 32
        fc_layers: list[nn.Module] = []
        for f_in, p in zip((c_in * side * side, hidden), dropout):
            fc_layers += [nn.Linear(f_in, hidden), nn.ReLU(inplace=True),
                          *([nn.Dropout(p)] if p > 0 else [])]
        fc_layers.append(nn.Linear(hidden, num_classes))
        self.fc = nn.Sequential(*fc_layers)
        self.image_size = image_size

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        features = self.conv(images)  # (N, 512 * width, 2, 2) for 64x64 inputs
        if features[0].numel() != self.fc[0].in_features:
            raise ValueError(
                f"VGG13 was built for {self.image_size}x{self.image_size} images but "
                f"got {tuple(images.shape[-2:])}; pass image_size={images.shape[-1]} "
                f"to build_model.")
        return self.fc(features.flatten(1))  # (N, num_classes)
