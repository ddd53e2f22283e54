"""Sweeps, the scoreboard, and runs on a real Dask cluster (scheduler and two worker
processes on 127.0.0.1), on tiny books whose chapters write records without torch."""

import json
import os
import shutil
import signal
import threading
import time
from pathlib import Path

import pytest
from helpers import stable
from test_runner import make_chapter

from coursekit import runner
from coursekit.cli import main
from coursekit.runner import ParameterError, RunnerError

PARAMETERS = """\
profile = "cpu"  # smoke | cpu | gpu
lr = 0.1
variants = "all"  # "all" or names, as in the book's chapters
seed = 0
marker_dir = ""  # when set: the first attempt waits here to be killed
"""

# A record like a chapter's: results and reported-vs-reproduced rows, no torch.
BODY = """\
import json, os, pathlib, time
if marker_dir:
    marks = pathlib.Path(marker_dir)
    attempt = len(list(marks.glob("attempt-*"))) + 1
    (marks / f"attempt-{attempt}").write_text(str(os.getppid()))  # the worker's pid
    if attempt == 1:
        time.sleep(120)
acc = 50.0 + seed + 10 * lr
record = {"profile": profile, "results": {"net": {"test_acc": acc}},
          "environment": {"device": "cpu", "num_threads": 2},
          "created": "2026-11-22T10:00:00+00:00",
          "comparison": [
              {"experiment": "A1", "variant": "Net", "metric": "test accuracy (%)",
               "reported": 60.0, "reproduced": acc, "difference": acc - 60.0,
               "short": acc < 58.5},
              {"experiment": "A1", "variant": "Net", "metric": "parameters",
               "reported": 62006.0, "reproduced": 62006.0, "difference": 0.0,
               "short": False},
              {"experiment": "B4", "variant": "RNN", "metric": "test MSE (scaled)",
               "reported": 0.0045, "reproduced": 0.00091, "difference": -0.00359,
               "short": False},
          ],
          "claims": [
              {"experiment": "A1", "the report says": "a <unk> | claim", "where": "T1",
               "check": "test_acc: bn > net", "we measured": "it holds", "verdict": "holds"},
              {"experiment": "A1", "the report says": "BN helps", "where": "T1",
               "we measured": "no", "verdict": "does not hold"},
              {"experiment": "B1", "the report says": "L2 helps", "where": "p1",
               "we measured": "n/a", "verdict": "not tested at this profile"},
              {"experiment": "B1", "the report says": "dropout best", "where": "p1",
               "we measured": "", "verdict": "contradicted by the report"}]}
run_dir = pathlib.Path(coursekit_run_dir)  # injected by the runner
(run_dir / "record.json").write_text(json.dumps(record))
"""


@pytest.fixture
def book(tmp_path: Path) -> Path:
    """A one-chapter book (S1) with a scoreboard config; returns its root."""
    root = tmp_path / "book"
    (root / "book").mkdir(parents=True)
    (root / "chapters").mkdir()
    (root / "_config.yml").write_text(
        "title: Tiny book\nauthor: tests\nexecute:\n  execute_notebooks: 'off'\n"
        "only_build_toc_files: true\n")
    (root / "_toc.yml").write_text(
        "format: jb-book\nroot: book/intro\nparts:\n- caption: Nets\n  chapters:\n"
        "  - file: chapters/S1_net\n  - file: book/scoreboard\n")
    (root / "book" / "intro.md").write_text("# Tiny book\n")
    (root / "book" / "scoreboard.yml").write_text(
        "seeds: {smoke: [0, 1, 2]}\nheadline:\n"
        "  - label: Net accuracy\n    chapter: S1\n    params: {lr: 0.2}\n"
        "    value: [net, test_acc]\n"
        "    reported: {experiment: A1, variant: super_lenet, metric: test_acc}\n")
    make_chapter(root / "chapters" / "S1_net.ipynb", PARAMETERS, BODY,
                 {"id": "S1", "title": "A net", "profiles": {"smoke": {}}})
    return root


# ---------------------------------------------------------------- sweeps


