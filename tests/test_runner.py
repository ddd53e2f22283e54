"""Tests of coursekit.runner and coursekit.cli on a tiny generated book.

The book in ``tmp_path`` has two chapters built with nbformat: A1 writes its parameters
to ``record.json`` in the run folder the runner injects (``coursekit_run_dir``); B2 raises. ``_toc.yml`` lists B2 before A1. The
cache tests hash a small fake library folder instead of src/coursekit, so they do not
depend on the library's files. Notebooks really run (papermill, python3 kernel).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from coursekit import runner
from coursekit.cli import main
from coursekit.runner import ChapterError, ParameterError

# ---------------------------------------------------------------- the tiny book

A1_PARAMETERS = """\
profile = "cpu"  # smoke | cpu | gpu
num_epochs = 3  # passes over the training set
lr = 0.1
names = ["a", "b"]
use_bn = True
tag = "base"
"""

A1_BODY = """\
import json, os, pathlib
record = dict(profile=profile, num_epochs=num_epochs, lr=lr, names=names,
              use_bn=use_bn, tag=tag, cwd=pathlib.Path.cwd().name,
              run_dir_injected="coursekit_run_dir" in globals())
run_dir = pathlib.Path(coursekit_run_dir)
(run_dir / "record.json").write_text(json.dumps(record))
"""

B2_PARAMETERS = 'profile = "cpu"\nnum_epochs = 2\n'
B2_BODY = 'raise ValueError(f"boom after {num_epochs} epochs")\n'


def make_chapter(path: Path, parameters: str, body: str, meta: dict) -> None:
    """Write a chapter notebook: title, parameters cell, one code cell."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3", "display_name": "Python 3", "language": "python"
    }
    nb.metadata["coursekit"] = meta
    params = nbformat.v4.new_code_cell(parameters)
    params.metadata["tags"] = ["parameters"]
    nb.cells = [
        nbformat.v4.new_markdown_cell(f"# {meta.get('title', 'Chapter')}"),
        params,
        nbformat.v4.new_code_cell(body),
    ]
    nbformat.write(nb, str(path))


def make_book_root(root: Path, chapters: list[str]) -> Path:
    """An empty book at ``root``: config, intro and a toc of ``chapters`` (file stems)."""
    (root / "book").mkdir(parents=True)
    (root / "chapters").mkdir()
    (root / "_config.yml").write_text(
        "title: Tiny book\nauthor: tests\n"
        "execute:\n  execute_notebooks: 'off'\nonly_build_toc_files: true\n"
    )
    (root / "_toc.yml").write_text(
        "format: jb-book\nroot: book/intro\nchapters:\n"
        + "".join(f"- file: chapters/{stem}\n" for stem in chapters)
    )
    (root / "book" / "intro.md").write_text("# Tiny book\n\nFor tests.\n")
    return root


@pytest.fixture
def book(tmp_path: Path) -> Path:
    """A two-chapter book; returns its root."""
    root = make_book_root(tmp_path / "book", ["B2_fails", "A1_ok"])
    make_chapter(root / "chapters" / "A1_ok.ipynb", A1_PARAMETERS, A1_BODY, {
        "id": "A1", "title": "An ok chapter", "experiments": ["A1"],
        "profiles": {"smoke": {"num_epochs": 1}, "gpu": {"num_epochs": 30, "lr": 1}},
    })
    make_chapter(root / "chapters" / "B2_fails.ipynb", B2_PARAMETERS, B2_BODY, {
        "id": "B2", "title": "A failing chapter", "profiles": {"smoke": {}},
    })
    return root


def record_of(root: Path) -> dict:
    """The record of A1's newest run."""
    return runner.store.list_runs(root, "A1")[-1].record()


# ---------------------------------------------------------------- chapters


def test_chapters_follow_the_toc_and_carry_their_metadata(book: Path) -> None:
    chapters = runner.list_chapters(book)
    assert [c.id for c in chapters] == ["B2", "A1"]
    a1 = chapters[1]
    assert (a1.title, a1.experiments, a1.stem) == ("An ok chapter", ("A1",), "A1_ok")


