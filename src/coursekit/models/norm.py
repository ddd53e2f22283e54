"""The input statistics a trained image model was trained with, kept on the model.

``training.fit`` standardises every image with the per-channel mean and standard
deviation of its training set (in [0, 1] units) and stores them as two buffers of the
model, ``input_mean`` and ``input_std``: they are part of its ``state_dict``, so a
checkpoint carries them and ``predict`` on a restored model normalises as training did.

>>> import torch
>>> net = torch.nn.Linear(2, 2)
>>> input_norm(net)
(None, None)
>>> set_input_norm(net, torch.tensor([0.5]), torch.tensor([0.25]))
>>> sorted(net.state_dict())
['bias', 'input_mean', 'input_std', 'weight']
>>> fresh = torch.nn.Linear(2, 2)
>>> load_state(fresh, net.state_dict())
>>> input_norm(fresh)[1]
tensor([0.2500])
"""

from __future__ import annotations

from collections.abc import Mapping

from torch import Tensor, nn

__all__ = ["input_norm", "load_state", "set_input_norm"]

_NAMES = ("input_mean", "input_std")


def set_input_norm(model: nn.Module, mean: Tensor, std: Tensor) -> None:
    """Store (or replace) the per-channel ``mean`` and ``std`` (C,) on ``model``."""
    for name, value in zip(_NAMES, (mean, std)):
        model.register_buffer(name, value.detach().clone())


def input_norm(model: nn.Module) -> tuple[Tensor | None, Tensor | None]:
    """The model's stored ``(mean, std)``, or ``(None, None)`` when it has none."""
    buffers = dict(model.named_buffers(recurse=False))
    return buffers.get(_NAMES[0]), buffers.get(_NAMES[1])


def load_state(model: nn.Module, state: Mapping[str, Tensor]) -> None:
    """``model.load_state_dict(state)`` for a model built afresh: the input statistics
    of ``state`` are registered first, so they are restored, not refused."""
    if all(name in state for name in _NAMES):
        set_input_norm(model, state[_NAMES[0]], state[_NAMES[1]])
    model.load_state_dict(state)
