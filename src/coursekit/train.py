"""One training loop for every classifier of the book: ``fit`` and ``evaluate``.

``fit(model, train_data, val_data, FitConfig(...))`` trains on uint8 images held on the
device (see ``coursekit.loader``), picks CUDA when present (with bf16/fp16 autocast),
seeds every random source, shows a progress bar, prints one row per epoch, stops early
on validation loss, checkpoints every epoch and resumes from a checkpoint, and returns
a ``History`` with per-epoch metrics, wall time, throughput and peak memory.

Under ``torchrun`` (after ``distributed.init_from_env()``) the same call trains with
several processes: each rank trains a ``DistributedDataParallel`` copy on its shard of
the data, the global batch stays ``batch_size``, and every rank's ``History`` holds the
numbers of the whole data (see ``fit``).
"""

from __future__ import annotations

import dataclasses
import math
import os
import random
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch
from torch import Tensor, nn

from coursekit import distributed, metrics, models, optim
from coursekit.loader import LabelledImages, channel_stats, make_loader, resolve_device
from coursekit.memory import PeakMemory

__all__ = ["FitConfig", "History", "Variant", "VariantRuns", "evaluate", "fit",
           "fit_variants", "lr_factor", "optimizer_for", "predict", "seed_everything",
           "time_left", "log_epoch", "epoch_log", "run_name"]


# ---------------------------------------------------------------- the epoch log

_EPOCH_LOG: list[dict] = []
_RUN_NAMES: list[str] = []
_UNNAMED = {"count": 0, "last_epoch": math.inf}  # numbering of epochs logged unnamed


def log_epoch(**numbers: float) -> None:
    """Add one epoch's numbers to this process's epoch log, under the name of the run
    in progress (:func:`run_name`). ``fit``, ``lm.fit_lm`` and ``series.fit_forecaster``
    call it; ``Chapter.finish`` saves the log beside the run record, where experiment
    trackers read the curves."""
    if _RUN_NAMES:
        name = _RUN_NAMES[-1]
    else:  # unnamed: a new "run N" whenever the epoch count starts again
        epoch = numbers.get("epoch", 0)
        if epoch <= _UNNAMED["last_epoch"]:
            _UNNAMED["count"] += 1
        _UNNAMED["last_epoch"] = epoch
        name = f"run {_UNNAMED['count']}"
    _EPOCH_LOG.append({"run": name, **{k: float(v) for k, v in numbers.items()}})


def epoch_log() -> list[dict]:
    """Every epoch logged in this process so far, oldest first (a copy).

    >>> start = len(epoch_log())
    >>> with run_name("lenet"):
    ...     log_epoch(epoch=1, train_loss=2.0)
    >>> log_epoch(epoch=1, train_loss=1.5); log_epoch(epoch=2, train_loss=1.0)
    >>> runs = [e["run"] for e in epoch_log()[start:]]
    >>> runs[0], runs[1] == runs[2], runs[1].startswith("run ")
    ('lenet', True, True)
    """
    return [dict(e) for e in _EPOCH_LOG]


@contextmanager
def run_name(name: str) -> Iterator[None]:
    """Log the epochs trained inside the block under ``name`` (e.g. a variant)."""
    _RUN_NAMES.append(str(name))
    try:
        yield
    finally:
        _RUN_NAMES.pop()


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
    lr_schedule: str = "constant"    # constant | cosine | onecycle (per step, see lr_factor)
    label_smoothing: float = 0.0     # cross-entropy label smoothing, 0 = plain targets
    augment: str = "none"            # a name from coursekit.augment.AUGMENTATIONS
    normalize: bool = True           # per-channel standardisation; False: pixels / 255 only
    early_stopping_patience: int | None = None  # epochs without a better val loss
    seed: int = 0
    device: str = "auto"             # auto = cuda if available, else cpu
    amp: bool = True                 # mixed precision autocast, CUDA only
    channels_last: bool | None = None  # None = on for CUDA, off for CPU (measured faster)
    eval_batch_size: int | None = None  # None = 2048 on CUDA, 128 on CPU (see predict)
    checkpoint_path: str | None = None  # save every epoch here; resume if it exists
    progress: bool | None = None     # tqdm bar; None = off in batch (papermill) runs
    verbose: bool = True             # print one row per epoch


