"""Run the book's chapter notebooks and build the book.

The notebook runner behind the ``coursekit`` command line (see :mod:`coursekit.cli`):

- :mod:`.chapters`: find the book root and its chapters
  (``chapters/<ID>_<slug>.ipynb``).
- :mod:`.params`: read a chapter's ``parameters`` cell, apply a profile (smoke, cpu,
  gpu, auto) and the user's ``-p key=value`` overrides, refusing unknown keys and
  wrong types before anything runs.
- :mod:`.cache`: the key that decides whether a chapter must run again.
- :mod:`.execute`: run chapters with papermill into ``_build/executed/``.
- :mod:`.book`: stage the executed notebooks and build the HTML with jupyter-book.

Only this package and the command line know about notebooks; the rest of coursekit
does not import it.
"""

from .book import BuildResult, build_book, build_html, stage_book
from .cache import cache_key, default_library_paths, library_digest, notebook_digest
from .chapters import (
    PROFILES,
    Chapter,
    cache_path,
    executed_path,
    find_book_root,
    find_chapter,
    list_chapters,
    read_chapter,
    run_dir,
)
from .errors import BookBuildError, ChapterError, ParameterError, RunnerError
from .execute import RunResult, reproduce_command, run_chapter, run_chapters
from .params import (
    Parameter,
    format_assignment,
    parse_assignment,
    parse_assignments,
    read_parameters,
    resolve_parameters,
    resolve_profile,
)

__all__ = [
    "PROFILES",
    "BookBuildError",
    "BuildResult",
    "Chapter",
    "ChapterError",
    "Parameter",
    "ParameterError",
    "RunResult",
    "RunnerError",
    "build_book",
    "build_html",
    "cache_key",
    "cache_path",
    "default_library_paths",
    "executed_path",
    "find_book_root",
    "find_chapter",
    "format_assignment",
    "library_digest",
    "list_chapters",
    "notebook_digest",
    "parse_assignment",
    "parse_assignments",
    "read_chapter",
    "read_parameters",
    "reproduce_command",
    "resolve_parameters",
    "resolve_profile",
    "run_chapter",
    "run_chapters",
    "run_dir",
    "stage_book",
]
