"""Time `coursekit build` on a fresh copy of the book, then again with nothing changed.

The first build executes every chapter and the scoreboard's seed runs under PROFILE and
renders the HTML; the second finds every run cached and re-renders only what changed
(nothing), which is what a reader's `make book` costs after a `git pull` that touched
no chapter. Prints both wall times and the per-run times of the first build. Targets:
smoke about 5 minutes, cpu at most 60 minutes seed runs included (issue 19), a
no-change rebuild under 60 s.

    make setup && .venv/bin/python benchmarks/build_time.py --profile smoke   # ~5 min
    .venv/bin/python benchmarks/build_time.py --profile cpu --keep /tmp/cpu-book
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
    """The book's sources in ``target``, so the repository's own build is untouched."""
    target.mkdir(parents=True, exist_ok=True)
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy(REPO / name, target / name)
    for folder in ("book", "chapters"):
        shutil.copytree(REPO / folder, target / folder)
    return target


def timed_build(root: Path, profile: str, extra: list[str]) -> tuple[float, str]:
    """Wall seconds and printed output of one `coursekit build`."""
    command = [sys.executable, "-m", "coursekit.cli", "--root", str(root), "build",
               "--profile", profile, *extra]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} exited {done.returncode}:\n{done.stdout[-3000:]}"
                 f"\n{done.stderr[-3000:]}")
    return seconds, done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="smoke", choices=("smoke", "cpu", "gpu"))
    parser.add_argument("--keep", type=Path, metavar="DIR",
                        help="build in DIR and keep it (default: a temporary folder)")
    parser.add_argument("build_args", nargs="*",
                        help="more arguments for coursekit build, after --")
    args = parser.parse_args()
    os.environ.setdefault("COURSEKIT_DATA_MIRROR", str(REPO.parent / "shared" / "data"))
    with tempfile.TemporaryDirectory() as scratch:
        root = copy_book(args.keep or Path(scratch) / "book")
        first, output = timed_build(root, args.profile, args.build_args)
        again, _ = timed_build(root, args.profile, args.build_args)
    table = output[output.find("run "):output.find("\nbuilding the HTML")].rstrip()
    print(table)
    print(f"\nfresh {args.profile} build: {first:.1f} s ({first / 60:.1f} min)")
    print(f"rebuild with nothing changed: {again:.1f} s")


if __name__ == "__main__":
    main()
