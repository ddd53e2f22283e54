"""Execute chapter notebooks with papermill into the run store; mark the failures.

``run_chapter`` checks the parameters, then either reuses the newest successful run
with the same cache key (:func:`.cache.cache_key`) or runs the notebook with papermill
(kernel ``python3``, working directory ``chapters/``) into a new run folder of
:mod:`.store`. The notebook learns where its run record goes from one more parameter
papermill injects, ``coursekit_run_dir`` (:data:`RUN_DIR_PARAMETER`, which
``Chapter(globals())`` reads), which notebook it is from ``JPY_SESSION_NAME``, as
Jupyter Server tells its kernels, and which book from ``COURSEKIT_BOOK_ROOT``. Every
run, failed or not, gets its own folder: no run ever changes another. Every run is
planned as a :class:`Task`, so an executor (:mod:`.executors`) can run it here or on a
Dask worker.

A chapter that raises keeps its partial executed copy, with a MyST ``{error}``
admonition at the top that gives the profile, the exception and the command that
reproduces it. A failed run is stored (``coursekit runs`` lists it) but never reused.
"""

from __future__ import annotations

import functools
import shutil
import sys
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat

import coursekit

from . import store
from .cache import cache_key, default_library_paths, library_digest, notebook_digest
from .chapters import Chapter, find_chapter, list_chapters, read_notebook
from .errors import ChapterError
from .executors import environment
from .params import format_assignment, resolve_parameters

__all__ = ["RUN_DIR_PARAMETER", "RunOptions", "RunResult", "Task", "plan_run", "plan_chapters", "run_chapter",
           "reproduce_command", "run_key", "book_run", "book_runs"]

KERNEL_NAME = "python3"
# the parameter papermill injects besides the chapter's own: the run's folder, where
# Chapter.finish writes the run record (Chapter(globals()) reads it)
RUN_DIR_PARAMETER = "coursekit_run_dir"
ERROR_TAG = "coursekit-error"  # tag of the admonition cell added to a failed chapter
# The kernel inherits os.environ when it starts: one run at a time per process.
_KERNEL_LOCK = threading.Lock()


@dataclass(frozen=True)
class RunOptions:
    """How runs are carried out, the same for every run of one command.

    Attributes:
        force: execute even if a successful run with the same key exists.
        progress_bar: show papermill's per-cell progress bar.
        stream: echo what the chapter prints (one row per epoch, with the time left)
            to this process's standard output while it runs.
    """

    force: bool = False
    progress_bar: bool = False
    stream: bool = False


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
        run_dir: the run's folder in the store.
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
    run_id: str = ""

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


@contextmanager
def _quiet_about(message: str) -> Iterator[None]:
    """Drop papermill's log line ``message`` (it warns of every injected parameter the
    parameters cell lacks, and the run folder is one on purpose)."""
    def keep(record: logging.LogRecord) -> bool:
        return record.getMessage() != message
    log = logging.getLogger("papermill")
    log.addFilter(keep)
    try:
        yield
    finally:
        log.removeFilter(keep)


def _papermill(source: Path, target: Path, params: Mapping[str, Any], run_dir: Path,
              options: RunOptions) -> None:
    """Execute ``source`` into ``target`` with ``params`` and the run folder injected;
    ``options.stream`` echoes what the chapter prints (its epoch rows) to this
    process's standard output as it runs."""
    import papermill  # lazily: papermill is slow to import

    with _quiet_about(f"Passed unknown parameter: {RUN_DIR_PARAMETER}"):
        papermill.execute_notebook(
            str(source),
            str(target),
            parameters={**params, RUN_DIR_PARAMETER: str(run_dir)},
            kernel_name=KERNEL_NAME,
            language="python",
            cwd=str(source.parent),
            progress_bar=options.progress_bar and not options.stream,
            stdout_file=sys.stdout if options.stream else None,
        )


def _execute(root: Path, chapter: Chapter, params: Mapping[str, Any], staging: Path,
             command: str, options: RunOptions) -> str | None:
    """Run papermill into ``staging`` (the run's hidden folder); mark a failure.

    Returns:
        None on success, else the exception's last line.
    """
    env = {
        # Jupyter's way of telling a kernel its notebook (ipykernel sets __session__
        # from it): Chapter(globals()) reads the chapter's id from that notebook
        "JPY_SESSION_NAME": str(chapter.path),
        # this book, not another a user's own setting names (see find_book_root)
        "COURSEKIT_BOOK_ROOT": str(root),
    }
    target = staging / f"{chapter.stem}.ipynb"
    error = None
    with _KERNEL_LOCK, environment(env):
        try:
            _papermill(chapter.path, target, params, staging, options)
        except Exception as exc:  # the chapter failed, not the runner: go on
            error = _last_line(exc)
    if error is not None:
        _mark_failed(target, chapter.path, str(params["profile"]), error, command)
    return error


def run_key(root: Path, chapter: Chapter, params: Mapping[str, Any],
            library: str | None = None) -> str:
    """The cache key of ``chapter`` run with the resolved ``params``: what names a run
    in the store. ``library`` defaults to the digest of the current library."""
    if library is None:
        library = library_digest(default_library_paths(root))
    return cache_key(notebook_digest(read_notebook(chapter.path)), params, library)