def test_chapters_missing_from_the_toc_come_last_sorted(book: Path) -> None:
    for name in ("D4_zeta", "C3_extra"):
        make_chapter(book / "chapters" / f"{name}.ipynb", B2_PARAMETERS, "", {})
    assert [c.id for c in runner.list_chapters(book)] == ["B2", "A1", "C3", "D4"]
    assert runner.find_chapter(book, "c3").title == "Chapter"


def test_find_chapter_by_id_any_case_or_by_file_name(book: Path) -> None:
    for query in ("A1", "a1", "A1_ok", "a1_ok.ipynb", "chapters/A1_ok.ipynb"):
        assert runner.find_chapter(book, query).id == "A1"


def test_unknown_chapter_lists_the_available_ids(book: Path) -> None:
    with pytest.raises(ChapterError, match=r"'Z9'.*Available chapters: B2, A1"):
        runner.find_chapter(book, "Z9")


def test_metadata_id_must_agree_with_the_file_name(book: Path) -> None:
    make_chapter(book / "chapters" / "C3_x.ipynb", B2_PARAMETERS, "", {"id": "C4"})
    with pytest.raises(ChapterError, match="C3_x.ipynb.*C3.*C4"):
        runner.list_chapters(book)


def test_book_root_is_found_from_env_then_from_cwd(
    book: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("COURSEKIT_BOOK_ROOT", raising=False)
    assert runner.find_book_root(book / "chapters") == book.resolve()
    monkeypatch.setenv("COURSEKIT_BOOK_ROOT", str(book))
    assert runner.find_book_root(Path("/")) == book.resolve()
    monkeypatch.setenv("COURSEKIT_BOOK_ROOT", str(book / "book"))
    with pytest.raises(runner.RunnerError, match="COURSEKIT_BOOK_ROOT"):
        runner.find_book_root()


# ---------------------------------------------------------------- parameters


def test_parameters_cell_is_read_with_types_and_comments(book: Path) -> None:
    params = runner.read_parameters(runner.find_chapter(book, "A1"))
    assert list(params) == ["profile", "num_epochs", "lr", "names", "use_bn", "tag"]
    assert params["num_epochs"].default == 3
    assert params["num_epochs"].help == "passes over the training set"
    assert params["names"].type_name == "list"


def test_resolution_order_defaults_then_profile_then_user(book: Path) -> None:
    a1 = runner.find_chapter(book, "A1")
    cpu = runner.resolve_parameters(a1, "cpu")
    assert (cpu["num_epochs"], cpu["lr"], cpu["profile"]) == (3, 0.1, "cpu")
    smoke = runner.resolve_parameters(a1, "smoke")
    assert (smoke["num_epochs"], smoke["profile"]) == (1, "smoke")
    user = runner.resolve_parameters(a1, "smoke", {"num_epochs": 5, "tag": "x"})
    assert (user["num_epochs"], user["tag"], user["lr"]) == (5, "x", 0.1)
    gpu = runner.resolve_parameters(a1, "gpu", {"lr": 0.2})
    assert (gpu["num_epochs"], gpu["lr"]) == (30, 0.2)


def test_auto_profile_follows_cuda() -> None:
    torch = pytest.importorskip("torch")
    expected = "gpu" if torch.cuda.is_available() else "cpu"
    assert runner.resolve_profile("auto") == expected


def test_unknown_profile_is_refused() -> None:
    with pytest.raises(ParameterError, match="'tiny'.*smoke, cpu, gpu"):
        runner.resolve_profile("tiny")


def test_int_is_accepted_for_a_float_and_becomes_one(book: Path) -> None:
    values = runner.resolve_parameters(runner.find_chapter(book, "A1"), "gpu")
    assert values["lr"] == 1.0 and isinstance(values["lr"], float)
    values = runner.resolve_parameters(runner.find_chapter(book, "A1"), "cpu",
                                       {"lr": 2})
    assert isinstance(values["lr"], float)


@pytest.mark.parametrize(
    ("key", "value", "pattern"),
    [
        ("num_epochs", 2.5, r"'num_epochs'.*an int.*2\.5"),
        ("num_epochs", True, r"'num_epochs'.*an int.*True"),  # bool is not an int
        ("use_bn", 1, r"'use_bn'.*a bool"),
        ("lr", "fast", r"'lr'.*a float.*'fast'"),
        ("names", "a", r"'names'.*a list"),
        ("names", ["a", 3], r"'names'.*a list of str values.*\['a', 3\]"),
        ("tag", 7, r"'tag'.*a str.*quote it"),
    ],
)
def test_wrong_type_is_refused_naming_key_type_and_value(
    book: Path, lib: list[Path], key: str, value: object, pattern: str
) -> None:
    with pytest.raises(ParameterError, match=pattern):
        runner.run_chapter(book, "A1", profile="cpu", overrides={key: value},
                           library_paths=lib)
    assert not (book / "_build" / "executed").exists()


def test_unknown_key_is_refused_with_a_suggestion(book: Path, lib: list[Path]) -> None:
    with pytest.raises(ParameterError, match=r"A1.*'num_epoch'.*'num_epochs'.*lr"):
        runner.run_chapter(book, "A1", profile="smoke",
                           overrides={"num_epoch": 2}, library_paths=lib)
    assert not (book / "_build" / "executed").exists()


def test_profile_cannot_be_set_as_a_parameter(book: Path) -> None:
    a1 = runner.find_chapter(book, "A1")
    with pytest.raises(ParameterError, match="--profile"):
        runner.resolve_parameters(a1, "cpu", {"profile": "gpu"})


def test_bad_profile_overrides_in_metadata_are_refused(book: Path) -> None:
    make_chapter(book / "chapters" / "C3_bad.ipynb", A1_PARAMETERS, "", {
        "profiles": {"gpu": {"num_epochs": "many"}},
    })
    c3 = runner.find_chapter(book, "C3")
    with pytest.raises(ChapterError, match=r"'num_epochs'.*an int.*profiles\.gpu"):
        runner.resolve_parameters(c3, "smoke")  # every profile is checked


def test_parameters_cell_must_hold_literals_only(book: Path) -> None:
    make_chapter(book / "chapters" / "C3_bad.ipynb",
                 'profile = "cpu"\nsteps = 10 * 2\n', "", {})
    with pytest.raises(ChapterError, match=r"line 2: `steps = 10 \* 2`"):
        runner.read_parameters(runner.find_chapter(book, "C3"))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("num_epochs=2", ("num_epochs", 2)),
        ("lr=1e-3", ("lr", 0.001)),
        ("use_bn=False", ("use_bn", False)),
        ("model_name=lenet", ("model_name", "lenet")),
        ("variants=['lenet','super_lenet']", ("variants", ["lenet", "super_lenet"])),
        ("note=a=b", ("note", "a=b")),
    ],
)
def test_parse_assignment(text: str, expected: tuple) -> None:
    assert runner.parse_assignment(text) == expected


