"""The multilayer perceptron of report E (chapters E1-E3).

Report E flattens 32x32 grayscale images into 1,024 inputs and stacks Linear ->
activation -> Dropout blocks of 256 units. Its printouts end in ``Softmax(dim=1)``
and then train with ``CrossEntropyLoss``, which applies log-softmax again: the loss
sees probabilities as if they were logits. ``softmax_output=True`` rebuilds that bug
so a chapter can show its effect; the default returns logits, as the loss expects.
"""

from __future__ import annotations

from torch import Tensor, nn

from .lenet import _ACTIVATIONS

__all__ = ["MLP"]


class MLP(nn.Module):
    """``num_hidden`` hidden layers of ``hidden_size`` units, then a linear classifier.

    Args:
        in_features: inputs after flattening (1,024 for a 32x32 grayscale image).
        num_hidden: hidden layers; 0 gives a linear (softmax regression) model, and
            the "depth" of report E's vanishing-gradient plots is ``num_hidden + 1``.
        hidden_size: units per hidden layer.
        num_classes: outputs.
        activation: "sigmoid", "tanh", "relu" or "leaky_relu".
        dropout: dropout after every hidden activation (report E, Q2: 0.2).
        softmax_output: end in Softmax, as report E did (wrong before cross-entropy).
    Example:
        >>> import torch
        >>> MLP(num_hidden=3)(torch.rand(2, 1, 32, 32)).shape
        torch.Size([2, 10])
    """

    def __init__(self, in_features: int = 1024, num_hidden: int = 3, hidden_size: int = 256,
                 num_classes: int = 10, activation: str = "relu", dropout: float = 0.0,
                 softmax_output: bool = False) -> None:
        super().__init__()
        if activation not in _ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}; choose one of "
                             f"{', '.join(_ACTIVATIONS)}")
        if num_hidden < 0:
            raise ValueError(f"num_hidden must be 0 or more, got {num_hidden}")
        layers: list[nn.Module] = [nn.Flatten()]
        width = in_features
        for _ in range(num_hidden):
            layers += [nn.Linear(width, hidden_size), _ACTIVATIONS[activation](),
                       nn.Dropout(dropout)]
            width = hidden_size
        layers.append(nn.Linear(width, num_classes))
        if softmax_output:
            layers.append(nn.Softmax(dim=1))
        self.layers = nn.Sequential(*layers)

    def forward(self, images: Tensor) -> Tensor:
        return self.layers(images)
