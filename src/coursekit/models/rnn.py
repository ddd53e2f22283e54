"""Recurrent forecaster of report B, part 3 (chapter B4)."""

from __future__ import annotations

from torch import Tensor, nn

__all__ = ["SeriesRNN"]


class SeriesRNN(nn.Module):
    """Stacked Elman RNN reading a window of a series, then a linear layer: the next value.

    Report B printed three single-layer ``RNN`` modules in a ``ModuleList``; one
    ``nn.RNN`` with ``num_layers=3`` is the same computation with the same parameters.

    Args:
        hidden_size: units per layer (report B: 32, then 64 and 128).
        num_layers: stacked layers (report B: 3).
        input_size: values per time step (1: a univariate series).
    Example:
        >>> import torch
        >>> SeriesRNN()(torch.rand(4, 24, 1)).shape
        torch.Size([4])
    """

    def __init__(self, hidden_size: int = 32, num_layers: int = 3, input_size: int = 1) -> None:
        super().__init__()
        self.rnn = nn.RNN(input_size, hidden_size, num_layers=num_layers, batch_first=True)
        self.fc = nn.Linear(hidden_size, 1)

    def forward(self, windows: Tensor) -> Tensor:  # (N, T, input_size) -> (N,)
        outputs, _ = self.rnn(windows)
        return self.fc(outputs[:, -1]).squeeze(-1)
