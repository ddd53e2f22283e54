"""What ``fit`` is told (``FitConfig``) and what it measures (``History``), and the two
rules it applies per step: the learning-rate schedule and the optimizer."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import torch
from torch import nn

from coursekit.training import optim

__all__ = ["FitConfig", "History", "lr_factor", "optimizer_for"]


@dataclass
class FitConfig:
    """Every knob of ``fit``, with its unit. Unknown keys raise ``TypeError``."""

    num_epochs: int = 10
    batch_size: int = 128
    lr: float = 1e-3                 # peak learning rate
    optimizer: str = "adam"          # adam | sgd (Nesterov momentum) | rmsprop | adagrad | gd
    momentum: float = 0.9            # sgd only; 0 gives plain SGD
    weight_decay: float = 0.0        # L2 penalty added by the optimizer (coupled)
    l1: float = 0.0                  # L1 penalty: l1 * sum |w| of weights added to the loss
    lr_schedule: str = "constant"    # constant | cosine | onecycle | linear (see lr_factor)
    clip_grad_norm: float | None = None  # cap on the gradients' norm (recurrent networks)
    label_smoothing: float = 0.0     # cross-entropy label smoothing, 0 = plain targets
    augment: str = "none"            # a name from coursekit.training.augment.AUGMENTATIONS
    normalize: bool = True           # per-channel standardisation; False: pixels / 255 only
    early_stopping_patience: int | None = None  # epochs without a better val loss
    seed: int = 0
    device: str = "auto"             # auto = cuda if available, else cpu
    amp: bool = True                 # mixed precision autocast, CUDA, where the objective allows
    channels_last: bool | None = None  # None = on for CUDA, off for CPU (measured faster)
    eval_batch_size: int | None = None  # None = the objective's default (see predict)
    checkpoint_path: str | None = None  # save every epoch here; resume if it exists
    progress: bool | None = None     # tqdm bar; None = see callbacks.show_progress
    verbose: bool = True             # print one row per epoch


@dataclass
class History:
    """What ``fit`` measured: one list entry per epoch, then run-level figures.

    Losses are the objective's: cross-entropy per image or text, nats per token for a
    language model, mean squared error per window for a forecaster. Accuracies are NaN
    where an objective gives no class scores.
    """

    epoch: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)   # %, running, train mode
    val_loss: list[float] = field(default_factory=list)
    val_acc: list[float] = field(default_factory=list)     # %
    lr: list[float] = field(default_factory=list)
    epoch_time_s: list[float] = field(default_factory=list)
    step_loss: list[float] = field(default_factory=list)  # every step, before its update
    train_time_s: float = 0.0         # training steps only, evaluation excluded
    wall_time_s: float = 0.0          # the whole fit call
    throughput: float = 0.0           # training items (images, tokens, windows) per second
    peak_memory_mb: float = 0.0       # CUDA: peak allocated; CPU: peak resident set
    device: str = ""
    best_epoch: int = 0               # epoch with the lowest validation loss
    stopped_early: bool = False

    def to_frame(self):
        """Per-epoch columns as a pandas DataFrame indexed by epoch."""
        import pandas as pd
        columns = ["train_loss", "train_acc", "val_loss", "val_acc", "lr", "epoch_time_s"]
        return pd.DataFrame({c: getattr(self, c) for c in columns},
                            index=pd.Index(self.epoch, name="epoch"))

    def to_dict(self) -> dict:
        """Plain JSON-ready dict."""
        return dataclasses.asdict(self)


def lr_factor(schedule: str, step: int, total_steps: int) -> float:
    """Multiplier of the peak learning rate at ``step`` (0-based) of ``total_steps``.

    "constant": 1 throughout. "cosine": half a cosine from 1 down to 0. "linear": a
    straight line from 1 down to 0 (the language models' decay). "onecycle": a linear
    warm-up from 0.1 to 1 over the first 15 % of the steps, then a linear decay to 0
    (the triangular schedule of fast CIFAR-10 training, e.g. airbench).

    Example:
        >>> [round(lr_factor("onecycle", s, 100), 2) for s in (0, 15, 100)]
        [0.1, 1.0, 0.0]
        >>> lr_factor("linear", 25, 100)
        0.75
    """
    progress = min(step, total_steps) / max(total_steps, 1)
    if schedule == "constant":
        return 1.0
    if schedule == "cosine":
        return 0.5 * (1 + math.cos(math.pi * progress))
    if schedule == "linear":
        return 1 - progress
    if schedule == "onecycle":
        peak = 0.15
        if progress < peak:
            return 0.1 + 0.9 * progress / peak
        return (1 - progress) / (1 - peak)
    raise ValueError(f"unknown lr_schedule {schedule!r}; "
                     "choose 'constant', 'cosine', 'linear' or 'onecycle'")


def optimizer_for(model: nn.Module, config: FitConfig) -> torch.optim.Optimizer:
    """The optimizer ``fit`` trains ``model`` with under ``config`` (for loops of one's own,
    such as the plain PyTorch loop in ``benchmarks/time_to_accuracy.py``)."""
    name = config.optimizer
    if name == "sgd" and config.momentum > 0:
        name = "momentum"  # FitConfig's "sgd" means SGD with Nesterov momentum
    if name == "spsa":
        raise ValueError("fit trains with gradients; use coursekit.training.optim.minimize "
                         "for SPSA")
    return optim.make_optimizer(name, model.parameters(), config.lr,
                                weight_decay=config.weight_decay, momentum=config.momentum)
