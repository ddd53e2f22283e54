"""Chapter parameters: read the defaults, apply a profile and the user's overrides.

Resolution order, later wins::

    parameters-cell defaults (the cpu profile)
      < the profile's overrides in the notebook metadata (coursekit.profiles.<P>)
      < the user's ``-p key=value`` overrides
      + profile=<P>

Every override is checked against the parameters cell before anything runs: an unknown
key or a value whose type differs from the default's is refused with a message naming
the key. The checks only read notebooks; executing them is execute.py's job.
"""

from __future__ import annotations

import ast
import io
import re
import shlex
import tokenize
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from coursekit._suggest import did_you_mean

from .chapters import PROFILES, Chapter, read_notebook
from .errors import ChapterError, ParameterError

__all__ = [
    "Parameter",
    "read_parameters",
    "parse_assignment",
    "parse_assignments",
    "format_assignment",
    "resolve_profile",
    "resolve_parameters",
]


@dataclass(frozen=True)
class Parameter:
    """One variable of a chapter's ``parameters`` cell.

    Attributes:
        name: the variable name, e.g. ``"num_epochs"``.
        default: its literal value in the cell (the cpu profile's value).
        help: the comment at the end of its line, e.g. ``"report A, Table 1"``.
    """

    name: str
    default: Any
    help: str = ""

    @property
    def type_name(self) -> str:
        """Name of the expected type (``"any"`` when the default is None)."""
        return "any" if self.default is None else type(self.default).__name__


# ---------------------------------------------------------------- the parameters cell


def _trailing_comments(source: str) -> dict[int, str]:
    """Map line number -> text of a comment that ends a line of code."""
    comments = {}
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type == tokenize.COMMENT and not tok.line.lstrip().startswith("#"):
                comments[tok.start[0]] = tok.string.lstrip("#").strip()
    except (tokenize.TokenError, SyntaxError):
        pass  # ast.parse reports the real problem
    return comments


def _literal_assignment(node: ast.stmt) -> tuple[str, ast.expr] | None:
    if isinstance(node, ast.Assign) and len(node.targets) == 1:
        target, value = node.targets[0], node.value
    elif isinstance(node, ast.AnnAssign) and node.value is not None:
        target, value = node.target, node.value
    else:
        return None
    return (target.id, value) if isinstance(target, ast.Name) else None


def _parse_parameters_cell(source: str, where: str) -> dict[str, Parameter]:
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise ChapterError(
            f"the parameters cell of {where} is not valid Python "
            f"(line {exc.lineno}: {exc.msg})"
        ) from exc
    comments = _trailing_comments(source)
    params = {}
    for node in tree.body:
        assignment = _literal_assignment(node)
        try:
            default = ast.literal_eval(assignment[1]) if assignment else None
        except (ValueError, TypeError, SyntaxError, RecursionError):
            assignment = None
        if assignment is None:
            code = ast.get_source_segment(source, node) or ""
            raise ChapterError(
                f"the parameters cell of {where}, line {node.lineno}: `{code}` is not "
                "`name = literal`. Keep only literal assignments in that cell and "
                "compute derived values in the next one."
            )
        name = assignment[0]
        params[name] = Parameter(name, default, comments.get(node.end_lineno, ""))
    return params


def read_parameters(chapter: Chapter) -> dict[str, Parameter]:
    """The parameters of a chapter, in the order of its ``parameters`` cell.

    Raises:
        ChapterError: if the notebook has no code cell tagged ``parameters`` or the
            cell holds anything but ``name = literal`` lines.
    """
    nb = read_notebook(chapter.path)
    where = f"chapters/{chapter.path.name}"
    for cell in nb.cells:
        if "parameters" in cell.metadata.get("tags", []):
            if cell.cell_type != "code":
                raise ChapterError(
                    f"the cell tagged 'parameters' in {where} must be a code cell"
                )
            return _parse_parameters_cell(cell.source, where)
    raise ChapterError(
        f"{where} has no cell tagged 'parameters'. Tag the code cell that holds the "
        "defaults (in Jupyter: View > Cell Toolbar > Tags)."
    )


# ---------------------------------------------------------------- -p key=value


def parse_assignment(text: str) -> tuple[str, Any]:
    """Split ``key=value`` and read the value as a Python literal, else as text.

    Args:
        text: one ``-p`` argument.
    Returns:
        The key and its value.
    Raises:
        ParameterError: if there is no ``=`` or the key is not a Python name.
    Example:
        >>> parse_assignment("num_epochs=2"), parse_assignment("model_name=lenet")
        (('num_epochs', 2), ('model_name', 'lenet'))
        >>> parse_assignment("variants=['lenet', 'super_lenet']")
        ('variants', ['lenet', 'super_lenet'])
    """
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key.isidentifier():
        raise ParameterError(
            f"cannot read -p {text!r}: write it as KEY=VALUE, e.g. -p num_epochs=2"
        )
    try:
        return key, ast.literal_eval(raw.strip())
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return key, raw  # plain text, e.g. model_name=lenet


def parse_assignments(texts: Iterable[str]) -> dict[str, Any]:
    """Parse several ``key=value`` arguments; a repeated key keeps its last value."""
    return dict(parse_assignment(text) for text in texts)


def format_assignment(key: str, value: Any) -> str:
    """The shell-ready ``-p`` argument that gives ``key`` the value ``value``.

    The inverse of :func:`parse_assignment`, quoted for a POSIX shell when needed.

    Example:
        >>> format_assignment("num_epochs", 2), format_assignment("model", "lenet")
        ('num_epochs=2', 'model=lenet')
        >>> print(format_assignment("variants", ["a", "b"]))
        "variants=['a', 'b']"
    """
    text = f"{key}={value!r}"
    if isinstance(value, str) and parse_assignment(f"{key}={value}")[1] == value:
        text = f"{key}={value}"
    if re.fullmatch(r"[\w.,:/=+@%-]+", text):
        return text
    if not re.search(r'["$`\\!]', text):
        return f'"{text}"'
    return shlex.quote(text)


