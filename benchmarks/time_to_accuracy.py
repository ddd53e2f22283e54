"""Time to a report's test accuracy: ``coursekit.training.fit`` against a plain PyTorch loop.

For each model, a fixed recipe (epochs, batch size, optimizer, schedule, label smoothing
and augmentation decided in advance, as airbench does; no early stopping, no peeking
at the test set) is trained on the 50,000 CIFAR-10 training images and scored once on
the 10,000 test images. Targets, from the project's issue:

- SuperLeNet (``super_lenet``, report A): 66.0 % test accuracy, report A's figure after
  200 epochs, in at most 40 s of training on this project's 2 CPU cores;
- the compact CNN (``compact_cnn``, report D): 81.1 % (report D: 81.14 % after 90
  epochs) in at most 10 minutes.

The same recipe is then run through the tutorial pipeline of ``plain_pipeline.py``
(shared with ``throughput.py``): a Dataset of PIL images, torchvision transforms v2, a
DataLoader, and a textbook loop with the same model, initialisation, optimizer
(``training.optimizer_for``), learning-rate schedule (``training.lr_factor``, stepped per
batch), label smoothing, normalisation, batch size, epochs, augmentation and memory
format. Its DataLoader uses
0 or 2 worker processes, whichever trains faster in a short probe run first. Both
pipelines start from images already decoded in memory, and only training is timed
(``History.train_time_s`` for ``fit``; the epochs of the loop for the plain one):
building the datasets and evaluating are not.

Accuracy is printed twice: the model's prediction on each test image, and with
test-time flip averaging (``evaluate_with_flip``: logits of the image and of its mirror
image added, as airbench scores). A target is met when the accuracy (the mean over
seeds) reaches it and ``fit``'s slowest run trained within the time limit; the script
reports, it never asserts. One seed can be lucky: ``--runs N`` trains N seeds and
prints the mean, min and max. The machine's load average is printed after each run:
timings taken while other work shared the CPU are slower than the recipe is.

Usage:
    python benchmarks/time_to_accuracy.py [--model super_lenet|compact_cnn|all]
        [--skip-plain] [--seed 0] [--runs 1]
About 2 minutes for SuperLeNet and 24 minutes for the compact CNN with the plain loop
on 2 CPU cores; ``--skip-plain`` leaves about 1 and 9.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import statistics
import time
from dataclasses import dataclass

import torch
from plain_pipeline import PILImages, plain_transform, sync
from torch import nn
from torch.utils.data import DataLoader

from coursekit import data, models, training
from coursekit.training import metrics
from coursekit.training.devices import resolve_device
from coursekit.training.loader import channel_stats

PROBE_STEPS = 20  # batches of the untimed warm-up runs (and of the plain worker probe)


@dataclass(frozen=True)
class Recipe:
    """A model, its target and the fixed ``fit`` recipe meant to reach it."""

    model: str
    target_acc: float      # % test accuracy
    time_limit_s: float    # seconds of training allowed on this project's 2 CPU cores
    source: str            # where the target comes from
    config: training.FitConfig


RECIPES = {
    "super_lenet": Recipe(
        "super_lenet", 66.0, 40.0, "report A, SuperLeNet with proper init, 200 epochs",
        training.FitConfig(num_epochs=6, batch_size=256, optimizer="sgd", lr=0.3,
                           momentum=0.9, weight_decay=5e-4, lr_schedule="onecycle",
                           label_smoothing=0.1, augment="none", channels_last=False)),
    "compact_cnn": Recipe(
        "compact_cnn", 81.1, 600.0, "report D, Q1 (81.14 %), 90 epochs",
        training.FitConfig(num_epochs=38, batch_size=128, optimizer="sgd", lr=0.1,
                           momentum=0.9, weight_decay=5e-4, lr_schedule="onecycle",
                           label_smoothing=0.1, augment="flip_crop", channels_last=True)),
}


# ---------------------------------------------------------------------------------
# evaluation

def evaluate_with_flip(model: nn.Module, split: data.ImageSplit, *,
                       mean: torch.Tensor | None = None,
                       std: torch.Tensor | None = None) -> dict[str, float]:
    """Test accuracy (%) without and with test-time flip averaging.

    ``acc`` scores ``model(image)``; ``acc_flip`` scores the sum of the logits of the
    image and of its left-right mirror image (airbench's evaluation). ``mean``/``std``
    default to the statistics ``fit`` stored on the model.
    """
    logits = training.predict(model, split, mean=mean, std=std)
    both = training.predict_flip_averaged(model, split, mean=mean, std=std)
    return {"acc": metrics.topk_accuracy(logits, split.labels),
            "acc_flip": metrics.topk_accuracy(both, split.labels)}


# ---------------------------------------------------------------------------------
# the plain PyTorch pipeline

def plain_fit(model: nn.Module, dataset: PILImages, config: training.FitConfig,
              num_workers: int, device: torch.device, max_steps: int | None = None,
              untimed_steps: int = 0) -> float:
    """Train ``model`` with a textbook DataLoader loop; returns the seconds it took.

    Same optimizer, per-step learning-rate schedule, label smoothing, batch size and
    epochs as ``fit`` under ``config``. ``max_steps`` stops early and the first
    ``untimed_steps`` are left out of the time (both for the worker probe).
    """
    torch.manual_seed(config.seed)
    memory_format = torch.channels_last if config.channels_last else torch.contiguous_format
    model.to(device, memory_format=memory_format).train()
    loader = DataLoader(dataset, batch_size=config.batch_size, shuffle=True,
                        drop_last=True, num_workers=num_workers,
                        persistent_workers=num_workers > 0)
    optimizer = training.optimizer_for(model, config)
    total_steps = config.num_epochs * len(loader)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: training.lr_factor(config.lr_schedule, step, total_steps))
    step = 0
    sync(device)
    start = time.perf_counter()
    for _ in range(config.num_epochs):
        for inputs, labels in loader:
            inputs = inputs.to(device, memory_format=memory_format)
            labels = labels.to(device)
            loss = nn.functional.cross_entropy(model(inputs), labels,
                                               label_smoothing=config.label_smoothing)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            step += 1
            if step == untimed_steps:
                sync(device)
                start = time.perf_counter()
            if max_steps is not None and step >= max_steps:
                break
        if max_steps is not None and step >= max_steps:
            break
    sync(device)
    return time.perf_counter() - start


def faster_workers(recipe: Recipe, dataset: PILImages,
                   device: torch.device) -> tuple[int, dict[int, float]]:
    """0 or 2 DataLoader workers, whichever trains ``PROBE_STEPS`` batches faster.

    Each probe times its batches after 5 untimed ones (worker start-up, first
    allocations); it also warms the plain pipeline up for the timed runs.
    """
    seconds = {}
    for workers in (0, 2):
        model = models.build_model(recipe.model)
        seconds[workers] = plain_fit(model, dataset, recipe.config, workers, device,
                                     max_steps=PROBE_STEPS + 5, untimed_steps=5)
    return min(seconds, key=seconds.get), seconds


def _load() -> str:
    """The machine's 1-minute load average after a run. The run's own threads make
    about the core count; well above it, other work was competing for the CPU."""
    return f"(load {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)"


# ---------------------------------------------------------------------------------
# one model

def describe(recipe: Recipe) -> str:
    """The recipe in one line, as printed above its runs."""
    c = recipe.config
    optimizer = f"SGD, Nesterov momentum {c.momentum}" if c.optimizer == "sgd" else c.optimizer
    return (f"{c.num_epochs} epochs, batch {c.batch_size}, {optimizer}, peak lr {c.lr}, "
            f"{c.lr_schedule} schedule, weight decay {c.weight_decay}, label smoothing "
            f"{c.label_smoothing}, augment {c.augment}, channels_last {c.channels_last}")


def warm_up_fit(recipe: Recipe, split: data.ImageSplit) -> None:
    """One untimed epoch of ``fit`` on ``PROBE_STEPS`` batches, as the plain probe warms."""
    images = data.subset(split, PROBE_STEPS * recipe.config.batch_size, seed=1)
    config = dataclasses.replace(recipe.config, num_epochs=1, verbose=False,
                                 progress=False)
    training.fit(models.build_model(recipe.model), images, config=config)


def run_fit(recipe: Recipe, split: data.ImageSplit, test: data.ImageSplit,
            seed: int) -> dict[str, float]:
    config = dataclasses.replace(recipe.config, seed=seed, verbose=False, progress=False)
    training.seed_everything(seed)
    model = models.build_model(recipe.model)
    history = training.fit(model, split, config=config)
    return {"seconds": history.train_time_s, **evaluate_with_flip(model, test)}


def run_plain(recipe: Recipe, dataset: PILImages, test: data.ImageSplit, seed: int,
              workers: int, mean: torch.Tensor, std: torch.Tensor,
              device: torch.device) -> dict[str, float]:
    config = dataclasses.replace(recipe.config, seed=seed)
    training.seed_everything(seed)
    model = models.build_model(recipe.model)  # same initialisation as fit's for this seed
    seconds = plain_fit(model, dataset, config, workers, device)
    return {"seconds": seconds, **evaluate_with_flip(model, test, mean=mean, std=std)}


def summary(runs: list[dict[str, float]], key: str) -> str:
    values = [r[key] for r in runs]
    if len(values) == 1:
        return f"{values[0]:.2f}"
    return (f"{statistics.mean(values):.2f} (min {min(values):.2f}, "
            f"max {max(values):.2f})")


def verdict(recipe: Recipe, runs: list[dict[str, float]], key: str) -> str:
    accs = [r[key] for r in runs]
    seconds = max(r["seconds"] for r in runs)
    met_acc = statistics.mean(accs) >= recipe.target_acc
    met_time = seconds <= recipe.time_limit_s
    word = "met" if met_acc and met_time else "NOT met"
    why = []
    if not met_acc:
        why.append(f"accuracy {statistics.mean(accs):.2f} < {recipe.target_acc}")
    if not met_time:
        why.append(f"{seconds:.1f} s > {recipe.time_limit_s:.0f} s")
    return word + (f" ({'; '.join(why)})" if why else "")


def benchmark(recipe: Recipe, split: data.ImageSplit, test: data.ImageSplit,
              seeds: list[int], skip_plain: bool, device: torch.device) -> dict:
    print(f"\n== {recipe.model}: target {recipe.target_acc} % ({recipe.source}) "
          f"in <= {recipe.time_limit_s:.0f} s")
    print(f"recipe: {describe(recipe)}")
    warm_up_fit(recipe, split)
    ours = []
    for seed in seeds:
        ours.append(run_fit(recipe, split, test, seed))
        r = ours[-1]
        print(f"  fit   seed {seed}: {r['seconds']:7.1f} s  test acc {r['acc']:.2f} %  "
              f"with flip averaging {r['acc_flip']:.2f} %  {_load()}", flush=True)
    result = {"model": recipe.model, "fit": ours, "plain": []}
    if not skip_plain:
        mean, std = channel_stats(split.images)
        transform = plain_transform(recipe.config.augment, mean.tolist(), std.tolist())
        dataset = PILImages(split, transform)
        workers, probe = faster_workers(recipe, dataset, device)
        timings = ", ".join(f"{w} workers {s:.1f} s" for w, s in probe.items())
        print(f"  plain loop: {workers} DataLoader workers "
              f"(probe of {PROBE_STEPS} batches: {timings})")
        for seed in seeds:
            result["plain"].append(run_plain(recipe, dataset, test, seed, workers,
                                             mean, std, device))
            r = result["plain"][-1]
            print(f"  plain seed {seed}: {r['seconds']:7.1f} s  test acc {r['acc']:.2f} %  "
                  f"with flip averaging {r['acc_flip']:.2f} %  {_load()}", flush=True)
    fit_s = statistics.mean(r["seconds"] for r in ours)
    print(f"  fit:   {fit_s:.1f} s, test acc {summary(ours, 'acc')} %, "
          f"with flip averaging {summary(ours, 'acc_flip')} %")
    print(f"  target {recipe.target_acc} % in {recipe.time_limit_s:.0f} s: "
          f"{verdict(recipe, ours, 'acc')} without flip averaging, "
          f"{verdict(recipe, ours, 'acc_flip')} with it")
    if result["plain"]:
        plain_s = statistics.mean(r["seconds"] for r in result["plain"])
        print(f"  plain: {plain_s:.1f} s, test acc {summary(result['plain'], 'acc')} %, "
              f"with flip averaging {summary(result['plain'], 'acc_flip')} %")
        print(f"  ratio (plain seconds / fit seconds): {plain_s / fit_s:.2f}")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=[*RECIPES, "all"], default="all")
    parser.add_argument("--skip-plain", action="store_true",
                        help="time training.fit only")
    parser.add_argument("--seed", type=int, default=0, help="first seed")
    parser.add_argument("--runs", type=int, default=1,
                        help="seeds to train (seed, seed + 1, ...); default 1")
    args = parser.parse_args()

    device = resolve_device("auto")
    splits = data.load_images("cifar10")
    split, test = splits["train"], splits["test"]
    seeds = list(range(args.seed, args.seed + args.runs))
    print(f"device {device} ({platform.processor() or platform.machine()}, "
          f"{torch.get_num_threads()} threads), torch {torch.__version__}, "
          f"{len(split)} training and {len(test)} test images, seeds {seeds}")
    names = list(RECIPES) if args.model == "all" else [args.model]
    results = [benchmark(RECIPES[name], split, test, seeds, args.skip_plain, device)
               for name in names]

    print(f"\nmeans over {len(seeds)} seed(s); (flip) = with test-time flip averaging")
    print("| model | target | fit s | fit acc % (flip) | plain s | plain acc % (flip) "
          "| ratio |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in results:
        recipe = RECIPES[r["model"]]
        fit_s, fit_acc, fit_flip = (statistics.mean(x[k] for x in r["fit"])
                                    for k in ("seconds", "acc", "acc_flip"))
        row = (f"| {r['model']} | {recipe.target_acc} % in {recipe.time_limit_s:.0f} s | "
               f"{fit_s:.1f} | {fit_acc:.2f} ({fit_flip:.2f}) | ")
        if r["plain"]:
            plain_s, plain_acc, plain_flip = (statistics.mean(x[k] for x in r["plain"])
                                              for k in ("seconds", "acc", "acc_flip"))
            row += (f"{plain_s:.1f} | {plain_acc:.2f} ({plain_flip:.2f}) | "
                    f"{plain_s / fit_s:.2f} |")
        else:
            row += "- | - | - |"
        print(row)


if __name__ == "__main__":
    main()
