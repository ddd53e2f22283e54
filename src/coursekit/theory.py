"""Report B's worked theory (Part V), as code a reader can check: convolution arithmetic,
softmax's shift invariance, and the LSTM's gradients derived by hand.

``conv_output_size`` and ``conv_parameters`` are the formulas a chapter compares with
real ``nn.Conv2d`` layers. ``softmax`` subtracts the largest score first, which
changes nothing (shift invariance) and keeps ``exp`` from overflowing.
``lstm_forward`` runs the report's LSTM equations step by step, keeping every gate, and
``lstm_cell`` builds PyTorch's ``nn.LSTMCell`` with the same weights; ``lstm_backward``
is the hand derivation of dL/di, dL/df, dL/do, dL/dg, dL/dc and dL/dh through time, and
``lstm_autograd`` the same gradients from autograd, to check it against.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["GATES", "conv_output_size", "conv_parameters", "lstm_autograd", "lstm_backward",
           "lstm_cell", "lstm_forward", "naive_softmax", "softmax"]

GATES = ("i", "f", "o", "g")  # the report's order: rows W1..W4 of the stacked weights


def conv_output_size(size: int, kernel: int, stride: int = 1, padding: int = 0) -> int:
    """(size - kernel + 2 padding) / stride + 1, rounded down as PyTorch does.

    >>> conv_output_size(32, 5), conv_output_size(32, 5, padding=1)
    (28, 30)
    """
    if size + 2 * padding < kernel:
        raise ValueError(f"a {kernel}-wide filter does not fit in {size} pixels "
                         f"padded by {padding}")
    return (size - kernel + 2 * padding) // stride + 1


def conv_parameters(in_channels: int, filters: int, kernel: int, bias: bool = True) -> int:
    """(kernel x kernel x in_channels + 1 bias) weights per filter, times the filters.

    >>> conv_parameters(3, 10, 5), conv_parameters(1, 10, 5)
    (760, 260)
    """
    return (kernel * kernel * in_channels + int(bias)) * filters


def naive_softmax(z: Tensor) -> Tensor:
    """exp(z) / sum exp(z), as written: overflows to inf / inf = nan for large scores."""
    e = torch.exp(z)
    return e / e.sum(dim=-1, keepdim=True)


def softmax(z: Tensor) -> Tensor:
    """The same probabilities, computed after subtracting the largest score.

    >>> softmax(torch.tensor([1000.0, 1001.0])).tolist()
    [0.2689414322376251, 0.7310585975646973]
    """
    return naive_softmax(z - z.max(dim=-1, keepdim=True).values)


def lstm_forward(weight: Tensor, inputs: Tensor, h0: Tensor, c0: Tensor,
                 bias: Tensor | None = None) -> dict[str, list[Tensor]]:
    """The report's LSTM, one step at a time, keeping every intermediate.

    ``weight`` is (4H, H + D), rows W1..W4 for i, f, o, g, acting on [h_{t-1}; x_t];
    ``inputs`` is (T, D); ``bias`` (4H), absent from the report's equations, lets a
    chapter open or close the forget gate. Returns lists over time of i, f, o, g, c and h (each (H,)),
    with ``c`` and ``h`` starting with c0 and h0.
    """
    hidden = h0.shape[-1]
    trace: dict[str, list[Tensor]] = {name: [] for name in GATES}
    trace["c"], trace["h"] = [c0], [h0]
    for x in inputs:
        z = weight @ torch.cat([trace["h"][-1], x])
        if bias is not None:
            z = z + bias
        i, f, o = (torch.sigmoid(z[k * hidden:(k + 1) * hidden]) for k in range(3))
        g = torch.tanh(z[3 * hidden:])
        c = f * trace["c"][-1] + i * g
        for name, value in zip((*GATES, "c", "h"), (i, f, o, g, c, o * torch.tanh(c))):
            trace[name].append(value)
    return trace


@torch.no_grad()
def lstm_backward(weight: Tensor, trace: dict[str, list[Tensor]], loss_grads: Tensor
                  ) -> dict[str, Tensor]:
    """dL/d(i, f, o, g, c, h) at every step, by hand, for a loss whose direct gradient
    with respect to h_t is ``loss_grads[t]`` (T, H). Each result is (T, H).

    Going back in time, with dh_t the direct gradient plus what h_t sends to step t+1:
      dL/do_t = dh_t tanh(c_t)
      dL/dc_t = dh_t o_t (1 - tanh^2 c_t) + dL/dc_{t+1} f_{t+1}
      dL/di_t = dL/dc_t g_t,  dL/df_t = dL/dc_t c_{t-1},  dL/dg_t = dL/dc_t i_t
      dh_{t-1} gets W_h^T [dL/di i(1-i); dL/df f(1-f); dL/do o(1-o); dL/dg (1-g^2)]
    """
    steps, hidden = loss_grads.shape
    grads = {name: torch.zeros_like(loss_grads) for name in (*GATES, "c", "h")}
    dh_next = dc_next = f_next = torch.zeros_like(loss_grads[0])
    for t in reversed(range(steps)):
        i, f, o, g = (trace[name][t] for name in GATES)
        c, c_prev = trace["c"][t + 1], trace["c"][t]
        dh = loss_grads[t] + dh_next
        dc = dh * o * (1 - torch.tanh(c) ** 2) + dc_next * f_next
        di, df, do, dg = dc * g, dc * c_prev, dh * torch.tanh(c), dc * i
        for name, value in zip((*GATES, "c", "h"), (di, df, do, dg, dc, dh)):
            grads[name][t] = value
        dz = torch.cat([di * i * (1 - i), df * f * (1 - f), do * o * (1 - o), dg * (1 - g ** 2)])
        dh_next, dc_next, f_next = weight[:, :hidden].T @ dz, dc, f
    return grads


def lstm_cell(weight: Tensor, input_size: int) -> nn.LSTMCell:
    """PyTorch's ``nn.LSTMCell`` (no bias) holding the report's weights (4H, H + D),
    re-stacked from the report's gate order i, f, o, g to PyTorch's i, f, g, o."""
    hidden = weight.shape[0] // 4
    cell = nn.LSTMCell(input_size, hidden, bias=False).to(weight.dtype)
    i, f, o, g = weight.split(hidden)
    stacked = torch.cat([i, f, g, o])
    with torch.no_grad():
        cell.weight_hh.copy_(stacked[:, :hidden])
        cell.weight_ih.copy_(stacked[:, hidden:])
    return cell


def lstm_autograd(weight: Tensor, inputs: Tensor, h0: Tensor, c0: Tensor,
                  loss_grads: Tensor, bias: Tensor | None = None
                  ) -> tuple[dict[str, list[Tensor]], dict[str, Tensor]]:
    """Autograd's dL/d(i, f, o, g, c, h) (each (T, H)) for the loss
    L = sum_t loss_grads[t] . h_t, and the forward trace it differentiated."""
    with torch.enable_grad():  # h0 as a leaf that needs gradients builds the graph
        trace = lstm_forward(weight, inputs, h0.detach().clone().requires_grad_(), c0, bias)
        kept = {name: trace[name] if name in GATES else trace[name][1:]
                for name in (*GATES, "c", "h")}
        for values in kept.values():
            for value in values:
                value.retain_grad()
        (loss_grads * torch.stack(kept["h"])).sum().backward()
    return trace, {name: torch.stack([v.grad for v in values]) for name, values in kept.items()}