@dataclass
class History:
    """What ``fit`` measured: one list entry per epoch, then run-level figures."""

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
    throughput: float = 0.0           # training images per second
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


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and PyTorch (CPU and CUDA) so a run repeats exactly on CPU."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


@torch.inference_mode()
def predict(model: nn.Module, data: LabelledImages, *, mean: Tensor | None = None,
            std: Tensor | None = None, batch_size: int | None = None,
            device: str | torch.device = "auto") -> Tensor:
    """Logits (N, C) of ``model`` on every image of ``data``, as float32 on the CPU.

    Runs in eval mode in chunks and puts the model back in the mode it was in.
    ``mean``/``std`` default to the statistics ``fit`` stored on the model. Chunks
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
    norm = getattr(model, "coursekit_norm", (None, None))
    mean = mean if mean is not None else norm[0]
    std = std if std is not None else norm[1]
    loader = make_loader(data, batch_size, mean, std, device=device)
    was_training = model.training
    model.to(device).eval()
    chunks = []
    for inputs, _ in loader:
        with _autocast(device, enabled=True):
            chunks.append(_call(model, inputs).float())
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


def fit(model: nn.Module, train_data: LabelledImages, val_data: LabelledImages | None = None,
        config: FitConfig | None = None, *,
        on_epoch_end: Callable[[nn.Module, History], None] | None = None,
        loss_fn: Callable[[nn.Module, Tensor, Tensor], tuple[Tensor, Tensor]] | None = None,
        **overrides) -> History:
    """Train ``model`` on ``train_data`` with cross-entropy and return its ``History``.

    Args:
        model: any classifier ``model(inputs) -> logits (N, C)``; trained in place.
        train_data: uint8 images (N, C, H, W) and int64 labels (N,); or texts as
            padded ``ids`` (N, T) with ``lengths`` (N,) and ``labels``, for models
            called as ``model(ids, lengths)`` (see ``loader.TokenLoader``).
        val_data: evaluated after every epoch; needed for early stopping.
        config: a ``FitConfig``; keyword ``overrides`` replace its fields.
        on_epoch_end: called as ``on_epoch_end(model, history)`` after every epoch's
            evaluation, e.g. a ``diagnostics.GradientRecorder``.
        loss_fn: the training objective instead of cross-entropy, called as
            ``loss_fn(model, inputs, labels) -> (loss, logits)``; the logits count the
            training accuracy (e.g. ``losses.triplet_objective``), and None leaves it
            NaN (``losses.reconstruction_objective``). Validation still scores
            ``model(inputs)`` with cross-entropy.
    A batch size larger than the training set trains on the full batch.

    Several processes (a process group of world size > 1, see ``coursekit.distributed``):
    the normalisation statistics come from the whole training set; each rank trains on
    ``distributed.shard(train_data, rank, world, seed=config.seed)`` (equal shards, so
    every rank takes the same number of steps) with ``batch_size // world`` images per
    step, so the global batch is ``batch_size``; the model is wrapped in
    ``DistributedDataParallel``, which averages the gradients. Training sums and counts
    are all-reduced, validation is sharded too (``evaluate(sharded=True)``, exact
    full-set numbers), so every rank's ``History`` and early-stopping decision agree.
    Batch-norm buffers are copied from rank 0 after every epoch. Only rank 0 prints,
    shows the bar and writes the checkpoint (the others wait for it); every rank
    can resume from it, with the same number of processes. Each rank draws its
    shuffling, augmentation and dropout from ``seed + rank``. ``model`` stays the plain
    module, trained in place and identical on every rank.
    Raises:
        TypeError: for an override that is not a ``FitConfig`` field.
        ValueError: for an unknown optimizer or schedule, a checkpoint made with
            another configuration or number of processes, or a ``batch_size`` that
            the processes cannot share evenly.
    """
    config = dataclasses.replace(config or FitConfig(), **overrides)
    criterion = loss_fn or _cross_entropy(config.label_smoothing)
    start = time.perf_counter()
    world = distributed.world_size()
    parallel = world > 1  # several processes, each with its shard of the data
    rank = distributed.rank() if parallel else 0
    main = rank == 0      # the one process that prints and writes
    if parallel and config.batch_size % world:
        raise ValueError(f"batch_size {config.batch_size} cannot be shared evenly by "
                         f"{world} processes; choose a multiple of {world} (it is the "
                         "global batch, split across the processes)")
    device = resolve_device(config.device)
    if parallel and device.type == "cuda" and device.index is None:
        device = torch.device("cuda", torch.cuda.current_device())  # set by init_from_env
    channels_last = config.channels_last if config.channels_last is not None \
        else device.type == "cuda"
    seed_everything(config.seed + rank)
    generator = torch.Generator(device=device).manual_seed(config.seed + rank)

    texts = hasattr(train_data, "ids")  # padded token ids: no pixel statistics, no layout
    channels_last = channels_last and not texts
    mean = std = None
    if not texts:
        mean, std = channel_stats(train_data.images)  # of all the data, on every rank
        if not config.normalize:  # inputs in [0, 1], as torchvision's ToTensor gives them
            mean, std = torch.zeros_like(mean), torch.ones_like(std)
        model.coursekit_norm = (mean, std)  # evaluate() normalises with the same statistics
    if parallel:
        train_data = distributed.shard(train_data, rank, world, seed=config.seed)
    batch_size = min(config.batch_size // world, len(train_data.labels))  # per process
    model.to(device, memory_format=torch.channels_last if channels_last
             else torch.contiguous_format)
    train_loader = make_loader(train_data, batch_size, mean, std, device=device,
                               shuffle=True, augment=config.augment, drop_last=True,
                               channels_last=channels_last, generator=generator)
    optimizer = optimizer_for(model, config)
    total_steps = config.num_epochs * len(train_loader)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: lr_factor(config.lr_schedule, step, total_steps))
    scaler = torch.amp.GradScaler() if _use_fp16_scaler(device, config.amp) else None

    history, best_loss, best_state, first_epoch = History(device=str(device)), math.inf, None, 1
    checkpoint = Path(config.checkpoint_path) if config.checkpoint_path else None
    if checkpoint and _checkpoint_exists(checkpoint, parallel):
        first_epoch, best_loss, best_state, history = _resume(
            checkpoint, config, model, optimizer, scheduler, generator,
            rank=rank, world=world, verbose=main)
    step_module = model   # what a training step calls
    if parallel:          # after resuming: DDP starts by copying rank 0's weights
        step_module = nn.parallel.DistributedDataParallel(
            _Objective(model, criterion),
            device_ids=[device.index] if device.type == "cuda" else None,
            find_unused_parameters=loss_fn is not None)

    memory = PeakMemory(device)
    epochs = range(first_epoch, config.num_epochs + 1)
    bar = _progress_bar(epochs, config.progress if main else False)
    verbose = config.verbose and main
    for epoch in bar:
        # ---- train one epoch: loss and correct counts stay on the device
        step_module.train()
        _sync(device)
        t0 = time.perf_counter()
        loss_sum = torch.zeros((), device=device)
        correct = torch.zeros((), device=device, dtype=torch.long)
        scored = True  # False when the objective gives no class scores (an autoencoder)
        step_losses = []
        for inputs, labels in train_loader:
            with _autocast(device, config.amp):
                loss, logits = (step_module(inputs, labels) if parallel  # through DDP
                                else criterion(model, inputs, labels))
            objective = loss + config.l1 * _l1_norm(model) if config.l1 else loss
            optimizer.zero_grad(set_to_none=True)
            if scaler is None:
                objective.backward()
                optimizer.step()
            else:  # fp16 autocast needs loss scaling; bf16 and fp32 do not
                scaler.scale(objective).backward()
                scaler.step(optimizer)
                scaler.update()
            scheduler.step()
            step_losses.append(loss.detach())
            loss_sum += loss.detach() * len(labels)
            if logits is None:
                scored = False
            else:
                correct += (logits.argmax(1) == labels).sum()
        _sync(device)
        seconds = time.perf_counter() - t0
        seen = len(train_loader) * batch_size
        step_loss = torch.stack(step_losses)
        if parallel:  # the whole data's numbers on every rank
            seconds, seen, loss_sum, correct, step_loss = _reduce_epoch(
                model, seconds, seen, loss_sum, correct, step_loss)
        history.train_time_s += seconds
        # ---- log: .item() syncs once per epoch, not once per step
        history.epoch.append(epoch)
        history.step_loss.extend(step_loss.tolist())
        history.train_loss.append(loss_sum.item() / seen)
        history.train_acc.append(100.0 * correct.item() / seen if scored else math.nan)
        history.epoch_time_s.append(seconds)
        history.lr.append(optimizer.param_groups[0]["lr"])
        # ---- evaluate, remember the best weights, maybe stop
        if val_data is not None:
            metrics = evaluate(model, val_data, batch_size=config.eval_batch_size,
                               device=device, sharded=parallel)
            history.val_loss.append(metrics["loss"])
            history.val_acc.append(metrics["acc"])
            if metrics["loss"] < best_loss:
                best_loss, history.best_epoch = metrics["loss"], epoch
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        else:
            history.val_loss.append(math.nan)
            history.val_acc.append(math.nan)
        if on_epoch_end is not None:
            on_epoch_end(model, history)
        if main:
            log_epoch(epoch=epoch, train_loss=history.train_loss[-1],
                      train_acc=history.train_acc[-1], val_loss=history.val_loss[-1],
                      val_acc=history.val_acc[-1], seconds=seconds)
        if verbose:
            _print_row(history, config.num_epochs)
        if checkpoint:
            rank_states = _gather_rng_states(generator) if parallel else None
            if main:
                _save_checkpoint(checkpoint, config, model, optimizer, scheduler, generator,
                                 history, best_loss, best_state, rank_states=rank_states)
            distributed.barrier()  # no rank goes on before the checkpoint is complete
        patience = config.early_stopping_patience
        if patience is not None and epoch - history.best_epoch >= patience:
            history.stopped_early = True  # the same decision on every rank
            model.load_state_dict(best_state)
            if verbose:
                print(f"early stop after epoch {epoch}: restored epoch {history.best_epoch}")
            break

    del step_module  # drops DDP's hooks: the caller gets the plain module back
    seen_total = len(history.epoch) * len(train_loader) * batch_size * world
    history.throughput = seen_total / max(history.train_time_s, 1e-9)
    history.peak_memory_mb = max(history.peak_memory_mb, memory.peak_mb())
    history.wall_time_s += time.perf_counter() - start
    return history


@dataclass(frozen=True)
class Variant:
    """One arm of an experiment: a model from the registry plus changes to the recipe.

    Attributes:
        name: the row name in results and reported.yaml, e.g. "early_stopping".
        model: a ``coursekit.models`` name, e.g. "vgg13".
        overrides: ``FitConfig`` fields that differ from the shared recipe, e.g.
            ``{"early_stopping_patience": 3}``.
        model_kwargs: keywords for ``build_model`` on top of the shared ones, e.g.
            ``{"dropout": 0.2}`` or ``{"init": "xavier"}``.
    """

    name: str
    model: str
    overrides: dict = field(default_factory=dict)
    model_kwargs: dict = field(default_factory=dict)


@dataclass
class VariantRuns:
    """What ``fit_variants`` returns: a results table, and each variant's history and model."""

    results: "pd.DataFrame"             # one row per variant (see fit_variants)
    histories: dict[str, History]
    trained: dict[str, nn.Module]
    watchers: dict[str, object] = field(default_factory=dict)  # see fit_variants(watch=)
    _predicted: dict = field(default_factory=dict, repr=False)  # id(data) -> (data, preds)

    def predictions(self, data: LabelledImages) -> dict[str, Tensor]:
        """Each trained variant's predicted class (N,) for every image of ``data``.

        Computed once per split: ``scored`` and ``confusion_matrices`` share them.
        """
        data_seen, predicted = self._predicted.get(id(data), (None, None))
        if data_seen is not data:
            predicted = {name: predict(model, data).argmax(1)
                         for name, model in self.trained.items()}
            self._predicted[id(data)] = (data, predicted)
        return predicted

    def scored(self, test_data: LabelledImages) -> "pd.DataFrame":
        """``results`` plus macro precision, recall and F1 (%) on ``test_data``."""
        import pandas as pd
        summary = {name: metrics.classification_summary(test_data.labels, predicted)
                   for name, predicted in self.predictions(test_data).items()}
        return self.results.join(pd.DataFrame(summary).T.drop(columns="accuracy"))

    def flip_averaged(self, test_data: LabelledImages) -> "pd.DataFrame":
        """``results`` with ``test_acc`` scored by test-time flip averaging (see
        :func:`predict_flip_averaged`) and the single-view figure kept as
        ``test_acc_single``."""
        out = self.results.copy()
        out["test_acc_single"] = out["test_acc"]
        out["test_acc"] = [metrics.topk_accuracy(
            predict_flip_averaged(self.trained[name], test_data), test_data.labels)
            for name in out.index]
        return out

    def confusion_matrices(self, data: LabelledImages) -> dict[str, "np.ndarray"]:
        """Each variant's confusion matrix on ``data`` (rows true, columns predicted)."""
        num_classes = int(data.labels.max()) + 1
        return {name: metrics.confusion_matrix(data.labels, predicted, num_classes)
                for name, predicted in self.predictions(data).items()}


