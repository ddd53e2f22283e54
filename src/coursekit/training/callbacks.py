"""The small pieces ``fit`` calls around an epoch: the epoch log, the progress bar and
printed rows, the best weights and early stopping, and the checkpoint.

Each keeps one concern out of the loop's body. The progress bar's default is set by
whoever runs the notebook (``show_progress``; the chapter's ``Chapter`` turns it off
in runs of ``coursekit run``), never read from the environment.
"""

from __future__ import annotations

import dataclasses
import math
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch
from torch import nn

from coursekit.training import distributed
from coursekit.training.config import FitConfig, History

__all__ = ["BestWeights", "Checkpoint", "epoch_log", "log_epoch", "print_row", "progress_bar",
           "run_name", "show_progress", "time_left"]


# ---------------------------------------------------------------- the epoch log

_EPOCH_LOG: list[dict] = []
_RUN_NAMES: list[str] = []
_UNNAMED = {"count": 0, "last_epoch": math.inf}  # numbering of epochs logged unnamed


def log_epoch(**numbers: float) -> None:
    """Add one epoch's numbers to this process's epoch log, under the name of the run
    in progress (:func:`run_name`). ``fit`` calls it after every epoch;
    ``Chapter.finish`` saves the log beside the run record, where experiment trackers
    read the curves."""
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


# ---------------------------------------------------------------- what the reader sees

_PROGRESS = {"default": True}


def show_progress(default: bool) -> None:
    """Whether ``fit`` shows a progress bar when its ``progress`` is None: on for a
    reader at a notebook, off for a batch run (``Chapter`` turns it off when the
    runner passes it its run folder)."""
    _PROGRESS["default"] = bool(default)


def progress_bar(epochs: range, progress: bool | None):
    """``epochs`` wrapped in a tqdm bar, or as they are."""
    if not (_PROGRESS["default"] if progress is None else progress):
        return epochs
    from tqdm.auto import tqdm
    return tqdm(epochs, desc="epochs", leave=False)


def time_left(epoch_times: list[float], num_epochs: int) -> str:
    """The rest of the run at the mean epoch time so far, e.g. ``"about 2 min left"``."""
    seconds = (num_epochs - len(epoch_times)) * sum(epoch_times) / len(epoch_times)
    return (f"about {seconds:.0f} s left" if seconds < 120 else
            f"about {seconds / 60:.0f} min left") if seconds > 0 else "done"


def print_row(history: History, num_epochs: int) -> None:
    """One line per epoch: losses, accuracies where there are any (no "val" part
    without validation data), time, time left."""
    h = history

    def part(loss: float, acc: float) -> str:
        # 4 significant digits, padded to one width so the epochs' columns line up
        return f"loss {loss:<7.4g}" + ("" if math.isnan(acc) else f"  acc {acc:5.2f}%")
    val = "" if math.isnan(h.val_loss[-1]) else f"val {part(h.val_loss[-1], h.val_acc[-1])}  |  "
    print(f"epoch {h.epoch[-1]:>{len(str(num_epochs))}}/{num_epochs}  "
          f"train {part(h.train_loss[-1], h.train_acc[-1])}  |  {val}"
          f"{h.epoch_time_s[-1]:5.1f} s  |  {time_left(h.epoch_time_s, num_epochs)}",
          file=sys.stdout, flush=True)


# ---------------------------------------------------------------- best weights, early stop


@dataclasses.dataclass
class BestWeights:
    """The epoch with the lowest validation loss, and early stopping: ``should_stop``
    after ``patience`` epochs without a better one (None: never). Its weights are
    copied only when early stopping may restore them."""

    patience: int | None = None
    loss: float = math.inf
    state: dict | None = None

    def update(self, model: nn.Module, history: History) -> None:
        if history.val_loss and history.val_loss[-1] < self.loss:
            self.loss, history.best_epoch = history.val_loss[-1], history.epoch[-1]
            if self.patience is not None:
                self.state = {k: v.detach().clone() for k, v in model.state_dict().items()}

    def should_stop(self, history: History) -> bool:
        return (self.patience is not None
                and history.epoch[-1] - history.best_epoch >= self.patience)

    def restore(self, model: nn.Module) -> None:
        model.load_state_dict(self.state)


# ---------------------------------------------------------------- checkpoint


def _config_key(config: FitConfig) -> dict:
    """The fields that must match for a checkpoint to be resumed."""
    ignore = {"num_epochs", "checkpoint_path", "progress", "verbose", "device",
              "eval_batch_size", "early_stopping_patience"}
    return {k: v for k, v in dataclasses.asdict(config).items() if k not in ignore}


@dataclasses.dataclass
class Checkpoint:
    """Every epoch's state at ``path``, written atomically (a run killed mid-save leaves
    the previous checkpoint intact), and the resumption of a run from it.

    With several processes (``strategy``, see ``distributed.strategy``) rank 0 writes
    every rank's random states and the others wait for it; each rank resumes its own.
    """

    path: Path
    strategy: "distributed.Strategy"

    def exists(self) -> bool:
        return self.strategy.agree_exists(self.path)

    def save(self, config, model, optimizer, scheduler, generator, history,
             best: BestWeights) -> None:
        rank_states = self.strategy.rng_states(generator)
        if self.strategy.is_main:
            state = {"config": _config_key(config), "model": model.state_dict(),
                     "optimizer": optimizer.state_dict(),
                     "scheduler": scheduler.state_dict(),
                     "generator": generator.get_state(), "torch_rng": torch.get_rng_state(),
                     "history": history.to_dict(), "best_loss": best.loss,
                     "best_state": best.state}
            if rank_states is not None:
                state.update(rank_states=rank_states, world_size=len(rank_states))
            self._write(state)
        self.strategy.barrier()  # no rank goes on before the checkpoint is complete

    def _write(self, state: dict) -> None:
        """Write ``state`` to a temporary file, then put it in place in one step."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        torch.save(state, tmp)
        os.replace(tmp, self.path)

    def resume(self, config, model, optimizer, scheduler, generator, best: BestWeights,
               *, verbose: bool = True) -> History:
        """Load the state into the given objects; returns the history so far."""
        state = torch.load(self.path, map_location="cpu", weights_only=False)
        if state["config"] != _config_key(config):
            raise ValueError(f"checkpoint {self.path} was written with another "
                             f"configuration ({state['config']}); delete it or choose "
                             "another checkpoint_path to start afresh")
        world = self.strategy.world
        if state.get("world_size", 1) != world:  # shards and per-process batches differ
            raise ValueError(f"checkpoint {self.path} was written by "
                             f"{state.get('world_size', 1)} process(es); resume it with as "
                             f"many, not {world}, or choose another checkpoint_path to "
                             "start afresh")
        generator_state, rng_state = (state["rank_states"][self.strategy.rank]
                                      if "rank_states" in state
                                      else (state["generator"], state["torch_rng"]))
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        generator.set_state(generator_state)
        torch.set_rng_state(rng_state)
        best.loss, best.state = state["best_loss"], state["best_state"]
        history = History(**state["history"])
        if verbose:
            print(f"resumed from {self.path} after epoch {history.epoch[-1]}")
        return history
