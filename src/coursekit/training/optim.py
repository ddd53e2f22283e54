"""Learning algorithms by name, and SPSA, the gradient-free one of report A.

``make_optimizer("adam", params, lr=1e-3)`` builds any optimizer of the book;
``SPSA`` follows report A, section 2.7.2 (Algorithm 2): perturb every parameter at
once by +-c_k along a Rademacher direction, estimate the gradient from the two loss
values, step by a_k. It needs no backward pass, only a ``closure`` returning the loss.
``minimize`` runs any of them for a number of steps on a full-batch loss and records
loss, wall time and loss evaluations per step (chapter "Optimizers").

``compare_methods`` runs several rules from the same starting weights and keeps what a
chapter measures afterwards: ``trace_measures`` (final loss, loss drop, share of
downhill steps, evaluations per step, ...), ``adam_measures`` (how far Adam's step
sizes differ between parameters, and whether its first moment is the gradient's moving
average) and ``minibatch_loss`` (the same rule on noisy mini-batch gradients).
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import torch
from torch import Tensor

__all__ = ["OPTIMIZERS", "SPSA", "MethodRuns", "Trace", "accuracy", "adam_measures",
           "compare_methods", "first_to_reach", "fresh_model", "full_batch_loss",
           "make_optimizer", "minibatch_loss",
           "minimize", "steps_to_reach", "trace_measures", "track_gradient_average"]


class SPSA(torch.optim.Optimizer):
    """Simultaneous perturbation stochastic approximation (Spall, 1992).

    At step k (from 1): a_k = a / (k + A)^alpha, c_k = c / k^gamma, a direction
    Delta with independent +-1 entries, and the estimate
    g_i = (J(theta + c_k Delta) - J(theta - c_k Delta)) / (2 c_k Delta_i),
    then theta <- theta - a_k g. Two loss evaluations per step, whatever the number
    of parameters. ``step`` needs a closure that returns the loss (no backward).

    Args:
        a, A, alpha: the step-size gain sequence (Spall's defaults alpha = 0.602).
        c, gamma: the perturbation-size sequence (gamma = 0.101).
    Example:
        >>> theta = torch.nn.Parameter(torch.tensor([2.0, -3.0]))
        >>> opt = SPSA([theta], a=0.5, c=0.1, A=10)
        >>> for _ in range(200):
        ...     _ = opt.step(lambda: (theta ** 2).sum())
        >>> bool((theta.abs() < 0.1).all()), opt.evaluations
        (True, 400)
    """

    def __init__(self, params: Iterable[Tensor], a: float = 0.1, c: float = 0.01,
                 A: float = 10.0, alpha: float = 0.602, gamma: float = 0.101,
                 generator: torch.Generator | None = None) -> None:
        if a <= 0 or c <= 0 or A < 0 or not 0 < alpha <= 1 or not 0 < gamma <= 0.5:
            raise ValueError("SPSA needs a > 0, c > 0, A >= 0, 0 < alpha <= 1 and "
                             f"0 < gamma <= 1/2; got a={a}, c={c}, A={A}, "
                             f"alpha={alpha}, gamma={gamma}")
        super().__init__(params, dict(a=a, c=c, A=A, alpha=alpha, gamma=gamma))
        self.generator = generator
        self.k = 0              # steps taken
        self.evaluations = 0    # calls of the closure

    @torch.no_grad()
    def step(self, closure: Callable[[], Tensor]) -> Tensor:  # type: ignore[override]
        """One SPSA step; returns the mean of the two perturbed losses."""
        if closure is None:
            raise ValueError("SPSA.step needs a closure that returns the loss")
        self.k += 1
        params = [p for group in self.param_groups for p in group["params"]]
        group = self.param_groups[0]
        a_k = group["a"] / (self.k + group["A"]) ** group["alpha"]
        c_k = group["c"] / self.k ** group["gamma"]
        deltas = [torch.randint(0, 2, p.shape, device=p.device, generator=self.generator,
                                dtype=p.dtype).mul_(2).sub_(1) for p in params]
        for p, d in zip(params, deltas):
            p.add_(d, alpha=c_k)
        loss_plus = closure()
        for p, d in zip(params, deltas):
            p.add_(d, alpha=-2 * c_k)
        loss_minus = closure()
        self.evaluations += 2
        scale = (loss_plus - loss_minus) / (2 * c_k)  # 1 / Delta_i = Delta_i for +-1
        for p, d in zip(params, deltas):
            p.add_(d, alpha=c_k)              # back to theta
            p.sub_(a_k * scale * d)           # theta - a_k * g
        return (loss_plus + loss_minus) / 2


OPTIMIZERS = ("gd", "sgd", "momentum", "rmsprop", "adagrad", "adam", "spsa")


def make_optimizer(name: str, params: Iterable[Tensor], lr: float, *,
                   weight_decay: float = 0.0, momentum: float = 0.9,
                   **spsa_kwargs) -> torch.optim.Optimizer:
    """The optimizer ``name`` of ``OPTIMIZERS`` at learning rate ``lr``.

    "gd" and "sgd" are plain (stochastic) gradient descent, "momentum" adds Nesterov
    momentum; for "spsa", ``lr`` is the gain ``a`` and other keywords go to ``SPSA``.

    Raises:
        ValueError: for an unknown name; the message lists the known ones.
    """
    params = list(params)
    if name in ("gd", "sgd"):
        return torch.optim.SGD(params, lr=lr, weight_decay=weight_decay)
    if name == "momentum":
        return torch.optim.SGD(params, lr=lr, momentum=momentum, nesterov=True,
                               weight_decay=weight_decay)
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, weight_decay=weight_decay)
    if name == "adagrad":
        return torch.optim.Adagrad(params, lr=lr, weight_decay=weight_decay)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    if name == "spsa":
        return SPSA(params, a=lr, **spsa_kwargs)
    raise ValueError(f"unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZERS)}")


@dataclass
class Trace:
    """Loss after every step of ``minimize``, with the time and evaluations it took."""

    loss: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)      # cumulative wall time
    evaluations: list[int] = field(default_factory=list)    # cumulative loss evaluations
    gradients: list[int] = field(default_factory=list)      # cumulative backward passes

    def to_frame(self):
        """One row per step, steps numbered from 0."""
        import pandas as pd
        return pd.DataFrame(dataclasses.asdict(self)).rename_axis("step")


def full_batch_loss(model: torch.nn.Module, images: Tensor, labels: Tensor
                    ) -> Callable[[], Tensor]:
    """A closure: mean cross-entropy of ``model`` on all of ``images`` (uint8, scaled to
    [0, 1]), the deterministic objective J(theta) of report A's Algorithms 1 and 2."""
    inputs = images.float().div(255)

    def loss() -> Tensor:
        return torch.nn.functional.cross_entropy(model(inputs), labels)
    return loss


def steps_to_reach(trace: Trace, target: float) -> dict[str, float]:
    """Steps, loss evaluations and seconds a run took to first reach loss <= target
    (NaN where it never did)."""
    for step, loss in enumerate(trace.loss):
        if loss <= target:
            done = max(step - 1, 0)  # loss[step] is the loss after `step` steps
            return {"steps": step, "evaluations": trace.evaluations[done] if step else 0,
                    "seconds": trace.seconds[done] if step else 0.0}
    return {"steps": math.nan, "evaluations": math.nan, "seconds": math.nan}


def minimize(loss_fn: Callable[[], Tensor], optimizer: torch.optim.Optimizer,
             steps: int) -> Trace:
    """Run ``steps`` steps of ``optimizer`` on the deterministic loss ``loss_fn()``.

    Gradient methods cost one loss evaluation and one backward pass per step; SPSA
    two evaluations and no backward pass. The recorded loss is ``loss_fn()`` at the
    point the step started from (one extra evaluation, not counted, not timed).
    """
    trace, seconds, evaluations, gradients = Trace(), 0.0, 0, 0
    for _ in range(steps):
        with torch.no_grad():
            trace.loss.append(loss_fn().item())
        start = time.perf_counter()
        if isinstance(optimizer, SPSA):
            before = optimizer.evaluations
            optimizer.step(loss_fn)
            evaluations += optimizer.evaluations - before
        else:
            optimizer.zero_grad(set_to_none=True)
            loss_fn().backward()
            optimizer.step()
            evaluations, gradients = evaluations + 1, gradients + 1
        seconds += time.perf_counter() - start
        trace.seconds.append(seconds)
        trace.evaluations.append(evaluations)
        trace.gradients.append(gradients)
    return trace


def fresh_model(seed: int, name: str = "mlp", **kwargs) -> torch.nn.Module:
    """``models.build_model(name, **kwargs)`` after seeding: the same initial weights at
    every call, so that every method starts from one point."""
    from coursekit import models
    from coursekit.training import seed_everything
    seed_everything(seed)
    return models.build_model(name, **kwargs)


@torch.no_grad()
def accuracy(model: torch.nn.Module, images: Tensor, labels: Tensor) -> float:
    """Accuracy (%) of ``model`` on uint8 ``images`` scaled to [0, 1]
    (``metrics.topk_accuracy`` of its logits).

    >>> net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(1, 2, bias=False))
    >>> net[1].weight.data = torch.tensor([[-1.0], [1.0]])
    >>> accuracy(net, torch.tensor([[0], [255]], dtype=torch.uint8), torch.tensor([0, 0]))
    50.0
    """
    from coursekit.training.metrics import topk_accuracy
    return topk_accuracy(model(images.float().div(255)), labels)


def first_to_reach(reach: "pd.DataFrame", target: float) -> str:
    """The closing text's sentence on which method reached ``target`` first, from a
    table indexed by method with ``steps`` (NaN: never reached, see
    :func:`steps_to_reach`).

        >>> import pandas as pd
        >>> first_to_reach(pd.DataFrame({"steps": [40.0, 12.0]}, index=["gd", "adam"]), 0.5)
        'adam reached a loss of 0.5 first, after 12 steps'
        >>> first_to_reach(pd.DataFrame({"steps": [float("nan")]}, index=["gd"]), 0.5)
        'no method reached a loss of 0.5 within its steps'
    """
    steps = reach["steps"].dropna()
    if steps.empty:
        return f"no method reached a loss of {target:g} within its steps"
    return (f"{steps.idxmin()} reached a loss of {target:g} first, after "
            f"{steps.min():.0f} steps")


def trace_measures(trace: Trace, target: float) -> dict[str, float]:
    """What one run of ``minimize`` did, as numbers a claim can check.

    - ``final_loss``: the loss the last step started from (``trace.loss[-1]``);
    - ``loss_drop_pct``: 100 x (1 - final / first loss);
    - ``descent_share``: share of consecutive recorded losses that went down;
    - ``evals_per_step``: loss evaluations the rule made per step (SPSA: 2);
    - ``backward_passes``: backward passes of the whole run;
    - ``steps_to_target``: steps until the loss first reached ``target``; infinite for
      a run that never did (so any run that reached it ranks before, whatever the
      number of steps each method ran).

    Raises:
        ValueError: for an empty trace.
    """
    loss = trace.loss
    if not loss:
        raise ValueError("the trace has no steps")
    reached = steps_to_reach(trace, target)["steps"]
    pairs = list(zip(loss, loss[1:]))
    return {"final_loss": loss[-1],
            "loss_drop_pct": 100 * (1 - loss[-1] / loss[0]),
            "descent_share": (sum(b < a for a, b in pairs) / len(pairs)) if pairs
            else math.nan,
            "evals_per_step": trace.evaluations[-1] / len(loss),
            "backward_passes": trace.gradients[-1],
            "steps_to_target": math.inf if math.isnan(reached) else reached}


def track_gradient_average(optimizer: torch.optim.Optimizer, beta: float = 0.9
                           ) -> dict[Tensor, Tensor]:
    """Keep, beside ``optimizer``, an exponential moving average of every parameter's
    gradient (``m = beta m + (1 - beta) g`` before each step, from zero): the first
    moment that Adam as published keeps. Returns the averages, updated in place."""
    average = {p: torch.zeros_like(p) for group in optimizer.param_groups
               for p in group["params"]}

    def hook(opt, args, kwargs) -> None:
        for p, m in average.items():
            if p.grad is not None:
                m.mul_(beta).add_(p.grad, alpha=1 - beta)
    optimizer.register_step_pre_hook(hook)
    return average


def adam_measures(optimizer: torch.optim.Adam,
                  gradient_average: dict[Tensor, Tensor] | None = None) -> dict[str, float]:
    """How Adam's state looks after a run.

    - ``adam_lr_spread``: the per-parameter step size lr / (sqrt(v_hat) + eps), with
      v_hat the bias-corrected second moment; its 90th over its 10th percentile across
      all parameters (1 when every parameter gets the same step);
    - ``adam_m_ema_error`` (with ``gradient_average`` from ``track_gradient_average``):
      max |exp_avg - average| / max |average|, about 0 when Adam's first moment is the
      gradient's moving average.

    Raises:
        ValueError: when the optimizer has taken no step.
    """
    if not optimizer.state:
        raise ValueError("the optimizer has no state yet: run it first")
    group = optimizer.param_groups[0]
    beta2, eps, lr = group["betas"][1], group["eps"], group["lr"]
    sizes = torch.cat([(lr / ((s["exp_avg_sq"] / (1 - beta2 ** float(s["step"]))).sqrt()
                              + eps)).flatten() for s in optimizer.state.values()])
    low, high = torch.quantile(sizes.double(), torch.tensor([0.1, 0.9], dtype=torch.double))
    out = {"adam_lr_spread": float(high / low)}
    if gradient_average is not None:
        scale = max(m.abs().max().item() for m in gradient_average.values())
        out["adam_m_ema_error"] = max(
            (optimizer.state[p]["exp_avg"] - m).abs().max().item()
            for p, m in gradient_average.items()) / scale
    return out


def minibatch_loss(model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                   images: Tensor, labels: Tensor, *, steps: int, batch_size: int = 64,
                   seed: int = 0) -> float:
    """Train ``steps`` steps on random mini-batches of ``batch_size`` (seeded order,
    drawn with replacement), then return the full-batch training loss: how a rule copes
    with noisy gradients."""
    generator = torch.Generator().manual_seed(seed)
    inputs = images.float().div(255)
    for _ in range(steps):
        index = torch.randint(len(labels), (batch_size,), generator=generator)
        optimizer.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(model(inputs[index]), labels[index]).backward()
        optimizer.step()
    with torch.no_grad():
        return torch.nn.functional.cross_entropy(model(inputs), labels).item()


@dataclass
class MethodRuns:
    """Runs of several rules from the same start: each one's trace, trained model and
    optimizer, and the moving average of Adam's gradients (when Adam ran)."""

    traces: dict[str, Trace] = field(default_factory=dict)
    models: dict[str, torch.nn.Module] = field(default_factory=dict)
    optimizers: dict[str, torch.optim.Optimizer] = field(default_factory=dict)
    gradient_average: dict[Tensor, Tensor] | None = None

    def measures(self, target: float) -> dict[str, dict[str, float]]:
        """``trace_measures`` of every method, and ``adam_measures`` for Adam."""
        out = {name: trace_measures(t, target) for name, t in self.traces.items()}
        if "adam" in self.optimizers:
            out["adam"].update(adam_measures(self.optimizers["adam"], self.gradient_average))
        return out


def compare_methods(methods: Iterable[str], images: Tensor, labels: Tensor, *,
                    model: dict, steps: int, learning_rates: dict[str, float],
                    spsa_steps: int | None = None, spsa: dict | None = None,
                    seed: int = 0) -> MethodRuns:
    """Minimise the full-batch loss on ``images``/``labels`` with each method, every
    one from the weights of ``fresh_model(seed, **model)``.

    Gradient methods run ``steps`` steps at ``learning_rates[name]``; SPSA runs
    ``spsa_steps`` (default ``steps``) with the gains in ``spsa`` (``a``, ``c``, ``A``,
    ...; perturbations seeded by ``seed``). Adam's gradients are averaged on the side
    (``track_gradient_average``) for ``adam_measures``.

    Raises:
        ValueError: for a gradient method without a learning rate, or an unknown one.
    """
    methods = list(methods)
    missing = [m for m in methods if m != "spsa" and m not in learning_rates]
    if missing:
        raise ValueError(f"learning_rates has no rate for {missing}; give one for each of "
                         f"{[m for m in methods if m != 'spsa']}")
    runs = MethodRuns()
    for name in methods:
        net = fresh_model(seed, **model)
        if name == "spsa":
            gains = dict(spsa or {})
            rule = make_optimizer("spsa", net.parameters(), gains.pop("a", 0.1),
                                  generator=torch.Generator().manual_seed(seed), **gains)
        else:
            rule = make_optimizer(name, net.parameters(), learning_rates[name])
        if name == "adam":
            runs.gradient_average = track_gradient_average(rule)
        runs.traces[name] = minimize(full_batch_loss(net, images, labels), rule,
                                     (spsa_steps or steps) if name == "spsa" else steps)
        runs.models[name], runs.optimizers[name] = net, rule
    return runs
