"""What happens inside a network while it trains: gradient and weight size per layer.

``GradientRecorder`` watches every linear and convolution layer of a model. Hooks
add each step's mean |gradient| of the layer's weight to a running sum on the device
(no synchronisation per step); at the end of each epoch, passed to ``training.fit`` as
``on_epoch_end``, it stores that epoch's mean over steps and the mean |weight|.
Report E plots both per layer to show gradients vanishing in deep sigmoid networks.
``layer_gradients`` and ``first_layer_grad_ratio`` read one epoch of a recorder (chapters
C4 and E1).

>>> import torch
>>> from coursekit import models
>>> model = models.build_model("mlp", num_hidden=2)
>>> recorder = GradientRecorder(model)
>>> model(torch.rand(4, 1, 32, 32)).sum().backward()
>>> recorder(model, None)
>>> recorder.to_frame()["layer"].tolist()
[1, 2, 3]
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch
from torch import nn

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

__all__ = ["GradientRecorder", "first_layer_grad_ratio", "layer_gradients",
           "recorder_frame"]

_WATCHED = (nn.Linear, nn.Conv1d, nn.Conv2d)


class GradientRecorder:
    """Mean |grad| and mean |weight| of each layer's weight, one row per epoch.

    Layers are numbered 1.. from the input; the output layer is the last. The mean of
    the signed weights stays near 0 whatever happens, so the size, mean |w|, is kept.
    """

    def __init__(self, model: nn.Module) -> None:
        self.layers = [m for m in model.modules() if isinstance(m, _WATCHED)]
        if not self.layers:
            raise ValueError("GradientRecorder found no Linear or Conv layer in the model")
        device = self.layers[0].weight.device
        self._sums = torch.zeros(len(self.layers), device=device)
        self._steps = 0
        self.rows: list[dict] = []
        self._epoch = 0
        for index, layer in enumerate(self.layers):
            layer.weight.register_post_accumulate_grad_hook(self._hook(index))

    def _hook(self, index: int):
        def record(weight: torch.Tensor) -> None:
            if self._sums.device != weight.device:
                self._sums = self._sums.to(weight.device)
            self._sums[index] += weight.grad.detach().abs().mean()
            if index == 0:  # the input layer's gradient is computed last: one step done
                self._steps += 1
        return record

    def __call__(self, model: nn.Module, history) -> None:
        """Close the current epoch: store its per-layer means and start the next."""
        self._epoch += 1
        grads = (self._sums / max(self._steps, 1)).tolist()
        for number, (layer, grad) in enumerate(zip(self.layers, grads), start=1):
            self.rows.append({"epoch": self._epoch, "layer": number, "mean_abs_grad": grad,
                              "mean_abs_weight": layer.weight.detach().abs().mean().item()})
        self._sums.zero_()
        self._steps = 0

    def to_frame(self):
        """Long table: epoch, layer, mean_abs_grad, mean_abs_weight."""
        import pandas as pd
        return pd.DataFrame(self.rows, columns=["epoch", "layer", "mean_abs_grad",
                                                "mean_abs_weight"])


def recorder_frame(recorder) -> "pd.DataFrame":
    """A ``GradientRecorder``'s long table (``to_frame()``); a table is returned as is."""
    import pandas as pd
    return recorder if isinstance(recorder, pd.DataFrame) else recorder.to_frame()


def layer_gradients(recorder, epoch: int = 1) -> "np.ndarray":
    """Mean |gradient| of each layer's weight over the steps of ``epoch``, from the
    input layer to the output layer (a ``GradientRecorder`` or its ``to_frame()``).

    Raises:
        ValueError: when the recorder has no rows for ``epoch``.
    """
    frame = recorder_frame(recorder)
    rows = frame[frame["epoch"] == epoch].sort_values("layer")
    if rows.empty:
        raise ValueError(f"the gradient recorder has no rows for epoch {epoch}")
    return rows["mean_abs_grad"].to_numpy(dtype=float)


def first_layer_grad_ratio(recorder, epoch: int = 1) -> float:
    """How much of the gradient survives the trip back to the input: mean |gradient|
    of the first layer's weight over that of the output layer's, in ``epoch`` (NaN
    when the output layer's is 0).

    Example:
        >>> import pandas as pd
        >>> frame = pd.DataFrame({"epoch": 1, "layer": [1, 2, 3],
        ...                       "mean_abs_grad": [0.001, 0.01, 0.1]})
        >>> first_layer_grad_ratio(frame)
        0.01

    Raises:
        ValueError: when the recorder has no rows for ``epoch``.
    """
    grads = layer_gradients(recorder, epoch)
    return float(grads[0] / grads[-1]) if grads[-1] > 0 else math.nan
