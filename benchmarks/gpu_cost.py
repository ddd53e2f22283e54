"""What each chapter's training costs under each profile, counted rather than timed.

No GPU is available to this project's machines, so the `gpu` profile cannot be run
here. This script makes its cost visible: for every chapter whose networks are
convolutional or fully connected it lists the work per profile (training examples x
epochs x runs) and the forward FLOPs per example of its network, counted with
`torch.utils.flop_counter` on the meta device (no memory, no arithmetic), and from
them the training FLOPs (3 x forward: the backward pass costs about twice the
forward). Beside them: the GPU seconds report A states for the same runs on its RTX
A6000. The last lines estimate the `gpu` book on one modern GPU at a stated
utilisation. Recurrent chapters (text, names, translation, load) are listed without
FLOPs: the counter counts matrix products and convolutions, not the fused recurrent
kernels.

    .venv/bin/python benchmarks/gpu_cost.py            # the table, in Markdown
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import torch
from torch.utils.flop_counter import FlopCounterMode

from coursekit import models, runner
from coursekit.book import report

PROFILES = tuple(runner.PROFILES)
UNCOUNTED = ("recurrent networks in C2, B3, B4, A7, A8 and A10, whose fused kernels the "
             "counter does not see; scikit-learn in C1; a two-parameter function in O1; no "
             "training in B5; E1's MLPs of ten depths are not described in this script")
CIFAR_TRAIN, TIN_TRAIN = 50_000, 100_000


@dataclass(frozen=True)
class Job:
    """Runs of one network: ``runs`` trainings of ``epochs`` over ``examples``."""

    model: str
    kwargs: dict
    shape: tuple[int, ...]  # one example (C, H, W) or (features,)
    examples: int
    epochs: int
    runs: int = 1


def _n(subset: int, full: int, held_out: int = 0) -> int:
    """Training examples: ``subset``, or all of them (0) less the held-out ones."""
    return subset or full - held_out


def _jobs(cid: str, p: dict) -> list[Job] | None:
    """The trainings of chapter ``cid`` under resolved parameters ``p``; None for a
    chapter whose networks the counter cannot count."""
    width = {"width": p["width"]} if p.get("width", 1.0) != 1.0 else {}
    cifar = (3, 32, 32)
    tin = (3, 64, 64)
    if cid == "A1":
        return [Job(m, {"num_classes": 10}, cifar, _n(p["train_subset"], CIFAR_TRAIN,
                                                       p["num_val"]), p["num_epochs"])
                for m in report.select_variants("A1", p["variants"])]
    if cid == "A2":
        return [Job(m, {"num_classes": 200, "image_size": 64}, tin,
                    _n(p["train_subset"], TIN_TRAIN), p["num_epochs"])
                for m in report.select_variants("A2", p["variants"])]
    if cid == "D1":
        return [Job("compact_cnn", {}, cifar, _n(p["train_subset"], CIFAR_TRAIN, p["num_val"]),
                    p["num_epochs"], runs=2)]  # with and without augmentation
    if cid in ("B1", "B2"):
        names = (("vgg13", "vgg13_l2", "vgg13_dropout", "vgg13", "vgg13") if cid == "B1"
                 else ("resnet18", "resnet18_dropout", "resnet18"))
        return [Job(m, {"num_classes": 3, **width}, tin,
                    _n(p["train_subset"], 1500, p["num_val"]), p["num_epochs"]) for m in names]
    if cid == "A3":
        cifar_n = _n(p["cifar_subset"], CIFAR_TRAIN, p["num_val"])
        tin_names = report.select_variants("A4", p["tin_variants"])
        return ([Job(m, {"num_classes": 10, **width}, cifar, cifar_n, p["cifar_epochs"])
                 for m in report.reported("A3").index]
                + [Job(m, {"num_classes": 200, **width}, tin, _n(p["tin_subset"], TIN_TRAIN),
                       p["tin_epochs"]) for m in tin_names])
    if cid == "A5":
        cifar_n = _n(p["cifar_subset"], CIFAR_TRAIN, p["num_val"])
        tin_n = _n(p["tin_subset"], TIN_TRAIN)
        return [Job(m, kw, shape, n, epochs, runs=2)  # Kaiming and large Gaussian
                for m, kw in (("super_lenet", {}), (p["resnet"], width))
                for shape, n, epochs, classes in ((cifar, cifar_n, p["cifar_epochs"], 10),
                                                  (tin, tin_n, p["tin_epochs"], 200))
                for kw in [{**kw, "num_classes": classes,
                            **({"image_size": shape[1]} if m == "super_lenet" else {})}]]
    if cid == "A6":
        return [Job(p["model"], {"num_classes": 200, "image_size": 64, **width}, tin,
                    _n(p["train_subset"], TIN_TRAIN), p["num_epochs"],
                    runs=len(p["batch_sizes"]))]
    if cid == "C4":
        return [Job(m, {"num_classes": 10, "embed_dim": 128, **width}, tin,
                    _n(p["train_subset"], 5000), p["num_epochs"])
                for m in ("resnet18_ce", "resnet18_triplet", "resnet18_triplet",
                          "resnet18_center", "resnet18_center")]
    if cid == "C3":
        n = _n(p["train_subset"], 5000)
        return [Job("mlp_autoencoder", {"input_dim": 4096}, (4096,), n, p["ae_epochs"])]
    if cid == "E3":
        runs = 5 * len(p["seeds"]) + 2 * len(p["strengths"]) + 2 * len(p["seeds"])
        return [Job("mlp_6x256", {"in_features": 1024}, (1, 32, 32),
                    _n(p["train_subset"], 1000, p["num_val"]), p["num_epochs"], runs=runs)]
    return None


def forward_flops(job: Job) -> int:
    """Forward FLOPs of one example through the job's network (meta device)."""
    with torch.device("meta"):
        model = models.build_model(job.model, **job.kwargs).eval()
        with FlopCounterMode(display=False) as counter:
            model(torch.empty(1, *job.shape))
    return counter.get_total_flops()


