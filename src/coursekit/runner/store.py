"""The run store: every run of a chapter kept in its own folder, never overwritten.

Layout::

    _build/runs/<ID>/<run id>/          one run, e.g. 20261129-221503-cpu-3fa2b1c9
        run.json                        what ran: parameters, key, status, seconds
        <stem>.ipynb                    the executed notebook (with its error box)
        record.json, ...                what the chapter wrote (its run folder)
    _build/runs/<ID>/pin.json           the run the book shows, when the user chose one
    _build/runs/book.json               the profile the book was last built with

A run is built in a hidden folder (``.partial-<attempt>``) and renamed into place once
complete, so a kill at any moment leaves either no run or a whole one; listing skips
hidden folders and ``coursekit runs prune`` removes them. The run id starts with the
time it started (ids sort by time) and ends with the first digits of its cache key
(:func:`.cache.cache_key`: notebook, parameters, library), so runs of the same key are
easy to spot. Nothing here executes notebooks; :mod:`.execute` does.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from coursekit._atomic import write_text_atomic

from .errors import RunnerError

__all__ = ["StoredRun", "runs_root", "list_runs", "open_run", "find_run", "latest_run", "begin_run",
           "commit_run", "pin_run", "unpin", "pinned_id", "book_profile", "book_library",
           "set_book_profile", "leftovers", "remove"]

META = "run.json"
PIN = "pin.json"
_PARTIAL = ".partial-"


@dataclass(frozen=True)
class StoredRun:
    """One finished run in the store: its folder and what ``run.json`` says of it."""

    folder: Path
    meta: Mapping[str, Any]

    @property
    def id(self) -> str:
        return self.folder.name

    @property
    def chapter(self) -> str:
        return str(self.meta.get("chapter", self.folder.parent.name))

    @property
    def status(self) -> str:
        """``"ok"`` or ``"failed"``."""
        return str(self.meta.get("status", "failed"))

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def key(self) -> str:
        return str(self.meta.get("key", ""))

    @property
    def profile(self) -> str:
        return str(self.meta.get("params", {}).get("profile", ""))

    @property
    def params(self) -> dict[str, Any]:
        return dict(self.meta.get("params", {}))

    @property
    def overrides(self) -> dict[str, Any]:
        """The ``-p`` values the run was given on top of its profile."""
        return dict(self.meta.get("overrides", {}))

    @property
    def seconds(self) -> float:
        return float(self.meta.get("seconds", 0.0))

    @property
    def notebook(self) -> Path:
        """The executed notebook."""
        return self.folder / str(self.meta.get("notebook", ""))

    def record(self) -> dict[str, Any]:
        """The chapter's ``record.json``, or {} when it wrote none (or failed)."""
        try:
            record = json.loads((self.folder / "record.json").read_text("utf-8"))
        except (OSError, ValueError):
            return {}
        return record if isinstance(record, dict) else {}


def runs_root(root: Path) -> Path:
    """``<root>/_build/runs``: one folder per chapter id."""
    return root / "_build" / "runs"


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def _write_json(path: Path, value: Mapping[str, Any]) -> None:
    write_text_atomic(path, json.dumps(value, indent=1, default=repr))


def list_runs(root: Path, chapter: str | None = None) -> list[StoredRun]:
    """The finished runs, oldest first; of one chapter id (any case) or of all."""
    base = runs_root(root)
    if not base.is_dir():
        return []
    folders = [f for f in base.iterdir() if f.is_dir() and not f.name.startswith(".")]
    if chapter is not None:
        folders = [f for f in folders if f.name.upper() == chapter.upper()]
    runs = []
    for folder in folders:
        for run in folder.iterdir():
            meta = _read_json(run / META) if not run.name.startswith(".") else None
            if run.is_dir() and meta is not None:
                runs.append(StoredRun(run, meta))
    return sorted(runs, key=lambda r: (float(r.meta.get("started_at", 0)), r.id))


def open_run(folder: Path) -> StoredRun:
    """The finished run in ``folder`` (a :class:`.execute.RunResult`'s ``run_dir``).

    Raises:
        RunnerError: when the folder holds no readable ``run.json``.
    """
    meta = _read_json(Path(folder) / META)
    if meta is None:
        raise RunnerError(f"{folder} is not a finished run (no readable {META})")
    return StoredRun(Path(folder), meta)


