"""Train one registry model on one image dataset, in one process or many (torchrun).

One process (CPU, or the first GPU)::

    python -m coursekit.train_script --model lenet --dataset cifar10 --epochs 2 --out runs/x

One machine with N GPUs (one process per GPU; the global batch stays --batch-size)::

    torchrun --standalone --nproc_per_node=N -m coursekit.train_script \\
        --model resnet18 --dataset cifar10 --epochs 30 --batch-size 512 --out runs/r18

The script joins the process group (``distributed.init_from_env``), loads the data
through ``coursekit.data`` (``data.train_val_test``: a stratified validation set held
out of train, the dataset's test split), trains with ``training.fit``, evaluates on the
test split, and rank 0 writes ``OUT/record.json`` (``report.write_run_record``) and
keeps the checkpoint ``OUT/checkpoint.pt``; running the same command again resumes
from it (with the same number of processes). Across several machines, OUT must be on a
file system they all see (every rank reads the checkpoint to resume), and each machine
needs the data (its own cache or the mirror, ``COURSEKIT_DATA_MIRROR``).
"""

from __future__ import annotations

import argparse
import ast
import sys
import time
from pathlib import Path

__all__ = ["CHECKPOINT", "image_datasets", "image_models", "main", "parse_args"]

CHECKPOINT = "checkpoint.pt"  # in --out


def image_models() -> list[str]:
    """Registry names of the models that classify images (what this script trains)."""
    from coursekit import models
    return [n for n in models.list_models() if models.get_spec(n).inputs == "images"]


def image_datasets() -> list[str]:
    """Dataset names whose manifest describes an image classification dataset."""
    from coursekit import data
    names = []
    for name in data.list_datasets():
        manifest = data.load_manifest(name)
        if manifest.image_shape is not None and manifest.classes:
            names.append(name)
    return names


def _model_arg(text: str) -> tuple[str, object]:
    """``KEY=VALUE`` with VALUE a Python literal (0.25, (0.5, 0.5), True) or a word."""
    key, sep, value = text.partition("=")
    if not sep or not key.isidentifier():
        raise argparse.ArgumentTypeError(f"{text!r} is not KEY=VALUE, e.g. width=0.25")
    try:
        return key, ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return key, value


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line; see ``--help``. Unknown model or dataset names are refused here,
    before any process group is joined, with the known names."""
    p = argparse.ArgumentParser(
        prog="coursekit.train_script",
        description="Train a coursekit model with training.fit, in one process or under "
                    "torchrun (one process per GPU, or several on the CPU).")
    p.add_argument("--model", required=True, help="a registry name, e.g. lenet, resnet18")
    p.add_argument("--dataset", default="cifar10",
                   help="an image dataset (default cifar10)")
    p.add_argument("--out", required=True, type=Path,
                   help="folder for record.json and the checkpoint")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=128,
                   help="the GLOBAL batch, split evenly across the processes")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--optimizer", default="adam",
                   help="adam | sgd | rmsprop | adagrad | gd (see FitConfig)")
    p.add_argument("--weight-decay", type=float, default=None,
                   help="default: the model's report value (its ModelSpec), else 0")
    p.add_argument("--lr-schedule", default="constant", help="constant | cosine | onecycle")
    p.add_argument("--augment", default="none", help="e.g. flip_crop (coursekit.training.augment)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--num-val", type=int, default=5000,
                   help="training images held out for validation (stratified)")
    p.add_argument("--train-subset", type=int, default=0,
                   help="train on a stratified sample of this many images (0 = all)")
    p.add_argument("--test-subset", type=int, default=0,
                   help="test on a stratified sample of this many images (0 = all)")
    p.add_argument("--early-stopping-patience", type=int, default=None)
    p.add_argument("--device", default="auto", help="auto (a GPU per process if any) | cpu")
    p.add_argument("--model-arg", action="append", default=[], type=_model_arg,
                   metavar="KEY=VALUE", help="extra model keyword, e.g. width=0.25 "
                   "(repeatable)")
    p.add_argument("--no-checkpoint", action="store_true",
                   help="neither write nor resume OUT/checkpoint.pt")
    p.add_argument("--quiet", action="store_true", help="no per-epoch rows")
    args = p.parse_args(argv)
    models_known, datasets_known = image_models(), image_datasets()
    if args.model not in models_known:
        p.error(f"unknown model {args.model!r}; known image models: "
                f"{', '.join(models_known)}")
    if args.dataset not in datasets_known:
        p.error(f"unknown dataset {args.dataset!r}; known image datasets: "
                f"{', '.join(datasets_known)}")
    return args


def _build_model(name: str, splits: dict, extra: dict):
    """The registry model sized for the data: classes always, image size and channels
    for the models that take them (LeNet, VGG), and the user's ``--model-arg``s."""
    from coursekit import models
    images = splits["train"].images
    sized = {"num_classes": len(splits["train"].classes), "in_channels": images.shape[1],
             "image_size": images.shape[-1]}
    try:
        return models.build_model(name, **{**sized, **extra})
    except TypeError:  # a model without in_channels / image_size (ResNet, MLP)
        return models.build_model(name, num_classes=sized["num_classes"], **extra)