@pytest.mark.parametrize("text", ["num_epochs", "2x=1", "=3"])
def test_parse_assignment_refuses_malformed_text(text: str) -> None:
    with pytest.raises(ParameterError, match="KEY=VALUE"):
        runner.parse_assignment(text)


@pytest.mark.parametrize(
    "value", [2, 0.5, "lenet", "two words", "2024", ["a", "b"], True, "it's"]
)
def test_format_assignment_round_trips_through_a_shell(value: object) -> None:
    token = runner.format_assignment("key", value)
    echoed = subprocess.run(["sh", "-c", f"printf %s {token}"], capture_output=True,
                            text=True, check=True).stdout
    assert runner.parse_assignment(echoed) == ("key", value)


# ---------------------------------------------------------------- running and caching


@pytest.mark.slow
def test_run_writes_the_record_with_resolved_parameters(
    book: Path, lib: list[Path]
) -> None:
    result = runner.run_chapter(book, "a1", profile="smoke", overrides={"lr": 1},
                                library_paths=lib)
    assert result.status == "ok" and result.error is None
    assert result.run_dir.parent == book / "_build" / "runs" / "A1"
    assert result.executed == result.run_dir / "A1_ok.ipynb"
    assert result.run_id == result.run_dir.name and "-smoke-" in result.run_id
    assert record_of(book) == {
        "profile": "smoke", "num_epochs": 1, "lr": 1.0, "names": ["a", "b"],
        "use_bn": True, "tag": "base", "cwd": "chapters", "run_dir_injected": True,
    }
    executed = nbformat.read(str(result.executed), as_version=4)
    tags = [c.metadata.get("tags", []) for c in executed.cells]
    assert ["injected-parameters"] in tags
    assert not list(result.run_dir.parent.glob(".*partial*"))
    assert "COURSEKIT_RUN_DIR" not in os.environ


