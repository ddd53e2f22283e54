"""Chapter parameters: read the defaults, apply a profile and the user's overrides.

Resolution order, later wins::

    parameters-cell defaults (the cpu profile)
      < the profile's overrides in the notebook metadata (coursekit.profiles.<P>)
      < the user's ``-p key=value`` overrides
      + profile=<P>

Every override is checked against the parameters cell before anything runs: an unknown
key, a value whose type differs from the default's, or a value outside the parameter's
rule is refused with a message naming the key. A rule opens the comment beside the
parameter, in brackets, so it lives where the parameter is defined::

    num_epochs = 7       # [at least 1] report A: 200 (the gpu profile)
    lr = 0.3             # [above 0] peak learning rate
    train_subset = 0     # [at least 0 and at most 50000 - num_val] 0 means all of them
    optimizer = "sgd"    # [one of: sgd, adam] ...
    variants = "all"     # [each of: all, lenet, lenet_bn] comma-separated names
    variants = "all"     # [variants of A1] "all" or names of A1 in reported.yaml

The bounds are ``at least``, ``above``, ``at most`` and ``below``, joined by ``and``
(words, not ``>=``: papermill reads a ``=`` in the comment as part of the value). They
may name other parameters (the values this run uses); for a list or a dict they hold
for every item. The checks only read notebooks; executing them is
execute.py's job.
"""

from __future__ import annotations

import ast
import functools
import io
import re
import shlex
import tokenize
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

import coursekit
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
    "describe_rule",
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
    rule: str = ""  # from "[...]" opening the comment, e.g. "at least 1"; "" = no rule

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


_RULE = re.compile(r"^\[(?P<rule>[^\]]+)\]\s*(?P<help>.*)$")


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
        comment = comments.get(node.end_lineno, "")
        rule = _RULE.match(comment)
        params[name] = (Parameter(name, default, rule["help"], rule["rule"].strip())
                        if rule else Parameter(name, default, comment))
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


# ---------------------------------------------------------------- rules

_OPERATORS = {"at least": lambda a, b: a >= b, "above": lambda a, b: a > b,
              "at most": lambda a, b: a <= b, "below": lambda a, b: a < b}
_BOUND = re.compile(r"\s*(at least|above|at most|below)\s+(.+?)\s*")
_ARITHMETIC = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b,
               ast.Mult: lambda a, b: a * b, ast.Div: lambda a, b: a / b}


def _bound(text: str, values: Mapping[str, Any]) -> float:
    """The number a bound's text stands for: numbers, parameter names, + - * /."""
    def value(node: ast.expr) -> float:
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
            return node.value
        if isinstance(node, ast.Name) and isinstance(values.get(node.id), (int, float)):
            return values[node.id]
        if isinstance(node, ast.BinOp) and type(node.op) in _ARITHMETIC:
            return _ARITHMETIC[type(node.op)](value(node.left), value(node.right))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -value(node.operand)
        raise ValueError(text)
    return value(ast.parse(text.strip(), mode="eval").body)


def _items(value: Any) -> list[Any]:
    """What a rule applies to: the items of a list or dict, else the value itself."""
    if isinstance(value, dict):
        return list(value.values())
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


def _reported_variants(experiment: str) -> list[str]:
    """The variant names of ``experiment`` in coursekit's ``reported.yaml``.

    Raises:
        ValueError: for an experiment the file does not have.
    """
    path = Path(coursekit.__file__).resolve().parent / "book" / "reported.yaml"
    variants = _variants_in(str(path), path.stat().st_mtime_ns)
    if experiment not in variants:
        raise ValueError(experiment)
    return variants[experiment]