# ---------------------------------------------------------------- profiles


def _cuda_available() -> bool:
    try:
        import torch  # lazily: importing coursekit must not load torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def resolve_profile(profile: str) -> str:
    """Turn ``smoke|cpu|gpu|auto`` into a concrete profile.

    ``auto`` is ``gpu`` when ``torch.cuda.is_available()``, else ``cpu``.

    Raises:
        ParameterError: for any other name.
    Example:
        >>> resolve_profile("smoke")
        'smoke'
    """
    if profile == "auto":
        return "gpu" if _cuda_available() else "cpu"
    if profile in PROFILES:
        return profile
    raise ParameterError(
        f"unknown profile {profile!r}; choose one of {', '.join(PROFILES)} or auto"
    )


# ---------------------------------------------------------------- checking overrides

_TYPE_WORDS = {
    bool: "a bool (True or False)",
    int: "an int",
    float: "a float (an int is fine too)",
    str: "a str",
    list: "a list, e.g. ['a', 'b']",
    dict: "a dict",
}


def _coerce(value: Any, default: Any) -> tuple[bool, Any]:
    """Whether ``value`` fits the type of ``default``, and the value to use."""
    if default is None:
        return True, value
    if isinstance(default, bool) or isinstance(value, bool):
        return isinstance(value, bool) and isinstance(default, bool), value
    if isinstance(default, float) and isinstance(value, int):
        return True, float(value)
    if isinstance(default, (list, tuple)) and isinstance(value, (list, tuple)):
        if default:  # a sweep: every item must fit the type of the default's items
            checked = [_coerce(item, default[0]) for item in value]
            if not all(ok for ok, _ in checked):
                return False, value
            value = [item for _, item in checked]
        return True, type(default)(value)
    return isinstance(value, type(default)), value


def _unknown_key(
    chapter: Chapter, params: Mapping[str, Parameter], key: str, source: str
) -> str:
    known = [name for name in params if name != "profile"]
    return (
        f"chapter {chapter.id} has no parameter {key!r} ({source})."
        f"{did_you_mean(key, known)} "
        f"Its parameters are: {', '.join(known) or '(none)'}. "
        f"See them with: coursekit params {chapter.id}"
    )


def _wrong_type(chapter: Chapter, param: Parameter, value: Any, source: str) -> str:
    expected = _TYPE_WORDS.get(type(param.default), f"a {param.type_name}")
    if isinstance(param.default, list) and param.default:
        expected = f"a list of {type(param.default[0]).__name__} values"
    if isinstance(param.default, str):
        fix = f"To pass it as text, quote it: -p \"{param.name}='{value}'\"."
    else:
        fix = f"For example: -p {format_assignment(param.name, param.default)}"
    return (
        f"parameter {param.name!r} of chapter {chapter.id} expects {expected}, like "
        f"its default {param.default!r}, but got {value!r} "
        f"({type(value).__name__}, {source}). {fix}"
    )


def _check(
    chapter: Chapter,
    params: Mapping[str, Parameter],
    overrides: Mapping[str, Any],
    source: str,
    error: type[Exception],
) -> dict[str, Any]:
    checked = {}
    for key, value in overrides.items():
        if key == "profile":
            raise error(
                f"the profile is not set as a parameter ({source}); use --profile "
                f"{'|'.join(PROFILES)}|auto"
            )
        if key not in params:
            raise error(_unknown_key(chapter, params, key, source))
        ok, checked[key] = _coerce(value, params[key].default)
        if not ok:
            raise error(_wrong_type(chapter, params[key], value, source))
    return checked


def resolve_parameters(
    chapter: Chapter,
    profile: str = "auto",
    overrides: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The parameters a chapter runs with: defaults < profile < user, plus ``profile``.

    The overrides of every profile in the metadata are checked, not only the chosen
    one, so a typo in the gpu overrides shows up in a smoke run.

    Args:
        chapter: the chapter to run.
        profile: ``smoke``, ``cpu``, ``gpu`` or ``auto``.
        overrides: the user's values, e.g. from :func:`parse_assignments`.
    Returns:
        Parameter name -> value, in the order of the parameters cell.
    Raises:
        ParameterError: unknown profile, or an override with an unknown key or a
            value of the wrong type (an int is accepted for a float; a bool is not
            an int).
        ChapterError: the chapter has no valid parameters cell, no ``profile``
            variable, or bad overrides in its metadata.
    """
    name = resolve_profile(profile)
    params = read_parameters(chapter)
    if "profile" not in params:
        raise ChapterError(
            f"the parameters cell of chapters/{chapter.path.name} has no `profile` "
            'variable; add the line  profile = "cpu"  so the notebook knows which '
            "profile ran it"
        )
    values = {key: param.default for key, param in params.items()}
    for prof, prof_overrides in chapter.profiles.items():
        source = (
            f"set in chapters/{chapter.path.name}, metadata coursekit.profiles.{prof}"
        )
        checked = _check(chapter, params, prof_overrides, source, ChapterError)
        if prof == name:
            values.update(checked)
    for key, value in (overrides or {}).items():
        source = f"given as -p {format_assignment(key, value)}"
        values.update(_check(chapter, params, {key: value}, source, ParameterError))
    values["profile"] = name
    return values
