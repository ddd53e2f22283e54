"""Report C's MLP autoencoder and the classifier built on its encoder (chapter C3)."""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

__all__ = ["EncoderClassifier", "MLPAutoencoder", "conv_encoder"]


def _mlp(sizes: Sequence[int]) -> list[nn.Module]:
    """Linear layers between consecutive sizes, with a ReLU after all but the last."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return layers


class MLPAutoencoder(nn.Module):
    """Flattened pixels -> encoder (Linear + ReLU, ending in the code) -> decoder (the
    mirror image) -> sigmoid, so outputs are pixels in [0, 1] like the inputs.

    Report C: 9216-1024-1200-728-512-128 for 96 x 96 grayscale images.

    >>> import torch
    >>> MLPAutoencoder(16, hidden=(8,), code_dim=4)(torch.rand(2, 1, 4, 4)).shape
    torch.Size([2, 1, 4, 4])
    """

    def __init__(self, input_dim: int = 4096, hidden: Sequence[int] = (1024, 1200, 728, 512),
                 code_dim: int = 128) -> None:
        super().__init__()
        sizes = [input_dim, *hidden, code_dim]
        self.encoder = nn.Sequential(nn.Flatten(), *_mlp(sizes))
        self.decoder = nn.Sequential(*_mlp(sizes[::-1]), nn.Sigmoid())

    def forward(self, images: Tensor) -> Tensor:
        """Reconstructions, the shape of ``images`` (N, C, H, W)."""
        return self.decoder(self.encoder(images)).view_as(images)


class EncoderClassifier(nn.Module):
    """A (trained) encoder followed by Linear(code, classes): class scores.

    ``final_relu`` adds the ReLU report C put after that last layer. It clips every
    negative score to 0, so the network cannot say "not this class" and a wrong class
    whose score is pushed below 0 stops getting any gradient: kept only to show this.
    """

    def __init__(self, encoder: nn.Module, code_dim: int = 128, num_classes: int = 10,
                 final_relu: bool = False) -> None:
        super().__init__()
        self.encoder = encoder
        self.fc = nn.Linear(code_dim, num_classes)
        self.relu = nn.ReLU() if final_relu else None

    def forward(self, images: Tensor) -> Tensor:
        logits = self.fc(self.encoder(images))
        return logits if self.relu is None else self.relu(logits)


def conv_encoder(image_size: int = 64, code_dim: int = 128, in_channels: int = 1) -> nn.Sequential:
    """Report C's suggested remedy for its MLP encoder ("Convolution Blocks may be used
    for the initial few layers"): Conv 3x3 (16) + ReLU + MaxPool 2, Conv 3x3 (32) + ReLU
    + MaxPool 2, flatten, Linear to the code. Put it in an ``EncoderClassifier``.

    >>> import torch
    >>> conv_encoder(16, code_dim=8)(torch.rand(2, 1, 16, 16)).shape
    torch.Size([2, 8])
    """
    side = image_size // 4
    return nn.Sequential(nn.Conv2d(in_channels, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(32 * side * side, code_dim))
