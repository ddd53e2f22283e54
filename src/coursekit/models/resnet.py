"""ResNets with a 3x3 stem: ResNet-18 of report B (B2), ResNet-34 of report A (A3, A4).

One ``ResNet`` class builds both; its keywords say where the two reports' networks
differ (conv biases, a max-pool in the stem, projection shortcuts, dropout). Both
use the ``BasicBlock`` of He et al. (2016), Figure 2: two 3x3 convs and a shortcut.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ._width import scale_channels

__all__ = ["BasicBlock", "ResNet"]

_STAGE_CHANNELS = (64, 128, 256, 512)


class BasicBlock(nn.Module):
    """conv 3x3 -> BN -> ReLU -> conv 3x3 -> BN, plus a shortcut, then ReLU.

    Args:
        in_channels: channels of the input.
        out_channels: channels of both convs and of the output.
        stride: 2 in the first block of stages 2-4, which halves H and W.
        project: use a 1x1 conv + BN shortcut even where the input already has the
            output's shape (it always does where the shape changes).
        conv_bias: give every conv, the shortcut's too, a bias (report B).
        spatial_dropout: probability of a ``Dropout2d`` after each batch norm of the
            main path (report A's "spatial dropouts"); none when 0.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1,
                 project: bool = False, conv_bias: bool = False,
                 spatial_dropout: float = 0.0) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, padding=1,
                               bias=conv_bias)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=conv_bias)
        self.bn2 = nn.BatchNorm2d(out_channels)
        # None rather than Identity keeps the printout of the plain ResNet clean
        self.dropout = nn.Dropout2d(spatial_dropout) if spatial_dropout > 0 else None
        self.relu = nn.ReLU()
        if project or stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride, bias=conv_bias),
                nn.BatchNorm2d(out_channels))
        else:
            self.shortcut = nn.Identity()

    def _drop(self, x: torch.Tensor) -> torch.Tensor:
        return x if self.dropout is None else self.dropout(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self._drop(self.bn1(self.conv1(x))))  # (N, C_out, H/s, W/s)
        out = self._drop(self.bn2(self.conv2(out)))
        return self.relu(out + self.shortcut(x))


class ResNet(nn.Module):
    """A ResNet of BasicBlocks with a 3x3 stride-1 stem, for 32x32 and 64x64 images.

    stem (conv 3x3 -> BN -> ReLU [-> max-pool]) -> four stages of BasicBlocks with
    64, 128, 256, 512 channels (times ``width``; stages 2-4 start with stride 2) ->
    global average pool -> linear. Explained in chapters A3, A4 and B2.

    Args:
        num_blocks: blocks per stage: (2, 2, 2, 2) is ResNet-18, (3, 4, 6, 3) ResNet-34.
        num_classes: size of the output layer.
        in_channels: 3 for RGB, 1 for grayscale.
        width: multiplies every channel count, rounded to integers; 1.0 is the
            reports' network.
        conv_bias: give every conv a bias, as report B's ResNet-18 does.
        stem_pool: end the stem with a 3x3 stride-2 max-pool (report B), which halves
            H and W before the first stage.
        project_first_blocks: give the first block of *every* stage a 1x1 conv + BN
            shortcut, the first stage's included (what report A's parameter count
            implies; see ``super_resnet34`` in the registry).
        stem_dropout: probability of an ``nn.Dropout`` after the stem's ReLU
            (report B, "Dropout Applied"); none when 0.
        spatial_dropout: probability of an ``nn.Dropout2d`` after every batch norm of
            the stem and the blocks' main paths (report A); none when 0.
        imagenet_stem: torchvision's stem instead, a 7x7 stride-2 conv and a 3x3
            stride-2 max-pool (report C printed torchvision's ResNet-18), which
            divides H and W by 4 before the first stage.
        image_size: accepted and ignored: global average pooling makes the network
            work at any input size, and every image model of the book takes it.
    Raises:
        ValueError: for a width that is not positive or leaves a layer with no
            channels, or num_blocks that does not have four entries.
    """

    def __init__(self, num_blocks: Sequence[int], num_classes: int = 10,
                 in_channels: int = 3, width: float = 1.0, *, conv_bias: bool = False,
                 stem_pool: bool = False, project_first_blocks: bool = False,
                 stem_dropout: float = 0.0, spatial_dropout: float = 0.0,
                 imagenet_stem: bool = False, image_size: int | None = None) -> None:
        super().__init__()
        if len(num_blocks) != len(_STAGE_CHANNELS):
            raise ValueError(f"ResNet: num_blocks gives the blocks of each of the 4 "
                             f"stages, e.g. (2, 2, 2, 2); got {tuple(num_blocks)}.")
        name = f"ResNet-{2 + 2 * sum(num_blocks)}"  # convs + linear, e.g. ResNet-18
        channels = scale_channels(_STAGE_CHANNELS, width, name)
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, channels[0], 7 if imagenet_stem else 3,
                      stride=2 if imagenet_stem else 1, padding=3 if imagenet_stem else 1,
                      bias=conv_bias),
            nn.BatchNorm2d(channels[0]),
            *([nn.Dropout2d(spatial_dropout)] if spatial_dropout > 0 else []),
            nn.ReLU(),
            *([nn.Dropout(stem_dropout)] if stem_dropout > 0 else []),
            *([nn.MaxPool2d(kernel_size=3, stride=2, padding=1)]
              if stem_pool or imagenet_stem else []))
        c_in = channels[0]
        for stage, (c_out, count) in enumerate(zip(channels, num_blocks), start=1):
            blocks = [BasicBlock(c_in if i == 0 else c_out, c_out,
                                 stride=2 if stage > 1 and i == 0 else 1,
                                 project=project_first_blocks and i == 0,
                                 conv_bias=conv_bias, spatial_dropout=spatial_dropout)
                      for i in range(count)]
            self.add_module(f"layer{stage}", nn.Sequential(*blocks))
            c_in = c_out
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(c_in, num_classes)
        self.feature_dim = c_in  # what the pooled features give the last layer

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = self.stem(images)  # (N, 64 * width, H, W); H/2, W/2 with stem_pool
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))  # (N, 512w, H/8, W/8)
        return self.fc(self.avgpool(x).flatten(1))  # (N, num_classes)