def predict_flip_averaged(model: nn.Module, data: LabelledImages, *,
                          mean: Tensor | None = None, std: Tensor | None = None) -> Tensor:
    """Logits of each image plus those of its left-right mirror image (test-time flip
    averaging, airbench's evaluation); arguments as for :func:`predict`."""
    mirrored = dataclasses.replace(data, images=data.images.flip(-1))
    return (predict(model, data, mean=mean, std=std)
            + predict(model, mirrored, mean=mean, std=std))


def fit_variants(variants: list[str | Variant], train_data: LabelledImages,
                 val_data: LabelledImages, test_data: LabelledImages | None,
                 config: FitConfig, *, watch: Callable[[nn.Module], Callable] | None = None,
                 **model_kwargs) -> VariantRuns:
    """Build, train and evaluate each variant under the shared recipe ``config``.

    A plain string is a model name trained with ``config`` as it is; a ``Variant``
    also changes some fields of it. Each variant starts from ``config.seed``, takes its
    report's weight decay and augmentation from its ``ModelSpec`` (e.g. "lenet_l2",
    "super_resnet34") unless it overrides them, and is scored on train, validation and (unless ``test_data`` is None) test data
    in eval mode. The results table, indexed by variant name, has train_acc, val_acc,
    test_acc (%), test_loss, initial_loss (first step's, before any update), epochs,
    best_epoch, time_s (training only), throughput (images/s), peak_memory_mb and
    num_parameters. ``watch``, e.g.
    ``diagnostics.GradientRecorder``, is called on each new model and the object it
    returns is passed to ``fit`` as ``on_epoch_end`` and kept in ``watchers``.
    """
    import pandas as pd
    rows, histories, trained, watchers = {}, {}, {}, {}
    for variant in variants:
        if isinstance(variant, str):
            variant = Variant(variant, variant)
        spec = models.get_spec(variant.model)
        recipe = dataclasses.replace(
            config, **{"weight_decay": spec.weight_decay or config.weight_decay,
                       "augment": spec.augment or config.augment, **variant.overrides})
        seed_everything(recipe.seed)
        model = models.build_model(variant.model, **{**model_kwargs, **variant.model_kwargs})
        print(f"--- {variant.name} ({spec.report_name})")
        watcher = watch(model) if watch is not None else None
        with run_name(variant.name):
            history = fit(model, train_data, val_data, recipe, on_epoch_end=watcher)
        if watcher is not None:
            watchers[variant.name] = watcher
        test = evaluate(model, test_data) if test_data is not None else {}
        rows[variant.name] = {
            "train_acc": evaluate(model, train_data)["acc"],
            "val_acc": evaluate(model, val_data)["acc"],
            "test_acc": test.get("acc", math.nan), "test_loss": test.get("loss", math.nan),
            "initial_loss": history.step_loss[0] if history.step_loss else math.nan,
            "epochs": len(history.epoch), "best_epoch": history.best_epoch,
            "time_s": history.train_time_s, "throughput": history.throughput,
            "peak_memory_mb": history.peak_memory_mb,
            "num_parameters": models.count_parameters(model)}
        histories[variant.name], trained[variant.name] = history, model
    results = pd.DataFrame.from_dict(rows, orient="index").rename_axis("variant")
    return VariantRuns(results, histories, trained, watchers)


