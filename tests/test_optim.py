"""SPSA and the optimizer factory of coursekit.training.optim on tiny deterministic problems."""

import math

import pytest
import torch

from coursekit.training import optim


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


# ---------------------------------------------------------------- chapter O1's measures


def _images(n=40, seed=0):
    g = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (n, 1, 4, 4), dtype=torch.uint8, generator=g)
    labels = (images.float().mean((1, 2, 3)) > 127).long()
    return images, labels


def test_trace_measures_reads_a_hand_made_trace():
    trace = optim.Trace(loss=[2.0, 1.5, 1.6, 0.4], evaluations=[2, 4, 6, 8],
                        gradients=[0, 0, 0, 0], seconds=[0.1, 0.2, 0.3, 0.4])
    m = optim.trace_measures(trace, target=0.5)
    assert m["final_loss"] == 0.4 and m["loss_drop_pct"] == pytest.approx(80)
    assert m["descent_share"] == pytest.approx(2 / 3)
    assert m["evals_per_step"] == 2 and m["backward_passes"] == 0
    assert m["steps_to_target"] == 3
    assert optim.trace_measures(trace, target=0.1)["steps_to_target"] == math.inf  # never
    with pytest.raises(ValueError):
        optim.trace_measures(optim.Trace(), 0.5)


def test_adam_measures_find_the_gradient_average_and_per_parameter_steps():
    w = torch.nn.Parameter(torch.tensor([1.0, 100.0, -3.0, 0.01]))
    adam = torch.optim.Adam([w], lr=0.1)
    with pytest.raises(ValueError):
        optim.adam_measures(adam)
    average = optim.track_gradient_average(adam)
    scales = torch.tensor([1.0, 50.0, 0.2, 5.0])
    for _ in range(20):
        adam.zero_grad()
        (scales * w ** 2).sum().backward()
        adam.step()
    m = optim.adam_measures(adam, average)
    assert m["adam_m_ema_error"] < 1e-5       # torch's Adam keeps the gradient's EMA
    assert m["adam_lr_spread"] > 2            # very different gradients, different steps
    sgd_like = torch.optim.Adam([torch.nn.Parameter(torch.zeros(3))], lr=0.1)
    wrong = {p: torch.ones_like(p) for p in sgd_like.param_groups[0]["params"]}
    sgd_like.param_groups[0]["params"][0].grad = torch.ones(3)
    sgd_like.step()
    m = optim.adam_measures(sgd_like, wrong)
    assert m["adam_lr_spread"] == pytest.approx(1.0)   # same gradient everywhere
    assert m["adam_m_ema_error"] > 0.5                 # an average that is not Adam's m


def test_compare_methods_starts_every_rule_from_the_same_weights():
    images, labels = _images()
    spec = dict(name="mlp", num_hidden=1, hidden_size=4, activation="tanh",
                in_features=16, num_classes=2)
    runs = optim.compare_methods(["gd", "spsa", "adam"], images, labels, model=spec,
                                 steps=5, spsa_steps=7, learning_rates={"gd": 0.1, "adam": 0.01},
                                 spsa={"a": 0.1, "c": 0.05, "A": 1.0}, seed=3)
    firsts = {n: t.loss[0] for n, t in runs.traces.items()}
    assert len(set(firsts.values())) == 1
    assert len(runs.traces["spsa"].loss) == 7 and len(runs.traces["gd"].loss) == 5
    measures = runs.measures(target=0.0)
    assert measures["spsa"]["evals_per_step"] == 2 and measures["spsa"]["backward_passes"] == 0
    assert {"adam_lr_spread", "adam_m_ema_error"} <= set(measures["adam"])
    assert 0 <= optim.accuracy(runs.models["adam"], images, labels) <= 100
    with pytest.raises(ValueError, match="no rate"):
        optim.compare_methods(["rmsprop"], images, labels, model=spec, steps=1,
                              learning_rates={})


def test_minibatch_loss_is_seeded_and_lowers_the_loss():
    images, labels = _images(64)
    spec = dict(name="mlp", num_hidden=1, hidden_size=8, in_features=16, num_classes=2)
    losses = []
    for _ in range(2):
        net = optim.fresh_model(0, **spec)
        with torch.no_grad():
            start = torch.nn.functional.cross_entropy(net(images.float() / 255), labels).item()
        losses.append(optim.minibatch_loss(net, torch.optim.Adam(net.parameters(), lr=0.05),
                                           images, labels, steps=40, batch_size=8, seed=1))
    assert losses[0] == losses[1] and losses[0] < start