@pytest.mark.slow
def test_cache_reuses_until_params_notebook_or_library_change(
    book: Path, lib: list[Path]
) -> None:
    def run(**kwargs: object) -> str:
        kwargs.setdefault("overrides", {})
        return runner.run_chapter(book, "A1", profile="smoke", library_paths=lib,
                                  **kwargs).status

    assert run() == "ok"
    executed = runner.store.list_runs(book, "A1")[-1].notebook
    mtime = executed.stat().st_mtime_ns
    assert run() == "cached" and executed.stat().st_mtime_ns == mtime
    assert run(overrides={"num_epochs": 2}) == "ok"
    assert record_of(book)["num_epochs"] == 2
    assert run(overrides={"num_epochs": 2}) == "cached"
    # outputs and metadata are noise; a new cell is a change
    path = book / "chapters" / "A1_ok.ipynb"
    nb = nbformat.read(str(path), as_version=4)
    nb.metadata["widgets"] = {"state": {}}
    nb.cells[2].outputs = [nbformat.v4.new_output("stream", text="old output\n")]
    nbformat.write(nb, str(path))
    assert run(overrides={"num_epochs": 2}) == "cached"
    nb.cells.append(nbformat.v4.new_markdown_cell("A new paragraph."))
    nbformat.write(nb, str(path))
    assert run(overrides={"num_epochs": 2}) == "ok"
    (lib[0] / "core.py").write_text("x = 2\n")
    assert run(overrides={"num_epochs": 2}) == "ok"
    assert run(overrides={"num_epochs": 2}) == "cached"
    assert run(overrides={"num_epochs": 2}, options=runner.RunOptions(force=True)) == "ok"


@pytest.mark.slow
def test_failing_chapter_gets_the_error_admonition_and_no_cache(
    book: Path, lib: list[Path]
) -> None:
    result = runner.run_chapter(book, "B2", profile="smoke",
                                overrides={"num_epochs": 4}, library_paths=lib)
    assert result.status == "failed"
    assert result.error == "ValueError: boom after 4 epochs"
    assert result.command == "coursekit run B2 --profile smoke -p num_epochs=4"
    first = nbformat.read(str(result.executed), as_version=4).cells[0]
    assert first.cell_type == "markdown" and first.source.startswith("````{error}")
    assert "`smoke` profile" in first.source
    assert "ValueError: boom after 4 epochs" in first.source
    assert "coursekit run B2 --profile smoke -p num_epochs=4" in first.source
    [stored] = runner.store.list_runs(book, "B2")
    assert stored.status == "failed" and stored.meta["error"] == result.error
    again = runner.run_chapter(book, "B2", profile="smoke",
                               overrides={"num_epochs": 4}, library_paths=lib)
    assert again.status == "failed"  # failures are never reused: it ran again
    assert again.run_id != result.run_id and len(runner.store.list_runs(book, "B2")) == 2


@pytest.mark.slow
def test_a_failed_run_never_touches_the_earlier_run(book: Path, lib: list[Path]) -> None:
    good = runner.run_chapter(book, "A1", profile="smoke", library_paths=lib)
    before = {p.name: p.read_bytes() for p in good.run_dir.iterdir()}
    path = book / "chapters" / "A1_ok.ipynb"
    nb = nbformat.read(str(path), as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell("raise RuntimeError('late failure')"))
    nbformat.write(nb, str(path))
    result = runner.run_chapter(book, "A1", profile="smoke", library_paths=lib)
    assert result.status == "failed" and "late failure" in result.error
    assert result.run_dir != good.run_dir
    assert {p.name: p.read_bytes() for p in good.run_dir.iterdir()} == before
    assert [r.status for r in runner.store.list_runs(book, "A1")] == ["ok", "failed"]
    assert not list(good.run_dir.parent.glob(".*partial*"))


