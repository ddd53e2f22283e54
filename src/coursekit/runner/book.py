"""Build the book: stage the sources with the executed notebooks, run jupyter-book.

The staging folder ``_build/book_src/`` holds ``_config.yml``, ``_toc.yml``, ``book/``
and ``chapters/``, where each chapter notebook is its executed copy from
the run store (:func:`.execute.book_run`: the run of the book's profile with the
current key, or the one the user put into the book), without papermill's copy of the
parameters cell, with a box
above its parameters cell saying which profile produced it and how to re-run it, and
``book/scoreboard.md`` is generated from the run records; ``_mathjax/`` holds MathJax,
so the equations render offline. A file is written only when
its bytes differ, so unchanged files keep their mtime and Sphinx's incremental build
re-reads only what changed.
jupyter-book 1.0.4 writes the HTML to ``<path-output>/_build/html``; with
``--path-output <root>`` that is ``<root>/_build/html``.
"""

from __future__ import annotations

import filecmp
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import yaml

import coursekit

from . import store
from .cache import default_library_paths, library_digest
from .chapters import PROFILES, Chapter, list_chapters, read_yaml_mapping
from .errors import BookBuildError, ChapterError
from .execute import RUN_DIR_PARAMETER, RunOptions, RunResult, Task, book_runs, plan_chapters
from .executors import Executor, LocalExecutor
from .params import format_assignment, read_parameters, resolve_profile
from .scoreboard import FIGURE, agreement_figure, plan_headline_runs, render_scoreboard

__all__ = ["BuildResult", "stage_book", "build_html", "build_book", "plan_book",
           "rerun_box"]

_STAGED = ("_config.yml", "_toc.yml", "book", "chapters")
# never staged: build products and run records that may sit beside the sources
_SKIPPED_DIRS = {"_build", "runs", "__pycache__"}
_SKIPPED_SUFFIXES = {".ckpt", ".pyc"}
# jupyter_book.cli.main has no `if __name__ == "__main__"`, so call its click group.
_JUPYTER_BOOK = "import sys; from jupyter_book.cli.main import main; sys.exit(main())"
SCOREBOARD = "book/scoreboard.md"
RERUN_TAG = "coursekit-rerun"  # tag of the box added under a chapter's title


@dataclass
class BuildResult:
    """The outcome of :func:`build_book`.

    Attributes:
        runs: one result per chapter, in book order.
        html: the HTML folder, or None when the HTML was not built.
    """

    runs: list[RunResult]
    html: Path | None
    seed_runs: list[RunResult] = field(default_factory=list)  # the scoreboard's

    @property
    def failed(self) -> list[RunResult]:
        """The runs that raised, chapters and seed runs."""
        return [run for run in self.runs + self.seed_runs if not run.ok]

    @property
    def ok(self) -> bool:
        """True when every chapter ran (or was cached)."""
        return not self.failed


def _source_files(root: Path) -> dict[str, Path | bytes]:
    """Staged name -> file to copy or bytes to write; executed copies stand in for
    chapters, and the scoreboard page is generated."""
    files: dict[str, Path | bytes] = {}
    for name in _STAGED:
        path = root / name
        if path.is_file():
            files[name] = path
            continue
        for file in sorted(path.rglob("*")):  # empty when the folder is missing
            rel = file.relative_to(root)
            skip = any(p.startswith(".") or p in _SKIPPED_DIRS for p in rel.parts)
            if file.is_file() and not skip and file.suffix not in _SKIPPED_SUFFIXES:
                files[rel.as_posix()] = file
    if "_config.yml" in files:
        files["_config.yml"] = book_config(files["_config.yml"])
    files.update(_mathjax_files())
    chapters = list_chapters(root)
    runs = book_runs(root)
    for chapter in chapters:
        run = runs[chapter.id]
        if run is not None and run.notebook.is_file():
            files[f"chapters/{chapter.path.name}"] = _with_rerun_box(chapter, run.notebook)
    if chapters:
        records = {cid: (run.record() or None) if run else None for cid, run in runs.items()}
        svg = agreement_figure(root, records)
        if svg is not None:
            files[f"book/{FIGURE}"] = svg
        files[SCOREBOARD] = render_scoreboard(root, figure=svg is not None,
                                              records=records).encode()
    return files


def book_config(path: Path) -> bytes:
    """``_config.yml`` with the repository's URL filled in from ``coursekit.REPOSITORY``
    (its one definition): the repository button, Binder and Colab launch buttons, and
    the ``{{ repository }}`` substitution of the book's pages.

    Raises:
        BookBuildError: if the file is not a YAML mapping.
    """
    config = read_yaml_mapping(path, BookBuildError, "a mapping (Jupyter Book's settings)")
    config.setdefault("repository", {})["url"] = coursekit.REPOSITORY
    parse = config.setdefault("parse", {})
    parse.setdefault("myst_substitutions", {})["repository"] = coursekit.REPOSITORY
    return yaml.safe_dump(config, sort_keys=False, allow_unicode=True).encode()


