"""coursekit.chapter.Chapter: parameters from the parameters cell, tables, one record."""

import json
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from coursekit.book import report
from coursekit.chapter import Chapter
from coursekit.training.callbacks import progress_bar, show_progress
from coursekit.runner import ChapterError

PARAMETERS = 'profile = "cpu"\nnum_epochs = 3\nvariants = "all"\nseed = 0\n'
EXPERIMENT = {
    "title": "Tiny", "source": "report X", "setup": "none",
    "metrics": {"test_acc": "test accuracy (%)"},
    "variants": {"plain": {"name": "Plain", "test_acc": 60.0},
                 "bn": {"name": "BN", "test_acc": 62.0}},
    "claims": [
        {"id": "bn_helps", "says": "BN helps", "where": "Table 1",
         "check": {"kind": "greater", "a": "bn", "b": "plain", "metric": "test_acc"}},
        {"id": "bn_big", "says": "BN by 5 points", "where": "Table 1",
         "check": {"kind": "greater", "a": "bn", "b": "plain", "metric": "test_acc",
                   "margin": 5}},
        {"id": "resnet", "says": "a ResNet beats both", "where": "s4",
         "check": {"kind": "best", "variant": "resnet", "metric": "test_acc"}},
    ],
}


@pytest.fixture
def book(tmp_path: Path, monkeypatch) -> Path:
    root = tmp_path / "book"
    (root / "chapters").mkdir(parents=True)
    (root / "_toc.yml").write_text("format: jb-book\nroot: intro\nchapters:\n"
                                   "- file: chapters/X1_tiny\n")
    nb = nbformat.v4.new_notebook()
    nb.metadata["coursekit"] = {
        "id": "X1", "title": "Tiny", "experiments": ["X1"],
        "profiles": {"smoke": {"num_epochs": 1}},
        "untested": {"cpu": {"X1.bn_big": "needs 200 epochs"}}}
    cell = nbformat.v4.new_code_cell(PARAMETERS)
    cell.metadata["tags"] = ["parameters"]
    nb.cells = [nbformat.v4.new_markdown_cell("# Tiny"), cell]
    nbformat.write(nb, str(root / "chapters" / "X1_tiny.ipynb"))
    real = report.experiment
    monkeypatch.setattr(report, "experiment",
                        lambda i: EXPERIMENT if i == "X1" else real(i))
    monkeypatch.setenv("COURSEKIT_BOOK_ROOT", str(root))
    return root


def test_parameters_come_from_the_cell_names_with_the_run_values(book):
    namespace = {"profile": "smoke", "num_epochs": 1, "variants": "all", "seed": 2,
                 "model": object()}  # not a parameter: never recorded
    ch = Chapter("X1", namespace)
    assert ch.params == {"profile": "smoke", "num_epochs": 1, "variants": "all",
                         "seed": 2}
    assert ch.profile == "smoke" and ch.experiments == ("X1",)
    assert ch.reported("X1", "bn", "test_acc") == 62.0


def test_the_chapter_comes_from_the_notebook_the_kernel_runs(book):
    namespace = {"profile": "cpu", "num_epochs": 3, "variants": "all", "seed": 0,
                 "__session__": str(book / "chapters" / "X1_tiny.ipynb")}  # as Jupyter sets
    assert Chapter(namespace).id == "X1"
    del namespace["__session__"]
    assert Chapter(namespace, notebook=book / "chapters" / "X1_tiny.ipynb").id == "X1"
    with pytest.raises(ChapterError, match=r"cannot tell which notebook.*notebook="):
        Chapter(namespace)
    with pytest.raises(ChapterError, match="X9_gone.ipynb does not exist"):
        Chapter(namespace, notebook=book / "chapters" / "X9_gone.ipynb")


def test_on_colab_the_chapter_comes_from_the_open_notebooks_metadata(book, monkeypatch):
    import sys
    import types
    message = types.ModuleType("google.colab._message")
    message.blocking_request = lambda kind, timeout_sec: {
        "ipynb": {"metadata": {"coursekit": {"id": "X1"}}}} if kind == "get_ipynb" else None
    colab = types.ModuleType("google.colab")
    colab._message = message
    monkeypatch.setitem(sys.modules, "google", types.ModuleType("google"))
    monkeypatch.setitem(sys.modules, "google.colab", colab)
    monkeypatch.setitem(sys.modules, "google.colab._message", message)
    ch = Chapter({"profile": "cpu", "num_epochs": 3, "variants": "all", "seed": 0})
    assert ch.id == "X1"


