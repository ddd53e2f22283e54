"""Weight initialisation schemes of report A (section 3.1).

Each scheme is a function ``init_fn(model) -> model`` that re-initialises every
convolution and linear layer in place. Normalisation layers keep PyTorch's defaults
(weight 1, bias 0). Names used by ``models.build_model(..., init=NAME)``:

- ``"default"``: PyTorch's own (Kaiming-uniform with a = sqrt(5)); nothing is changed.
- ``"kaiming"``: Kaiming-normal weights (fan-in, LeakyReLU gain) and bias 0.01, the
  "proper" initialisation of report A's SuperLeNet and SuperResNet; the output layer
  starts small (N(0, 0.01^2)), so the first loss is ln C (see :func:`kaiming_init`).
- ``"kaiming_all_layers"``: Kaiming's scale on the output layer too, which starts the
  loss about half a nat above ln C.
- ``"xavier"``: Xavier/Glorot-normal weights and bias 0.
- ``"large_gaussian"``: weights from N(0, 1) and bias 0.1, report A's "wrong" init that
  saturates units and produces a huge initial loss (the "hockey stick", chapter A5).
"""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

__all__ = ["INIT_SCHEMES", "apply_init", "kaiming_init", "large_gaussian_init", "xavier_init"]

_WEIGHTED = (nn.Conv1d, nn.Conv2d, nn.Linear)


def _layers(model: nn.Module) -> list[nn.Module]:
    return [m for m in model.modules() if isinstance(m, _WEIGHTED)]


def kaiming_init(model: nn.Module, bias: float = 0.01, negative_slope: float = 0.01,
                 output_std: float = 0.01) -> nn.Module:
    """Kaiming-normal weights (fan-in, LeakyReLU gain) and a small constant bias; the
    output layer (the last convolution or linear layer registered) gets N(0,
    ``output_std``^2) weights instead.

    The bias of 0.01 follows report A, section 4.5 ("instead of zero to give some
    randomness in learning"). Report A does not say how it started its output layer, but
    its Kaiming networks' first losses (2.2972 and 2.3045 on CIFAR-10, 5.321 and 5.324
    on Tiny ImageNet) lie within 0.03 of ln C, which needs logits near zero: Kaiming's
    scale on the output layer too gives logits of variance about 1 and a first loss
    near ln C + 1/2 (3.0-3.2 for SuperLeNet on CIFAR-10). N(0, 0.01^2) is torchvision's
    choice for VGG's linear layers; ``output_std=None`` keeps Kaiming's scale there.
    """
    layers = _layers(model)
    for layer in layers:
        nn.init.kaiming_normal_(layer.weight, a=negative_slope, nonlinearity="leaky_relu")
        if layer.bias is not None:
            nn.init.constant_(layer.bias, bias)
    if output_std is not None and layers:
        nn.init.normal_(layers[-1].weight, mean=0.0, std=output_std)
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
    "kaiming_all_layers": lambda model: kaiming_init(model, output_std=None),
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
