"""Learning algorithms by name, and SPSA, the gradient-free one of report A.

``make_optimizer("adam", params, lr=1e-3)`` builds any optimizer of the book;
``SPSA`` follows report A, section 2.7.2 (Algorithm 2): perturb every parameter at
once by +-c_k along a Rademacher direction, estimate the gradient from the two loss
values, step by a_k. It needs no backward pass, only a ``closure`` returning the loss.
``minimize`` runs any of them for a number of steps on a full-batch loss and records
loss, wall time and loss evaluations per step (chapter "Optimizers").
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import torch
from torch import Tensor

__all__ = ["OPTIMIZERS", "SPSA", "Trace", "full_batch_loss", "make_optimizer", "minimize",
           "steps_to_reach"]


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
