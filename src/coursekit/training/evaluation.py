"""Scoring trained models: a classifier's class scores on a split (``predict``), its
loss and accuracy (``evaluate``, also sharded over several processes) and test-time flip
averaging (``predict_flip_averaged``); a next-token model's loss per token (``nll``); a
regression model's outputs (``predict_values``)."""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import numpy as np
import torch
from torch import Tensor, nn

from coursekit.models import input_norm
from coursekit.training import distributed
from coursekit.training.devices import autocast, model_device, resolve_device
from coursekit.training.loader import LabelledImages, make_loader

__all__ = ["call_model", "evaluate", "nll", "predict", "predict_flip_averaged", "predict_values"]


def call_model(model: nn.Module, inputs: Tensor | tuple[Tensor, ...]) -> Tensor:
    """``model(images)``, or ``model(ids, lengths)`` for texts."""
    return model(*inputs) if isinstance(inputs, tuple) else model(inputs)


@torch.inference_mode()
def predict(model: nn.Module, data: LabelledImages, *, mean: Tensor | None = None,
            std: Tensor | None = None, batch_size: int | None = None,
            device: str | torch.device = "auto") -> Tensor:
    """Logits (N, C) of ``model`` on every image of ``data``, as float32 on the CPU.

    Runs in eval mode in chunks and puts the model back in the mode it was in.
    ``mean``/``std`` default to the statistics ``fit`` stored on the model
    (``models.input_norm``). Chunks
    default to 2048 images on CUDA and 128 on the CPU, where large chunks fall out of
    cache (a ResNet-34 evaluated 4x faster at 128 than at 2048 on 2 cores).
    """
    device = resolve_device(device) if isinstance(device, str) else device
    batch_size = batch_size or (2048 if device.type == "cuda" else 128)
    order = None
    if hasattr(data, "ids"):  # texts: shortest first, so batches carry little padding
        order = data.lengths.argsort()
        data = SimpleNamespace(ids=data.ids[order], lengths=data.lengths[order],
                               labels=data.labels[order])
    stored_mean, stored_std = input_norm(model)
    mean = mean if mean is not None else stored_mean
    std = std if std is not None else stored_std
    loader = make_loader(data, batch_size, mean, std, device=device)
    was_training = model.training
    model.to(device).eval()
    chunks = []
    for inputs, _ in loader:
        with autocast(device, enabled=True):
            chunks.append(call_model(model, inputs).float())
    model.train(was_training)
    logits = torch.cat(chunks).cpu()
    return logits if order is None else logits[order.argsort().cpu()]


def evaluate(model: nn.Module, data: LabelledImages, *, sharded: bool = False,
             **kwargs) -> dict[str, float]:
    """Mean cross-entropy ``loss`` and top-1 ``acc`` (%) of ``model`` on ``data``.

    Counts over the whole split (no mean of batch means). Keywords go to ``predict``.
    ``sharded=True`` under a process group of several ranks: each rank scores its
    ``distributed.shard`` of ``data`` (every item on exactly one rank) and the sums of
    losses and correct counts are added up across ranks, so every rank gets the
    numbers of the whole split in 1/world of the time. Every rank must then call it,
    with weights that agree. In one process it is the plain evaluation.
    """
    if not (sharded and distributed.is_distributed()):
        logits = predict(model, data, **kwargs)
        labels = data.labels.cpu()
        return {"loss": nn.functional.cross_entropy(logits, labels).item(),
                "acc": 100.0 * (logits.argmax(1) == labels).float().mean().item()}
    part = distributed.shard(data, distributed.rank(), distributed.world_size(),
                             equal=False)
    totals = torch.zeros(3, dtype=torch.float64)  # loss sum, correct, count
    if len(part.labels):  # fewer items than ranks leaves some shards empty
        logits, labels = predict(model, part, **kwargs), part.labels.cpu()
        totals[0] = nn.functional.cross_entropy(logits, labels, reduction="sum").double()
        totals[1] = (logits.argmax(1) == labels).sum().double()
        totals[2] = len(labels)
    loss_sum, correct, count = distributed.all_reduce_sum(totals).tolist()
    return {"loss": loss_sum / count, "acc": 100.0 * correct / count}


def predict_flip_averaged(model: nn.Module, data: LabelledImages, *,
                          mean: Tensor | None = None, std: Tensor | None = None) -> Tensor:
    """Logits of each image plus those of its left-right mirror image (test-time flip
    averaging, airbench's evaluation); arguments as for :func:`predict`."""
    mirrored = dataclasses.replace(data, images=data.images.flip(-1))
    return (predict(model, data, mean=mean, std=std)
            + predict(model, mirrored, mean=mean, std=std))


@torch.inference_mode()
def nll(model: nn.Module, data, *, batch_size: int = 1024,
        device: str | torch.device = "auto") -> float:
    """Mean negative log-likelihood per predicted token (nats), in eval mode."""
    device = resolve_device(device) if isinstance(device, str) else device
    was_training = model.training
    model.to(device).eval()
    total, count = torch.zeros((), device=device), 0
    for start in range(0, len(data), batch_size):  # in order: no shuffling to score
        loss, tokens = data.batch(torch.arange(start, min(start + batch_size, len(data))),
                                  device).loss(model)
        total, count = total + loss.float(), count + tokens  # stays on the device
    model.train(was_training)
    return float(total) / count


@torch.no_grad()
def predict_values(model: nn.Module, inputs: np.ndarray, batch_size: int = 4096) -> np.ndarray:
    """``model(inputs)`` for every row of ``inputs`` (e.g. the next value of each window
    of ``series.windows``), in eval mode and in chunks, as a NumPy array."""
    model.eval()
    device = model_device(model)
    chunks = [model(torch.from_numpy(chunk).to(device)).cpu()
              for chunk in np.array_split(inputs, max(1, -(-len(inputs) // batch_size)))]
    return torch.cat(chunks).numpy()
