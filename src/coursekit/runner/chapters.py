"""Where the book is, which chapters it holds, and where their build products go.

A chapter is a notebook ``chapters/<ID>_<slug>.ipynb``
(``chapters/A1_lenet_cifar10.ipynb``) whose notebook metadata may hold::

    "coursekit": {"id": "A1", "title": "LeNet family on CIFAR-10",
                  "experiments": ["A1"],
                  "profiles": {"smoke": {"num_epochs": 1}, "gpu": {"num_epochs": 200}}}

Chapters are ordered as in ``_toc.yml``; chapters missing from the toc come after,
sorted by file name. This module reads notebooks; it never executes them. Runs live in :mod:`.store`.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
import yaml

import coursekit

from .errors import ChapterError, RunnerError

__all__ = [
    "COLAB_TAG",
    "PROFILES",
    "Chapter",
    "colab_cell",
    "find_book_root",
    "list_chapters",
    "find_chapter",
    "read_chapter",
    "read_notebook",
    "toc_files",
    "toc_parts",
    "point_label",
]

# the profiles, and what each is for ("auto" resolves to gpu or cpu, see params.py);
# the chapters' rerun boxes and `coursekit --help` say them with these words
PROFILES = {
    "smoke": "seconds, proves the code runs",
    "cpu": "what make book builds without a GPU",
    "gpu": "the report's settings where it states them, at full scale",
}

# "A1_lenet_cifar10" -> id "A1", slug "lenet_cifar10"
_CHAPTER_NAME = re.compile(r"^(?P<id>[A-Za-z]+\d+)_(?P<slug>\w+)$")


@dataclass(frozen=True)
class Chapter:
    """One chapter notebook of the book.

    Attributes:
        id: experiment-style id from the file name, e.g. ``"A1"``.
        title: from the ``coursekit`` metadata, else the first ``#`` heading.
        path: the source notebook (outputs stripped).
        experiments: experiment ids the chapter reproduces, e.g. ``("A1",)``.
        profiles: per-profile parameter overrides,
            e.g. ``{"smoke": {"num_epochs": 1}}``.
        untested: per profile, the claims that profile cannot test and why,
            e.g. ``{"cpu": {"A3.superresnet_beats_resnet": "needs ResNet-34 at ..."}}``.
    """

    id: str
    title: str
    path: Path
    experiments: tuple[str, ...] = ()
    profiles: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    untested: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    @property
    def stem(self) -> str:
        """File name without ``.ipynb``, e.g. ``"A1_lenet_cifar10"``."""
        return self.path.stem


# ---------------------------------------------------------------- book root


def _is_book_root(path: Path) -> bool:
    return (path / "_toc.yml").is_file() and (path / "chapters").is_dir()


def find_book_root(start: Path | None = None) -> Path:
    """Locate the book root (the folder holding ``_toc.yml`` and ``chapters/``).

    Looks at ``$COURSEKIT_BOOK_ROOT`` first, then at ``start`` (default: the current
    directory) and its parents, then at the repository holding the installed package.

    Args:
        start: folder to start the upward search from.
    Returns:
        The absolute book root.
    Raises:
        RunnerError: if ``$COURSEKIT_BOOK_ROOT`` is not a book root, or no book
            is found.
    """
    env = os.environ.get("COURSEKIT_BOOK_ROOT")
    if env:
        root = Path(env).expanduser().resolve()
        if not _is_book_root(root):
            raise RunnerError(
                f"COURSEKIT_BOOK_ROOT={env} is not a book root: it needs a _toc.yml "
                "and a chapters/ folder. Point it at the repository root or unset it."
            )
        return root
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if _is_book_root(candidate):
            return candidate
    fallback = Path(coursekit.__file__).resolve().parents[2]
    if _is_book_root(fallback):
        return fallback
    raise RunnerError(
        f"no book found: neither {here} nor its parents hold a _toc.yml and a "
        "chapters/ folder. The library is installed, but the chapters live in the "
        f"book's repository: git clone {coursekit.REPOSITORY}, then run coursekit "
        "inside it, pass --root, or set COURSEKIT_BOOK_ROOT."
    )


# ---------------------------------------------------------------- build layout


def point_label(point: Mapping[str, Any]) -> str:
    """A folder name for one point of a sweep, readable and unique.

    Example:
        >>> point_label({"seed": 1, "variants": "super_lenet"})
        'seed=1,variants=super_lenet-aff7cf0e'
    """
    canonical = json.dumps(dict(sorted(point.items())), default=repr)
    digest = hashlib.sha256(canonical.encode()).hexdigest()[:8]
    words = ",".join(f"{k}={v}" for k, v in sorted(point.items()))
    readable = re.sub(r"[^\w.=,+-]+", "_", words)[:80].strip("_")
    return f"{readable}-{digest}" if readable else digest


# ---------------------------------------------------------------- reading chapters


COLAB_TAG = "coursekit-colab"  # the chapter's first cell: gets the book on Colab


def colab_cell() -> str:
    """The source of every chapter's first cell, generated from ``coursekit.REPOSITORY``
    (tests check each chapter's copy): on Colab, where a chapter opens without the book
    around it, it clones the book, installs its library and moves into ``chapters/``;
    in any other kernel it does nothing. Hidden from the book's pages (``remove-cell``)."""
    return (
        "# On Colab: get the book and install its library (elsewhere this does nothing)\n"
        'if "google.colab" in str(get_ipython()):\n'
        f'    get_ipython().system("git clone -q --depth 1 {coursekit.REPOSITORY} '
        '/content/coursekit; pip install -q -e /content/coursekit")\n'
        '    __import__("os").chdir("/content/coursekit/chapters")')


def read_yaml_mapping(path: Path, error: type[RunnerError], what: str) -> dict:
    """The YAML mapping in ``path`` ({} for an empty file).

    Raises:
        error: if the file is not valid YAML or not a mapping (``what`` says what it
            must hold).
    """
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise error(f"{path} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise error(f"{path} must hold {what}")
    return data


def read_notebook(path: Path) -> nbformat.NotebookNode:
    """Read a notebook as nbformat v4.

    Raises:
        ChapterError: if the file is missing or is not a notebook.
    """
    try:
        return nbformat.read(str(path), as_version=4)
    except (OSError, ValueError) as exc:  # JSON and nbformat errors are ValueErrors
        raise ChapterError(f"cannot read notebook {path}: {exc}") from exc


def _first_heading(nb: nbformat.NotebookNode) -> str | None:
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        for line in cell.source.splitlines():
            if line.startswith("# "):
                return line[2:].strip()
    return None


def _read_profiles(raw: Any, path: Path) -> dict[str, dict[str, Any]]:
    if not isinstance(raw, Mapping):
        raise ChapterError(
            f"{path.name}: coursekit.profiles in the notebook metadata must map a "
            f"profile name to its overrides, e.g. {{'smoke': {{'num_epochs': 1}}}}; "
            f"found {raw!r}"
        )
    profiles = {}
    for name, overrides in raw.items():
        if name not in PROFILES:
            raise ChapterError(
                f"{path.name}: coursekit.profiles has overrides for unknown profile "
                f"{name!r}; the profiles are {', '.join(PROFILES)}"
            )
        if not isinstance(overrides, Mapping):
            raise ChapterError(
                f"{path.name}: coursekit.profiles.{name} must be a mapping of "
                f"parameter names to values; found {overrides!r}"
            )
        profiles[name] = dict(overrides)
    return profiles


def read_chapter(path: Path) -> Chapter:
    """Read a chapter's id, title, experiments and profile overrides.

    Args:
        path: a notebook named ``<ID>_<slug>.ipynb``.
    Returns:
        The chapter; its id comes from the file name.
    Raises:
        ChapterError: if the name or the ``coursekit`` metadata breaks the conventions.
    """
    match = _CHAPTER_NAME.match(path.stem)
    if not match:
        raise ChapterError(
            f"{path.name} is not named like a chapter: expected <ID>_<slug>.ipynb, "
            "e.g. chapters/A1_lenet_cifar10.ipynb"
        )
    nb = read_notebook(path)
    meta = nb.metadata.get("coursekit", {})
    if not isinstance(meta, Mapping):
        raise ChapterError(f"{path.name}: the coursekit notebook metadata must be a "
                           "dict")
    chapter_id = match["id"]
    if str(meta.get("id", chapter_id)).upper() != chapter_id.upper():
        raise ChapterError(
            f"{path.name}: the file name says id {chapter_id} but the coursekit "
            f"metadata says id {meta['id']}; rename the file or fix the metadata"
        )
    title = meta.get("title") or _first_heading(nb) or match["slug"].replace("_", " ")
    return Chapter(
        id=chapter_id,
        title=str(title),
        path=path,
        experiments=tuple(str(e) for e in meta.get("experiments", ())),
        profiles=_read_profiles(meta.get("profiles", {}), path),
        untested=_read_untested(meta.get("untested", {}), path),
    )


def _read_untested(raw: Any, path: Path) -> dict[str, dict[str, str]]:
    """``coursekit.untested``: profile -> {"<experiment>.<claim id>": why}; one reason
    may name several claims, separated by commas ("A4.x, A4.y": why)."""
    if not isinstance(raw, Mapping) or any(
            p not in PROFILES or not isinstance(v, Mapping) for p, v in raw.items()):
        raise ChapterError(
            f"{path.name}: coursekit.untested in the notebook metadata must map a "
            f"profile ({', '.join(PROFILES)}) to {{'<experiment>.<claim id>': 'why'}}")
    return {p: {claim.strip(): str(why) for ids, why in claims.items()
                for claim in str(ids).split(",") if claim.strip()}
            for p, claims in raw.items()}


def _toc_entries(node: Any) -> Iterator[str]:
    if isinstance(node, Mapping):
        for key in ("root", "file"):
            if isinstance(node.get(key), str):
                yield node[key]
        for value in node.values():
            if isinstance(value, (list, Mapping)):
                yield from _toc_entries(value)
    elif isinstance(node, list):
        for item in node:
            yield from _toc_entries(item)


def _read_toc(root: Path) -> Any:
    toc = root / "_toc.yml"
    if not toc.is_file():
        return None
    try:
        return yaml.safe_load(toc.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ChapterError(f"{toc} is not valid YAML: {exc}") from exc


def _bare(entry: str) -> str:
    entry = entry.removeprefix("./")
    for suffix in (".ipynb", ".md"):
        entry = entry.removesuffix(suffix)
    return entry


def toc_parts(root: Path) -> dict[str, str]:
    """Document (as :func:`toc_files` names it) -> the caption of its part of the book.

    Raises:
        ChapterError: if ``_toc.yml`` is not valid YAML.
    """
    data = _read_toc(root) or {}
    return {_bare(entry): str(part.get("caption", "")) for part in data.get("parts", [])
            if isinstance(part, Mapping) for entry in _toc_entries(part)}


def toc_files(root: Path) -> list[str]:
    """Documents listed in ``_toc.yml``, in book order, without suffix.

    Returns:
        Paths like ``"chapters/A1_lenet_cifar10"``, relative to the root.
    Raises:
        ChapterError: if ``_toc.yml`` is not valid YAML.
    """
    data = _read_toc(root)
    return [] if data is None else [_bare(entry) for entry in _toc_entries(data)]


def list_chapters(root: Path) -> list[Chapter]:
    """All chapters of the book at ``root``, in table-of-contents order.

    Raises:
        ChapterError: if there is no ``chapters/`` folder, a notebook breaks the
            conventions, or two notebooks share an id.
    """
    folder = root / "chapters"
    if not folder.is_dir():
        raise ChapterError(f"{root} has no chapters/ folder; is it the book root?")
    order = {name: i for i, name in reversed(list(enumerate(toc_files(root))))}
    paths = [p for p in folder.glob("*.ipynb") if _CHAPTER_NAME.match(p.stem)]
    paths.sort(key=lambda p: (order.get(f"chapters/{p.stem}", len(order)), p.name))
    chapters = [read_chapter(p) for p in paths]
    seen: dict[str, Chapter] = {}
    for chapter in chapters:
        other = seen.setdefault(chapter.id.upper(), chapter)
        if other is not chapter:
            raise ChapterError(
                f"two chapters share the id {chapter.id}: chapters/{other.path.name} "
                f"and chapters/{chapter.path.name}; rename one of them"
            )
    return chapters


def find_chapter(root: Path, query: str) -> Chapter:
    """The chapter named by an id (``a1``, any case), a file stem, or a file name.

    Raises:
        ChapterError: if no chapter matches; the message lists the available ids.
    """
    chapters = list_chapters(root)
    key = Path(query).name.removesuffix(".ipynb").lower()
    for chapter in chapters:
        if key in (chapter.id.lower(), chapter.stem.lower()):
            return chapter
    ids = [c.id for c in chapters]
    close = difflib.get_close_matches(query.upper(), ids, n=1)
    hint = f" Did you mean {close[0]}?" if close else ""
    raise ChapterError(
        f"no chapter {query!r} in {root / 'chapters'}.{hint} "
        f"Available chapters: {', '.join(ids) or '(none)'}. "
        "See their titles with: coursekit list"
    )
