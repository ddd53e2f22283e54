"""Report B's worked theory: formulas against real layers, the hand-derived LSTM
gradients against autograd."""

import itertools

import pytest
import torch
from torch import nn

from coursekit.tasks import theory


@pytest.mark.parametrize("size,kernel,stride,padding",
                         list(itertools.product((28, 32, 33), (1, 3, 5), (1, 2), (0, 1, 2))))
def test_conv_formula_matches_a_real_layer(size, kernel, stride, padding):
    layer = nn.Conv2d(3, 10, kernel, stride=stride, padding=padding)
    out = layer(torch.zeros(1, 3, size, size + 4))
    assert out.shape[2:] == (theory.conv_output_size(size, kernel, stride, padding),
                             theory.conv_output_size(size + 4, kernel, stride, padding))
    assert sum(p.numel() for p in layer.parameters()) == theory.conv_parameters(3, 10, kernel)


def test_conv_formula_refuses_a_filter_larger_than_the_padded_input():
    with pytest.raises(ValueError, match="does not fit"):
        theory.conv_output_size(3, 5)


def test_softmax_is_shift_invariant_and_the_stable_one_survives_large_scores():
    z = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)
    assert torch.allclose(theory.naive_softmax(z), theory.naive_softmax(z + 50.0))
    big = z + 1000.0
    assert torch.isnan(theory.naive_softmax(big)).all()
    assert torch.allclose(theory.softmax(big), torch.softmax(z, dim=0))


def random_lstm(steps=6, inputs=4, hidden=3, seed=0):
    gen = torch.Generator().manual_seed(seed)
    weight = torch.randn(4 * hidden, hidden + inputs, generator=gen, dtype=torch.float64)
    xs = torch.randn(steps, inputs, generator=gen, dtype=torch.float64)
    h0, c0 = (torch.randn(hidden, generator=gen, dtype=torch.float64) for _ in range(2))
    return weight, xs, h0, c0


def test_report_equations_are_pytorchs_lstm_cell():
    weight, xs, h0, c0 = random_lstm()
    cell = theory.lstm_cell(weight, xs.shape[1])
    trace = theory.lstm_forward(weight, xs, h0, c0)
    h, c = h0[None], c0[None]
    for t, x in enumerate(xs):
        h, c = cell(x[None], (h, c))
        assert torch.allclose(h[0], trace["h"][t + 1]) and torch.allclose(c[0], trace["c"][t + 1])


def test_hand_derived_gradients_equal_autograd():
    weight, xs, h0, c0 = random_lstm()
    direct = torch.randn(len(xs), h0.shape[0], dtype=torch.float64,
                         generator=torch.Generator().manual_seed(1))
    trace, autograd = theory.lstm_autograd(weight, xs, h0, c0, direct)
    by_hand = theory.lstm_backward(weight, trace, direct)
    assert set(by_hand) == set(autograd) == {"i", "f", "o", "g", "c", "h"}
    for name in by_hand:
        assert torch.allclose(by_hand[name], autograd[name], atol=1e-12), name


def test_conv_question_results_answer_report_b_only_at_its_shapes():
    results = theory.conv_question_results(**theory.REPORT_B_CONV)
    assert results == {"rgb_pad0": {"output_size": "28 x 24 x 10", "num_parameters": 760},
                       "rgb_pad1": {"output_size": "30 x 26 x 10"},
                       "gray_pad0": {"num_parameters": 260}}
    assert theory.conv_question_results(**{**theory.REPORT_B_CONV, "channels": 1}) == {}


def test_conv_question_table_follows_the_shapes():
    table = theory.conv_question_table(32, 28, 3, 10, 5, 2, 0, 1,
                                       ["28 x 24 x 10", "760", "30 x 26 x 10", "260"])
    assert table["formula = layer"].all()
    assert table.loc[0, "formula"] == "14 x 12 x 10"   # stride 2: floor((32-5)/2)+1


def test_conv_formula_mismatches_are_none():
    assert theory.conv_formula_mismatches() == {"size_mismatches": 0, "param_mismatches": 0}


def test_softmax_measures_fail_for_the_naive_form_only_through_shift_gap():
    z = torch.tensor([0.5, -1.0, 2.0, 0.0, 1.0], dtype=torch.float64)
    m = theory.softmax_measures(z, 1000.0)
    assert m["min_prob"] > 0 and m["sum_error"] < 1e-12 and m["shift_gap"] < 1e-9


def test_lstm_report_gaps_right_for_o_and_c_wrong_for_i_f_g_h():
    gen = torch.Generator().manual_seed(0)
    hidden, inputs, steps = 3, 4, 6
    weight = torch.randn(4 * hidden, hidden + inputs, generator=gen, dtype=torch.float64)
    xs = torch.randn(steps, inputs, generator=gen, dtype=torch.float64)
    h0, c0 = (torch.randn(hidden, generator=gen, dtype=torch.float64) for _ in range(2))
    direct = torch.randn(steps, hidden, generator=gen, dtype=torch.float64)
    trace, grads = theory.lstm_autograd(weight, xs, h0, c0, direct)
    gaps = theory.lstm_report_gaps(trace, grads)
    assert gaps["report_gap_o"] < 1e-12 and gaps["report_gap_c"] < 1e-12
    for k in "ifgh":
        assert gaps[f"report_gap_{k}"] > 1e-3
    forms = theory.lstm_one_step_forms(trace, grads)
    for k in "ifg":  # exact at the last step, where nothing comes back from t+1
        assert torch.allclose(forms[k][-1], grads[k][-1])
