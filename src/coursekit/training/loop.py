"""One training loop for every network of the book: ``fit``.

``fit(model, train_data, val_data, FitConfig(...), objective=...)`` trains anything an
objective can batch and score (``coursekit.training.objectives``): images and texts
with cross-entropy or a metric loss, next-token prediction, regression. It picks CUDA
when present (with bf16/fp16 autocast), seeds every random source, and returns a
``History`` with per-epoch metrics, wall time, throughput and peak memory.

The body reads as the steps of an epoch; what happens around them is done by small
pieces it calls: ``callbacks`` (epoch log, progress, best weights and early stopping,
checkpoint) and a ``distributed.Strategy`` that does nothing in one process and, under
``torchrun`` (after ``distributed.init_from_env()``), trains a
``DistributedDataParallel`` copy per process on its shard of the data.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from coursekit.training import distributed
from coursekit.training.callbacks import (BestWeights, Checkpoint, log_epoch, print_row,
                                          progress_bar)
from coursekit.training.config import FitConfig, History, lr_factor, optimizer_for
from coursekit.training.devices import (autocast, resolve_device, seed_everything,
                                        synchronize, use_fp16_scaler)
from coursekit.training.memory import PeakMemory
from coursekit.training.objectives import Classification, Objective, Step

__all__ = ["EpochTotals", "fit"]


@dataclass
class EpochTotals:
    """What one epoch of training summed up: its seconds, the items seen, their loss
    sum and correct count (None without class scores) and every step's loss."""

    seconds: float
    seen: int
    loss_sum: Tensor
    correct: Tensor | None
    step_loss: Tensor


def fit(model: nn.Module, train_data, val_data=None, config: FitConfig | None = None, *,
        objective: Objective | None = None,
        on_epoch_end: Callable[[nn.Module, History], None] | None = None,
        loss_fn: Callable | None = None, **overrides) -> History:
    """Train ``model`` on ``train_data`` toward ``objective`` and return its ``History``.

    Args:
        model: trained in place (and moved to the configured device).
        train_data: what ``objective`` batches: uint8 images (N, C, H, W) with int64
            labels, or padded texts (``ids``, ``lengths``, ``labels``) for
            ``Classification``; self-batching token data for ``NextToken``;
            ``(inputs, targets)`` arrays for ``Regression``.
        val_data: scored by the objective after every epoch; needed for early
            stopping and for restoring the best epoch's weights.
        config: a ``FitConfig``; keyword ``overrides`` replace its fields.
        objective: default ``Classification(config.label_smoothing, loss_fn)``.
        on_epoch_end: called as ``on_epoch_end(model, history)`` after every epoch's
            evaluation, e.g. a ``diagnostics.GradientRecorder``.
        loss_fn: shorthand for ``Classification(criterion=loss_fn)``: the training
            objective ``loss_fn(model, inputs, labels) -> (loss, logits)``, e.g.
            ``losses.triplet_objective`` (logits None: no training accuracy).
    A batch size larger than the training set trains on the full batch.

    Several processes (see ``distributed.ProcessGroup``): each rank trains on its
    equal shard with ``batch_size // world`` items per step, so the global batch is
    ``batch_size``; every rank's ``History`` holds the numbers of the whole data; only
    rank 0 prints and writes the checkpoint, which every rank can resume from with the
    same number of processes. ``model`` stays the plain module, identical on every rank.

    Raises:
        TypeError: for an override that is not a ``FitConfig`` field.
        ValueError: for an unknown optimizer or schedule, a checkpoint made with
            another configuration or number of processes, or a ``batch_size`` that
            the processes cannot share evenly.
    """
    start = time.perf_counter()
    config = dataclasses.replace(config or FitConfig(), **overrides)
    if objective is not None and loss_fn is not None:
        raise ValueError("give fit either an objective or a loss_fn, not both; for a "
                         "custom loss use objective=Classification(criterion=loss_fn)")
    objective = objective or Classification(config.label_smoothing, loss_fn)
    run = distributed.strategy()
    run.check_batch_size(config.batch_size)
    device = run.device(resolve_device(config.device))
    seed_everything(config.seed + run.rank)  # each rank: its own shuffling and dropout
    shuffle_on = device if objective.shuffles_on_device else torch.device("cpu")
    generator = torch.Generator(device=shuffle_on).manual_seed(config.seed + run.rank)

    # ---- set up: the model on its device, the batches, the optimizer and schedule
    objective.prepare(model, train_data, config, device)
    train_data = run.shard(train_data, config.seed)
    per_process = config.batch_size // run.world
    batches = objective.batches(model, train_data, per_process, device=device,
                                generator=generator, config=config)
    optimizer = optimizer_for(model, config)
    total_steps = config.num_epochs * len(batches)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: lr_factor(config.lr_schedule, step, total_steps))
    amp = config.amp and objective.mixed_precision
    scaler = torch.amp.GradScaler() if use_fp16_scaler(device, amp) else None

    history = History(device=str(device))
    best = BestWeights(config.early_stopping_patience)
    checkpoint = Checkpoint(Path(config.checkpoint_path), run) if config.checkpoint_path \
        else None
    if checkpoint and checkpoint.exists():
        history = checkpoint.resume(config, model, optimizer, scheduler, generator, best,
                                    verbose=run.is_main)
    step = run.step_function(model, objective, device)  # after resuming: DDP copies rank 0
    memory = PeakMemory(device)
    verbose = config.verbose and run.is_main
    epochs = range(history.epoch[-1] + 1 if history.epoch else 1, config.num_epochs + 1)
    for epoch in progress_bar(epochs, config.progress if run.is_main else False):
        # ---- train one epoch, and add up what every process saw
        model.train()
        totals = _train_epoch(step, batches, model, optimizer, scheduler, scaler, config,
                              device, amp)
        totals = run.reduce_epoch(model, totals)
        _record_training(history, epoch, totals, optimizer)
        # ---- score the held-out data; remember the best weights
        scores = (objective.evaluate(model, val_data, config, device=device,
                                     sharded=run.sharded_evaluation)
                  if val_data is not None else {})
        history.val_loss.append(scores.get("loss", math.nan))
        history.val_acc.append(scores.get("acc", math.nan))
        best.update(model, history)
        # ---- report, save, maybe stop
        if on_epoch_end is not None:
            on_epoch_end(model, history)
        if run.is_main:
            log_epoch(epoch=epoch, train_loss=history.train_loss[-1],
                      train_acc=history.train_acc[-1], val_loss=history.val_loss[-1],
                      val_acc=history.val_acc[-1], seconds=totals.seconds)
        if verbose:
            print_row(history, config.num_epochs)
        if checkpoint:
            checkpoint.save(config, model, optimizer, scheduler, generator, history, best)
        if best.should_stop(history):
            history.stopped_early = True  # the same decision on every rank
            best.restore(model)
            if verbose:
                print(f"early stop after epoch {epoch}: restored epoch {history.best_epoch}")
            break

    del step  # drops DDP's hooks: the caller gets the plain module back
    history.peak_memory_mb = max(history.peak_memory_mb, memory.peak_mb())
    history.wall_time_s += time.perf_counter() - start
    return history


