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

__all__ = ["GATES", "REPORT_B_CONV", "conv_by_formula", "conv_by_layer",
           "conv_formula_mismatches", "conv_output_size", "conv_parameters",
           "conv_question_results", "conv_question_table", "conv_size_text", "lstm_autograd",
           "lstm_backward", "lstm_cell", "lstm_forward", "lstm_one_step_forms",
           "lstm_report_gaps", "naive_softmax", "softmax", "softmax_measures"]

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
    chapter open or close the forget gate. Returns lists over time of i, f, o, g, c and
    h (each (H,)), with ``c`` and ``h`` starting with c0 and h0.
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


# ----------------------------------------------------------------------------------
# Report B's answers as results[variant][metric], for the chapter's claims

REPORT_B_CONV = {"width": 32, "height": 28, "channels": 3, "filters": 10, "kernel": 5,
                 "stride": 1, "padding": 0, "other_padding": 1}
"""The shapes of report B's four convolution questions (width x height x channels)."""


def conv_size_text(size: tuple[int, ...]) -> str:
    """A size as report B writes it, "W x H x F".

    >>> conv_size_text((28, 24, 10))
    '28 x 24 x 10'
    """
    return " x ".join(str(int(s)) for s in size)


def conv_by_formula(width: int, height: int, in_channels: int, filters: int, kernel: int,
                    stride: int = 1, padding: int = 0) -> tuple[tuple[int, int, int], int]:
    """((W, H, F), parameters) of a convolution layer by the formulas.

    >>> conv_by_formula(32, 28, 3, 10, 5)
    ((28, 24, 10), 760)
    """
    size = (conv_output_size(width, kernel, stride, padding),
            conv_output_size(height, kernel, stride, padding), filters)
    return size, conv_parameters(in_channels, filters, kernel)


def conv_by_layer(width: int, height: int, in_channels: int, filters: int, kernel: int,
                  stride: int = 1, padding: int = 0) -> tuple[tuple[int, int, int], int]:
    """((W, H, F), parameters) of a real ``nn.Conv2d`` fed a (1, C, H, W) zero image
    (PyTorch orders a batch N, C, H, W; report B writes width x height).

    >>> conv_by_layer(32, 28, 3, 10, 5, padding=1)
    ((30, 26, 10), 760)
    """
    layer = nn.Conv2d(in_channels, filters, kernel, stride=stride, padding=padding)
    with torch.no_grad():
        out = layer(torch.zeros(1, in_channels, height, width))
    return ((int(out.shape[3]), int(out.shape[2]), int(out.shape[1])),
            sum(p.numel() for p in layer.parameters()))


def conv_question_table(width: int, height: int, channels: int, filters: int, kernel: int,
                        stride: int, padding: int, other_padding: int,
                        answers: list[str]) -> "pd.DataFrame":
    """Report B's four convolution questions at these shapes: the report's answer, the
    formula's, a real layer's, and whether formula and layer agree (one row each)."""
    import pandas as pd
    questions = {  # question: (input channels, padding, 0 = size / 1 = parameters)
        "1. output size": (channels, padding, 0),
        "2. parameters": (channels, padding, 1),
        f"3. output size, padding {other_padding}": (channels, other_padding, 0),
        "4. parameters, grayscale input": (1, padding, 1)}
    rows = []
    for (question, (c, p, which)), theirs in zip(questions.items(), answers):
        formula = conv_by_formula(width, height, c, filters, kernel, stride, p)[which]
        layer = conv_by_layer(width, height, c, filters, kernel, stride, p)[which]
        show = conv_size_text if which == 0 else str
        rows.append({"question": question, "report B": theirs, "formula": show(formula),
                     "nn.Conv2d": show(layer), "formula = layer": formula == layer})
    return pd.DataFrame(rows)


def conv_question_results(**shapes: int) -> dict[str, dict[str, object]]:
    """Report B's four convolution answers measured on real ``nn.Conv2d`` layers, as
    ``results[variant][metric]``: ``rgb_pad0`` (output_size, num_parameters),
    ``rgb_pad1`` (output_size), ``gray_pad0`` (num_parameters). Sizes are "W x H x F".

    ``shapes`` are the chapter's width, height, channels, filters, kernel, stride,
    padding and other_padding; the rows answer report B's questions only at report B's
    shapes (:data:`REPORT_B_CONV`), so at any other shapes the result is empty and the
    claims on them are not tested rather than failed against another question's answer.

    >>> conv_question_results(**REPORT_B_CONV)["rgb_pad1"]
    {'output_size': '30 x 26 x 10'}
    >>> conv_question_results(**{**REPORT_B_CONV, "width": 64})
    {}
    """
    if {k: shapes.get(k) for k in REPORT_B_CONV} != REPORT_B_CONV:
        return {}
    s = REPORT_B_CONV

    def layer(channels: int, padding: int) -> tuple[tuple[int, int, int], int]:
        return conv_by_layer(s["width"], s["height"], channels, s["filters"], s["kernel"],
                             s["stride"], padding)

    rgb0, rgb1 = layer(s["channels"], s["padding"]), layer(s["channels"], s["other_padding"])
    gray0 = layer(1, s["padding"])
    return {"rgb_pad0": {"output_size": conv_size_text(rgb0[0]), "num_parameters": rgb0[1]},
            "rgb_pad1": {"output_size": conv_size_text(rgb1[0])},
            "gray_pad0": {"num_parameters": gray0[1]}}


