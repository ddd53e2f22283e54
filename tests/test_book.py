"""Every chapter under the smoke profile on the mirror's real data, then the smoke book.

The book is copied into a temporary root so these tests never touch the runs of the
repository's own `make book`; the session fixture
`smoke_book` (tests/conftest.py) builds it once for this module and test_browser.py.
Skipped when the data mirror is absent (COURSEKIT_DATA_MIRROR unset and no
../shared/data beside the repository).
"""

import json
import os
from pathlib import Path

import pytest
from helpers import stable

from coursekit import runner

REPO = Path(__file__).resolve().parents[1]
MIRROR = os.environ.get("COURSEKIT_DATA_MIRROR") or str(REPO.parent / "shared" / "data")
RECORD_KEYS = {"chapter", "profile", "params", "results", "timings", "environment",
               "created"}

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path(MIRROR, "cifar10").is_dir(),
                       reason=f"no data mirror at {MIRROR}"),
]


def test_every_chapter_runs_under_smoke(smoke_book):
    root, result = smoke_book
    chapters = runner.list_chapters(root)
    assert [r.chapter for r in result.runs] == [c.id for c in chapters]
    failed = {r.chapter: r.error for r in result.runs if not r.ok}
    assert not failed, failed


@pytest.mark.parametrize("chapter", [c.id for c in runner.list_chapters(REPO)])
def test_chapter_writes_a_run_record(smoke_book, chapter):
    root, _ = smoke_book
    record = runner.book_run(root, runner.find_chapter(root, chapter)).record()
    assert RECORD_KEYS <= set(record)
    assert record["chapter"] == chapter and record["profile"] == "smoke"
    assert record["results"]


def test_a1_record_covers_all_seven_variants(smoke_book):
    root, _ = smoke_book
    record = runner.book_run(root, runner.find_chapter(root, "A1")).record()
    assert len(record["results"]["A1"]) == 7
    for row in record["results"]["A1"].values():
        assert 0 <= row["test_acc"] <= 100
        assert row["num_parameters"] in (62006, 62458)


def test_a1_page_shows_figures_and_the_comparison_table(smoke_book):
    root, result = smoke_book
    assert result.html is not None
    page = (root / "_build" / "html" / "chapters" / "A1_lenet_cifar10.html").read_text()
    assert "Reported vs reproduced" in page
    assert "SuperLeNet with Proper Weight Init" in page  # a row of the table
    assert "66.00" in page                               # the report's number
    assert page.count("<img") + page.count("<svg") >= 4   # curves, grid, matrix, bars
    assert "Traceback" not in page and "Error" not in page.split("Reported vs")[0][-2000:]


def test_second_build_executes_nothing(smoke_book):
    root, _ = smoke_book
    os.environ.setdefault("COURSEKIT_DATA_MIRROR", MIRROR)
    again = runner.build_book(root, profile="smoke", html=False)
    assert {r.status for r in again.runs} == {"cached"}


def test_every_record_carries_its_comparison_and_claim_rows(smoke_book):
    from coursekit.book import claims, report
    root, _ = smoke_book
    for chapter in runner.list_chapters(root):
        record = runner.book_run(root, chapter).record()
        for experiment in chapter.experiments:
            if "variants" in report.experiment(experiment):
                assert any(r["experiment"] == experiment for r in record["comparison"]), \
                    f"{chapter.id}: no reported-vs-reproduced rows for {experiment}"
            rows = [r for r in record["claims"] if r["experiment"] == experiment]
            assert len(rows) == len(claims.claims(experiment)), \
                f"{chapter.id}: not every claim of {experiment} was checked"
            assert {r["verdict"] for r in rows} <= set(claims.VERDICTS)


@pytest.mark.slow
def test_a_seed_run_narrowed_to_the_headline_model_matches_the_chapters_own_run(
    smoke_book, smoke_data_env, monkeypatch
):
    # why the scoreboard may read A1's own run as the SuperLeNet row's seed 0
    root, _ = smoke_book
    for key, value in smoke_data_env.items():
        monkeypatch.setenv(key, value)
    chapter = runner.find_chapter(root, "A1")
    point = {"variants": "super_lenet", "seed": 0}
    library = runner.library_digest(runner.default_library_paths(root))
    result = runner.plan_run(root, chapter, "smoke", point, library).call()
    assert result.ok, result.error
    narrowed = json.loads((result.run_dir / "record.json").read_text())["results"]
    plain = runner.book_run(root, chapter).record()["results"]
    assert list(narrowed["A1"]) == ["super_lenet"]
    assert stable(narrowed["A1"]["super_lenet"]) == stable(plain["A1"]["super_lenet"])


def test_scoreboard_page_is_built_from_the_records_with_seed_runs(smoke_book):
    root, result = smoke_book
    assert result.seed_runs and all(r.ok for r in result.seed_runs), [
        (r.label, r.error) for r in result.seed_runs if not r.ok]
    page = (root / "_build" / "html" / "book" / "scoreboard.html").read_text()
    assert "Headline results" in page and "±" in page
    assert "Claims that hold:" in page and "Per part of the book" in page
    assert 'src="../_images/scoreboard_agreement.svg"' in page  # the one-glance figure
    assert (root / "_build" / "html" / "_images" / "scoreboard_agreement.svg").is_file()
    for chapter in runner.list_chapters(root):
        assert f"{chapter.id}: " in page, f"no section for {chapter.id}"
    assert "not run yet" not in page.lower()
