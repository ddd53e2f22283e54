"""Re-running never costs the book its results: every run kept, compared and watched.

All through the ``coursekit`` command, on a one-chapter book in ``tmp_path`` whose
chapter prints an epoch row per epoch (optionally sleeping), writes a record with a
comparison row and two claims, and raises when asked to. Notebooks really run.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_runner import make_book_root, make_chapter

from coursekit import runner
from coursekit.cli import main
from coursekit.runner import store

pytestmark = pytest.mark.slow

PARAMETERS = """\
profile = "cpu"     # smoke | cpu | gpu
num_epochs = 3      # [at least 1] passes over the data
batch_size = 8      # [at least 1] examples per step
lr = 0.1            # [above 0] learning rate
variants = "all"    # [each of: all, small, large] which models
num_val = 10        # [at least 1 and below 100] held out of the 100 examples
train_subset = 0    # [at least 0 and at most 100 - num_val] 0 means all
sleep = 0.0         # [at least 0] seconds per epoch
fail = False        # raise instead of finishing
"""

BODY = """\
import json, os, pathlib, time
run_dir = pathlib.Path(coursekit_run_dir)  # injected by the runner
epochs = []
for epoch in range(1, num_epochs + 1):
    time.sleep(sleep)
    loss = lr / epoch
    epochs.append({"run": "small", "epoch": epoch, "train_loss": loss})
    print(f"epoch {epoch}/{num_epochs}  train loss {loss:.4f}  |  "
          f"about {(num_epochs - epoch) * sleep:.0f} s left", flush=True)
if fail:
    1 / 0
acc = 50 + 10 * lr
record = {"profile": profile, "params": {"lr": lr, "num_epochs": num_epochs},
          "comparison": [{"experiment": "A1", "variant": "small",
                          "metric": "test accuracy (%)", "reported": 52.0,
                          "reproduced": acc}],
          "claims": [{"experiment": "A1", "claim": "beats_chance",
                      "verdict": "holds" if acc > 50 else "does not hold"},
                     {"experiment": "A1", "claim": "fast_lr_wins",
                      "verdict": "holds" if lr > 0.5 else "does not hold"}]}
