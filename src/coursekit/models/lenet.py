"""LeNet-5 and its variants of report A, section 2.4 (chapters A1 and A2)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

__all__ = ["LeNet"]

_ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "tanh": nn.Tanh,
    "relu": nn.ReLU,
    "leaky_relu": lambda: nn.LeakyReLU(0.01),
    "sigmoid": nn.Sigmoid,
}


class LeNet(nn.Module):
    """LeNet-5 with optional batch norm and dropout, as in report A, Figures 1-6.

    Two conv blocks (conv 5x5 -> activation -> [BN] -> [dropout] -> avg-pool 2) and three
    linear layers (400 -> 120 -> 84 -> classes for 32x32 inputs). Explained in chapter
    A1 (LeNet family on CIFAR-10).

    Args:
        num_classes: size of the output layer.
        in_channels: 3 for RGB, 1 for grayscale.
        image_size: input height = width in pixels; sets the first linear layer's width.
        activation: "tanh" (LeNet), "leaky_relu" (SuperLeNet), "relu" or "sigmoid".
        use_batchnorm: add BatchNorm after every activation except the output's.
        input_dropout: dropout on the input image (0.2 in LeNetDp and LeNetBNDp).
        conv_dropout: dropout after each conv block, before pooling.
        fc_dropout: dropout after each hidden linear layer.
    """

    def __init__(self, num_classes: int = 10, in_channels: int = 3, image_size: int = 32,
                 activation: str = "tanh", use_batchnorm: bool = False,
                 input_dropout: float = 0.0,
                 conv_dropout: Sequence[float] = (0.0, 0.0),
                 fc_dropout: Sequence[float] = (0.0, 0.0)) -> None:
        super().__init__()
        if activation not in _ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}; "
                             f"choose one of {sorted(_ACTIVATIONS)}")
        act = _ACTIVATIONS[activation]

        def block(layer: nn.Module, width: int, norm: type[nn.Module], p: float):
            return [layer, act(), *([norm(width)] if use_batchnorm else []),
                    *([nn.Dropout(p)] if p > 0 else [])]

        conv_layers: list[nn.Module] = [nn.Dropout(input_dropout)] if input_dropout else []
        for c_in, c_out, p in zip((in_channels, 6), (6, 16), conv_dropout):
            conv_layers += block(nn.Conv2d(c_in, c_out, 5), c_out, nn.BatchNorm2d, p)
            conv_layers.append(nn.AvgPool2d(2, 2))
        self.cnn_model = nn.Sequential(*conv_layers)

        side = ((image_size - 4) // 2 - 4) // 2  # two 5x5 convs, two 2x2 pools
        fc_layers: list[nn.Module] = []
        for f_in, f_out, p in zip((16 * side * side, 120), (120, 84), fc_dropout):
            fc_layers += block(nn.Linear(f_in, f_out), f_out, nn.BatchNorm1d, p)
        fc_layers.append(nn.Linear(84, num_classes))
        self.fc_model = nn.Sequential(*fc_layers)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        features = self.cnn_model(images)       # (N, 16, 5, 5) for 32x32 inputs
        return self.fc_model(features.flatten(1))  # (N, num_classes)