def lr_factor(schedule: str, step: int, total_steps: int) -> float:
    """Multiplier of the peak learning rate at ``step`` (0-based) of ``total_steps``.

    "constant": 1 throughout. "cosine": half a cosine from 1 down to 0.
    "onecycle": a linear warm-up from 0.1 to 1 over the first 15 % of the steps, then a
    linear decay to 0 (the triangular schedule of fast CIFAR-10 training, e.g. airbench).

    Example:
        >>> [round(lr_factor("onecycle", s, 100), 2) for s in (0, 15, 100)]
        [0.1, 1.0, 0.0]
    """
    progress = min(step, total_steps) / max(total_steps, 1)
    if schedule == "constant":
        return 1.0
    if schedule == "cosine":
        return 0.5 * (1 + math.cos(math.pi * progress))
    if schedule == "onecycle":
        peak = 0.15
        if progress < peak:
            return 0.1 + 0.9 * progress / peak
        return (1 - progress) / (1 - peak)
    raise ValueError(f"unknown lr_schedule {schedule!r}; "
                     "choose 'constant', 'cosine' or 'onecycle'")


# ----------------------------------------------------------------------------------
# helpers


def optimizer_for(model: nn.Module, config: FitConfig) -> torch.optim.Optimizer:
    """The optimizer ``fit`` trains ``model`` with under ``config`` (for loops of one's own,
    such as the plain PyTorch loop in ``benchmarks/time_to_accuracy.py``)."""
    name = config.optimizer
    if name == "sgd" and config.momentum > 0:
        name = "momentum"  # FitConfig's "sgd" means SGD with Nesterov momentum
    if name == "spsa":
        raise ValueError("fit trains with gradients; use coursekit.optim.minimize for SPSA")
    return optim.make_optimizer(name, model.parameters(), config.lr,
                                weight_decay=config.weight_decay, momentum=config.momentum)