def _mathjax_files() -> dict[str, Path]:
    """MathJax 2 from the jupyter-server-mathjax package, staged as
    ``_mathjax/mathjax/`` (an ``html_extra_path`` that lands at the site's ``mathjax/``,
    where ``_config.yml``'s ``mathjax_path`` points): Sphinx's default loads MathJax 3
    from a CDN, and then an offline reader sees raw TeX. The package is the smallest
    maintained copy of MathJax on PyPI.

    Raises:
        BookBuildError: when the package is not installed.
    """
    try:
        import jupyter_server_mathjax
    except ImportError as exc:
        raise BookBuildError(
            "the book serves MathJax itself, from the jupyter-server-mathjax package: "
            "pip install jupyter-server-mathjax (it is in requirements.txt and the "
            "'book' extra)") from exc
    static = Path(jupyter_server_mathjax.__file__).resolve().parent / "static"
    return {f"_mathjax/mathjax/{file.relative_to(static).as_posix()}": file
            for file in sorted(static.rglob("*")) if file.is_file()}


def _other_profiles(profile: str) -> str:
    """The sentence naming the profiles other than the page's, e.g. under ``cpu``:
    "The other profiles: `smoke` (...) and `gpu` (...)."; the boxes at the top of a
    page say what its ``gpu`` profile still changes."""
    others = [f"`{name}` ({text})" for name, text in PROFILES.items() if name != profile]
    return "The other profiles: " + " and ".join(others) + "."


def rerun_box(chapter: Chapter, params: dict, defaults: dict | None = None) -> str:
    """The one box above a chapter's parameters cell: which profile produced the page,
    the parameters that differ from the cell's values, and how to re-run it."""
    profile = params.get("profile", "cpu")
    command = f"coursekit run {chapter.id} --profile {profile}"
    changed = {k: v for k, v in params.items()
               if k != "profile" and (defaults is None or defaults.get(k) != v)}
    used = ", ".join(f"`{format_assignment(k, v)}`" for k, v in changed.items())
    cell = ("with the values of the parameters cell below" if not changed else
            f"with the parameters cell below, except {used}")
    return (
        f":::{{admonition}} This page was produced by the `{profile}` profile\n"
        ":class: tip\n\n"
        f"It ran `{command}` from the repository root, {cell}. "
        f"Change a value with `-p`, e.g. `{command} -p seed=1`; run several with "
        f"`coursekit sweep {chapter.id} --profile {profile} -p seed=0,1,2`; list them "
        f"all with `coursekit params {chapter.id}`. {_other_profiles(profile)} "
        "{doc}`/book/fork` shows how to make the notebook your own.\n"
        ":::"
    )


def _box_position(nb: nbformat.NotebookNode) -> int:
    """Above the parameters cell, else under the title."""
    for i, cell in enumerate(nb.cells):
        if "parameters" in cell.metadata.get("tags", []):
            return i
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown" and cell.source.lstrip().startswith("# "):
            return i + 1
    return 0


def _with_rerun_box(chapter: Chapter, executed: Path) -> bytes:
    """The executed notebook as the page shows it, as bytes: papermill's copy of the
    parameters left out (the box says what it changed) and the box above the cell."""
    nb = nbformat.read(str(executed), as_version=4)
    params = dict(nb.metadata.get("papermill", {}).get("parameters", {}))
    params.pop(RUN_DIR_PARAMETER, None)  # where the record went, not a choice of the run
    nb.cells = [c for c in nb.cells
                if "injected-parameters" not in c.metadata.get("tags", [])]
    try:
        defaults = {k: p.default for k, p in read_parameters(chapter).items()}
    except ChapterError:
        defaults = None
    box = nbformat.v4.new_markdown_cell(rerun_box(chapter, params, defaults),
                                        id=RERUN_TAG)
    box.metadata["tags"] = [RERUN_TAG]
    nb.cells.insert(_box_position(nb), box)
    return nbformat.writes(nb).encode()


def _remove_extra(stage: Path, keep: set[str]) -> None:
    for file in sorted(stage.rglob("*"), reverse=True):  # children before parents
        rel = file.relative_to(stage).as_posix()
        if file.is_file() and rel not in keep:
            file.unlink()
        elif file.is_dir() and not any(file.iterdir()):
            file.rmdir()


