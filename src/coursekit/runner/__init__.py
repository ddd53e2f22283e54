"""Run the book's chapter notebooks and build the book.

The notebook runner behind the ``coursekit`` command line (see :mod:`coursekit.cli`):

- :mod:`.chapters`: find the book root and its chapters
  (``chapters/<ID>_<slug>.ipynb``).
- :mod:`.params`: read a chapter's ``parameters`` cell, apply a profile (smoke, cpu,
  gpu, auto) and the user's ``-p key=value`` overrides, refusing unknown keys and
  wrong types before anything runs.
- :mod:`.cache`: the key that decides whether a chapter must run again.
- :mod:`.store`: every run kept in its own folder ``_build/runs/<ID>/<run id>/``.
- :mod:`.lock`: one writing command at a time per book.
- :mod:`.execute`: run chapters with papermill into the store; the run the book shows.
- :mod:`.executors`: run them here, one after another, or as tasks on a Dask cluster.
- :mod:`.sweep`: run a chapter over combinations of parameter values and gather.
- :mod:`.scoreboard`: the page of reported vs reproduced numbers, from run records.
- :mod:`.book`: stage the executed notebooks and build the HTML with jupyter-book.

Only this package and the command line know about notebooks; the rest of coursekit
does not import it.
"""

from .book import BuildResult, build_book, build_html, plan_book, rerun_box, stage_book
from .cache import cache_key, default_library_paths, library_digest, notebook_digest
from .chapters import (
    COLAB_TAG,
    PROFILES,
    Chapter,
    colab_cell,
    find_book_root,
    find_chapter,
    list_chapters,
    point_label,
    read_chapter,
)
from .errors import BookBuildError, ChapterError, ParameterError, RunnerError
from .execute import (RUN_DIR_PARAMETER, RunOptions, RunResult, Task, book_run, plan_chapters, plan_run,
                      reproduce_command, run_chapter, run_key)
from .lock import book_lock
from .store import StoredRun
from .executors import EXECUTORS, DaskExecutor, Executor, LocalExecutor, make_executor
from .params import (
    Parameter,
    describe_rule,
    format_assignment,
    parse_assignment,
    parse_assignments,
    read_parameters,
    resolve_parameters,
    resolve_profile,
)
from .scoreboard import plan_headline_runs, read_headlines, render_scoreboard
from .sweep import Sweep, gather, parse_sweep, plan_sweep, save_sweep, sweep_points

__all__ = [
    "EXECUTORS",
    "PROFILES",
    "BookBuildError",
    "BuildResult",
    "Chapter",
    "ChapterError",
    "DaskExecutor",
    "Executor",
    "LocalExecutor",
    "Sweep",
    "Task",
    "Parameter",
    "ParameterError",
    "RUN_DIR_PARAMETER",
    "RunOptions",
    "RunResult",
    "RunnerError",
    "StoredRun",
    "book_lock",
    "book_run",
    "build_book",
    "build_html",
    "describe_rule",
    "plan_book",
    "cache_key",
    "default_library_paths",
    "find_book_root",
    "find_chapter",
    "format_assignment",
    "gather",
    "make_executor",
    "parse_sweep",
    "plan_headline_runs",
    "plan_chapters",
    "plan_run",
    "plan_sweep",
    "point_label",
    "read_headlines",
    "render_scoreboard",
    "rerun_box",
    "save_sweep",
    "sweep_points",
    "library_digest",
    "list_chapters",
    "notebook_digest",
    "parse_assignment",
    "parse_assignments",
    "read_chapter",
    "COLAB_TAG",
    "colab_cell",
    "read_parameters",
    "reproduce_command",
    "resolve_parameters",
    "resolve_profile",
    "run_chapter",
    "run_key",
    "stage_book",
]