def _cross_entropy(label_smoothing: float):
    """``fit``'s default objective: cross-entropy of the model's class scores."""
    def objective(model: nn.Module, inputs, labels: Tensor) -> tuple[Tensor, Tensor]:
        logits = _call(model, inputs)
        return nn.functional.cross_entropy(logits.float(), labels,
                                           label_smoothing=label_smoothing), logits
    return objective


class _Objective(nn.Module):
    """The model and its training objective as one module, for DistributedDataParallel.

    DDP averages gradients only for computations inside its ``forward``; an objective
    such as ``losses.center_objective`` calls ``model.embed`` and ``model.head`` rather
    than ``model(inputs)``, so the whole objective runs inside this module's forward.
    """

    def __init__(self, model: nn.Module, criterion: Callable) -> None:
        super().__init__()
        self.model, self.criterion = model, criterion

    def forward(self, inputs, labels: Tensor):
        return self.criterion(self.model, inputs, labels)


def _reduce_epoch(model: nn.Module, seconds: float, seen: int, loss_sum: Tensor,
                  correct: Tensor, step_loss: Tensor):
    """One epoch's training figures over all ranks, and rank 0's batch-norm buffers.

    Returns the slowest rank's seconds, the images seen by all ranks, their loss sum
    and correct count, and each step's loss averaged over the ranks (the loss of the
    global batch, as every rank's batch has the same size).
    """
    for buffer in model.buffers():  # running statistics saw only each rank's batches
        distributed.broadcast(buffer, src=0)
    world = distributed.world_size()
    count = torch.tensor(float(seen), dtype=torch.float64, device=loss_sum.device)
    sums = torch.stack([loss_sum.double(), correct.double(), count])
    loss_sum, correct, seen = distributed.all_reduce_sum(sums)
    step_loss = distributed.all_reduce_sum(step_loss.double()) / world
    slowest = distributed.all_reduce_max(torch.tensor([seconds], dtype=torch.float64))
    return slowest.item(), int(seen.item()), loss_sum, correct, step_loss