def reported_gpu_seconds(cid: str) -> float | None:
    """The GPU seconds report A states for the chapter's experiments, summed."""
    experiments = {"A1": ["A1"], "A2": ["A2"], "A3": ["A3", "A4"], "A5": [], "A6": ["A6"]}
    total = 0.0
    for exp in experiments.get(cid, ()):
        table = report.reported(exp)
        column = "gpu_time_s" if "gpu_time_s" in table else "time_s"
        total += float(table[column].sum())
    return total or None


def _fmt(value: float | None, unit: str = "") -> str:
    if value is None:
        return "-"
    for scale, suffix in ((1e18, "E"), (1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M")):
        if value >= scale:
            return f"{value / scale:.1f} {suffix}{unit}"
    return f"{value:,.0f} {unit}".strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tflops", type=float, default=312.0,
                        help="the GPU's dense bf16 peak (default: an A100's 312)")
    parser.add_argument("--utilisation", type=float, default=0.3,
                        help="the share of that peak the training reaches (default 0.3)")
    args = parser.parse_args()
    root = runner.find_book_root()
    print("| chapter | largest network (gpu) | its forward FLOPs / example | "
          + " | ".join(f"{p}: examples seen, training FLOPs" for p in PROFILES)
          + " | report A's GPU time |")
    print("|---|---|---:|---:|---:|---:|---:|")
    gpu_total, uncounted = 0.0, []
    for chapter in runner.list_chapters(root):
        cells, network, per_example = [], "-", "-"
        for profile in PROFILES:
            jobs = _jobs(chapter.id, runner.resolve_parameters(chapter, profile))
            if jobs is None:
                cells = []
                break
            forward = [forward_flops(j) for j in jobs]  # counted once per job
            work = sum(j.examples * j.epochs * j.runs for j in jobs)
            flops = sum(3 * f * j.examples * j.epochs * j.runs for f, j in zip(forward, jobs))
            cells.append(f"{_fmt(work)}, {_fmt(flops, 'FLOP')}")
            if profile == "gpu":
                gpu_total += flops
                most, biggest = max(zip(forward, jobs), key=lambda pair: pair[0])
                network, per_example = biggest.model, _fmt(most, "FLOP")
        if not cells:
            uncounted.append(chapter.id)
            continue
        seconds = reported_gpu_seconds(chapter.id)
        print(f"| {chapter.id} | {network} | {per_example} | " + " | ".join(cells)
              + f" | {_fmt(seconds, 's') if seconds else '-'} |")
    rate = args.tflops * 1e12 * args.utilisation
    print(f"\nTraining FLOPs of the counted chapters under `gpu`: {_fmt(gpu_total, 'FLOP')}; "
          f"at {args.utilisation:.0%} of {args.tflops:g} TFLOPS: "
          f"{gpu_total / rate / 3600:.1f} GPU hours. Not counted: {', '.join(uncounted)} "
          f"({UNCOUNTED}).")


if __name__ == "__main__":
    main()