def test_parse_sweep_reads_numbers_names_and_lists() -> None:
    assert runner.parse_sweep(["batch_size=128,256", "lr=0.1", "seeds=[0],[1]",
                               "variants=lenet,super_lenet"]) == {
        "batch_size": [128, 256], "lr": [0.1], "seeds": [[0], [1]],
        "variants": ["lenet", "super_lenet"]}
    assert runner.parse_sweep(["variants=('lenet,super_lenet',)"]) == {
        "variants": ["lenet,super_lenet"]}
    with pytest.raises(ParameterError, match="given twice"):
        runner.parse_sweep(["seed=0", "seed=1"])


def test_sweep_points_are_the_product_first_key_slowest() -> None:
    assert runner.sweep_points({"a": [1, 2], "b": ["x", "y"]}) == [
        {"a": 1, "b": "x"}, {"a": 1, "b": "y"}, {"a": 2, "b": "x"}, {"a": 2, "b": "y"}]


def test_a_bad_point_is_refused_before_anything_runs(book: Path, lib) -> None:
    chapter = runner.find_chapter(book, "S1")
    with pytest.raises(ParameterError, match="'lr' of chapter S1 expects a float"):
        runner.plan_sweep(book, chapter, "smoke", {"lr": [0.1, "fast"]}, "lib")
    assert not (book / "_build").exists()


