"""Weight initialisation schemes of report A (section 3.1).

Each scheme is a function ``init_fn(model) -> model`` that re-initialises every
convolution and linear layer in place. Normalisation layers keep PyTorch's defaults
(weight 1, bias 0). Names used by ``models.build_model(..., init=NAME)``:

- ``"default"``: PyTorch's own (Kaiming-uniform with a = sqrt(5)); nothing is changed.
- ``"kaiming"``: Kaiming-normal weights (fan-in, LeakyReLU gain) and bias 0.01, the
  "proper" initialisation of report A's SuperLeNet and SuperResNet.
- ``"xavier"``: Xavier/Glorot-normal weights and bias 0.
- ``"large_gaussian"``: weights from N(0, 1) and bias 0.1, report A's "wrong" init that
  saturates units and produces a huge initial loss (the "hockey stick", chapter A5).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

from torch import nn

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["INIT_SCHEMES", "apply_init", "hockey_steps", "kaiming_init", "large_gaussian_init",
           "start_measures", "start_table", "xavier_init"]

_WEIGHTED = (nn.Conv1d, nn.Conv2d, nn.Linear)


def _layers(model: nn.Module) -> list[nn.Module]:
    return [m for m in model.modules() if isinstance(m, _WEIGHTED)]


def kaiming_init(model: nn.Module, bias: float = 0.01,
                 negative_slope: float = 0.01) -> nn.Module:
    """Kaiming-normal weights (fan-in, LeakyReLU gain) and a small constant bias.

    The bias of 0.01 follows report A, section 4.5 ("instead of zero to give some
    randomness in learning").
    """
    for layer in _layers(model):
        nn.init.kaiming_normal_(layer.weight, a=negative_slope, nonlinearity="leaky_relu")
        if layer.bias is not None:
            nn.init.constant_(layer.bias, bias)
    return model


def xavier_init(model: nn.Module, bias: float = 0.0) -> nn.Module:
    """Xavier/Glorot-normal weights, variance 2 / (fan_in + fan_out), constant bias."""
    for layer in _layers(model):
        nn.init.xavier_normal_(layer.weight)
        if layer.bias is not None:
            nn.init.constant_(layer.bias, bias)
    return model


def large_gaussian_init(model: nn.Module, std: float = 1.0, bias: float = 0.1) -> nn.Module:
    """Report A's "wrong" initialisation: large N(0, std^2) weights and bias 0.1.

    Report A does not state the standard deviation; std 1 (about 10-50 times the
    Kaiming scale for these layers) reproduces its initial losses of order 10-50.
    """
    for layer in _layers(model):
        nn.init.normal_(layer.weight, mean=0.0, std=std)
        if layer.bias is not None:
            nn.init.constant_(layer.bias, bias)
    return model


INIT_SCHEMES: dict[str, Callable[[nn.Module], nn.Module]] = {
    "default": lambda model: model,
    "kaiming": kaiming_init,
    "xavier": xavier_init,
    "large_gaussian": large_gaussian_init,
}


def apply_init(model: nn.Module, scheme: str) -> nn.Module:
    """Re-initialise ``model`` in place with the named scheme and return it.

    Raises:
        ValueError: if ``scheme`` is not one of ``INIT_SCHEMES``.
    """
    if scheme not in INIT_SCHEMES:
        raise ValueError(f"unknown init scheme {scheme!r}; "
                         f"choose one of {sorted(INIT_SCHEMES)}")
    return INIT_SCHEMES[scheme](model)


# ---------------------------------------------------------------- the first steps


def hockey_steps(step_losses: list[float], num_classes: int) -> int:
    """Steps before the per-step training loss first falls below ln C.

    ``step_losses`` is ``History.step_loss`` (each batch's loss before its update);
    ln C is the cross-entropy of a uniform guess over ``num_classes`` classes. A run
    that starts below ln C scores 0; one that never gets there scores its number of
    steps. This is the length of the "hockey stick" of report A, section 4.5.

    Example:
        >>> hockey_steps([40.1, 12.0, 3.1, 2.2, 2.1], 10)  # ln 10 = 2.303
        3
    """
    limit = math.log(num_classes)
    return next((i for i, loss in enumerate(step_losses) if loss < limit),
                len(step_losses))


def start_measures(history, num_classes: int) -> dict[str, float]:
    """How a run started, from its ``train.History``.

    - ``excess_initial_loss``: the first step's loss minus ln C (0 for a uniform
      guess; report A's Kaiming runs start about 0.02 above, its N(0, 1) runs 16-51);
    - ``hockey_steps``: see :func:`hockey_steps`;
    - ``time_to_chance_loss_s``: ``hockey_steps`` x the run's training seconds per
      step, the training time spent before the loss reaches ln C (all of it if it
      never does).

    NaN throughout for a history without steps.
    """
    losses = list(history.step_loss)
    if not losses:
        return {"excess_initial_loss": math.nan, "hockey_steps": math.nan,
                "time_to_chance_loss_s": math.nan}
    steps = hockey_steps(losses, num_classes)
    return {"excess_initial_loss": losses[0] - math.log(num_classes),
            "hockey_steps": steps,
            "time_to_chance_loss_s": steps * history.train_time_s / len(losses)}


def start_table(runs, num_classes: int) -> "pd.DataFrame":
    """A ``train.VariantRuns``'s results with :func:`start_measures` of every
    variant and its accuracies as multiples of chance
    (``findings.add_chance_ratios``): one row per variant, for chapter A5's
    claims on initial losses and hockey sticks."""
    import pandas as pd

    from coursekit import findings
    starts = pd.DataFrame({name: start_measures(h, num_classes)
                           for name, h in runs.histories.items()}).T
    table = runs.results.join(starts.drop(columns=[c for c in starts
                                                   if c in runs.results]))
    return findings.add_chance_ratios(table, num_classes)
