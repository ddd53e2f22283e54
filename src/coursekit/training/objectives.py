"""What ``fit`` trains toward: an objective draws batches from a dataset, gives the loss
of a batch and scores held-out data.

- ``Classification``: class scores with cross-entropy (or another objective of the
  model's inputs and labels, such as ``losses.triplet_objective``), on images held on
  the device or on padded texts (``loader.make_loader``). Images' per-channel
  statistics are stored on the model (``models.set_input_norm``).
- ``NextToken``: next-token cross-entropy over the real, not padded, positions of data
  that batches itself (``chars.EncodedNames``, ``translate.Pairs``,
  ``corpus.TokenWindows``: ``batch(index, device).loss(model) -> (sum, tokens)``).
- ``Regression``: mean squared error of ``model(windows)`` against next values, on
  ``(inputs, targets)`` NumPy arrays (``series.windows``).

An objective says what ``fit`` does with data: ``prepare(model, train_data, config,
device)`` before training, ``batches(model, data, batch_size, device=, generator=,
config=)`` an iterable of batches drawn anew at every pass, ``loss(model, batch) ->
Step`` and ``evaluate(model, data, config, device=, sharded=) -> {"loss": ..., "acc":
...}``; ``summary`` gives ``fit_variants`` a trained variant's scores. Three flags say
how it trains: ``mixed_precision`` (autocast on CUDA), ``shuffles_on_device`` and
``may_leave_parameters_unused`` (for DistributedDataParallel).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor, nn

from coursekit.models import input_norm, set_input_norm
from coursekit.training.devices import model_device
from coursekit.training.evaluation import call_model, evaluate, nll, predict_values
from coursekit.training.loader import channel_stats, make_loader

__all__ = ["Classification", "NextToken", "Objective", "Regression", "Step"]


class Step(NamedTuple):
    """One batch's result: ``loss`` to minimise (a mean), its ``total`` over the batch,
    the ``count`` it averages over (images, tokens, windows) and how many were classed
    right (``correct``; None without class scores)."""

    loss: Tensor
    total: Tensor
    count: int
    correct: Tensor | None = None


class Objective:
    """The interface ``fit`` trains through; see the module's docstring."""

    may_leave_parameters_unused = False  # DDP must look for parameters without gradients
    mixed_precision = False  # autocast on CUDA (FitConfig.amp); off: fp32 throughout
    shuffles_on_device = False  # draw batch orders on the device, else on the CPU

    def prepare(self, model: nn.Module, train_data, config, device: torch.device) -> None:
        """Fit what the model needs from the training data, and move it to ``device``."""
        model.to(device)

    def batches(self, model: nn.Module, data, batch_size: int, *, device: torch.device,
                generator: torch.Generator, config):
        """An iterable of batches of ``data``, in a new order at every pass."""
        raise NotImplementedError

    def loss(self, model: nn.Module, batch) -> Step:
        raise NotImplementedError

    def evaluate(self, model: nn.Module, data, config, *, device: torch.device,
                 sharded: bool = False) -> dict[str, float]:
        """The held-out ``loss`` (and ``acc``, %, where there are class scores)."""
        raise NotImplementedError

    def summary(self, model: nn.Module, history, splits: dict, config) -> dict[str, float]:
        """A trained variant's scores for ``fit_variants``' results: the training and
        validation losses of the epoch whose weights it kept (the last, or the best
        after early stopping) and the test loss (NaN without test data)."""
        test = splits.get("test")
        kept = history.best_epoch - 1 if history.stopped_early else -1
        device = model_device(model)
        return {"train_loss": history.train_loss[kept] if history.train_loss else math.nan,
                "val_loss": history.val_loss[kept] if history.val_loss else math.nan,
                "test_loss": math.nan if test is None else
                self.evaluate(model, test, config, device=device)["loss"]}


def _channels_last(config, device: torch.device) -> bool:
    """``config.channels_last``; None means on for CUDA, off on the CPU (measured)."""
    return config.channels_last if config.channels_last is not None \
        else device.type == "cuda"