def stage_book(root: Path) -> Path:
    """Mirror the book sources into ``_build/book_src``, chapters as executed.

    Copies a file only when its bytes differ and deletes staged files whose source
    is gone.

    Returns:
        The staging folder.
    Raises:
        BookBuildError: if the root has no ``_toc.yml``.
    """
    if not (root / "_toc.yml").is_file():
        raise BookBuildError(f"{root} has no _toc.yml; jupyter-book needs one")
    stage = root / "_build" / "book_src"
    files = _source_files(root)
    for rel, source in files.items():
        dest = stage / rel
        if isinstance(source, bytes):
            if dest.is_file() and dest.read_bytes() == source:
                continue
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(source)
            continue
        if dest.is_file() and filecmp.cmp(source, dest, shallow=False):
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, dest)  # fresh mtime, so Sphinx sees the change
    _remove_extra(stage, set(files))
    return stage


def _tail(path: Path, num_lines: int = 30) -> str:
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    return "\n".join(lines[-num_lines:])


def build_html(root: Path) -> Path:
    """Stage the book and build its HTML with the jupyter-book of this Python.

    The output of jupyter-book goes to ``_build/jupyter-book.log``.

    Returns:
        ``<root>/_build/html``.
    Raises:
        BookBuildError: if jupyter-book fails; the message holds the log's last lines.
    """
    stage = stage_book(root)
    log = root / "_build" / "jupyter-book.log"
    command = [sys.executable, "-c", _JUPYTER_BOOK, "build", str(stage),
               "--path-output", str(root)]
    with log.open("w", encoding="utf-8") as out:
        proc = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, cwd=root)
    html = root / "_build" / "html"
    if proc.returncode != 0 or not (html / "index.html").is_file():
        raise BookBuildError(
            f"jupyter-book failed (exit code {proc.returncode}). Last lines of {log}:"
            f"\n{_tail(log)}\nRe-run it alone with:\n{shlex.join(command)}"
        )
    return html


def plan_book(root: Path, *, profile: str = "auto", force: bool = False,
              seeds: bool = True, library_paths: Sequence[Path] | None = None,
              progress_bar: bool = False) -> list[Task]:
    """Every run a build makes, in order: each chapter, then the scoreboard's seed runs.

    Raises:
        ChapterError, ParameterError: before anything runs.
    """
    paths = default_library_paths(root) if library_paths is None else library_paths
    library = library_digest(paths)
    options = RunOptions(force=force, progress_bar=progress_bar)
    return plan_chapters(root, profile, library, options) \
        + (plan_headline_runs(root, profile, library, force=force) if seeds else [])


def build_book(
    root: Path,
    *,
    profile: str = "auto",
    force: bool = False,
    html: bool = True,
    seeds: bool = True,
    library_paths: Sequence[Path] | None = None,
    progress_bar: bool = False,
    executor: Executor | None = None,
    on_start: Callable[[Task], None] | None = None,
    on_result: Callable[[RunResult], None] | None = None,
    tasks: Sequence[Task] | None = None,
) -> BuildResult:
    """Execute every chapter and the scoreboard's seed runs (runs with an unchanged key
    are reused), then build the HTML from the runs of this profile.

    A failing chapter does not stop the others, nor the HTML: its page shows the
    error admonition. Check :attr:`BuildResult.failed` afterwards.

    Args:
        root: the book root.
        profile: ``smoke``, ``cpu``, ``gpu`` or ``auto``; the book shows this profile's
            runs from now on.
        force: re-execute every chapter.
        html: also run jupyter-book.
        seeds: also run the headline rows of ``book/scoreboard.yml`` once per seed.
        library_paths: see :func:`coursekit.runner.run_chapter`.
        progress_bar: show papermill's per-cell progress bar.
        executor: where the runs execute (default: here, one after another).
        on_start, on_result: called with each task before it runs and with each
            result as soon as it is known (e.g. to print progress).
        tasks: the runs, as :func:`plan_book` planned them with the same arguments
            (default: planned here).
    Returns:
        The runs and the HTML folder.
    Raises:
        ChapterError, ParameterError: before any chapter runs.
        BookBuildError: if jupyter-book fails.
    """
    if tasks is None:
        tasks = plan_book(root, profile=profile, force=force, seeds=seeds,
                          library_paths=library_paths, progress_bar=progress_bar)
    results = (executor or LocalExecutor()).run(list(tasks), on_start=on_start,
                                                on_result=on_result)
    # only now does the book show this profile's runs: a build stopped half-way
    # leaves the pages on the runs of the last complete one
    paths = default_library_paths(root) if library_paths is None else library_paths
    store.set_book_profile(root, resolve_profile(profile), library_digest(paths))
    runs = [r for r, t in zip(results, tasks) if not t.overrides]  # the chapters' own
    seed_runs = [r for r, t in zip(results, tasks) if t.overrides]
    return BuildResult(runs, build_html(root) if html else None, seed_runs)
