"""The process group: several processes training one model, one shard of data each.

``torchrun --nproc_per_node=N`` starts N copies of a script and tells each its place
through environment variables (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT).
``init_from_env()`` joins them into a ``torch.distributed`` process group: NCCL with
one GPU per process (``cuda:LOCAL_RANK``) when CUDA is present, gloo on the CPU. In a
process not started by ``torchrun`` it does nothing and the helpers below fall back to
one process (rank 0 of 1), so library code can call them unconditionally.

``training.fit`` runs through a ``Strategy`` (``strategy()``): in one process every
step of it does nothing; in a process group (``ProcessGroup``) each rank trains on
``shard(train_data, ...)``, sums of losses and correct counts are added up across
ranks with ``all_reduce_sum``, and only ``is_main()`` writes files and prints.

>>> context = init_from_env()   # not launched by torchrun: one process, nothing joined
>>> (context.rank, context.world_size, context.distributed, is_main())
(0, 1, False, True)
"""

from __future__ import annotations

import dataclasses
import datetime
import os
from dataclasses import dataclass
from types import SimpleNamespace

import torch
import torch.distributed as dist
from torch import Tensor

from coursekit.training.devices import resolve_device

__all__ = ["Context", "ProcessGroup", "Strategy", "strategy", "all_reduce_max", "all_reduce_sum", "barrier", "broadcast",
           "destroy", "gather_objects", "init_from_env", "is_distributed", "is_main",
           "launched_by_torchrun", "rank", "shard", "world_size"]

# the tensors of the in-memory datasets that shard() splits, in this order of preference
_FIELDS = ("images", "ids", "lengths", "labels")


@dataclass(frozen=True)
class Context:
    """Where this process stands: its rank among ``world_size`` processes, its rank on
    this machine (``local_rank``, which picks its GPU), its device and the backend
    (None when no process group was joined)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")
    backend: str | None = None

    @property
    def distributed(self) -> bool:
        """True when more than one process trains."""
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """True on rank 0, the one process that writes files and prints."""
        return self.rank == 0


def launched_by_torchrun() -> bool:
    """Whether torchrun (or another launcher) set RANK and WORLD_SIZE for this process."""
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ


def init_from_env(device: str = "auto", *, timeout_s: float = 600) -> Context:
    """Join the process group that torchrun describes in the environment.

    Args:
        device: "auto" gives ``cuda:LOCAL_RANK`` with the NCCL backend when CUDA is
            present, else the CPU with gloo; "cpu" forces gloo on a GPU machine.
        timeout_s: how long a collective waits for the other ranks before failing
            (a rank that crashed should not leave the others hanging forever).
    Returns:
        This process's ``Context``. Without torchrun's variables: rank 0 of 1 on
        ``resolve_device(device)`` and no group (a plain single-process run). Calling
        it again after the group exists returns the same context.
    """
    if not launched_by_torchrun():
        return Context(device=resolve_device(device))
    rank_, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    use_cuda = resolve_device(device).type == "cuda"
    if use_cuda:
        torch.cuda.set_device(local_rank)  # one GPU per process; NCCL needs it set
        target = torch.device("cuda", local_rank)
    else:
        target = torch.device("cpu")
    backend = "nccl" if use_cuda else "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend, rank=rank_, world_size=world,
                                timeout=datetime.timedelta(seconds=timeout_s),
                                device_id=target if use_cuda else None)
    return Context(rank_, world, local_rank, target, dist.get_backend())


def is_distributed() -> bool:
    """True when a process group with more than one process is initialised."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    """This process's rank: from the group if joined, else torchrun's RANK, else 0."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank()
    return int(os.environ.get("RANK", 0))