@functools.lru_cache(maxsize=4)
def _variants_in(path: str, mtime_ns: int) -> dict[str, list[str]]:
    """Experiment -> variant names of a ``reported.yaml``, read once per version of
    the file (parsing it takes half a second; a build checks ~60 parameter sets)."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    experiments = yaml.load(Path(path).read_text(encoding="utf-8"), Loader=loader)
    return {str(e): [str(v) for v in (body or {}).get("variants", {})]
            for e, body in experiments.items()}


def _expand(rule: str) -> str:
    """``variants of A1[, extra]`` as the ``each of:`` rule it stands for; other rules
    as they are."""
    if not rule.startswith("variants of "):
        return rule
    experiment, *extra = [w.strip() for w in rule.removeprefix("variants of ").split(",")]
    return "each of: " + ", ".join(["all", *_reported_variants(experiment), *extra])


def _breaks_rule(rule: str, value: Any, values: Mapping[str, Any]) -> bool:
    """Whether ``value`` breaks ``rule`` (see the module docstring).

    Raises:
        ValueError: for a rule that cannot be read.
    """
    kind, sep, names = _expand(rule).partition(":")
    if sep and kind.strip() in ("one of", "each of"):
        allowed = {n.strip() for n in names.split(",") if n.strip()}
        if kind.strip() == "one of":
            return any(str(v) not in allowed for v in _items(value))
        words = [w.strip() for v in _items(value) for w in str(v).split(",") if w.strip()]
        return (not words or any(w not in allowed for w in words)
                or ("all" in words and len(words) > 1))  # "all" stands alone
    for part in rule.split(" and "):
        match = _BOUND.fullmatch(part)
        if not match:
            raise ValueError(rule)
        bound = _bound(match[2], values)
        for item in _items(value):
            if isinstance(item, bool) or not isinstance(item, (int, float)):
                raise ValueError(rule)
            if not _OPERATORS[match[1]](item, bound):
                return True
    return False


def _check_rules(chapter: Chapter, params: Mapping[str, Parameter],
                 values: Mapping[str, Any], sources: Mapping[str, str]) -> None:
    """Refuse a value outside its parameter's rule, naming where it came from."""
    for name, param in params.items():
        if not param.rule:
            continue
        source = sources.get(name, f"the value in chapters/{chapter.path.name}")
        error = ParameterError if source.startswith("given as") else ChapterError
        try:
            broken = _breaks_rule(param.rule, values[name], values)
        except (ValueError, SyntaxError, ZeroDivisionError):
            raise ChapterError(
                f"chapters/{chapter.path.name}: the rule [{param.rule}] of parameter "
                f"{name!r} cannot be read; write e.g. [at least 1], [above 0 and at "
                "most 1], "
                "[one of: a, b], [each of: all, a, b] or [variants of A1]") from None
        if broken:
            fix = (f"For example: -p {format_assignment(name, param.default)}"
                   if not _breaks_rule(param.rule, param.default, values) else
                   f"See the rules with: coursekit params {chapter.id}")
            raise error(
                f"parameter {name!r} of chapter {chapter.id} must be "
                f"{describe_rule(param.rule, values)}, but got {values[name]!r} "
                f"({source}). {fix}")


def describe_rule(rule: str, values: Mapping[str, Any] | None = None) -> str:
    """A rule in words, with the names of ``variants of`` spelled out and bounds that
    name other parameters computed from ``values``.

    Example:
        >>> describe_rule("at least 0 and at most 50000 - num_val", {"num_val": 5000})
        'at least 0 and at most 50000 - num_val (= 45000 here)'
        >>> describe_rule("each of: all, a, b")
        "'all' or comma-separated names from: a, b"
    """
    rule = _expand(rule)
    kind, sep, names = rule.partition(":")
    if sep and kind.strip() == "each of":
        words = [w.strip() for w in names.split(",") if w.strip()]
        return ("'all' or " if "all" in words else "") + \
            "comma-separated names from: " + ", ".join(w for w in words if w != "all")
    if sep:
        return rule
    parts = []
    for part in rule.split(" and "):
        match = _BOUND.fullmatch(part)
        bound = match[2] if match else ""
        if match and values is not None and re.search(r"[A-Za-z_]", bound):
            part = f"{part.strip()} (= {_bound(bound, values):g} here)"
        parts.append(part.strip())
    return " and ".join(parts)


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
        ParameterError: unknown profile, or an override with an unknown key, a
            value of the wrong type (an int is accepted for a float; a bool is not
            an int) or a value outside the parameter's rule.
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
    sources: dict[str, str] = {}
    for prof, prof_overrides in chapter.profiles.items():
        source = (
            f"set in chapters/{chapter.path.name}, metadata coursekit.profiles.{prof}"
        )
        checked = _check(chapter, params, prof_overrides, source, ChapterError)
        if prof == name:
            values.update(checked)
            sources.update(dict.fromkeys(checked, source))
    for key, value in (overrides or {}).items():
        source = f"given as -p {format_assignment(key, value)}"
        values.update(_check(chapter, params, {key: value}, source, ParameterError))
        sources[key] = source
    values["profile"] = name
    _check_rules(chapter, params, values, sources)
    return values