def test_a_parameter_left_undefined_is_named(book):
    with pytest.raises(NameError, match="seed are not defined"):
        Chapter("X1", {"profile": "cpu", "num_epochs": 3, "variants": "all"})


def test_finish_writes_one_complete_record(book, tmp_path):
    ch = Chapter("X1", {"profile": "cpu", "num_epochs": 3, "variants": "all", "seed": 0,
                        "coursekit_run_dir": str(tmp_path / "run")})  # as the runner injects
    assert progress_bar(range(2), None) == range(2)  # a batch run: rows, not bars
    show_progress(True)
    ch.compare("X1", {"plain": {"test_acc": 58.0}, "bn": {"test_acc": 61.5}})
    ch.compare("X1")  # a cell run again replaces the experiment's rows
    ch.claims("X1")
    assert ch.verdict("X1", "bn_helps") == "holds"
    assert ch.verdict("X1", "bn_big") == "not tested at this profile"  # metadata
    assert ch.verdict("X1", "resnet") == "not tested at this profile"  # not run
    with pytest.raises(KeyError, match="no claim 'nope'"):
        ch.verdict("X1", "nope")
    summary = ch.summary()
    assert summary.startswith("**1 of 3 claims hold** at the `cpu` profile")
    assert "Why: needs 200 epochs." in summary  # a sentence, not a parenthesis
    assert ch.finish(facts={"best": "bn"}, timings={"train_s": 1.5}) is None
    path = ch.record_path
    record = json.loads(path.read_text())
    assert path == tmp_path / "run" / "record.json"
    assert record["params"] == {"profile": "cpu", "num_epochs": 3, "variants": "all",
                                "seed": 0}
    assert record["results"] == {"X1": {"plain": {"test_acc": 58.0},
                                        "bn": {"test_acc": 61.5}}}
    assert [r["reproduced"] for r in record["comparison"]] == [58.0, 61.5]
    assert [r["verdict"] for r in record["claims"]] == [
        "holds", "not tested at this profile", "not tested at this profile"]
    assert record["timings"]["train_s"] == 1.5 and "chapter_s" in record["timings"]


def test_one_untested_reason_may_name_several_claims():
    from coursekit.runner.chapters import _read_untested
    read = _read_untested({"cpu": {"A4.x, A4.y,": "needs 100 epochs", "A3.z": "a GPU"}},
                          Path("X1_tiny.ipynb"))
    assert read == {"cpu": {"A4.x": "needs 100 epochs", "A4.y": "needs 100 epochs",
                            "A3.z": "a GPU"}}  # a trailing comma names no claim


def test_the_summary_shows_a_quoted_tag_as_text(book):
    # A10's claims quote translations ending in "<EOS>", which Markdown would read as
    # an HTML tag and drop from the page
    from coursekit.book import claims as claims_
    ch = Chapter("X1", {"profile": "cpu", "num_epochs": 3, "variants": "all", "seed": 0})
    ch._claims["X1"] = pd.DataFrame([{
        "verdict": claims_.FAILS, "the report says": "he s a powerful sorcerer . <EOS>",
        "check": "train_exact_pct of gru >= 50", "we measured": "gru: 0.091", "note": ""}])
    assert ('"he s a powerful sorcerer . &lt;EOS&gt;"; we measured gru: 0.091 '
            '(check: train_exact_pct of gru &gt;= 50).') in ch.summary()


def test_the_summary_gives_a_shared_reason_once_for_neighbours(book):
    from coursekit.book import claims as claims_
    ch = Chapter("X1", {"profile": "cpu", "num_epochs": 3, "variants": "all", "seed": 0})
    row = {"the report says": "r", "check": "", "we measured": "m"}
    ch._claims["X1"] = pd.DataFrame([
        {**row, "verdict": claims_.UNTESTED, "note": "needs a GPU."},
        {**row, "verdict": claims_.FAILS, "note": "a measure"},  # a failed claim gives none
        {**row, "verdict": claims_.UNTESTED, "note": "needs a GPU."},
        {**row, "verdict": claims_.UNTESTED, "note": "needs WikiText"},
        {**row, "verdict": claims_.UNTESTED, "note": "needs a GPU"}])
    whys = [line.partition("Why: ")[2] for line in ch.summary().splitlines()[1:]]
    assert whys == ["needs a GPU.", "", "as above.", "needs WikiText.", "needs a GPU."]