def _checkpoint_exists(path: Path, parallel: bool) -> bool:
    """Whether to resume; with several processes every rank must see the same answer,
    else some would resume and others start afresh, and the run would hang."""
    if not parallel:
        return path.exists()
    seen = distributed.gather_objects(path.exists())
    if len(set(seen)) > 1:
        raise ValueError(f"checkpoint {path} exists for ranks "
                         f"{[r for r, s in enumerate(seen) if s]} only; with several "
                         "machines put checkpoint_path on a file system they share")
    return seen[0]


def _gather_rng_states(generator: torch.Generator) -> list[tuple[Tensor, Tensor]]:
    """Every rank's (loader generator, torch RNG) state, in rank order, so rank 0's
    checkpoint lets each rank resume its own random streams."""
    return distributed.gather_objects((generator.get_state(), torch.get_rng_state()))


def _call(model: nn.Module, inputs: Tensor | tuple[Tensor, ...]) -> Tensor:
    """``model(images)``, or ``model(ids, lengths)`` for texts."""
    return model(*inputs) if isinstance(inputs, tuple) else model(inputs)


def _l1_norm(model: nn.Module) -> Tensor:
    """Sum of |w| over weight matrices and kernels (biases and norm layers excluded)."""
    return sum(p.abs().sum() for p in model.parameters() if p.ndim > 1)