def world_size() -> int:
    """Number of processes in the group; 1 when no group is initialised."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size()
    return 1


def is_main() -> bool:
    """True on rank 0: the process that writes checkpoints and records and prints.

    Before the group is joined it reads torchrun's RANK, so a script that writes
    early still writes once.
    """
    return rank() == 0


def barrier() -> None:
    """Wait until every rank gets here (e.g. until rank 0 has written a file)."""
    if is_distributed():
        dist.barrier()


def all_reduce_sum(tensor: Tensor) -> Tensor:
    """Sum ``tensor`` over all ranks, in place, and return it (unchanged in one process).

    Afterwards every rank holds bitwise the same values, so decisions taken from them
    (early stopping, the best epoch) agree on every rank.
    """
    return _collective(dist.all_reduce, tensor, op=dist.ReduceOp.SUM)


def all_reduce_max(tensor: Tensor) -> Tensor:
    """Largest value over all ranks, in place (e.g. the slowest rank's epoch time)."""
    return _collective(dist.all_reduce, tensor, op=dist.ReduceOp.MAX)


def broadcast(tensor: Tensor, src: int = 0) -> Tensor:
    """Copy rank ``src``'s ``tensor`` to every rank, in place (e.g. batch-norm buffers)."""
    return _collective(dist.broadcast, tensor, src=src)


def gather_objects(obj) -> list:
    """Every rank's picklable ``obj``, in rank order, on every rank (``[obj]`` alone)."""
    if not is_distributed():
        return [obj]
    objects = [None] * dist.get_world_size()
    dist.all_gather_object(objects, obj)
    return objects


def _collective(operation, tensor: Tensor, **kwargs) -> Tensor:
    """Run ``operation`` in place on ``tensor``; NCCL only reduces CUDA tensors, so a
    CPU tensor makes a round trip through this rank's GPU there."""
    if not is_distributed():
        return tensor
    if dist.get_backend() == "nccl" and tensor.device.type != "cuda":
        moved = tensor.cuda()
        operation(moved, **kwargs)
        return tensor.copy_(moved)
    operation(tensor, **kwargs)
    return tensor


def shard(data, rank: int, world: int, *, seed: int = 0, equal: bool = True):
    """This rank's share of an in-memory dataset.

    One permutation drawn from ``seed`` (the same on every rank) is dealt out like
    cards: rank r gets positions r, r + world, r + 2 world, ... So the shards are
    disjoint, each holds a random sample of the classes, and together they cover the
    data.

    Args:
        data: images (``images``, ``labels``) or texts (``ids``, ``lengths``,
            ``labels``), e.g. a ``data.ImageSplit`` or a ``SimpleNamespace``.
        rank, world: this process's rank and the number of processes.
        seed: seeds the permutation; every rank must pass the same one.
        equal: True (training) drops the last ``len(data) % world`` items of the
            permutation so every shard has the same size and every rank takes the
            same number of steps; False (evaluation) keeps every item, and shard
            sizes differ by at most one.
    Returns:
        An object of the same kind as ``data`` (a dataclass is copied with
        ``dataclasses.replace``, keeping e.g. ``classes``), holding the shard's rows.
    Raises:
        ValueError: for a rank outside ``0..world - 1``, or data without labels.

    Example:
        >>> toy = SimpleNamespace(images=torch.zeros(10, 1, 2, 2), labels=torch.arange(10))
        >>> [len(shard(toy, r, 3).labels) for r in range(3)]
        [3, 3, 3]
        >>> parts = [shard(toy, r, 3, equal=False).labels.tolist() for r in range(3)]
        >>> [len(p) for p in parts], sorted(sum(parts, []))
        ([4, 3, 3], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    """
    if not 0 <= rank < world:
        raise ValueError(f"rank {rank} is not one of the {world} ranks 0..{world - 1}")
    if not hasattr(data, "labels"):
        raise ValueError("several processes train classifiers of images or texts "
                         "(data with labels); train this objective in one process")
    n = len(data.labels)
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    if equal:
        order = order[:n - n % world]
    index = order[rank::world].to(data.labels.device)
    parts = {f: getattr(data, f)[index] for f in _FIELDS if hasattr(data, f)}
    if dataclasses.is_dataclass(data):
        return dataclasses.replace(data, **parts)
    return SimpleNamespace(**parts)


def destroy() -> None:
    """Leave the process group (at the end of a script, so the process exits cleanly)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


# ---------------------------------------------------------------- how fit runs


class Strategy:
    """How ``training.fit`` runs, in one process: every method here does nothing
    (the data stays whole, the step calls the objective, sums stay as they are).
    ``ProcessGroup`` overrides them for several processes."""

    rank, world, is_main = 0, 1, True
    sharded_evaluation = False  # whether to score validation data in shards

    def check_batch_size(self, batch_size: int) -> None:
        """Raise when the processes cannot share ``batch_size`` evenly."""

    def device(self, device: torch.device) -> torch.device:
        return device

    def shard(self, data, seed: int):
        """This process's share of the training data."""
        return data

    def step_function(self, model, objective, device: torch.device):
        """What a training step calls with a batch: ``objective.loss(model, batch)``."""
        return lambda batch: objective.loss(model, batch)

    def reduce_epoch(self, model, totals):
        """One epoch's training figures over every process (here: as they are)."""
        return totals

    def agree_exists(self, path) -> bool:
        """Whether the checkpoint at ``path`` exists, as every process sees it."""
        return path.exists()

    def rng_states(self, generator):
        """Every process's random states, for a checkpoint; None in one process."""
        return None

    def barrier(self) -> None:
        """Wait for every process."""


class _StepModule(torch.nn.Module):
    """The model and its objective as one module, for DistributedDataParallel.

    DDP averages gradients only for computations inside its ``forward``; an objective
    such as ``losses.center_objective`` calls ``model.embed`` and ``model.head`` rather
    than ``model(inputs)``, so the whole objective runs inside this module's forward.
    """

    def __init__(self, model, objective) -> None:
        super().__init__()
        self.model, self.objective = model, objective

    def forward(self, batch):
        return tuple(self.objective.loss(self.model, batch))  # DDP walks tuples


class ProcessGroup(Strategy):
    """Several processes (``is_distributed()`` with world size > 1), each training a
    ``DistributedDataParallel`` copy of the model on its shard of the data.

    The global batch stays ``batch_size`` (each rank takes ``batch_size // world``);
    training sums and counts are all-reduced and validation is scored in shards, so
    every rank's ``History`` and early-stopping decision agree; batch-norm buffers are
    copied from rank 0 after every epoch; only rank 0 prints and writes.
    """

    sharded_evaluation = True

    def __init__(self) -> None:
        self.rank, self.world = rank(), world_size()
        self.is_main = self.rank == 0

    def check_batch_size(self, batch_size: int) -> None:
        if batch_size % self.world:
            raise ValueError(f"batch_size {batch_size} cannot be shared evenly by "
                             f"{self.world} processes; choose a multiple of {self.world} "
                             "(it is the global batch, split across the processes)")

    def device(self, device: torch.device) -> torch.device:
        if device.type == "cuda" and device.index is None:
            return torch.device("cuda", torch.cuda.current_device())  # set by init_from_env
        return device

    def shard(self, data, seed: int):
        return shard(data, self.rank, self.world, seed=seed)

    def step_function(self, model, objective, device: torch.device):
        from coursekit.training.objectives import Step
        wrapped = torch.nn.parallel.DistributedDataParallel(
            _StepModule(model, objective),
            device_ids=[device.index] if device.type == "cuda" else None,
            find_unused_parameters=objective.may_leave_parameters_unused)
        return lambda batch: Step(*wrapped(batch))

    def reduce_epoch(self, model, totals):
        """Every rank's sums added up, each step's loss averaged over the ranks (the
        loss of the global batch, as every rank's batch has the same size), the
        slowest rank's seconds, and rank 0's batch-norm buffers on every rank."""
        for buffer in model.buffers():  # running statistics saw only each rank's batches
            broadcast(buffer, src=0)
        count = torch.tensor(float(totals.seen), dtype=torch.float64,
                             device=totals.loss_sum.device)
        correct = (totals.correct if totals.correct is not None
                   else torch.zeros((), device=totals.loss_sum.device))
        sums = torch.stack([totals.loss_sum.double(), correct.double(), count])
        loss_sum, correct_sum, seen = all_reduce_sum(sums)
        step_loss = all_reduce_sum(totals.step_loss.double()) / self.world
        slowest = all_reduce_max(torch.tensor([totals.seconds], dtype=torch.float64))
        return dataclasses.replace(
            totals, seconds=slowest.item(), seen=int(seen.item()), loss_sum=loss_sum,
            correct=None if totals.correct is None else correct_sum, step_loss=step_loss)

    def agree_exists(self, path) -> bool:
        """With several processes every rank must see the same answer, else some would
        resume and others start afresh, and the run would hang."""
        seen = gather_objects(path.exists())
        if len(set(seen)) > 1:
            raise ValueError(f"checkpoint {path} exists for ranks "
                             f"{[r for r, s in enumerate(seen) if s]} only; with several "
                             "machines put checkpoint_path on a file system they share")
        return seen[0]

    def rng_states(self, generator):
        """Every rank's (loader generator, torch RNG) state, in rank order, so rank 0's
        checkpoint lets each rank resume its own random streams."""
        return gather_objects((generator.get_state(), torch.get_rng_state()))

    def barrier(self) -> None:
        barrier()


def strategy() -> Strategy:
    """``ProcessGroup()`` inside a process group of several processes, else ``Strategy()``."""
    return ProcessGroup() if world_size() > 1 else Strategy()
