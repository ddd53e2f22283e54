"""What ``coursekit runs`` shows: the stored runs, two runs side by side, what to prune.

Read-only except :func:`prune`; the folders themselves are :mod:`.store`'s.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import store
from .cache import default_library_paths, library_digest
from .chapters import find_chapter, list_chapters
from .execute import Task, book_run, run_key
from .errors import ParameterError
from .params import resolve_parameters
from .store import StoredRun

__all__ = ["RunRow", "run_rows", "headline", "compare", "Prunable", "prunable", "prune",
           "estimate_seconds"]


def headline(run: StoredRun) -> str:
    """One line of a run's result: its claims that hold, then its first number.

    Example: ``"14/16 claims hold; LeNet train accuracy (%) 67.66 (report 69.6)"``.
    """
    if not run.ok:
        return str(run.meta.get("error") or "failed").splitlines()[0][:80]
    record = run.record()
    words = []
    tested = [c for c in record.get("claims") or []
              if c.get("verdict") in ("holds", "does not hold")]
    if tested:
        held = sum(c["verdict"] == "holds" for c in tested)
        words.append(f"{held}/{len(tested)} claims hold")
    for row in record.get("comparison") or []:
        ours, theirs = row.get("reproduced"), row.get("reported")
        if isinstance(ours, (int, float)) and math.isfinite(ours):
            report = f" (report {theirs:.4g})" if isinstance(theirs, (int, float)) else ""
            words.append(f"{row.get('variant')} {row.get('metric')} {ours:.4g}{report}")
            break
    return "; ".join(words) or "no record"


@dataclass(frozen=True)
class RunRow:
    """A stored run as ``coursekit runs`` lists it."""

    run: StoredRun
    in_book: bool   # the run the book shows for its chapter
    current: bool   # its key is what the chapter, parameters and library give today


def _current_keys(root: Path, runs: Sequence[StoredRun]) -> dict[str, bool]:
    """Run id -> whether running it again today would give the same key."""
    library = library_digest(default_library_paths(root))
    chapters = {c.id: c for c in list_chapters(root)}
    current = {}
    for run in runs:
        chapter = chapters.get(run.chapter)
        if chapter is None:  # the chapter is gone
            current[run.id] = False
            continue
        try:
            params = resolve_parameters(chapter, run.profile, run.overrides)
        except ParameterError:  # a parameter was renamed, removed or narrowed since
            current[run.id] = False
            continue
        current[run.id] = run_key(root, chapter, params, library) == run.key
    return current


def run_rows(root: Path, chapter: str | None = None) -> list[RunRow]:
    """Every stored run (of one chapter, if given), oldest first."""
    if chapter is not None:
        chapter = find_chapter(root, chapter).id
    runs = store.list_runs(root, chapter)
    current = _current_keys(root, runs)
    shown = {}
    for ch in list_chapters(root):
        if chapter is None or ch.id == chapter:
            run = book_run(root, ch)
            shown[ch.id] = run.id if run else None
    return [RunRow(r, shown.get(r.chapter) == r.id, current[r.id]) for r in runs]


def _flat(value: Any) -> str:
    """A parameter's value as a table cell ("-" when a run does not have it)."""
    return "-" if value is None else str(value)


def compare(a: StoredRun, b: StoredRun) -> dict[str, list[tuple]]:
    """Two runs side by side.

    Returns:
        ``{"parameters": [(name, a, b)], "results": [(experiment, variant, metric,
        a, b, reported)], "claims": [(experiment, claim, a, b)]}``: only the parameters
        that differ; every result and claim either run has.
    """
    names = list(dict.fromkeys([*a.params, *b.params]))
    parameters = [(n, _flat(a.params.get(n)), _flat(b.params.get(n))) for n in names
                  if a.params.get(n) != b.params.get(n)]
    if a.chapter != b.chapter:
        parameters.insert(0, ("chapter", a.chapter, b.chapter))

    def numbers(run):
        return {(r.get("experiment"), r.get("variant"), r.get("metric")): r
                for r in run.record().get("comparison") or [] if "metric" in r}

    ours, theirs = numbers(a), numbers(b)
    results = [(*key, (ours.get(key) or {}).get("reproduced"),
                (theirs.get(key) or {}).get("reproduced"),
                (ours.get(key) or theirs.get(key) or {}).get("reported"))
               for key in dict.fromkeys([*ours, *theirs])]

    def verdicts(run):
        return {(c.get("experiment"), c.get("claim", c.get("id"))): c.get("verdict")
                for c in run.record().get("claims") or []}

    va, vb = verdicts(a), verdicts(b)
    claims = [(*key, va.get(key, "-"), vb.get(key, "-"))
              for key in dict.fromkeys([*va, *vb])]
    return {"parameters": parameters, "results": results, "claims": claims}


@dataclass(frozen=True)
class Prunable:
    """A folder ``coursekit runs prune`` would delete, and why."""

    folder: Path
    reason: str

    @property
    def megabytes(self) -> float:
        return sum(f.stat().st_size for f in self.folder.rglob("*") if f.is_file()) / 2**20


def prunable(root: Path, chapter: str | None = None) -> list[Prunable]:
    """The runs no page and no cache would read again: failed ones, stale ones (the
    chapter, its parameters or the library changed since), older runs of a key that
    has a newer successful run, and the leftovers of killed runs. Never the run a page
    shows or one the user put into the book."""
    rows = run_rows(root, chapter)
    newest_ok = {}
    for row in rows:
        if row.run.ok:
            newest_ok[row.run.key] = row.run.id
    doomed = []
    for row in rows:
        run = row.run
        if row.in_book:  # the run a page shows, pinned or not
            continue
        reason = ("failed" if not run.ok else
                  "stale: the chapter, its parameters or the library changed"
                  if not row.current else
                  f"older than {newest_ok[run.key]}, a run of the same key"
                  if newest_ok.get(run.key) != run.id else None)
        if reason:
            doomed.append(Prunable(run.folder, reason))
    wanted = find_chapter(root, chapter).id if chapter else None
    for folder in store.leftovers(root):
        if wanted is None or folder.parent.name == wanted:
            doomed.append(Prunable(folder, "unfinished: its process was stopped"))
    return doomed


def prune(items: Sequence[Prunable]) -> None:
    """Delete what :func:`prunable` listed."""
    for item in items:
        if item.folder.exists():
            store.remove(item.folder)


def estimate_seconds(root: Path, tasks: Sequence[Task]) -> list[float | None]:
    """Each task's expected seconds: 0 when a successful run with its key exists and
    the task does not force a new one (it will be reused), else the time of the newest successful run of the same chapter,
    profile and overrides under any key, else None (never run)."""
    runs = store.list_runs(root)
    estimates = []
    for task in tasks:
        same = [r for r in runs if r.ok and r.chapter == task.chapter]
        if not task.force and any(r.key == task.key for r in same):
            estimates.append(0.0)
            continue
        alike = [r for r in same if r.profile == task.profile
                 and r.overrides == dict(task.overrides)]
        estimates.append(alike[-1].seconds if alike else None)
    return estimates