@pytest.mark.slow
def test_output_option_also_copies_the_notebook(
    book: Path, lib: list[Path], tmp_path: Path
) -> None:
    out = tmp_path / "mine.ipynb"
    statuses = []
    for _ in range(2):
        out.unlink(missing_ok=True)
        result = runner.run_chapter(book, "A1", profile="smoke", output=out,
                                    library_paths=lib)
        statuses.append(result.status)
        assert result.executed == out and out.is_file()
    assert statuses == ["ok", "cached"] and len(runner.store.list_runs(book, "A1")) == 1


# ---------------------------------------------------------------- the book


def test_staging_copies_only_what_changed(book: Path) -> None:
    stage = runner.stage_book(book)
    intro = stage / "book" / "intro.md"
    assert (stage / "_toc.yml").is_file()
    assert (stage / "chapters" / "A1_ok.ipynb").is_file()
    os.utime(intro, ns=(1, 1))
    runner.stage_book(book)
    assert intro.stat().st_mtime_ns == 1  # same bytes: untouched
    (book / "book" / "intro.md").write_text("# Changed\n")
    (book / "book" / "extra.md").write_text("# Extra\n")
    runner.stage_book(book)
    assert intro.read_text() == "# Changed\n" and intro.stat().st_mtime_ns > 1
    (book / "book" / "extra.md").unlink()
    (book / "chapters" / "runs" / "A1").mkdir(parents=True)  # a run record by hand
    (book / "chapters" / "runs" / "A1" / "record.json").write_text("{}")
    runner.stage_book(book)
    assert not (stage / "book" / "extra.md").exists()
    assert not (stage / "chapters" / "runs").exists()


@pytest.mark.slow
def test_build_runs_every_chapter_and_renders_the_failure(
    book: Path, lib: list[Path]
) -> None:
    result = runner.build_book(book, profile="smoke", library_paths=lib)
    statuses = [(r.chapter, r.status) for r in result.runs]
    assert statuses == [("B2", "failed"), ("A1", "ok")]
    assert not result.ok and [r.chapter for r in result.failed] == ["B2"]
    assert result.html == book / "_build" / "html"
    staged = nbformat.read(book / "_build/book_src/chapters/B2_fails.ipynb", 4)
    executed = nbformat.read(result.runs[0].executed, 4)
    boxes = [c for c in staged.cells if "coursekit-rerun" in c.metadata.get("tags", [])]
    assert len(boxes) == 1  # one box, right above the one parameters cell
    after = staged.cells[staged.cells.index(boxes[0]) + 1]
    assert "parameters" in after.metadata.tags
    shown = [c for c in executed.cells
             if "injected-parameters" not in c.metadata.get("tags", [])]
    assert len(shown) < len(executed.cells)  # papermill's copy is left out
    assert [c.source for c in staged.cells if c not in boxes] == [c.source for c in shown]
    page = (result.html / "chapters" / "B2_fails.html").read_text()
    assert "produced by the" in page and "values of the parameters cell below" in page
    assert "coursekit run B2 --profile smoke" in page
    assert "ValueError: boom after 2 epochs" in page
    a1 = (result.html / "chapters" / "A1_ok.html").read_text()
    assert "except" in a1 and "num_epochs=1" in a1  # the smoke override is named
    assert (result.html / "chapters" / "A1_ok.html").is_file()


# ---------------------------------------------------------------- command line


def cli(book: Path, *argv: str) -> int:
    return main(["--root", str(book), *argv])


def test_cli_list_prints_a_table(book: Path, capsys: pytest.CaptureFixture) -> None:
    assert cli(book, "list") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["id", "title", "experiments", "file"]
    assert lines[2].split()[0] == "B2" and "chapters/A1_ok.ipynb" in lines[3]