def book_run(root: Path, chapter: Chapter, *, profile: str | None = None,
             library: str | None = None) -> store.StoredRun | None:
    """The run the book shows for ``chapter``: the one the user put into the book
    (``--into-book``), else the newest successful run of the chapter's own parameters
    under the book's profile with the key of the book's library (those of the last
    ``coursekit build``, :func:`.store.book_profile`; before any build, cpu and the
    current library), else the newest failed one with that key; None when none."""
    pinned = store.pinned_id(root, chapter.id)
    runs = store.list_runs(root, chapter.id)
    chosen = [r for r in runs if r.id == pinned and r.ok]
    if chosen:
        return chosen[-1]
    params = resolve_parameters(chapter, profile or store.book_profile(root))
    key = run_key(root, chapter, params, library or store.book_library(root))
    same = [r for r in runs if r.key == key]
    ok = [r for r in same if r.ok]
    return (ok or same or [None])[-1]


def book_runs(root: Path) -> dict[str, store.StoredRun | None]:
    """Chapter id -> :func:`book_run` of every chapter, the library digest computed once."""
    library = store.book_library(root) or library_digest(default_library_paths(root))
    return {ch.id: book_run(root, ch, library=library) for ch in list_chapters(root)}


def _run_resolved(
    root: Path, chapter: Chapter, params: dict[str, Any], user: Mapping[str, Any],
    library: str, options: RunOptions,
) -> RunResult:
    """Run a chapter whose parameters are already resolved and checked, or reuse the
    newest successful run with the same key (unless ``options.force``)."""
    start = time.perf_counter()
    key = run_key(root, chapter, params, library)
    command = reproduce_command(chapter, str(params["profile"]), user)
    previous = None if options.force else store.latest_run(root, chapter.id, key)
    if previous is not None:
        return RunResult(chapter.id, "cached", previous.notebook,
                         time.perf_counter() - start, params, None, previous.folder,
                         command, dict(user), previous.id)
    staging = store.begin_run(root, chapter.id)
    started = time.time()
    try:
        error = _execute(root, chapter, params, staging, command, options)
        seconds = time.perf_counter() - start
        run = store.commit_run(staging, {
            "chapter": chapter.id, "notebook": f"{chapter.stem}.ipynb",
            "status": "failed" if error else "ok", "error": error,
            "params": params, "overrides": dict(user), "key": key,
            "library": library, "command": command, "seconds": round(seconds, 3),
            "started": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(started)),
            "started_at": started, "coursekit": coursekit.__version__})
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # gone already unless we failed
    return RunResult(chapter.id, run.status, run.notebook, seconds, params, error,
                     run.folder, command, dict(user), run.id)


@dataclass(frozen=True)
class Task:
    """One planned run: ``call()`` executes it (or reuses its cache) and returns the
    :class:`RunResult`. It pickles, so a Dask worker can run it.

    Attributes:
        label: what progress lines show, e.g. ``"A1"`` or ``"A1 seed=1"``.
        call: the run itself.
        chapter: the chapter id.
        profile: the resolved profile it runs under.
        overrides: the parameters it changes on top of the profile.
        key: its cache key when planned (a successful run with this key is reused,
            unless ``force``); the run computes it again from the notebook it reads.
        force: run even if a successful run with the key exists.
    """

    label: str
    call: Callable[[], RunResult]
    chapter: str = ""
    profile: str = ""
    overrides: Mapping[str, Any] = field(default_factory=dict)
    key: str = ""
    force: bool = False


def plan_run(
    root: Path, chapter: Chapter, profile: str, overrides: Mapping[str, Any],
    library: str, options: RunOptions = RunOptions(),
) -> Task:
    """Check a run's parameters now and return it as a :class:`Task` to run later,
    carried out as ``options`` say.

    Raises:
        ParameterError: for a bad profile or override; nothing is planned.
    """
    params = resolve_parameters(chapter, profile, overrides)
    user = {key: params[key] for key in overrides}
    label = _label(chapter.id, user)
    call = functools.partial(_run_resolved, root, chapter, params, user, library, options)
    return Task(label, call, chapter.id, str(params["profile"]), user,
                run_key(root, chapter, params, library), options.force)


def run_chapter(
    root: Path,
    chapter: Chapter | str,
    *,
    profile: str = "auto",
    overrides: Mapping[str, Any] | None = None,
    options: RunOptions = RunOptions(),
    output: Path | None = None,
    library_paths: Sequence[Path] | None = None,
) -> RunResult:
    """Execute one chapter into a new run of the store, or reuse the newest successful
    run with the same key.

    Args:
        root: the book root.
        chapter: a :class:`Chapter`, or an id (``"a1"``) or file stem.
        profile: ``smoke``, ``cpu``, ``gpu`` or ``auto``.
        overrides: the user's parameter values, checked against the parameters cell.
        options: force, progress bar, streaming (:class:`RunOptions`).
        output: also copy the executed notebook here.
        library_paths: folders whose content enters the cache key (default: the
            coursekit package).
    Returns:
        The :class:`RunResult`; a chapter that raised has status ``"failed"``.
    Raises:
        ChapterError: unknown chapter, or a notebook that breaks the conventions.
        ParameterError: bad profile or overrides; then nothing is executed.
    """
    if not isinstance(chapter, Chapter):
        chapter = find_chapter(root, chapter)
    paths = default_library_paths(root) if library_paths is None else library_paths
    task = plan_run(root, chapter, profile, overrides or {}, library_digest(paths), options)
    result = task.call()
    if output is not None:
        Path(output).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(result.executed, output)
        result.executed = Path(output).resolve()
    return result


def plan_chapters(root: Path, profile: str, library: str,
                  options: RunOptions = RunOptions()) -> list[Task]:
    """One task per chapter, in book order, each with the chapter's own parameters.

    Raises:
        ChapterError, ParameterError: for any chapter, before anything runs.
    """
    return [plan_run(root, ch, profile, {}, library, options) for ch in list_chapters(root)]
