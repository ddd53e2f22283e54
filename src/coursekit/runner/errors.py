"""Errors of the notebook runner.

All of them derive from :class:`RunnerError`, so the command line catches one class and
prints its message (no traceback). Every message names the culprit (chapter, file,
parameter) and says how to fix it.
"""

from __future__ import annotations

__all__ = ["RunnerError", "ChapterError", "ParameterError", "BookBuildError"]


class RunnerError(Exception):
    """Base class of every error the runner raises on purpose."""


class ChapterError(RunnerError):
    """A chapter cannot be found, or its notebook breaks the book's conventions."""


class ParameterError(RunnerError):
    """A profile or parameter override is unknown, malformed or of the wrong type."""


class BookBuildError(RunnerError):
    """jupyter-book could not build the HTML of the book."""
