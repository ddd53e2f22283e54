"""Execute chapter notebooks with papermill, cache the results, mark the failures.

``run_chapter`` checks the parameters, then either reuses the cached executed copy
or runs the notebook with papermill (kernel ``python3``, working directory
``chapters/``) into ``_build/executed/<stem>.ipynb``. The kernel sees
``COURSEKIT_RUN_DIR`` (``_build/runs/<ID>``, where the run record goes),
``COURSEKIT_PROFILE`` and ``COURSEKIT_BOOK_ROOT``. A sweep point runs the same way into
its own slot (:func:`.chapters.sweep_slot`). Every run is planned as a :class:`Task`, so
an executor (:mod:`.executors`) can run it here or on a Dask worker; the products and
the cache are the same either way.

A chapter that raises keeps its partial executed copy, with a MyST ``{error}``
admonition at the top that gives the profile, the exception and the command that
reproduces it. Failures are never cached.
"""

from __future__ import annotations

import functools
import os
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat

from .cache import (
    cache_key,
    default_library_paths,
    library_digest,
    notebook_digest,
    read_cache,
    write_cache,
)
from .chapters import Chapter, RunSlot, find_chapter, list_chapters, main_slot
from .chapters import read_notebook, run_dir
from .errors import ChapterError
from .executors import Executor, LocalExecutor, environment
from .params import format_assignment, resolve_parameters

__all__ = ["RunResult", "Task", "plan_run", "run_chapter", "run_chapters",
           "reproduce_command"]

KERNEL_NAME = "python3"
ERROR_TAG = "coursekit-error"  # tag of the admonition cell added to a failed chapter
# The kernel inherits os.environ when it starts: one run at a time per process.
_KERNEL_LOCK = threading.Lock()