def find_run(root: Path, text: str) -> StoredRun:
    """The run whose id is ``text`` or starts with it (or ends with it: the key part).

    Raises:
        RunnerError: when no run or several match; the message lists candidates.
    """
    runs = list_runs(root)
    exact = [r for r in runs if r.id == text]
    matches = exact or [r for r in runs if r.id.startswith(text) or r.id.endswith(text)]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise RunnerError(f"no run {text!r} in {runs_root(root)}. "
                          "List them with: coursekit runs")
    shown = ", ".join(r.id for r in matches[:6])
    raise RunnerError(f"{text!r} matches {len(matches)} runs ({shown}); give more of "
                      "the run id")


def latest_run(root: Path, chapter: str, key: str, *, ok: bool = True) -> StoredRun | None:
    """The newest run of ``chapter`` with cache key ``key`` (only successful ones when
    ``ok``), or None."""
    runs = [r for r in list_runs(root, chapter) if r.key == key and (r.ok or not ok)]
    return runs[-1] if runs else None


def begin_run(root: Path, chapter: str) -> Path:
    """A new, empty hidden folder for a run in progress; :func:`commit_run` publishes it."""
    staging = runs_root(root) / chapter / f"{_PARTIAL}{uuid.uuid4().hex[:12]}"
    staging.mkdir(parents=True)
    return staging


def _new_id(folder: Path, started: float, profile: str, key: str) -> str:
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(started))
    base = f"{stamp}-{profile}-{key[:8]}"
    run_id, n = base, 1
    while (folder / run_id).exists():
        n += 1
        run_id = f"{base}-{n}"
    return run_id


def commit_run(staging: Path, meta: Mapping[str, Any]) -> StoredRun:
    """Write ``run.json`` into ``staging`` and rename it to its run id (atomic)."""
    started = float(meta.get("started_at", time.time()))
    for _ in range(5):  # another process may take the same id between check and rename
        run_id = _new_id(staging.parent, started, str(meta["params"]["profile"]),
                         str(meta["key"]))
        _write_json(staging / META, {**meta, "id": run_id})
        try:
            os.rename(staging, staging.parent / run_id)
        except OSError:
            continue
        final = staging.parent / run_id
        return StoredRun(final, _read_json(final / META) or {})
    raise RunnerError(f"could not publish the run in {staging}: every id was taken")


# ---------------------------------------------------------------- the book's choice


def pinned_id(root: Path, chapter: str) -> str | None:
    """The id of the run the user put into the book for ``chapter``, if any."""
    pin = _read_json(runs_root(root) / chapter / PIN)
    return str(pin["run"]) if pin and "run" in pin else None


def pin_run(root: Path, run: StoredRun) -> None:
    """Make ``run`` the one the book shows for its chapter (until :func:`unpin`)."""
    if not run.ok:
        raise RunnerError(f"run {run.id} failed; only a successful run can go into "
                          "the book")
    _write_json(runs_root(root) / run.chapter / PIN, {"run": run.id})


def unpin(root: Path, chapter: str) -> bool:
    """Let the book show the run of its own profile again; False when none was pinned."""
    pin = runs_root(root) / chapter / PIN
    existed = pin.exists()
    pin.unlink(missing_ok=True)
    return existed


def book_profile(root: Path, default: str = "cpu") -> str:
    """The profile of the last ``coursekit build`` (``default`` before the first)."""
    saved = _read_json(runs_root(root) / "book.json")
    return str(saved.get("profile", default)) if saved else default


def book_library(root: Path) -> str | None:
    """The library digest the last ``coursekit build`` ran with (None before the first):
    the book shows that build's runs until the next build."""
    saved = _read_json(runs_root(root) / "book.json")
    return str(saved["library"]) if saved and saved.get("library") else None


def set_book_profile(root: Path, profile: str, library: str | None = None) -> None:
    """Record what the book is built from: a profile and a library digest."""
    _write_json(runs_root(root) / "book.json", {"profile": profile, "library": library})


# ---------------------------------------------------------------- clean-up


def leftovers(root: Path) -> list[Path]:
    """Hidden folders of runs that never finished (the process was killed)."""
    base = runs_root(root)
    if not base.is_dir():
        return []
    return sorted(p for chapter in base.iterdir() if chapter.is_dir()
                  for p in chapter.glob(f"{_PARTIAL}*") if p.is_dir())


def remove(folder: Path) -> None:
    """Delete a run folder: renamed to a hidden name first, so it vanishes at once."""
    doomed = folder.with_name(f"{_PARTIAL}removed-{uuid.uuid4().hex[:8]}")
    os.rename(folder, doomed)
    shutil.rmtree(doomed, ignore_errors=True)