def conv_formula_mismatches() -> dict[str, int]:
    """How often report B's formulas disagree with ``nn.Conv2d`` on a grid of cases.

    ``size_mismatches``: cases over height and width in {28, 32}, kernel in {3, 5},
    padding in {0, 1, 2}, channels in {1, 3} and stride 1 (the report's stride; it
    writes the formula without a floor, which is an integer only there) where
    (n - k + 2p) / s + 1 differs from the output's height or width.
    ``param_mismatches``: cases over channels in {1, 3}, filters in {1, 10}, kernel in
    {3, 5} where (k * k * C + 1) * F differs from the layer's parameter count.

    >>> conv_formula_mismatches()
    {'size_mismatches': 0, 'param_mismatches': 0}
    """
    import itertools
    sizes = 0
    for h, w, k, p, c in itertools.product((28, 32), (28, 32), (3, 5), (0, 1, 2), (1, 3)):
        (out_w, out_h, _), _ = conv_by_layer(w, h, c, 1, k, 1, p)
        sizes += ((h - k + 2 * p) / 1 + 1, (w - k + 2 * p) / 1 + 1) != (out_h, out_w)
    params = sum((k * k * c + 1) * f != conv_by_layer(8, 8, c, f, k)[1]
                 for c, f, k in itertools.product((1, 3), (1, 10), (3, 5)))
    return {"size_mismatches": int(sizes), "param_mismatches": int(params)}


def softmax_measures(z: Tensor, shift: float) -> dict[str, float]:
    """What report B says of softmax, measured on scores ``z``: ``min_prob`` (the smallest
    probability, non-negative), ``sum_error`` (|sum - 1|) and ``shift_gap`` (the largest
    change of a probability when ``shift`` is added to every score, computed with
    :func:`softmax`).

    >>> m = softmax_measures(torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64), 1000.0)
    >>> m["min_prob"] > 0, m["sum_error"] < 1e-12, m["shift_gap"] < 1e-9
    (True, True, True)
    """
    p = torch.softmax(z, dim=-1)
    return {"min_prob": float(p.min()), "sum_error": float(abs(p.sum() - 1)),
            "shift_gap": float((softmax(z + shift) - softmax(z)).abs().max())}


def lstm_one_step_forms(trace: dict[str, list[Tensor]], autograd: dict[str, Tensor]
                        ) -> dict[str, Tensor]:
    """Report B's LSTM gradient lines, each (T, H), with the factors dL/dh_t and
    dL/dc_(t+1) they name taken from autograd, so each line is judged on its own.

    i, f, g: dL/dh_t * o_t (1 - tanh^2 c_t) times g_t, c_(t-1), i_t (c_t reaches the loss
    only through h_t, as the report writes them); o: dL/dh_t * tanh(c_t); c: the same
    through-h term plus dL/dc_(t+1) * f_(t+1) (0 after the last step); h: 0, since as
    written each term differentiates a gate of step t, which reads h_(t-1), by h_t.
    """
    with torch.no_grad():
        o, cs = torch.stack(trace["o"]), torch.stack(trace["c"])
        i_, f_, g_ = (torch.stack(trace[k]) for k in "ifg")
        through_h = autograd["h"] * o * (1 - torch.tanh(cs[1:]) ** 2)
        zero = torch.zeros_like(through_h[:1])
        f_next = torch.cat([f_[1:], zero])
        dc_next = torch.cat([autograd["c"][1:], zero])
        return {"i": through_h * g_, "f": through_h * cs[:-1], "g": through_h * i_,
                "o": autograd["h"] * torch.tanh(cs[1:]), "c": through_h + dc_next * f_next,
                "h": torch.zeros_like(autograd["h"])}


def lstm_report_gaps(trace: dict[str, list[Tensor]], autograd: dict[str, Tensor]
                     ) -> dict[str, float]:
    """``report_gap_<x>`` for x in i, f, g, o, c, h: the largest |report B's line -
    autograd's gradient| over steps and units (see :func:`lstm_one_step_forms`)."""
    forms = lstm_one_step_forms(trace, autograd)
    return {f"report_gap_{k}": float((v - autograd[k]).abs().max()) for k, v in forms.items()}