def _train_epoch(step, batches, model: nn.Module, optimizer, scheduler, scaler,
                 config: FitConfig, device: torch.device, amp: bool) -> EpochTotals:
    """One pass over ``batches``: a step per batch. Sums stay on the device, so the
    loop synchronises once per epoch, not once per step."""
    synchronize(device)
    t0 = time.perf_counter()
    loss_sum = torch.zeros((), device=device)
    correct, seen, step_losses = None, 0, []
    for batch in batches:
        result = train_step(step, batch, model, optimizer, scaler, config, device, amp)
        scheduler.step()
        step_losses.append(result.loss.detach())
        loss_sum += result.total
        seen += result.count
        if result.correct is not None:
            correct = result.correct if correct is None else correct + result.correct
    synchronize(device)
    return EpochTotals(time.perf_counter() - t0, seen, loss_sum, correct,
                       torch.stack(step_losses))


def train_step(step: Callable, batch, model: nn.Module, optimizer, scaler,
               config: FitConfig, device: torch.device, amp: bool) -> Step:
    """One training step as ``fit`` takes it: ``step(batch)`` (the objective's loss)
    under autocast, then the update. Returns what ``step`` returned."""
    with autocast(device, amp):
        result = step(batch)
    _update(result.loss, model, optimizer, scaler, config)
    return result


def _update(loss: Tensor, model: nn.Module, optimizer, scaler, config: FitConfig) -> None:
    """Backpropagate ``loss`` (plus the L1 penalty), clip, and step the optimizer; fp16
    autocast needs loss scaling, bf16 and fp32 do not."""
    objective = loss + config.l1 * _l1_norm(model) if config.l1 else loss
    optimizer.zero_grad(set_to_none=True)
    if scaler is None:
        objective.backward()
        if config.clip_grad_norm is not None:
            nn.utils.clip_grad_norm_(model.parameters(), config.clip_grad_norm)
        optimizer.step()
        return
    scaler.scale(objective).backward()
    if config.clip_grad_norm is not None:
        scaler.unscale_(optimizer)
        nn.utils.clip_grad_norm_(model.parameters(), config.clip_grad_norm)
    scaler.step(optimizer)
    scaler.update()


def _record_training(history: History, epoch: int, totals: EpochTotals, optimizer) -> None:
    """One epoch's training figures into ``history``; ``.item()`` syncs once here."""
    history.epoch.append(epoch)
    history.step_loss.extend(totals.step_loss.tolist())
    history.train_loss.append(totals.loss_sum.item() / totals.seen)
    history.train_acc.append(100.0 * totals.correct.item() / totals.seen
                             if totals.correct is not None else math.nan)
    history.epoch_time_s.append(totals.seconds)
    history.train_time_s += totals.seconds
    history.lr.append(optimizer.param_groups[0]["lr"])
    # every epoch sees as many items, resumed ones too
    history.throughput = totals.seen * len(history.epoch) / max(history.train_time_s, 1e-9)


def _l1_norm(model: nn.Module) -> Tensor:
    """Sum of |w| over weight matrices and kernels (biases and norm layers excluded)."""
    return sum(p.abs().sum() for p in model.parameters() if p.ndim > 1)
