"""The cache key: re-execute a chapter only when something it depends on changed.

The key is a sha256 over three parts:

- the notebook's cells: type, source and tags, never outputs or other metadata,
  so saving a notebook in Jupyter does not invalidate it;
- the resolved parameters as sorted JSON;
- the library: every file under ``src/coursekit/`` (the dataset manifests included), hashed
  by content in sorted path order (``__pycache__`` and hidden files left out). The
  runner and the command line are left out too: chapters never import them, so a
  change to how chapters are run or the book is staged re-executes nothing.

A run is stored under its key (:mod:`.store`); a successful run with the same key is
reused instead of executing the chapter again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import nbformat

import coursekit

__all__ = [
    "default_library_paths",
    "library_digest",
    "notebook_digest",
    "cache_key",
]


def default_library_paths(root: Path) -> list[Path]:
    """The library inputs of the cache key: the coursekit package (``root`` is unused:
    the manifests and ``reported.yaml`` ship inside the package)."""
    return [Path(coursekit.__file__).resolve().parent]


# The notebook runner itself: what chapters run with, not what they compute.
_NOT_LIBRARY = {("runner",), ("cli.py",)}


def _library_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    files = []
    for file in path.rglob("*"):
        parts = file.relative_to(path).parts
        hidden = any(p.startswith(".") or p == "__pycache__" for p in parts)
        runner = path.name == "coursekit" and parts[:1] in _NOT_LIBRARY
        if file.is_file() and not hidden and not runner and file.suffix != ".pyc":
            files.append(file)
    return sorted(files, key=lambda f: f.relative_to(path).as_posix())


def library_digest(paths: Iterable[Path]) -> str:
    """sha256 of the files under ``paths`` (folders or files), by content and name.

    A missing path counts as empty.
    """
    digest = hashlib.sha256()
    for path in paths:
        digest.update(f"[{Path(path).name}]\0".encode())
        if not Path(path).exists():
            continue
        for file in _library_files(Path(path)):
            name = file.relative_to(path).as_posix() if file != path else file.name
            content = hashlib.sha256(file.read_bytes()).hexdigest()
            digest.update(f"{name}\0{content}\0".encode())
    return digest.hexdigest()


def notebook_digest(nb: nbformat.NotebookNode) -> str:
    """sha256 of what a notebook executes: cell types, sources and tags."""
    cells = [
        [cell.cell_type, cell.source, list(cell.metadata.get("tags", []))]
        for cell in nb.cells
    ]
    return hashlib.sha256(json.dumps(cells).encode()).hexdigest()


def cache_key(notebook: str, params: Mapping[str, Any], library: str) -> str:
    """Combine a notebook digest, the resolved parameters and a library digest."""
    params_json = json.dumps(params, sort_keys=True, default=repr)
    parts = json.dumps([notebook, params_json, library])
    return hashlib.sha256(parts.encode()).hexdigest()