def test_cli_params_shows_default_and_profile_value(
    book: Path, capsys: pytest.CaptureFixture
) -> None:
    assert cli(book, "params", "a1", "--profile", "smoke") == 0
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith("num_epochs"))
    assert row.split()[:4] == ["num_epochs", "int", "3", "1"]
    assert "passes over the training set" in row


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run", "Z9"], "Available chapters: B2, A1"),
        (["run", "A1", "-p", "num_epoch=2"], "'num_epoch'"),
        (["run", "A1", "-p", "num_epochs=lots"], "'num_epochs'.*an int"),
        (["run", "A1", "-p", "oops"], "KEY=VALUE"),
        (["params", "Q1"], "Available chapters"),
    ],
)
def test_cli_errors_are_one_message_and_exit_2(
    book: Path, capsys: pytest.CaptureFixture, argv: list[str], message: str
) -> None:
    assert cli(book, *argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("coursekit: error: ") and "Traceback" not in err
    assert re.search(message, err)
    assert not (book / "_build" / "runs").exists()


def test_cli_as_a_process_exits_2_without_traceback(book: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "coursekit.cli", "run", "nope", "--profile", "smoke"],
        capture_output=True, text=True,
        env={**os.environ, "COURSEKIT_BOOK_ROOT": str(book)},
    )
    assert proc.returncode == 2
    assert "no chapter 'nope'" in proc.stderr and "Traceback" not in proc.stderr


def test_cli_usage_error_and_help(capsys: pytest.CaptureFixture) -> None:
    assert main(["run"]) == 2
    assert main(["run", "--help"]) == 0
    assert "KEY=VALUE" in capsys.readouterr().out


@pytest.mark.slow
def test_cli_run_prints_where_things_are(
    book: Path, capsys: pytest.CaptureFixture
) -> None:
    assert cli(book, "run", "A1", "--profile", "smoke", "-p", "tag=cli") == 0
    out = capsys.readouterr().out
    assert "A1 under profile smoke: ok" in out
    assert "A1_ok.ipynb" in out and "record.json" in out
    assert record_of(book)["tag"] == "cli"
    assert cli(book, "run", "B2", "--profile", "smoke") == 1
    assert "FAILED" in capsys.readouterr().out


@pytest.mark.slow
def test_cli_build_without_html_exits_1_and_lists_failures(
    book: Path, capsys: pytest.CaptureFixture
) -> None:
    assert cli(book, "build", "--profile", "smoke", "--no-html") == 1
    out = capsys.readouterr().out
    assert re.search(r"B2\s+failed", out) and re.search(r"A1\s+ok", out)
    assert "reproduce with: coursekit run B2 --profile smoke" in out
    assert not (book / "_build" / "html").exists()


def test_cli_data_status_prints_a_table(capsys: pytest.CaptureFixture) -> None:
    pytest.importorskip("coursekit.data")
    assert main(["data", "status"]) == 0
    assert capsys.readouterr().out.split()[:4] == ["name", "title", "where", "path"]


def test_cli_data_errors_are_clean(capsys: pytest.CaptureFixture) -> None:
    pytest.importorskip("coursekit.data")
    assert main(["data", "fetch", "no_such_dataset"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("coursekit: error: ") and "no_such_dataset" in err


def test_the_runner_is_not_part_of_the_library_key(tmp_path: Path) -> None:
    package = tmp_path / "coursekit"
    (package / "runner").mkdir(parents=True)
    (package / "train.py").write_text("x = 1\n")
    (package / "runner" / "book.py").write_text("y = 1\n")
    (package / "cli.py").write_text("z = 1\n")
    before = runner.library_digest([package])
    (package / "runner" / "book.py").write_text("y = 2\n")  # how the book is staged
    (package / "cli.py").write_text("z = 2\n")
    assert runner.library_digest([package]) == before
    (package / "train.py").write_text("x = 2\n")  # what chapters compute
    assert runner.library_digest([package]) != before
