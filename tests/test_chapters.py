"""The committed chapter notebooks are well-formed: listed, stripped, parameterised.

Reads the notebooks only (no execution); executing them under ``smoke`` is
test_book.py's job.
"""

from pathlib import Path

import nbformat
import pytest

from coursekit import runner

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "chapters").glob("*.ipynb"))


def test_every_chapter_notebook_is_in_the_table_of_contents():
    listed = {c.path.resolve() for c in runner.list_chapters(ROOT)}
    assert listed == {p.resolve() for p in CHAPTERS}


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_is_committed_stripped_with_a_parsable_parameters_cell(path: Path):
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code), \
        f"{path.name} has outputs: strip them before committing"
    tagged = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, f"{path.name} needs exactly one 'parameters' cell"
    for line in tagged[0].source.splitlines():
        comment = line.split("#", 1)[1] if "#" in line else ""
        # papermill reads "x = 1  # a = b" as a second assignment and drops x
        assert "=" not in comment, f"{path.name}: '=' in a parameter comment: {line}"
    meta = nb.metadata["coursekit"]
    assert {"smoke", "cpu", "gpu"} <= set(meta["profiles"])
    assert tagged[0].source.startswith('profile = "cpu"')


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_follows_the_book_shape(path: Path):
    """Opens with what it reproduces and its profile, draws in the book's style, records
    its reported-vs-reproduced rows for the scoreboard and ends with what we learned."""
    nb = nbformat.read(path, as_version=4)
    head = " ".join(c.source for c in nb.cells[:6])
    assert "{admonition} Reproduces" in head, f"{path.name}: no 'Reproduces' box on top"
    assert "report.profile_note(" in head, f"{path.name}: no profile note on top"
    code = " ".join(c.source for c in nb.cells if c.cell_type == "code")
    assert "plots.use_book_style()" in code, f"{path.name}: not in the book's style"
    assert "write_run_record(" in code and "comparison=" in code, \
        f"{path.name}: its record must carry comparison= rows for the scoreboard"
    closing = [c.source for c in nb.cells if c.cell_type == "markdown"][-3:]
    assert any("what we learned" in s.lower() for s in closing), \
        f"{path.name}: does not end with what we learned"