def _autocast(device: torch.device, enabled: bool):
    """bf16 autocast on CUDA (fp16 where bf16 is missing); a no-op on CPU."""
    if device.type != "cuda" or not enabled:
        return torch.autocast(device.type, enabled=False)
    dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.autocast("cuda", dtype=dtype)


def _use_fp16_scaler(device: torch.device, amp: bool) -> bool:
    return device.type == "cuda" and amp and not torch.cuda.is_bf16_supported()


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)  # make the timers measure the GPU's work


def _progress_bar(epochs: range, progress: bool | None):
    if progress is None:  # the runner sets COURSEKIT_RUN_DIR for batch executions
        progress = "COURSEKIT_RUN_DIR" not in os.environ
    if not progress:
        return epochs
    from tqdm.auto import tqdm
    return tqdm(epochs, desc="epochs", leave=False)


def _print_row(history: History, num_epochs: int) -> None:
    h = history
    print(f"epoch {h.epoch[-1]:>{len(str(num_epochs))}}/{num_epochs}  "
          f"train loss {h.train_loss[-1]:.4f}  acc {h.train_acc[-1]:5.2f}%  |  "
          f"val loss {h.val_loss[-1]:.4f}  acc {h.val_acc[-1]:5.2f}%  |  "
          f"{h.epoch_time_s[-1]:5.1f} s  |  {time_left(h.epoch_time_s, num_epochs)}",
          file=sys.stdout, flush=True)


def time_left(epoch_times: list[float], num_epochs: int) -> str:
    """The rest of the run at the mean epoch time so far, e.g. ``"about 2 min left"``."""
    seconds = (num_epochs - len(epoch_times)) * sum(epoch_times) / len(epoch_times)
    return (f"about {seconds:.0f} s left" if seconds < 120 else
            f"about {seconds / 60:.0f} min left") if seconds > 0 else "done"


def _config_key(config: FitConfig) -> dict:
    """The fields that must match for a checkpoint to be resumed."""
    ignore = {"num_epochs", "checkpoint_path", "progress", "verbose", "device",
              "eval_batch_size", "early_stopping_patience"}
    return {k: v for k, v in dataclasses.asdict(config).items() if k not in ignore}


def _save_checkpoint(path: Path, config, model, optimizer, scheduler, generator,
                     history, best_loss, best_state, *, rank_states=None) -> None:
    """Write atomically: a run killed mid-save leaves the previous checkpoint intact.

    ``rank_states`` (several processes): every rank's random states, see
    ``_gather_rng_states``; the checkpoint then records the number of processes.
    """
    state = {"config": _config_key(config), "model": model.state_dict(),
             "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
             "generator": generator.get_state(), "torch_rng": torch.get_rng_state(),
             "history": history.to_dict(), "best_loss": best_loss, "best_state": best_state}
    if rank_states is not None:
        state.update(rank_states=rank_states, world_size=len(rank_states))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def _resume(path: Path, config, model, optimizer, scheduler, generator, *,
            rank: int = 0, world: int = 1, verbose: bool = True):
    state = torch.load(path, map_location="cpu", weights_only=False)
    if state["config"] != _config_key(config):
        raise ValueError(f"checkpoint {path} was written with another configuration "
                         f"({state['config']}); delete it or choose another "
                         "checkpoint_path to start afresh")
    if state.get("world_size", 1) != world:  # shards and per-process batches differ
        raise ValueError(f"checkpoint {path} was written by {state.get('world_size', 1)} "
                         f"process(es); resume it with as many, not {world}, or choose "
                         "another checkpoint_path to start afresh")
    generator_state, rng_state = (state["rank_states"][rank] if "rank_states" in state
                                  else (state["generator"], state["torch_rng"]))
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    generator.set_state(generator_state)
    torch.set_rng_state(rng_state)
    history = History(**state["history"])
    if verbose:
        print(f"resumed from {path} after epoch {history.epoch[-1]}")
    return history.epoch[-1] + 1, state["best_loss"], state["best_state"], history
