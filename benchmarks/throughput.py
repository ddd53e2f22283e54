"""Training throughput of ``coursekit.training.fit`` against a plain PyTorch loop.

Same model, batch size, optimizer (Adam 1e-3) and augmentation (random crop with
reflection padding 4 + horizontal flip) on the same CIFAR-10 training images; the two
are timed side by side in one run. The plain loop is the tutorial pipeline of
``plain_pipeline.py``: a Dataset of PIL images with torchvision transforms (v2) and a
DataLoader; it is timed with 0 and with 2 worker processes and the faster one counts.
Each of the three is timed three times, interleaved, and its best run counts (noise on
a shared machine only slows). Images per second exclude the first (warm-up) batches of
each run and any evaluation.

Usage: python benchmarks/throughput.py [--images 20000] [--batch-size 128]
The last line printed is ``speedup <ratio>``, the smaller of the models' ratios.
"""

from __future__ import annotations

import argparse
import platform
import time

import torch
from plain_pipeline import PILImages, plain_transform, sync
from torch import nn
from torch.utils.data import DataLoader

from coursekit import data, models, training
from coursekit.training.devices import resolve_device
from coursekit.training.loader import channel_stats

MODELS = ["lenet", "super_lenet"]
WARMUP_STEPS = 5
REPEATS = 3  # each pipeline is timed this many times, interleaved; the best counts


# ---------------------------------------------------------------------------------
# the plain PyTorch pipeline

def plain_throughput(model: nn.Module, dataset: PILImages, batch_size: int,
                     num_workers: int, device: torch.device) -> float:
    """Images per second of one epoch of a textbook DataLoader training loop."""
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=True, drop_last=True,
                        num_workers=num_workers, persistent_workers=False)
    model.to(device).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    seen, start = 0, None
    for step, (inputs, labels) in enumerate(loader):
        if step == WARMUP_STEPS:
            sync(device)
            start, seen = time.perf_counter(), 0
        inputs, labels = inputs.to(device), labels.to(device)
        loss = nn.functional.cross_entropy(model(inputs), labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        seen += len(labels)
    sync(device)
    return seen / (time.perf_counter() - start)


def coursekit_throughput(model: nn.Module, split: data.ImageSplit, batch_size: int) -> float:
    """Images per second of ``training.fit`` over the same images (one epoch after warm-up)."""
    warmup = data.subset(split, WARMUP_STEPS * batch_size, seed=1)
    config = training.FitConfig(num_epochs=1, batch_size=batch_size, augment="flip_crop",
                                verbose=False, progress=False)
    training.fit(model, warmup, config=config)
    return training.fit(model, split, config=config).throughput


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=20000,
                        help="training images per timed epoch (default 20000)")
    parser.add_argument("--batch-size", type=int, default=128)
    args = parser.parse_args()

    device = resolve_device("auto")
    split = data.subset(data.load_images("cifar10")["train"], args.images, seed=0)
    mean, std = (t.tolist() for t in channel_stats(split.images))
    dataset = PILImages(split, plain_transform("flip_crop", mean, std))
    print(f"device {device} ({platform.processor() or platform.machine()}, "
          f"{torch.get_num_threads()} threads), torch {torch.__version__}, "
          f"{len(split)} images, batch {args.batch_size}, augmentation crop+flip")

    ratios = []
    for name in MODELS:
        # best of REPEATS interleaved runs: the machine's noise only ever slows a run
        plain = {0: [], 2: []}
        ours = []
        for _ in range(REPEATS):
            for workers in plain:
                torch.manual_seed(0)
                plain[workers].append(plain_throughput(
                    models.build_model(name), dataset, args.batch_size, workers, device))
            torch.manual_seed(0)
            ours.append(coursekit_throughput(models.build_model(name), split,
                                             args.batch_size))
        best_plain = max(max(v) for v in plain.values())
        ratios.append(max(ours) / best_plain)
        print(f"{name:12s} plain (0 workers) {max(plain[0]):8,.0f} img/s | "
              f"plain (2 workers) {max(plain[2]):8,.0f} img/s | "
              f"coursekit fit {max(ours):8,.0f} img/s | ratio {ratios[-1]:.2f}")
    print(f"speedup {min(ratios):.2f}")


if __name__ == "__main__":
    main()
