"""A forked chapter runs in plain Jupyter: copied, renamed, executed with nbclient the
way JupyterLab runs it (the kernel learns its notebook's path from JPY_SESSION_NAME),
with no coursekit runner and no cell edited."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "chapters" / "B5_worked_theory.ipynb"  # the fastest chapter: 5 s, no data


def _fork(tmp_path: Path) -> Path:
    """A book holding one chapter: B5 copied as X1, with only its metadata id changed,
    as book/fork.md tells a reader to do."""
    book = tmp_path / "book"
    (book / "chapters").mkdir(parents=True)
    (book / "_toc.yml").write_text("format: jb-book\nroot: intro\nchapters:\n"
                                   "- file: chapters/X1_my_fork\n")
    path = book / "chapters" / "X1_my_fork.ipynb"
    shutil.copy(SOURCE, path)
    nb = nbformat.read(path, as_version=4)
    nb.metadata["coursekit"]["id"] = "X1"
    nbformat.write(nb, str(path))
    return path


@pytest.mark.slow
def test_a_renamed_copy_of_a_chapter_runs_outside_the_runner(tmp_path: Path) -> None:
    path = _fork(tmp_path)
    nb = nbformat.read(path, as_version=4)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("COURSEKIT_BOOK_ROOT")}
    client = NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    client.execute(env={**env, "JPY_SESSION_NAME": str(path)})  # what JupyterLab sets
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors
    record = json.loads((path.parent / "runs" / "X1" / "record.json").read_text())
    assert record["chapter"] == "X1" and record["profile"] == "cpu"
    assert record["claims"], "the fork still checks B5's claims"
