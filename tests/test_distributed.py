"""Training with several processes: shards, fit under a 2-process gloo group, torchrun.

The fast tests start their own process group with ``torch.multiprocessing.spawn`` on
the CPU (gloo, 127.0.0.1, a free port) and train on generated data in seconds. The
slow test runs ``torchrun --nproc_per_node=2 -m coursekit.train_script`` on CIFAR-10
from the data mirror (skipped when the mirror is absent) and compares it with one
process.
"""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from torch import nn

from coursekit import train_script, training
from coursekit.training.callbacks import Checkpoint
from coursekit.book import report
from coursekit.training import distributed
from coursekit.data import ImageSplit

REPO = Path(__file__).resolve().parents[1]
MIRROR = os.environ.get("COURSEKIT_DATA_MIRROR") or str(REPO.parent / "shared" / "data")


# ---------------------------------------------------------------------------- shard

def test_shards_are_disjoint_equal_and_cover_the_data():
    data = ImageSplit(torch.zeros(103, 1, 2, 2, dtype=torch.uint8),
                      torch.arange(103), ["a"] * 103)
    for world in (1, 2, 4):
        parts = [distributed.shard(data, r, world, seed=0) for r in range(world)]
        labels = [p.labels.tolist() for p in parts]
        assert {len(x) for x in labels} == {103 // world}        # equal: same steps
        flat = sum(labels, [])
        assert len(set(flat)) == len(flat) == 103 - 103 % world   # disjoint
        assert all(isinstance(p, ImageSplit) and p.classes == data.classes for p in parts)
        covering = sum((distributed.shard(data, r, world, seed=0, equal=False)
                        .labels.tolist() for r in range(world)), [])
        assert sorted(covering) == list(range(103))               # evaluation: all
    assert distributed.shard(data, 0, 2, seed=0).labels.tolist() != \
        distributed.shard(data, 0, 2, seed=1).labels.tolist()
    with pytest.raises(ValueError, match="rank 2"):
        distributed.shard(data, 2, 2)


def test_shards_of_texts_keep_ids_lengths_and_labels_together():
    texts = SimpleNamespace(ids=torch.arange(20).repeat_interleave(3).view(20, 3),
                            lengths=torch.arange(20), labels=torch.arange(20))
    part = distributed.shard(texts, 1, 2, seed=0)
    assert len(part.ids) == len(part.lengths) == len(part.labels) == 10
    assert torch.equal(part.ids[:, 0], part.labels) and torch.equal(part.lengths,
                                                                    part.labels)


def test_one_process_helpers_without_torchrun():
    context = distributed.init_from_env("cpu")
    assert (context.rank, context.world_size, context.distributed) == (0, 1, False)
    assert distributed.is_main() and distributed.world_size() == 1
    t = torch.ones(3)
    assert distributed.all_reduce_sum(t) is t and t.tolist() == [1, 1, 1]
    distributed.barrier()  # a no-op


def test_script_refuses_unknown_names_and_lists_the_known_ones(capsys):
    with pytest.raises(SystemExit):
        train_script.parse_args(["--model", "lenett", "--out", "x"])
    assert "unknown model 'lenett'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        train_script.parse_args(["--model", "lenet", "--dataset", "mnist", "--out", "x"])
    err = capsys.readouterr().err
    assert "unknown dataset 'mnist'" in err and "cifar10" in err
    assert "text_lstm" not in train_script.image_models()  # texts: not this script's


# ------------------------------------------------ fit under a 2-process gloo group

def separable(n: int, seed: int = 0) -> SimpleNamespace:
    """8 x 8 uint8 images whose class is which half is bright (as in test_train)."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 2, (n,), generator=g)
    images = torch.randint(0, 60, (n, 3, 8, 8), generator=g, dtype=torch.uint8)
    bright = torch.zeros(n, 3, 8, 8, dtype=torch.bool)
    bright[labels == 0, :, :4] = True
    bright[labels == 1, :, 4:] = True
    return SimpleNamespace(images=images + bright.to(torch.uint8) * 150, labels=labels)


def bn_model() -> nn.Module:
    """Batch norm (buffers that each rank updates) and dropout (per-rank randomness)."""
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                         nn.Flatten(), nn.Dropout(0.1), nn.Linear(4 * 8 * 8, 2))


FAST = dict(batch_size=32, lr=3e-3, verbose=False, progress=False)
TRAIN, VAL = 200, 75  # 100 training images per rank; validation shards of 38 and 37


def _worker(rank: int, world: int, port: int, folder: str) -> None:
    """One rank: train, resume, refuse a bad batch, write a record; save what it saw."""
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank),
                      WORLD_SIZE=str(world), LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    folder = Path(folder)
    context = distributed.init_from_env("cpu", timeout_s=60)
    try:
        saves = []
        write = Checkpoint._write  # count which ranks write a checkpoint
        Checkpoint._write = lambda self, state: (saves.append(rank), write(self, state))
        data, val = separable(TRAIN), separable(VAL, seed=1)

        torch.manual_seed(rank)  # different initial weights: DDP must use rank 0's
        straight = bn_model()
        h = training.fit(straight, data, val, num_epochs=3, **FAST)

        ckpt = str(folder / "run.ckpt")
        torch.manual_seed(rank)  # as the straight run: rank 0's weights are the start
        training.fit(bn_model(), data, val, num_epochs=2, checkpoint_path=ckpt, **FAST)
        torch.manual_seed(20 + rank)  # a "new process" that resumes from epoch 2
        resumed = bn_model()
        r = training.fit(resumed, data, val, num_epochs=3, checkpoint_path=ckpt, **FAST)

        try:
            training.fit(bn_model(), data, val, num_epochs=1, **{**FAST, "batch_size": 33})
            batch_error = ""
        except ValueError as err:
            batch_error = str(err)

        # rank 1 tries to write a record first; only rank 0's may appear
        record = None
        if rank == 1:
            record = report.write_run_record("dist", profile="test", params={},
                                             results={"rank": rank}, run_dir=folder)
            record = record.exists()
        distributed.barrier()
        if rank == 0:
            report.write_run_record("dist", profile="test", params={},
                                    results={"rank": rank}, run_dir=folder)
        torch.save({"context": (context.rank, context.world_size, context.backend),
                    "history": h, "state": straight.state_dict(),
                    "full_val": training.evaluate(straight, val),
                    "resumed_history": r, "resumed_state": resumed.state_dict(),
                    "saves": saves, "batch_error": batch_error,
                    "record_by_rank1": record}, folder / f"rank{rank}.pt")
    finally:
        distributed.destroy()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory):
    """What each of two spawned ranks saw, after they finished."""
    folder = tmp_path_factory.mktemp("ddp")
    torch.multiprocessing.spawn(_worker, args=(2, _free_port(), str(folder)), nprocs=2)
    return folder, [torch.load(folder / f"rank{r}.pt", weights_only=False)
                    for r in range(2)]


def test_every_rank_ends_with_the_same_weights_and_global_numbers(two_ranks):
    _, (zero, one) = two_ranks
    assert zero["context"] == (0, 2, "gloo") and one["context"] == (1, 2, "gloo")
    for key in zero["state"]:  # parameters and batch-norm buffers alike
        assert torch.equal(zero["state"][key], one["state"][key]), key
    h0, h1 = zero["history"], one["history"]
    for column in ("train_loss", "train_acc", "val_loss", "val_acc", "step_loss",
                   "epoch_time_s"):
        assert getattr(h0, column) == getattr(h1, column), column
    # global batch 32 = 16 per rank; 100 images per rank -> 6 steps an epoch
    assert len(h0.step_loss) == 3 * (TRAIN // 2 // 16)
    assert h0.val_acc[-1] > 90 and h0.train_loss[-1] < h0.train_loss[0]
    # validation is sharded unevenly (38 + 37) yet gives the whole set's numbers
    assert h0.val_loss[-1] == pytest.approx(zero["full_val"]["loss"], rel=1e-5)
    assert h0.val_acc[-1] == pytest.approx(zero["full_val"]["acc"])


def test_only_rank_0_writes_and_every_rank_resumes(two_ranks):
    folder, (zero, one) = two_ranks
    assert zero["saves"] == [0, 0, 0] and one["saves"] == []  # 2 epochs, 1 resumed
    state = torch.load(folder / "run.ckpt", weights_only=False)
    assert state["world_size"] == 2 and len(state["rank_states"]) == 2
    for rank in (zero, one):  # resuming after epoch 2 repeats the straight run
        assert rank["resumed_history"].epoch == [1, 2, 3]
        assert rank["resumed_history"].train_loss == pytest.approx(
            rank["history"].train_loss)
        assert rank["resumed_history"].val_loss == pytest.approx(rank["history"].val_loss)
    for key in zero["resumed_state"]:
        assert torch.equal(zero["resumed_state"][key], one["resumed_state"][key]), key
    assert "batch_size 33 cannot be shared evenly by 2 processes" in zero["batch_error"]
    assert one["record_by_rank1"] is False
    record = json.loads((folder / "record.json").read_text())
    assert record["results"] == {"rank": 0}


def test_a_two_process_checkpoint_is_not_resumed_by_one_process(two_ranks):
    folder, _ = two_ranks
    with pytest.raises(ValueError, match="written by 2 process"):
        training.fit(bn_model(), separable(TRAIN), None, num_epochs=4,
                     checkpoint_path=str(folder / "run.ckpt"), **FAST)


# ------------------------------------------------------------ torchrun, real data

SCRIPT = ["--model", "lenet", "--dataset", "cifar10", "--train-subset", "4000",
          "--num-val", "1000", "--test-subset", "2000", "--epochs", "2",
          "--batch-size", "128", "--seed", "0"]


@pytest.mark.slow
@pytest.mark.skipif(not Path(MIRROR, "cifar10").is_dir(),
                    reason=f"no data mirror at {MIRROR}")
def test_torchrun_two_processes_match_one_process(tmp_path):
    """2 processes x 64 images per step against 1 x 128: same global batch and seed.

    Test accuracy (2,000 test images) of LeNet after 2 epochs on 4,000 images varied
    from 31.4 % to 35.1 % over seeds 0-5 with one process (standard deviation about
    1.3 points); two runs that differ only in data order then differ by about 1.9
    points (1 sigma). A bug such as unsynchronised gradients or a doubled global batch
    still trains, so the tolerance of 4 points (about 2 sigma) guards against a broken
    run, not against exact agreement; the unit tests above check the exact mechanics.
    """
    env = {**os.environ, "COURSEKIT_DATA_MIRROR": MIRROR, "OMP_NUM_THREADS": "1",
           "COURSEKIT_DATA_DIR": str(tmp_path / "data")}  # decoded once, by the first run
    single = subprocess.run([sys.executable, "-m", "coursekit.train_script", *SCRIPT,
                             "--out", str(tmp_path / "one")],
                            env=env, capture_output=True, text=True, timeout=300)
    assert single.returncode == 0, single.stderr[-3000:]
    two = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                          "--nproc_per_node=2", "-m", "coursekit.train_script", *SCRIPT,
                          "--out", str(tmp_path / "two")],
                         env=env, capture_output=True, text=True, timeout=300)
    assert two.returncode == 0, two.stderr[-3000:]
    assert two.stdout.count("test accuracy") == 1  # rank 0 alone prints
    assert two.stdout.count("epoch 2/2") == 1

    records = sorted((tmp_path / "two").rglob("record.json"))
    assert records == [tmp_path / "two" / "record.json"]
    assert sorted(p.name for p in (tmp_path / "two").iterdir()) == [
        train_script.CHECKPOINT, "record.json"]  # no stray temporary files
    one = json.loads((tmp_path / "one" / "record.json").read_text())["results"]
    both = json.loads(records[0].read_text())["results"]
    assert (one["world_size"], both["world_size"]) == (1, 2)
    assert both["global_batch"] == 128 and both["per_process_batch"] == 64
    # 4,000 // 128 = 31 steps an epoch in one process; 2,000 // 64 = 31 per rank
    assert len(both["history"]["step_loss"]) == len(one["history"]["step_loss"]) == 62
    print(f"test accuracy: 1 process {one['test_acc']:.2f} %, "
          f"2 processes {both['test_acc']:.2f} %")
    assert both["test_acc"] > 25 and one["test_acc"] > 25  # learned (chance: 10 %)
    assert both["test_acc"] == pytest.approx(one["test_acc"], abs=4.0)