(run_dir / "record.json").write_text(json.dumps(record))
(run_dir / "epochs.json").write_text(json.dumps(epochs))
"""


@pytest.fixture
def book(tmp_path: Path) -> Path:
    root = make_book_root(tmp_path / "book", ["A1_runs"])
    make_chapter(root / "chapters" / "A1_runs.ipynb", PARAMETERS, BODY, {
        "id": "A1", "title": "A chapter with runs", "experiments": ["A1"],
        "profiles": {"smoke": {"num_epochs": 2}}})
    return root


def cli(book: Path, *argv: str) -> int:
    return main(["--root", str(book), *argv])


def process(book: Path, *argv: str) -> subprocess.Popen:
    """``coursekit`` as its own process (and process group), output captured."""
    return subprocess.Popen(
        [sys.executable, "-m", "coursekit.cli", "--root", str(book), *argv],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True)


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_version_as_a_process() -> None:
    proc = subprocess.run([sys.executable, "-m", "coursekit.cli", "--version"],
                          capture_output=True, text=True)
    assert proc.returncode == 0 and re.fullmatch(r"coursekit \d+\.\d+\.\d+\n", proc.stdout)


@pytest.mark.parametrize(("argv", "message"), [
    (["-p", "batch_size=0"], r"'batch_size' .* must be at least 1, but got 0"),
    (["-p", "num_epochs=-1"], r"'num_epochs' .* must be at least 1, but got -1"),
    (["-p", "lr=0"], r"'lr' .* must be above 0, but got 0"),
    (["-p", "lr=-0.5"], r"'lr' .* must be above 0"),
    (["-p", "train_subset=95"], r"at most 100 - num_val \(= 90 here\), but got 95"),
    (["-p", "num_val=20", "-p", "train_subset=85"], r"\(= 80 here\), but got 85"),
    (["-p", "variants=small,huge"], r"comma-separated names from: small, large"),
    (["-p", "lr=fast"], r"'lr' .* expects a float"),
])
def test_out_of_range_values_are_refused_before_a_kernel_starts(
        book: Path, capsys: pytest.CaptureFixture, argv: list[str], message: str) -> None:
    assert cli(book, "run", "A1", "--profile", "smoke", *argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("coursekit: error: ") and re.search(message, err), err
    assert "Traceback" not in err
    assert not (book / "_build" / "runs").exists()  # nothing started, nothing written


def test_a_failed_run_sits_next_to_a_good_one_and_the_book_keeps_its_run(
        book: Path, capsys: pytest.CaptureFixture) -> None:
    assert cli(book, "build", "--profile", "smoke", "--no-html") == 0
    [good] = store.list_runs(book, "A1")
    before = snapshot(good.folder)
    assert cli(book, "run", "A1", "--profile", "smoke", "-p", "fail=True") == 1
    out = capsys.readouterr().out
    assert "ZeroDivisionError" in out and "the book is unchanged" in out
    assert cli(book, "run", "A1", "--profile", "smoke", "-p", "num_epochs=5") == 0
    assert "the book is unchanged" in capsys.readouterr().out
    assert snapshot(good.folder) == before  # neither run touched the book's run
    chapter = runner.find_chapter(book, "A1")
    assert runner.book_run(book, chapter).id == good.id
    assert [r.status for r in store.list_runs(book, "A1")] == ["ok", "failed", "ok"]
    staged = runner.stage_book(book) / "chapters" / "A1_runs.ipynb"
    assert "num_epochs=5" not in staged.read_text()

    assert cli(book, "runs", "A1") == 0
    listing = capsys.readouterr().out
    rows = [line for line in listing.splitlines() if line.startswith("20")]
    assert len(rows) == 3
    assert re.search(r"\bok\b.*\bbook\b.*1/2 claims hold", rows[0])
    assert "failed" in rows[1] and "fail=True" in rows[1] and "ZeroDivisionError" in rows[1]
    assert "num_epochs=5" in rows[2] and "book" not in rows[2]
    # into the book only when asked
    newest = store.list_runs(book, "A1")[-1]
    assert cli(book, "run", "A1", "--profile", "smoke", "-p", "num_epochs=5",
               "--into-book") == 0
    assert "cached" in capsys.readouterr().out  # the same run, now pinned
    assert runner.book_run(book, chapter).id == newest.id
    assert "num_epochs=5" in (runner.stage_book(book) / "chapters" /
                              "A1_runs.ipynb").read_text()
    assert cli(book, "runs", "unpin", "A1") == 0
    assert runner.book_run(book, chapter).id == good.id


def test_runs_compare_shows_parameter_differences_results_and_claims(
        book: Path, capsys: pytest.CaptureFixture) -> None:
    for lr in ("0.1", "0.9"):
        assert cli(book, "run", "A1", "--profile", "smoke", "-p", f"lr={lr}") == 0
    slow, fast = store.list_runs(book, "A1")
    capsys.readouterr()
    assert cli(book, "runs", "compare", slow.id, fast.id[-8:]) == 0  # the key part
    out = capsys.readouterr().out
    assert re.search(r"^lr\s+0\.1\s+0\.9$", out, re.M)
    assert "num_epochs" not in out.split("results:")[0]  # only what differs
    assert re.search(r"A1\s+small\s+test accuracy \(%\)\s+51\.00\s+59\.00\s+52\.00", out)
    assert re.search(r"A1\s+fast_lr_wins\s+does not hold\s+holds", out)
    assert cli(book, "runs", "compare", slow.id) == 2
    assert "usage: coursekit runs compare" in capsys.readouterr().err
    assert cli(book, "runs", "compare", slow.id, "nope") == 2
    assert "no run 'nope'" in capsys.readouterr().err


def test_prune_lists_first_and_never_removes_the_books_run(
        book: Path, capsys: pytest.CaptureFixture) -> None:
    assert cli(book, "build", "--profile", "smoke", "--no-html") == 0
    [kept] = store.list_runs(book, "A1")
    assert cli(book, "run", "A1", "--profile", "smoke", "-p", "fail=True") == 1
    assert cli(book, "run", "A1", "--profile", "smoke", "-p", "lr=0.5") == 0
    assert cli(book, "run", "A1", "--profile", "smoke", "-p", "lr=0.5", "--force") == 0
    capsys.readouterr()
    assert cli(book, "runs", "prune") == 0
    out = capsys.readouterr().out
    assert "failed" in out and "older than" in out and "nothing was" in out
    assert len(store.list_runs(book, "A1")) == 4  # only listed
    assert cli(book, "runs", "prune", "--yes") == 0
    assert "removed 2 folder(s)" in capsys.readouterr().out
    left = store.list_runs(book, "A1")
    assert [r.id for r in left][0] == kept.id and len(left) == 2
    assert left[1].overrides == {"lr": 0.5}  # the newest run of that key stays
    assert cli(book, "runs", "prune") == 0
    assert "nothing to prune" in capsys.readouterr().out


def _wait_for(condition, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_a_kill_during_a_run_leaves_the_old_run_whole_and_no_new_one(book: Path) -> None:
    assert cli(book, "run", "A1", "--profile", "smoke") == 0
    [old] = store.list_runs(book, "A1")
    before = snapshot(old.folder)
    proc = process(book, "run", "A1", "--profile", "smoke", "-p", "sleep=2",
                   "-p", "num_epochs=30", "--force")
    _wait_for(lambda: store.leftovers(book) and any(
        p.suffix == ".ipynb" for p in store.leftovers(book)[0].iterdir()))
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)
    assert [r.id for r in store.list_runs(book, "A1")] == [old.id]  # no half run
    assert snapshot(old.folder) == before
    assert len(store.leftovers(book)) == 1
    assert cli(book, "runs", "prune", "--yes") == 0
    assert not store.leftovers(book)
    assert cli(book, "run", "A1", "--profile", "smoke", "-p", "lr=0.2") == 0
    assert len(store.list_runs(book, "A1")) == 2


def test_two_processes_at_once_take_turns(book: Path) -> None:
    first = process(book, "run", "A1", "--profile", "smoke", "-p", "sleep=1",
                    "-p", "num_epochs=4")
    _wait_for(lambda: (book / "_build" / "coursekit.lock").is_file()
              and (book / "_build" / "coursekit.lock").read_text())
    refused = subprocess.run(
        [sys.executable, "-m", "coursekit.cli", "--root", str(book), "run", "A1",
         "--profile", "smoke", "-p", "lr=0.3", "--no-wait"],
        capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2
    assert re.search(r"`coursekit .*run A1 --profile smoke -p sleep=1 .*` \(process \d+",
                     refused.stderr)
    assert "is using this book" in refused.stderr
    second = process(book, "run", "A1", "--profile", "smoke", "-p", "lr=0.3")
    out1, err1 = first.communicate(timeout=120)
    out2, err2 = second.communicate(timeout=120)
    assert first.returncode == 0 and second.returncode == 0, err1 + err2
    assert re.search(r"waiting: `coursekit .*run A1 --profile smoke -p sleep=1", err2)
    runs = store.list_runs(book, "A1")
    assert sorted(r.overrides.get("lr", 0.1) for r in runs) == [0.1, 0.3]
    assert all(r.ok and r.record()["comparison"] for r in runs)
    assert runs[0].meta["started_at"] + runs[0].seconds <= runs[1].meta["started_at"] + 1


def test_a_run_streams_its_progress_and_a_build_counts_down(
        book: Path, capsys: pytest.CaptureFixture) -> None:
    assert cli(book, "run", "A1", "--profile", "smoke", "-p", "num_epochs=3") == 0
    out = capsys.readouterr().out
    assert "epoch 1/3  train loss 0.1000" in out and "epoch 3/3" in out  # streamed
    assert out.index("epoch 3/3") < out.index("A1 under profile smoke: ok")
    assert cli(book, "run", "A1", "--profile", "smoke", "--quiet") == 0
    assert "epoch 1/" not in capsys.readouterr().out
    assert cli(book, "build", "--profile", "cpu", "--no-html") == 0
    first = capsys.readouterr().out
    assert re.search(r"\[1/1\] A1: running \.\.\. \(1 run\(s\) with no earlier time\)",
                     first)
    assert cli(book, "build", "--profile", "cpu", "--no-html", "--force") == 0
    assert re.search(r"\[1/1\] A1: running \.\.\. \(about \d+ s left\)$",
                     capsys.readouterr().out, re.M)


def test_runs_are_tracked_in_mlflow_when_asked(
        book: Path, capsys: pytest.CaptureFixture) -> None:
    mlflow = pytest.importorskip("mlflow")
    from coursekit.runner import track
    assert cli(book, "run", "A1", "--profile", "smoke", "-p", "lr=0.9", "--track") == 0
    assert "mlflow ui --backend-store-uri sqlite:///" in capsys.readouterr().out
    [run] = store.list_runs(book, "A1")
    client = mlflow.tracking.MlflowClient(track.tracking_uri(book))
    experiment = client.get_experiment_by_name(track.EXPERIMENT)
    [tracked] = client.search_runs([experiment.experiment_id])
    assert tracked.data.tags["chapter"] == "A1" and tracked.data.tags["status"] == "ok"
    assert tracked.data.params["lr"] == "0.9" and tracked.data.params["profile"] == "smoke"
    assert tracked.data.metrics["A1/small/test accuracy"] == 59.0
    assert tracked.data.metrics["claims_hold"] == 2.0
    curve = client.get_metric_history(tracked.info.run_id, "small/train_loss")
    assert [(m.step, round(m.value, 3)) for m in curve] == [(1, 0.9), (2, 0.45)]
    files = {a.path for a in client.list_artifacts(tracked.info.run_id)}
    assert {"A1_runs.ipynb", "record.json", "epochs.json"} <= files
    assert json.loads((run.folder / "run.json").read_text())["status"] == "ok"
