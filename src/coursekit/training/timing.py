"""Which network trains faster per step, measured in turns.

A run's own clock answers this badly on a shared CPU: the same chapter takes up to 20 %
more or less time from one run to the next, so two networks trained minutes apart can
differ by that much while their steps cost the same (E1's four activations, A1's LeNet
and LeNet + L2 at 34.7 and 27.3 s in one build). ``step_times`` times one training step
of each network in turn, round after round, rotating the order, and keeps each
network's median: a slow minute of the machine slows every network alike.
"""

from __future__ import annotations

import copy
import functools
import statistics
import time
from collections.abc import Mapping

import torch
from torch import nn

from coursekit.training.config import FitConfig, optimizer_for
from coursekit.training.devices import resolve_device, synchronize
from coursekit.training.loop import train_step
from coursekit.training.objectives import Classification, Objective

__all__ = ["step_times"]


def step_times(models: Mapping[str, nn.Module], data, config: FitConfig, *,
               objective: Objective | None = None, rounds: int = 30,
               warmup: int = 3) -> dict[str, float]:
    """Median milliseconds of one training step (forward, loss, backward, optimizer
    step, as ``fit`` makes it under ``config``) of each of ``models``, all on one batch
    of ``data``, timed in turns.

    Copies of the models train, so ``models`` are not changed. Give them as ``fit``
    left them (e.g. ``VariantRuns.trained``): on the device, with the input statistics
    and memory layout their objective gave them. Each round times every copy once,
    starting one further along the list than the round before; the first ``warmup``
    rounds are not counted (first calls allocate and pick kernels).

    Args:
        models: name -> model.
        data: training data as ``fit`` takes it; the batch is the first that
            ``objective`` draws from it at ``config.batch_size``.
        objective: default ``Classification(config.label_smoothing)``.
    Returns:
        name -> median milliseconds per step, in the order of ``models``.
    Raises:
        ValueError: for no models, or ``rounds`` or ``warmup`` out of range.
    """
    if not models:
        raise ValueError("step_times needs at least one model")
    if rounds < 1 or warmup < 0:
        raise ValueError(f"step_times: rounds must be at least 1 and warmup at least 0, "
                         f"got rounds={rounds}, warmup={warmup}")
    objective = objective or Classification(config.label_smoothing)
    device = resolve_device(config.device)
    copies = {name: copy.deepcopy(model).to(device).train() for name, model in models.items()}
    generator = torch.Generator(device=device if objective.shuffles_on_device else "cpu")
    batch = next(iter(objective.batches(next(iter(copies.values())), data,
                                        config.batch_size, device=device,
                                        generator=generator.manual_seed(config.seed),
                                        config=config)))
    amp = config.amp and objective.mixed_precision
    optimizers = {name: optimizer_for(model, config) for name, model in copies.items()}
    names = list(copies)
    times: dict[str, list[float]] = {name: [] for name in names}
    for round_ in range(warmup + rounds):
        for name in names[round_ % len(names):] + names[:round_ % len(names)]:
            model = copies[name]
            synchronize(device)
            start = time.perf_counter()
            train_step(functools.partial(objective.loss, model), batch, model,
                       optimizers[name], None, config, device, amp)
            synchronize(device)
            if round_ >= warmup:
                times[name].append(1e3 * (time.perf_counter() - start))
    return {name: statistics.median(times[name]) for name in names}
