"""Build the book: stage the sources with the executed notebooks, run jupyter-book.

The staging folder ``_build/book_src/`` holds ``_config.yml``, ``_toc.yml``, ``book/``
and ``chapters/``, where each chapter notebook is its executed copy from
``_build/executed/``. A file is copied only when its bytes differ, so unchanged files
keep their mtime and Sphinx's incremental build re-reads only what changed.
jupyter-book 1.0.4 writes the HTML to ``<path-output>/_build/html``; with
``--path-output <root>`` that is ``<root>/_build/html``.
"""

from __future__ import annotations

import filecmp
import shlex
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .chapters import executed_path, list_chapters
from .errors import BookBuildError
from .execute import RunResult, run_chapters

__all__ = ["BuildResult", "stage_book", "build_html", "build_book"]

_STAGED = ("_config.yml", "_toc.yml", "book", "chapters")
# never staged: build products and run records that may sit beside the sources
_SKIPPED_DIRS = {"_build", "runs", "__pycache__"}
_SKIPPED_SUFFIXES = {".ckpt", ".pyc"}
# jupyter_book.cli.main has no `if __name__ == "__main__"`, so call its click group.
_JUPYTER_BOOK = "import sys; from jupyter_book.cli.main import main; sys.exit(main())"


@dataclass
class BuildResult:
    """The outcome of :func:`build_book`.

    Attributes:
        runs: one result per chapter, in book order.
        html: the HTML folder, or None when the HTML was not built.
    """

    runs: list[RunResult]
    html: Path | None

    @property
    def failed(self) -> list[RunResult]:
        """The chapters that raised."""
        return [run for run in self.runs if not run.ok]

    @property
    def ok(self) -> bool:
        """True when every chapter ran (or was cached)."""
        return not self.failed


def _source_files(root: Path) -> dict[str, Path]:
    """Staged name -> file to copy, executed copies standing in for chapters."""
    files = {}
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
    for chapter in list_chapters(root):
        executed = executed_path(root, chapter)
        if executed.is_file():
            files[f"chapters/{chapter.path.name}"] = executed
    return files


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


def build_book(
    root: Path,
    *,
    profile: str = "auto",
    force: bool = False,
    html: bool = True,
    library_paths: Sequence[Path] | None = None,
    progress_bar: bool = False,
) -> BuildResult:
    """Execute every chapter (cached ones are reused), then build the HTML.

    A failing chapter does not stop the others, nor the HTML: its page shows the
    error admonition. Check :attr:`BuildResult.failed` afterwards.

    Args:
        root: the book root.
        profile: ``smoke``, ``cpu``, ``gpu`` or ``auto``.
        force: re-execute every chapter.
        html: also run jupyter-book.
        library_paths: see :func:`coursekit.runner.run_chapter`.
        progress_bar: show papermill's per-cell progress bar.
    Returns:
        The runs and the HTML folder.
    Raises:
        ChapterError, ParameterError: before any chapter runs.
        BookBuildError: if jupyter-book fails.
    """
    runs = run_chapters(
        root, profile=profile, force=force,
        library_paths=library_paths, progress_bar=progress_bar,
    )
    return BuildResult(runs, build_html(root) if html else None)