@pytest.mark.slow
def test_sweep_runs_each_point_once_and_gathers_a_table(
    book: Path, capsys: pytest.CaptureFixture
) -> None:
    argv = ["--root", str(book), "sweep", "S1", "--profile", "smoke",
            "-p", "lr=0.1,0.2", "-p", "seed=0,1"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert out.count("ok in") == 4
    assert "test accuracy (%)" in out and "53.0" in out  # seed 1, lr 0.2
    # the point equal to the plain run is the plain run: the one the book shows
    plain = runner.book_run(book, runner.find_chapter(book, "S1"), profile="smoke")
    assert plain.record()["results"]["net"]["test_acc"] == 51.0  # the point lr=0.1,seed=0
    runs = runner.store.list_runs(book, "S1")
    assert len(runs) == 4 and len({r.key for r in runs}) == 4
    [csv] = (book / "_build/sweeps/S1").glob("sweep-smoke-*.csv")
    assert csv.with_suffix(".png").is_file()
    assert main(argv) == 0  # a second sweep reuses every point
    assert capsys.readouterr().out.count("cached") == 4


# ---------------------------------------------------------------- scoreboard


@pytest.mark.slow
def test_scoreboard_shows_mean_and_std_over_seeds_from_the_records(book: Path, lib) -> None:
    result = runner.build_book(book, profile="smoke", html=False, library_paths=lib)
    assert result.ok and [r.label for r in result.seed_runs] == [
        "S1 lr=0.2 seed=0", "S1 lr=0.2 seed=1", "S1 lr=0.2 seed=2"]
    page = runner.render_scoreboard(book)
    # 52, 53, 54: mean 53.00, std 1.00; 13 points under the report's 66.00
    assert "| Net accuracy | {doc}`S1 <../chapters/S1_net>` | 66.00 | **▼ 53.00 ± 1.00** | 3 | `smoke` |" in page
    assert "profile `smoke` · CPU (2 threads) · 2026-11-22 10:00 UTC" in page
    assert "| A1 | Net | test accuracy (%) | 60.00 | 51.00 | **▼ -9.00** |" in page
    # counts without decimals, small errors to two significant digits, as on the pages
    assert "| A1 | Net | parameters | 62,006 | 62,006 | 0 |" in page
    assert "| B4 | RNN | test MSE (scaled) | 0.0045 | 0.00091 | -0.0036 |" in page
    assert "a &lt;unk&gt; \\| claim" in page  # escaped for the Markdown table
    assert "| test_acc: bn &gt; net | it holds |" in page  # what was measured, checked how
    # the totals open the page: claims per report and per part, headlines within 1.5
    totals = page.split("## Headline results")[0]
    assert "Claims that hold: **1 of 3** (33 %)" in totals  # contradicted left out
    assert "| A | **1 of 2** | 50 % | 1 | 0 | 0 |" in totals
    assert "| B | **0 of 1** | 0 % | 0 | 1 | 1 |" in totals
    assert "| Nets | **1 of 3** | 33 % | 1 | 1 | 1 |" in totals
    assert "**Headline numbers within 1.5 points of the report (or above): 0 of 1**" in totals
    stage = runner.stage_book(book)
    staged = (stage / "book" / "scoreboard.md").read_text()
    assert staged == runner.render_scoreboard(book, figure=True)
    assert "```{figure} scoreboard_agreement.svg" in staged
    svg = (stage / "book" / "scoreboard_agreement.svg").read_text()
    assert svg.startswith("<?xml") and "reproduced accuracy" in svg
    from coursekit.runner.scoreboard import agreement_figure
    assert agreement_figure(book) == agreement_figure(book)  # a rebuild rewrites nothing


def test_the_chapters_own_run_stands_in_for_the_seed_it_runs_when_it_trains_the_row(
    book: Path
) -> None:
    config = book / "book" / "scoreboard.yml"
    config.write_text("seeds: {smoke: [0, 1, 2]}\nheadline:\n"
                      "  - label: Net accuracy\n    chapter: S1\n    params: {variants: net}\n"
                      "    narrows_only: true\n    value: [net, test_acc]\n")

    def planned(smoke_variants: str = "all") -> list[int]:
        """The seeds the headline row runs again when the plain run trains these."""
        make_chapter(book / "chapters" / "S1_net.ipynb", PARAMETERS, BODY,
                     {"id": "S1", "title": "A net",
                      "profiles": {"smoke": {"variants": smoke_variants}}})
        tasks = runner.plan_headline_runs(book, "smoke", "lib")
        assert all(t.label.startswith("S1 variants=net seed=") for t in tasks)
        return [int(t.label.rpartition("=")[2]) for t in tasks]

    assert planned("all") == [1, 2]
    assert planned("mlp,net") == [1, 2]
    assert planned("cnn,mlp") == [0, 1, 2]  # the plain run does not train the row's model
    # without narrows_only the row's params may change its number: every seed runs
    config.write_text(config.read_text().replace("    narrows_only: true\n", ""))
    assert planned("all") == [0, 1, 2]
    config.write_text(config.read_text().replace(
        "    value:", "    narrows_only: yes please\n    value:"))
    with pytest.raises(RunnerError, match="narrows_only must be true or false"):
        planned()


def test_scoreboard_says_what_has_not_run(book: Path) -> None:
    page = runner.render_scoreboard(book)
    assert "| Net accuracy |" in page and "not run yet" in page
    assert "Not run yet: `coursekit run S1`" in page


# ---------------------------------------------------------------- Dask


@pytest.fixture(scope="module")
def cluster():
    """A real dask.distributed scheduler with two worker processes on 127.0.0.1."""
    distributed = pytest.importorskip("dask.distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as local:
        yield local


def _keys(root: Path) -> dict[str, str]:
    """Chapter and overrides -> the key of its stored run, for every run."""
    return {f"{r.chapter} {json.dumps(r.overrides, sort_keys=True)}": r.key
            for r in runner.store.list_runs(root)}


@pytest.mark.slow
def test_a_build_on_dask_matches_a_local_one(book: Path, lib, cluster) -> None:
    twin = book.with_name("twin")
    shutil.copytree(book, twin)
    local = runner.build_book(book, profile="smoke", html=False, library_paths=lib)
    executor = runner.make_executor("dask", cluster.scheduler_address)
    try:
        remote = runner.build_book(twin, profile="smoke", html=False, library_paths=lib,
                                   executor=executor)
    finally:
        executor.close()
    assert [(r.label, r.status) for r in remote.runs + remote.seed_runs] == [
        (r.label, r.status) for r in local.runs + local.seed_runs]
    assert _keys(twin) == _keys(book)
    for mine, theirs in zip(local.runs + local.seed_runs, remote.runs + remote.seed_runs):
        assert (json.loads((theirs.run_dir / "record.json").read_text())
                == json.loads((mine.run_dir / "record.json").read_text()))
    again = runner.build_book(twin, profile="smoke", html=False, library_paths=lib)
    assert {r.status for r in again.runs + again.seed_runs} == {"cached"}  # same cache


@pytest.mark.slow
def test_a_killed_worker_means_a_retried_task_not_a_lost_result(
    book: Path, lib, cluster, tmp_path: Path
) -> None:
    marks = tmp_path / "marks"
    marks.mkdir()
    chapter = runner.find_chapter(book, "S1")
    task = runner.plan_run(book, chapter, "smoke", {"marker_dir": str(marks)}, "lib")

    def kill_first_attempt() -> None:
        first = marks / "attempt-1"
        while not first.exists() or not first.read_text():
            time.sleep(0.2)
        os.kill(int(first.read_text()), signal.SIGKILL)  # the worker running it

    killer = threading.Thread(target=kill_first_attempt, daemon=True)
    killer.start()
    executor = runner.make_executor("dask", cluster.scheduler_address)
    try:
        [result] = executor.run([task])
    finally:
        executor.close()
    killer.join(timeout=1)
    assert result.ok
    assert sorted(p.name for p in marks.iterdir()) == ["attempt-1", "attempt-2"]
    record = json.loads((result.run_dir / "record.json").read_text())
    assert record["results"]["net"]["test_acc"] == 51.0
    assert [r.status for r in runner.store.list_runs(book, "S1")] == ["ok"]
    # the lost attempt left only hidden leftovers, never a complete-looking result
    visible = [p for p in (book / "_build").rglob("*") if "partial" in p.name
               and not any(part.startswith(".") for part in p.relative_to(book / "_build").parts)]
    assert visible == []


def test_an_unreachable_scheduler_is_one_clear_error() -> None:
    pytest.importorskip("dask.distributed")
    with pytest.raises(RunnerError, match="cannot reach the Dask scheduler at"):
        runner.make_executor("dask", "tcp://127.0.0.1:9")
    with pytest.raises(RunnerError, match="unknown executor 'spark'"):
        runner.make_executor("spark")
    with pytest.raises(RunnerError, match="--scheduler needs --executor dask"):
        runner.make_executor("local", "tcp://127.0.0.1:9")


REPO = Path(__file__).resolve().parents[1]
MIRROR = os.environ.get("COURSEKIT_DATA_MIRROR") or str(REPO.parent / "shared" / "data")
def _real_book(target: Path, chapters: list[str]) -> Path:
    """A copy of the real book holding only ``chapters`` (stems)."""
    target.mkdir()
    shutil.copy(REPO / "_config.yml", target / "_config.yml")
    (target / "book").mkdir()
    (target / "book" / "intro.md").write_text("# Part of the book\n")
    (target / "chapters").mkdir()
    for stem in chapters:
        shutil.copy(REPO / "chapters" / f"{stem}.ipynb", target / "chapters")
    entries = "".join(f"- file: chapters/{stem}\n" for stem in chapters)
    (target / "_toc.yml").write_text(f"format: jb-book\nroot: book/intro\nchapters:\n{entries}")
    return target


@pytest.mark.slow
@pytest.mark.skipif(not Path(MIRROR, "gurmukhi_digits").is_dir(), reason="no data mirror")
def test_real_chapters_on_dask_give_the_local_numbers_and_cache(
    tmp_path: Path, cluster, monkeypatch
) -> None:
    monkeypatch.setenv("COURSEKIT_DATA_MIRROR", MIRROR)
    monkeypatch.setenv("COURSEKIT_DATA_DIR", str(tmp_path / "data"))
    chapters = ["B5_worked_theory", "E3_regularization_mlp"]  # formulas; torch training
    here = _real_book(tmp_path / "here", chapters)
    there = _real_book(tmp_path / "there", chapters)
    local = runner.build_book(here, profile="smoke", html=False)
    executor = runner.make_executor("dask", cluster.scheduler_address)
    try:
        remote = runner.build_book(there, profile="smoke", html=False, executor=executor)
    finally:
        executor.close()
    assert local.ok and remote.ok, [r.error for r in local.failed + remote.failed]
    assert _keys(there) == {k.replace("here", "there"): v for k, v in _keys(here).items()}
    for mine, theirs in zip(local.runs, remote.runs):
        ours = json.loads((mine.run_dir / "record.json").read_text())
        dask = json.loads((theirs.run_dir / "record.json").read_text())
        assert stable(dask["results"]) == stable(ours["results"]), mine.chapter
        assert dask["comparison"] == ours["comparison"]