@dataclass
class Classification(Objective):
    """Cross-entropy of the model's class scores, with ``label_smoothing``; or
    ``criterion(model, inputs, labels) -> (loss, logits)`` (logits None when there are
    no class scores, e.g. ``losses.reconstruction_objective``). Validation always
    scores ``model(inputs)`` with plain cross-entropy and top-1 accuracy."""

    label_smoothing: float = 0.0
    criterion: Callable | None = None
    mixed_precision = True      # bf16 autocast on CUDA (fp16 with loss scaling)
    shuffles_on_device = True   # the loaders index images held on the device

    @property
    def may_leave_parameters_unused(self) -> bool:
        return self.criterion is not None  # e.g. a triplet loss never calls the head

    def prepare(self, model: nn.Module, train_data, config, device: torch.device) -> None:
        """Images: store their per-channel statistics on the model (all the data's, on
        every rank) and lay the model out channels-last where that is faster."""
        if not hasattr(train_data, "images"):  # texts: token ids need no statistics
            super().prepare(model, train_data, config, device)
            return
        mean, std = channel_stats(train_data.images)
        if not config.normalize:  # inputs in [0, 1], as torchvision's ToTensor gives them
            mean, std = torch.zeros_like(mean), torch.ones_like(std)
        set_input_norm(model, mean, std)
        model.to(device, memory_format=torch.channels_last
                 if _channels_last(config, device) else torch.contiguous_format)

    def batches(self, model: nn.Module, data, batch_size: int, *, device: torch.device,
                generator: torch.Generator, config):
        mean, std = input_norm(model)
        images = hasattr(data, "images")
        if images and mean is None:
            raise ValueError(f"{type(model).__name__} has no input statistics to normalise "
                             "images with: Classification.prepare stores them (fit calls "
                             "it), so batch a model that fit trained or prepare it first")
        batch_size = min(batch_size, len(data.labels))  # larger: the full batch
        return make_loader(data, batch_size, mean, std, device=device, shuffle=True,
                           augment=config.augment, drop_last=True,
                           channels_last=images and _channels_last(config, device),
                           generator=generator)

    def loss(self, model: nn.Module, batch) -> Step:
        inputs, labels = batch
        if self.criterion is None:
            logits = call_model(model, inputs)
            loss = nn.functional.cross_entropy(logits.float(), labels,
                                               label_smoothing=self.label_smoothing)
        else:
            loss, logits = self.criterion(model, inputs, labels)
        correct = None if logits is None else (logits.argmax(1) == labels).sum()
        return Step(loss, loss.detach() * len(labels), len(labels), correct)

    def evaluate(self, model: nn.Module, data, config, *, device: torch.device,
                 sharded: bool = False) -> dict[str, float]:
        return evaluate(model, data, batch_size=config.eval_batch_size, device=device,
                        sharded=sharded)

    def summary(self, model: nn.Module, history, splits: dict, config) -> dict[str, float]:
        """Top-1 accuracy (%) on the training, validation and test data, and the test
        cross-entropy, each scored afresh in eval mode."""
        test = evaluate(model, splits["test"]) if splits.get("test") is not None else {}
        return {"train_acc": evaluate(model, splits["train"])["acc"],
                "val_acc": evaluate(model, splits["val"])["acc"],
                "test_acc": test.get("acc", math.nan), "test_loss": test.get("loss", math.nan)}


class _Reshuffled:
    """Batches ``make(index)`` of ``n`` items in a new random order at every pass (one
    pass per epoch); the last batch may be short. The order is drawn on the generator's
    device and moved, once a pass, to ``device`` (None: left where it was drawn)."""

    def __init__(self, n: int, batch_size: int, generator: torch.Generator, make,
                 device: torch.device | None = None) -> None:
        self.n, self.batch_size, self.generator, self.make = n, batch_size, generator, make
        self.device = device

    def __len__(self) -> int:
        return -(-self.n // self.batch_size)

    def __iter__(self):
        order = torch.randperm(self.n, generator=self.generator, device=self.generator.device)
        if self.device is not None:
            order = order.to(self.device)
        for index in order.split(self.batch_size):
            yield self.make(index)


class NextToken(Objective):
    """Next-token cross-entropy, averaged over the real positions of each batch;
    validation is ``evaluation.nll`` (nats per token) in chunks of ``eval_batch_size``
    (default 1024). Trains in fp32 with batch orders drawn on the CPU."""

    def batches(self, model: nn.Module, data, batch_size: int, *, device: torch.device,
                generator: torch.Generator, config):
        return _Reshuffled(len(data), batch_size, generator,
                           lambda index: data.batch(index, device))

    def loss(self, model: nn.Module, batch) -> Step:
        total, tokens = batch.loss(model)
        return Step(total / tokens, total.detach().float(), tokens)

    def evaluate(self, model: nn.Module, data, config, *, device: torch.device,
                 sharded: bool = False) -> dict[str, float]:
        return {"loss": nll(model, data, batch_size=config.eval_batch_size or 1024,
                            device=device)}


class Regression(Objective):
    """Mean squared error of ``model(windows) -> (N,)`` against the targets, for data
    given as ``(inputs, targets)`` NumPy arrays; validation is the MSE of
    ``evaluation.predict_values`` on every window. Trains in fp32 with batch orders
    drawn on the CPU."""

    def batches(self, model: nn.Module, data, batch_size: int, *, device: torch.device,
                generator: torch.Generator, config):
        inputs, targets = (torch.from_numpy(a).to(device) for a in data)
        return _Reshuffled(len(targets), batch_size, generator,
                           lambda index: (inputs[index], targets[index]), device)

    def loss(self, model: nn.Module, batch) -> Step:
        inputs, targets = batch
        loss = nn.functional.mse_loss(model(inputs), targets)
        return Step(loss, loss.detach() * len(targets), len(targets))

    def evaluate(self, model: nn.Module, data, config, *, device: torch.device,
                 sharded: bool = False) -> dict[str, float]:
        inputs, targets = data
        return {"loss": float(np.mean((predict_values(model, inputs) - targets) ** 2))}