@dataclass
class RunResult:
    """What happened to one chapter.

    Attributes:
        chapter: the chapter id, e.g. ``"A1"``.
        status: ``"ok"`` (executed), ``"cached"`` (reused) or ``"failed"``.
        executed: the executed notebook (also written when the chapter failed).
        seconds: wall time of this call, in seconds.
        params: the resolved parameters, ``profile`` included.
        error: when the chapter failed, the exception as its traceback's last
            line shows it (``"ValueError: boom"``, the message may span lines);
            else None.
        run_dir: the folder given to the kernel as ``COURSEKIT_RUN_DIR``.
        command: the command line that reproduces this run.
        overrides: the parameters given on top of the profile (a sweep's point).
    """

    chapter: str
    status: str
    executed: Path
    seconds: float
    params: dict[str, Any]
    error: str | None = None
    run_dir: Path | None = None
    command: str = field(default="", repr=False)
    overrides: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True unless the chapter failed."""
        return self.status != "failed"

    @property
    def label(self) -> str:
        """The chapter and its overrides, e.g. ``"A1 seed=1"``."""
        return _label(self.chapter, self.overrides)


def _label(chapter_id: str, overrides: Mapping[str, Any]) -> str:
    return " ".join([chapter_id, *(format_assignment(k, v) for k, v in overrides.items())])


def reproduce_command(
    chapter: Chapter, profile: str, overrides: Mapping[str, Any]
) -> str:
    """The ``coursekit run`` command line that runs ``chapter`` the same way.

    Example:
        >>> ch = Chapter("A1", "LeNet", Path("chapters/A1_lenet.ipynb"))
        >>> reproduce_command(ch, "smoke", {"num_epochs": 2})
        'coursekit run A1 --profile smoke -p num_epochs=2'
    """
    words = ["coursekit", "run", chapter.id, "--profile", profile]
    for key, value in overrides.items():
        words += ["-p", format_assignment(key, value)]
    return " ".join(words)


def _error_admonition(profile: str, error: str, command: str) -> str:
    error = error.replace("```", "'''")  # keep the code fence closed
    return (
        "````{error}\n"
        f"**This chapter failed** when it was executed under the `{profile}` "
        "profile, so the outputs below stop at the failing cell. It raised:\n\n"
        f"```text\n{error}\n```\n\n"
        f"Reproduce it with:\n\n```text\n{command}\n```\n"
        "````"
    )


def _mark_failed(
    partial: Path, source: Path, profile: str, error: str, command: str
) -> None:
    """Insert the error admonition at the top of the (partial) executed notebook.

    Falls back to the source notebook when papermill left no readable copy (the
    kernel did not start, or died while the copy was being written).
    """
    try:
        nb = read_notebook(partial)
    except ChapterError:
        nb = read_notebook(source)
    cell = nbformat.v4.new_markdown_cell(_error_admonition(profile, error, command))
    cell.metadata["tags"] = [ERROR_TAG]
    nb.cells.insert(0, cell)
    nbformat.write(nb, str(partial))


def _last_line(exc: BaseException) -> str:
    import papermill.exceptions  # lazily: papermill is slow to import

    if isinstance(exc, papermill.exceptions.PapermillExecutionError):
        return f"{exc.ename}: {exc.evalue}"
    lines = [line for line in str(exc).strip().splitlines() if line.strip()]
    return f"{type(exc).__name__}: {lines[-1] if lines else ''}".rstrip(": ")


def _papermill(
    source: Path, target: Path, params: Mapping[str, Any], progress: bool
) -> None:
    import papermill  # lazily: papermill is slow to import

    papermill.execute_notebook(
        str(source),
        str(target),
        parameters=dict(params),
        kernel_name=KERNEL_NAME,
        language="python",
        cwd=str(source.parent),
        progress_bar=progress,
    )


def _execute(
    root: Path, chapter: Chapter, params: Mapping[str, Any], slot: RunSlot,
    command: str, progress_bar: bool,
) -> str | None:
    """Run papermill into a temporary file, mark a failure, then rename into the slot.

    The run record is written into a staging folder too: it replaces the slot's record
    folder only when the run succeeds. A failed run leaves that folder empty, so no
    record of an earlier run poses as this one's. Temporary names are unique to this
    attempt: a killed attempt (a lost Dask worker) leaves only hidden leftovers, which
    a retry never reads and never mistakes for its own.

    Returns:
        None on success, else the exception's last line.
    """
    attempt = uuid.uuid4().hex[:8]
    records, target = slot.records, slot.executed
    staging = records.with_name(f".{records.name}.partial-{attempt}")
    staging.mkdir(parents=True)
    env = {
        "COURSEKIT_RUN_DIR": str(staging),
        "COURSEKIT_PROFILE": str(params["profile"]),
        "COURSEKIT_BOOK_ROOT": str(root),
    }
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.stem}.partial-{attempt}.ipynb")
    error = None
    try:
        with _KERNEL_LOCK, environment(env):
            try:
                _papermill(chapter.path, partial, params, progress_bar)
            except Exception as exc:  # the chapter failed, not the runner: go on
                error = _last_line(exc)
        if error is not None:
            _mark_failed(partial, chapter.path, str(params["profile"]), error, command)
        os.replace(partial, target)
        shutil.rmtree(records, ignore_errors=True)
        if error is None:
            os.replace(staging, records)
        else:
            records.mkdir(parents=True)
    finally:
        partial.unlink(missing_ok=True)
        shutil.rmtree(staging, ignore_errors=True)
    return error


def _run_resolved(
    root: Path, chapter: Chapter, params: dict[str, Any], user: Mapping[str, Any],
    library: str, slot: RunSlot, *, force: bool = False, progress_bar: bool = False,
) -> RunResult:
    """Run a chapter whose parameters are already resolved and checked into ``slot``."""
    start = time.perf_counter()
    key = cache_key(notebook_digest(read_notebook(chapter.path)), params, library)
    command = reproduce_command(chapter, str(params["profile"]), user)
    result = RunResult(chapter.id, "cached", slot.executed, 0.0, params, None,
                       slot.records, command, dict(user))
    record = read_cache(slot.cache) if slot.cache else None
    if not force and record and record.get("key") == key and slot.executed.exists():
        result.seconds = time.perf_counter() - start
        return result
    if slot.cache:
        slot.cache.unlink(missing_ok=True)
    result.error = _execute(root, chapter, params, slot, command, progress_bar)
    result.status = "failed" if result.error else "ok"
    result.seconds = time.perf_counter() - start
    if slot.cache and result.ok:
        write_cache(slot.cache, {
            "key": key, "status": "ok", "params": params,
            "executed": slot.executed.name, "seconds": round(result.seconds, 3),
        })
    return result


@dataclass(frozen=True)
class Task:
    """One planned run: ``call()`` executes it (or reuses its cache) and returns the
    :class:`RunResult`. It pickles, so a Dask worker can run it.

    Attributes:
        label: what progress lines show, e.g. ``"A1"`` or ``"A1 seed=1"``.
        call: the run itself.
    """

    label: str
    call: Callable[[], RunResult]


def plan_run(
    root: Path, chapter: Chapter, profile: str, overrides: Mapping[str, Any],
    library: str, *, slot: RunSlot | None = None, force: bool = False,
    progress_bar: bool = False,
) -> Task:
    """Check a run's parameters now and return it as a :class:`Task` to run later.

    Raises:
        ParameterError: for a bad profile or override; nothing is planned.
    """
    params = resolve_parameters(chapter, profile, overrides)
    user = {key: params[key] for key in overrides}
    label = _label(chapter.id, user)
    call = functools.partial(
        _run_resolved, root, chapter, params, user, library,
        slot or main_slot(root, chapter), force=force, progress_bar=progress_bar)
    return Task(label, call)


def run_chapter(
    root: Path,
    chapter: Chapter | str,
    *,
    profile: str = "auto",
    overrides: Mapping[str, Any] | None = None,
    force: bool = False,
    output: Path | None = None,
    library_paths: Sequence[Path] | None = None,
    progress_bar: bool = False,
) -> RunResult:
    """Execute one chapter, or reuse its cached executed copy.

    Args:
        root: the book root.
        chapter: a :class:`Chapter`, or an id (``"a1"``) or file stem.
        profile: ``smoke``, ``cpu``, ``gpu`` or ``auto``.
        overrides: the user's parameter values, checked against the parameters cell.
        force: execute even if the cache says nothing changed.
        output: write the executed notebook here instead of
            ``_build/executed/<stem>.ipynb``; such runs are neither cached nor
            reused.
        library_paths: folders whose content enters the cache key (default: the
            coursekit package and ``data_manifests/``).
        progress_bar: show papermill's per-cell progress bar.
    Returns:
        The :class:`RunResult`; a chapter that raised has status ``"failed"``.
    Raises:
        ChapterError: unknown chapter, or a notebook that breaks the conventions.
        ParameterError: bad profile or overrides; then nothing is executed.
    """
    if not isinstance(chapter, Chapter):
        chapter = find_chapter(root, chapter)
    paths = default_library_paths(root) if library_paths is None else library_paths
    slot = None
    if output is not None:  # elsewhere, neither cached nor reused
        slot = RunSlot(Path(output).resolve(), run_dir(root, chapter), None)
    task = plan_run(root, chapter, profile, overrides or {}, library_digest(paths),
                    slot=slot, force=force, progress_bar=progress_bar)
    return task.call()


def run_chapters(
    root: Path,
    *,
    profile: str = "auto",
    force: bool = False,
    library_paths: Sequence[Path] | None = None,
    progress_bar: bool = False,
    on_start: Callable[[Task], None] | None = None,
    on_result: Callable[[RunResult], None] | None = None,
    executor: Executor | None = None,
) -> list[RunResult]:
    """Execute every chapter in book order; a failing chapter does not stop the rest.

    The parameters of all chapters are checked before the first one runs.

    Args:
        root: the book root.
        profile: ``smoke``, ``cpu``, ``gpu`` or ``auto``.
        force: execute even the chapters whose cache is valid.
        library_paths: see :func:`run_chapter`.
        progress_bar: show papermill's per-cell progress bar.
        on_start: called with each task before it runs (e.g. to print progress).
        on_result: called with each result as soon as it is known.
        executor: where the runs execute (default: here, one after another).
    Returns:
        One :class:`RunResult` per chapter, in book order.
    Raises:
        ChapterError, ParameterError: before anything runs.
    """
    paths = default_library_paths(root) if library_paths is None else library_paths
    library = library_digest(paths)
    tasks = [plan_run(root, ch, profile, {}, library, force=force,
                      progress_bar=progress_bar) for ch in list_chapters(root)]
    return (executor or LocalExecutor()).run(tasks, on_start=on_start,
                                             on_result=on_result)
