"""SPSA and the optimizer factory of coursekit.optim on tiny deterministic problems."""

import math

import pytest
import torch

from coursekit import optim


def test_spsa_minimises_a_quadratic_without_gradients():
    theta = torch.nn.Parameter(torch.tensor([3.0, -2.0, 1.0, 0.5]))
    opt = optim.SPSA([theta], a=0.3, c=0.1, A=10,
                     generator=torch.Generator().manual_seed(0))
    trace = optim.minimize(lambda: (theta ** 2).sum(), opt, steps=300)
    assert trace.loss[-1] < 0.01 * trace.loss[0]
    assert theta.grad is None                       # never differentiated
    assert trace.evaluations[-1] == 600 and trace.gradients[-1] == 0


def test_spsa_estimate_is_unbiased_on_a_linear_function():
    """For J = slope . theta the estimate is (slope . Delta) Delta, whose mean is slope."""
    slope = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    theta = torch.nn.Parameter(torch.zeros(3, dtype=torch.float64))
    a, alpha, steps = 1e-6, 1e-6, 4000   # alpha near 0: nearly equal weights a_k
    opt = optim.SPSA([theta], a=a, c=0.1, A=0, alpha=alpha,
                     generator=torch.Generator().manual_seed(0))
    for _ in range(steps):
        opt.step(lambda: (slope * theta).sum())
    total_gain = sum(a / k ** alpha for k in range(1, steps + 1))
    mean_estimate = -theta.detach() / total_gain    # theta = -sum_k a_k g_k
    assert torch.allclose(mean_estimate, slope, atol=0.15)


def test_spsa_refuses_bad_gains_and_a_missing_closure():
    theta = torch.nn.Parameter(torch.zeros(2))
    with pytest.raises(ValueError, match="gamma <= 1/2"):
        optim.SPSA([theta], gamma=0.9)
    with pytest.raises(ValueError, match="needs a closure"):
        optim.SPSA([theta]).step(None)


def test_gradient_methods_cost_one_evaluation_and_one_backward_per_step():
    for name in ("gd", "momentum", "rmsprop", "adagrad", "adam"):
        theta = torch.nn.Parameter(torch.tensor([2.0, -1.0]))
        opt = optim.make_optimizer(name, [theta], lr=0.1)
        trace = optim.minimize(lambda: (theta ** 2).sum(), opt, steps=50)
        assert trace.loss[-1] < trace.loss[0], name
        assert trace.evaluations[-1] == trace.gradients[-1] == 50
        assert trace.seconds == sorted(trace.seconds)


def test_unknown_optimizer_lists_the_known_ones():
    with pytest.raises(ValueError, match="unknown optimizer 'lbfgs'.*spsa"):
        optim.make_optimizer("lbfgs", [torch.nn.Parameter(torch.zeros(1))], lr=0.1)


def test_steps_to_reach_counts_steps_before_the_target():
    trace = optim.Trace(loss=[4.0, 2.0, 1.0, 0.5], seconds=[0.1, 0.2, 0.3, 0.4],
                        evaluations=[2, 4, 6, 8], gradients=[0, 0, 0, 0])
    assert optim.steps_to_reach(trace, 1.0) == {"steps": 2, "evaluations": 4,
                                                "seconds": 0.2}
    assert optim.steps_to_reach(trace, 9.0)["steps"] == 0
    assert math.isnan(optim.steps_to_reach(trace, 0.1)["steps"])


def test_full_batch_loss_is_the_mean_cross_entropy_of_scaled_images():
    images = torch.full((4, 1, 2, 2), 255, dtype=torch.uint8)
    labels = torch.tensor([0, 1, 0, 1])
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 2))
    torch.nn.init.zeros_(model[1].weight), torch.nn.init.zeros_(model[1].bias)
    assert optim.full_batch_loss(model, images, labels)().item() == pytest.approx(math.log(2))
