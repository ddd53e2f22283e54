"""One writer at a time per book: ``coursekit run``, ``sweep``, ``build`` and ``runs
prune``/``pin``/``unpin`` hold ``_build/coursekit.lock`` while they work.

Runs already never share a folder (see :mod:`.store`), so the lock guards what several
commands touch: the book's choice of runs, the staged book, the pruning, and the two
cores a training needs. A second command waits, and says once which command holds the
lock and since when; with ``wait=False`` it stops with that message instead. The lock
is an ``fcntl.flock`` on the file, so the operating system releases it when its holder
exits, even when it is killed. Where ``fcntl`` is missing (Windows) there is no lock.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from .errors import RunnerError

__all__ = ["book_lock", "lock_path"]

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None


def lock_path(root: Path) -> Path:
    return root / "_build" / "coursekit.lock"


def _holder(path: Path) -> str:
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
        since = time.strftime("%H:%M:%S", time.localtime(info["since"]))
        return f"`{info['command']}` (process {info['pid']}, since {since})"
    except (OSError, ValueError, KeyError, TypeError):
        return "another coursekit process"


@contextlib.contextmanager
def book_lock(root: Path, command: str, *, wait: bool = True,
              say: Callable[[str], None] | None = None) -> Iterator[None]:
    """Hold the book's lock for the ``with`` block.

    Args:
        root: the book root.
        command: what this process does, shown to a process that has to wait.
        wait: wait for the holder to finish; else raise at once.
        say: where the waiting message goes (default: standard error).
    Raises:
        RunnerError: when ``wait`` is False and another process holds the lock.
    """
    if fcntl is None:
        yield
        return
    path = lock_path(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            message = f"{_holder(path)} is using this book"
            if not wait:
                raise RunnerError(f"{message}; wait for it to finish, or run again "
                                  "without --no-wait to wait for it") from None
            (say or (lambda m: print(m, file=sys.stderr, flush=True)))(
                f"waiting: {message} ...")
            fcntl.flock(handle, fcntl.LOCK_EX)
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps({"pid": os.getpid(), "command": command,
                                 "since": time.time()}))
        handle.flush()
        try:
            yield
        finally:
            handle.seek(0)
            handle.truncate()
            handle.flush()
            fcntl.flock(handle, fcntl.LOCK_UN)
