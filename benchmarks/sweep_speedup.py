"""Time one sweep run serially here and on a local Dask cluster, side by side.

Runs ``coursekit sweep CHAPTER --profile PROFILE -p seed=0,...,N-1 --force`` twice on a
temporary copy of the book: with ``--executor local`` (one run after another, in this
process) and with ``--executor dask --workers W`` (a scheduler and W worker processes
on 127.0.0.1), alternating when ``--repeats`` > 1, and prints each wall time and their
ratio. Every point is forced to execute, so both sides do the same work.

    make setup && .venv/bin/python benchmarks/sweep_speedup.py            # about 3 min
    .venv/bin/python benchmarks/sweep_speedup.py --chapter A6 --points 6 --workers 3
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def copy_book(target: Path) -> Path:
    """The book's sources in ``target``: the runs there never touch the repository's."""
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy(REPO / name, target / name)
    for folder in ("book", "chapters"):
        shutil.copytree(REPO / folder, target / folder)
    return target


def time_sweep(root: Path, args: argparse.Namespace, executor: str) -> float:
    """Wall seconds of one forced sweep with ``executor``; fails loudly if a run fails."""
    seeds = ",".join(str(s) for s in range(args.points))
    command = [sys.executable, "-m", "coursekit.cli", "--root", str(root), "sweep",
               args.chapter, "--profile", args.profile, "-p", f"seed={seeds}", "--force",
               "--executor", executor, "--workers", str(args.workers)]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chapter", default="A1")
    parser.add_argument("--profile", default="smoke")
    parser.add_argument("--points", type=int, default=4, help="seeds swept")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    os.environ.setdefault("COURSEKIT_DATA_MIRROR", str(REPO.parent / "shared" / "data"))
    times: dict[str, list[float]] = {"local": [], "dask": []}
    with tempfile.TemporaryDirectory() as folder:
        root = copy_book(Path(folder))
        time_sweep(root, argparse.Namespace(**{**vars(args), "points": 1}), "local")  # warm caches
        for _ in range(args.repeats):
            for executor in times:
                times[executor].append(time_sweep(root, args, executor))
                print(f"{executor:5s}: {times[executor][-1]:6.1f} s", flush=True)
    best = {name: min(values) for name, values in times.items()}
    print(f"\n{args.chapter} under {args.profile}, {args.points} seeds, "
          f"{os.cpu_count()} cores: serial {best['local']:.1f} s, "
          f"{args.workers} Dask workers {best['dask']:.1f} s")
    print(f"speedup {best['local'] / best['dask']:.2f}")


if __name__ == "__main__":
    main()
