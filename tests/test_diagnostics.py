"""coursekit.training.diagnostics."""

import pytest
import torch

from coursekit.training import diagnostics


def test_first_layer_grad_ratio_reads_one_epoch_of_a_recorder():
    net = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    recorder = diagnostics.GradientRecorder(net)
    for _ in range(2):
        net(torch.randn(8, 4)).sum().backward()
    recorder(net, None)
    rows = recorder.to_frame()
    expected = rows.mean_abs_grad[0] / rows.mean_abs_grad[1]
    assert diagnostics.first_layer_grad_ratio(recorder) == pytest.approx(expected)
    with pytest.raises(ValueError, match="epoch 2"):
        diagnostics.first_layer_grad_ratio(recorder, epoch=2)