def main(argv: list[str] | None = None) -> dict:
    """Run the script; returns the results (the same dict on every rank)."""
    args = parse_args(argv)
    import torch

    from coursekit import data, models, training
    from coursekit.book import report
    from coursekit.training import distributed

    context = distributed.init_from_env(args.device)
    start = time.perf_counter()
    try:
        # one process per machine decodes the dataset into its cache first; the
        # others then read the cache instead of decoding it again
        first = context.local_rank == 0
        if not first:
            distributed.barrier()
        splits = data.train_val_test(args.dataset, num_val=args.num_val, seed=args.seed,
                                     train_subset=args.train_subset,
                                     test_subset=args.test_subset)
        if first:
            distributed.barrier()

        training.seed_everything(args.seed)  # the same initial weights on every rank
        model = _build_model(args.model, splits, dict(args.model_arg))
        spec = models.get_spec(args.model)
        weight_decay = (args.weight_decay if args.weight_decay is not None
                        else spec.weight_decay)
        out = args.out
        config = training.FitConfig(
            num_epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
            optimizer=args.optimizer, weight_decay=weight_decay,
            lr_schedule=args.lr_schedule, augment=args.augment, seed=args.seed,
            early_stopping_patience=args.early_stopping_patience,
            device=str(context.device), verbose=not args.quiet, progress=False,
            checkpoint_path=None if args.no_checkpoint else str(out / CHECKPOINT))
        history = training.fit(model, splits["train"], splits["val"], config)
        test = training.evaluate(model, splits["test"], device=context.device, sharded=True)
        results = {"test_acc": test["acc"], "test_loss": test["loss"],
                   "best_epoch": history.best_epoch,
                   "world_size": context.world_size, "global_batch": args.batch_size,
                   "per_process_batch": args.batch_size // context.world_size,
                   "num_parameters": models.count_parameters(model),
                   "history": history.to_dict()}
        params = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
        params.update(model_arg=dict(args.model_arg), weight_decay=weight_decay)
        timings = {"total_s": time.perf_counter() - start,
                   "train_s": history.train_time_s, "throughput": history.throughput}
        path = report.write_run_record("train_script", profile="script", params=params,
                                       results=results, timings=timings, run_dir=out)
        if context.is_main:
            print(f"{args.model} on {args.dataset}, {context.world_size} process(es), "
                  f"global batch {args.batch_size}: test accuracy {test['acc']:.2f}% "
                  f"({torch.__version__}, {context.device}); record: {path}", flush=True)
        distributed.barrier()  # nobody leaves before rank 0 has written
        return results
    finally:
        distributed.destroy()


if __name__ == "__main__":
    main(sys.argv[1:])
