"""Every architecture of the reports, built by name.

``build_model("lenet_bn")`` returns a fresh ``nn.Module`` whose printout matches the
model summary in the report. Every classifier has the same call,
``model(images) -> logits`` with images (N, C, H, W) float and logits (N, num_classes);
losses stay outside the model so one ``train.fit`` loop serves them all.

A registry entry (``ModelSpec``) also records what the report varies *outside* the
network, such as L2 weight decay in the optimizer or the initialisation scheme, so a
chapter can loop over report variants by name alone.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from coursekit._suggest import did_you_mean
from coursekit.init import apply_init

__all__ = ["LeNet", "ModelSpec", "build_model", "count_parameters", "get_spec",
           "list_models"]


# ----------------------------------------------------------------------------------
# LeNet family (report A, section 2.4)

_ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "tanh": nn.Tanh,
    "relu": nn.ReLU,
    "leaky_relu": lambda: nn.LeakyReLU(0.01),
    "sigmoid": nn.Sigmoid,
}


class LeNet(nn.Module):
    """LeNet-5 with optional batch norm and dropout, as in report A, Figures 1-6.

    Two conv blocks (conv 5x5 -> activation -> [BN] -> [dropout] -> avg-pool 2) and three
    linear layers (400 -> 120 -> 84 -> classes for 32x32 inputs). Explained in chapter
    A1 (LeNet family on CIFAR-10).

    Args:
        num_classes: size of the output layer.
        in_channels: 3 for RGB, 1 for grayscale.
        image_size: input height = width in pixels; sets the first linear layer's width.
        activation: "tanh" (LeNet), "leaky_relu" (SuperLeNet), "relu" or "sigmoid".
        use_batchnorm: add BatchNorm after every activation except the output's.
        input_dropout: dropout on the input image (0.2 in LeNetDp and LeNetBNDp).
        conv_dropout: dropout after each conv block, before pooling.
        fc_dropout: dropout after each hidden linear layer.
    """

    def __init__(self, num_classes: int = 10, in_channels: int = 3, image_size: int = 32,
                 activation: str = "tanh", use_batchnorm: bool = False,
                 input_dropout: float = 0.0,
                 conv_dropout: Sequence[float] = (0.0, 0.0),
                 fc_dropout: Sequence[float] = (0.0, 0.0)) -> None:
        super().__init__()
        if activation not in _ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}; "
                             f"choose one of {sorted(_ACTIVATIONS)}")
        act = _ACTIVATIONS[activation]

        def block(layer: nn.Module, width: int, norm: type[nn.Module], p: float):
            return [layer, act(), *([norm(width)] if use_batchnorm else []),
                    *([nn.Dropout(p)] if p > 0 else [])]

        conv_layers: list[nn.Module] = [nn.Dropout(input_dropout)] if input_dropout else []
        for c_in, c_out, p in zip((in_channels, 6), (6, 16), conv_dropout):
            conv_layers += block(nn.Conv2d(c_in, c_out, 5), c_out, nn.BatchNorm2d, p)
            conv_layers.append(nn.AvgPool2d(2, 2))
        self.cnn_model = nn.Sequential(*conv_layers)

        side = ((image_size - 4) // 2 - 4) // 2  # two 5x5 convs, two 2x2 pools
        fc_layers: list[nn.Module] = []
        for f_in, f_out, p in zip((16 * side * side, 120), (120, 84), fc_dropout):
            fc_layers += block(nn.Linear(f_in, f_out), f_out, nn.BatchNorm1d, p)
        fc_layers.append(nn.Linear(84, num_classes))
        self.fc_model = nn.Sequential(*fc_layers)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        features = self.cnn_model(images)       # (N, 16, 5, 5) for 32x32 inputs
        return self.fc_model(features.flatten(1))  # (N, num_classes)


# ----------------------------------------------------------------------------------
# Registry


@dataclass(frozen=True)
class ModelSpec:
    """A named report variant: how to build the network and how the report trained it.

    Attributes:
        name: registry key, e.g. "lenet_bn".
        report_name: the variant's name in the report's tables.
        builder: returns an ``nn.Module`` given keyword arguments such as num_classes.
        init: initialisation scheme from ``coursekit.init`` applied after building.
        weight_decay: L2 penalty the variant adds through the optimizer (0 = none).
        source: where the report defines it.
    """

    name: str
    report_name: str
    builder: Callable[..., nn.Module]
    init: str = "default"
    weight_decay: float = 0.0
    source: str = ""


def _lenet(**fixed) -> Callable[..., nn.Module]:
    return lambda **kwargs: LeNet(**{**fixed, **kwargs})


_DROP = dict(input_dropout=0.2, conv_dropout=(0.5, 0.5))
_SUPER = dict(activation="leaky_relu", use_batchnorm=True, conv_dropout=(0.0, 0.2))

_REGISTRY: dict[str, ModelSpec] = {spec.name: spec for spec in [
    ModelSpec("lenet", "LeNet", _lenet(), source="report A, Figure 1"),
    ModelSpec("lenet_bn", "LeNetBN", _lenet(use_batchnorm=True),
              source="report A, Figure 2"),
    ModelSpec("lenet_dp", "LeNetDp", _lenet(**_DROP, fc_dropout=(0.5, 0.5)),
              source="report A, Figure 3"),
    # Report A does not state its weight decay for LeNet; 5e-4 is the common choice.
    ModelSpec("lenet_l2", "LeNet with L2 weight decay", _lenet(), weight_decay=5e-4,
              source="report A, Figure 4"),
    ModelSpec("lenet_bn_dp", "LeNetBNDp",
              _lenet(**_DROP, use_batchnorm=True, fc_dropout=(0.2, 0.2)),
              source="report A, Figure 5"),
    ModelSpec("super_lenet", "SuperLeNet with Proper Weight Init", _lenet(**_SUPER),
              init="kaiming", source="report A, Figure 6 and section 4.5"),
    ModelSpec("super_lenet_wrong_init", "SuperLeNet with Wrong Weights Init",
              _lenet(**_SUPER), init="large_gaussian",
              source="report A, Figure 6 and section 4.5"),
]}


def list_models() -> list[str]:
    """Names accepted by ``build_model``, in the order the reports introduce them."""
    return list(_REGISTRY)


def get_spec(name: str) -> ModelSpec:
    """The registry entry for ``name``.

    Raises:
        ValueError: if ``name`` is unknown; the message suggests the closest names.
    """
    if name not in _REGISTRY:
        raise ValueError(f"unknown model {name!r}.{did_you_mean(name, _REGISTRY)} "
                         f"Known models: {', '.join(_REGISTRY)}.")
    return _REGISTRY[name]


def build_model(name: str, **kwargs) -> nn.Module:
    """Build the named model with its report initialisation.

    Args:
        name: a name from ``list_models()``, e.g. "lenet" or "super_lenet".
        **kwargs: passed to the model, e.g. ``num_classes=200, image_size=64``.
    Raises:
        ValueError: for an unknown name.
        TypeError: for a keyword the model does not take.
    Example:
        >>> count_parameters(build_model("lenet"))
        62006
    """
    spec = get_spec(name)
    return apply_init(spec.builder(**kwargs), spec.init)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters, as the reports count them."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
