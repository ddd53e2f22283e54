"""What happens inside a network while it trains: gradient and weight size per layer.

``GradientRecorder`` watches every linear and convolution layer of a model. Hooks
add each step's mean |gradient| of the layer's weight to a running sum on the device
(no synchronisation per step); at the end of each epoch, passed to ``train.fit`` as
``on_epoch_end``, it stores that epoch's mean over steps and the mean |weight|.
Report E plots both per layer to show gradients vanishing in deep sigmoid networks.

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

import torch
from torch import nn

__all__ = ["GradientRecorder"]

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


def add_chance_ratios(results: "pd.DataFrame", num_classes: int) -> "pd.DataFrame":
    """``results`` with ``train_acc_over_chance``, ``val_acc_over_chance`` and
    ``test_acc_over_chance`` where the accuracy columns (%) exist: each accuracy as
    a multiple of chance, 100 / ``num_classes``. "Stays at chance" reads the same on
    10 classes (15 % is 1.5 x chance) and on 200 (0.75 %).

    Example:
        >>> import pandas as pd
        >>> add_chance_ratios(pd.DataFrame({"val_acc": [0.5, 15.0]}), 200)[
        ...     "val_acc_over_chance"].tolist()
        [1.0, 30.0]
    """
    if num_classes < 2:
        raise ValueError(f"num_classes must be at least 2, got {num_classes}")
    out = results.copy()
    for metric in ("train_acc", "val_acc", "test_acc"):
        if metric in out:
            out[f"{metric}_over_chance"] = out[metric] / (100 / num_classes)
    return out
