"""Bad input, end to end through the `coursekit` command: each gets one clear message
and a non-zero exit, and nothing is lost or half-written.

The checklist, and where each case is tested:

- unknown chapter, unknown parameter, wrong parameter type: here (the real book) and
  in test_runner.py (the rules behind them);
- missing dataset with no mirror and no network, corrupt dataset file: here, and the
  lookup order in test_data.py;
- a chapter that raises inside `coursekit build`: test_runner.py
  (test_build_runs_every_chapter_and_renders_the_failure, test_cli_build_...);
- a training run killed and resumed from its checkpoint: here (a real SIGKILL);
- the same seed giving the same numbers twice on CPU: here (a whole chapter) and
  test_train.py (fit).
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from helpers import stable

from coursekit import runner

REPO = Path(__file__).resolve().parents[1]
MIRROR = Path(os.environ.get("COURSEKIT_DATA_MIRROR") or REPO.parent / "shared" / "data")
NO_NETWORK = {"http_proxy": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9",
              "HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9",
              "no_proxy": "", "NO_PROXY": ""}  # every download fails at once


def coursekit(*argv: str, env: dict | None = None, cwd: Path = REPO):
    """Run the installed `coursekit` command; returns the finished process."""
    return subprocess.run([sys.executable, "-m", "coursekit.cli", *argv], cwd=cwd,
                          capture_output=True, text=True, timeout=600,
                          env={**os.environ, **(env or {})})


@pytest.fixture
def book(tmp_path: Path) -> Path:
    """A copy of the real book's sources, so nothing here touches the repository."""
    root = tmp_path / "book"
    root.mkdir()
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy(REPO / name, root / name)
    for folder in ("book", "chapters"):
        shutil.copytree(REPO / folder, root / folder)
    return root


def _one_message(done: subprocess.CompletedProcess) -> str:
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith("coursekit: error: ")
    return done.stderr


def test_unknown_chapter(book: Path) -> None:
    message = _one_message(coursekit("--root", str(book), "run", "A11"))
    assert "no chapter 'A11'" in message and "Did you mean A1" in message
    assert "A10" in message and "coursekit list" in message
    assert not (book / "_build").exists()


def test_unknown_parameter(book: Path) -> None:
    message = _one_message(coursekit("--root", str(book), "run", "A1", "-p",
                                     "num_epoch=3"))
    assert "chapter A1 has no parameter 'num_epoch'" in message
    assert "num_epochs" in message and "coursekit params A1" in message
    assert not (book / "_build").exists()


def test_wrong_parameter_type(book: Path) -> None:
    message = _one_message(coursekit("--root", str(book), "sweep", "A1", "-p",
                                     "num_epochs=2,three"))
    assert "'num_epochs' of chapter A1 expects an int, like its default" in message
    assert "'three'" in message
    assert not (book / "_build").exists()  # no point of the sweep ran


def test_missing_dataset_with_no_mirror_and_no_network(tmp_path: Path) -> None:
    env = {**NO_NETWORK, "COURSEKIT_DATA_MIRROR": "",
           "COURSEKIT_DATA_DIR": str(tmp_path / "data")}
    message = _one_message(coursekit("data", "fetch", "cifar10", env=env))
    assert "Dataset 'cifar10' (CIFAR-10) was not found" in message
    assert "mirror: unset" in message and "cannot connect" in message
    assert "set COURSEKIT_DATA_MIRROR" in message
    assert not any((tmp_path / "data").rglob("*.tar.gz"))  # no partial download kept


@pytest.mark.skipif(not (MIRROR / "gurmukhi_digits").is_dir(), reason="no data mirror")
def test_corrupt_dataset_file_is_refused_by_its_checksum(tmp_path: Path) -> None:
    mirror = tmp_path / "mirror"
    shutil.copytree(MIRROR / "gurmukhi_digits", mirror / "gurmukhi_digits")
    corrupt = mirror / "gurmukhi_digits" / "gurmukhi_digits.npz"
    corrupt.chmod(0o644)
    data = bytearray(corrupt.read_bytes())
    data[1000] ^= 0xFF  # one flipped byte
    corrupt.write_bytes(bytes(data))
    env = {**NO_NETWORK, "COURSEKIT_DATA_MIRROR": str(mirror),
           "COURSEKIT_DATA_DIR": str(tmp_path / "data")}
    message = _one_message(coursekit("data", "fetch", "gurmukhi_digits", env=env))
    assert f"mirror {corrupt}: does not match" in message and "not used" in message
    assert message.count(f"mirror {corrupt}") == 1  # one file, listed once


KILLED_RUN = """\
import os, signal, sys, torch
from torch import nn
from coursekit import training
from types import SimpleNamespace

generator = torch.Generator().manual_seed(0)
images = torch.randint(0, 256, (256, 1, 8, 8), dtype=torch.uint8, generator=generator)
labels = (images.float().mean((1, 2, 3)) > 127.5).long()
data = SimpleNamespace(images=images, labels=labels)
torch.manual_seed(0)
model = nn.Sequential(nn.Flatten(), nn.Linear(64, 16), nn.ReLU(), nn.Linear(16, 2))
kill_after = int(sys.argv[2])

def maybe_die(model, history):
    if history.epoch[-1] == kill_after:
        os.kill(os.getpid(), signal.SIGKILL)  # no clean-up, no exception handler

history = training.fit(model, data, data, num_epochs=5, batch_size=32, lr=0.01,
                       checkpoint_path=sys.argv[1], on_epoch_end=maybe_die, verbose=False,
                       device="cpu")
print(history.val_loss[-1], history.epoch)
"""


def test_a_killed_training_run_resumes_from_its_checkpoint(tmp_path: Path) -> None:
    script = tmp_path / "run.py"
    script.write_text(textwrap.dedent(KILLED_RUN))
    python = [sys.executable, str(script)]
    checkpoint = tmp_path / "killed.ckpt"
    killed = subprocess.run([*python, str(checkpoint), "3"], capture_output=True,
                            text=True, timeout=300)
    assert killed.returncode == -signal.SIGKILL
    assert checkpoint.is_file()  # saved after epochs 1 and 2; the kill came in epoch 3
    assert not list(tmp_path.glob("*.tmp"))  # never half-written
    resumed = subprocess.run([*python, str(checkpoint), "0"], capture_output=True,
                             text=True, timeout=300, check=True)
    assert "resumed from" in resumed.stdout and "after epoch 2" in resumed.stdout
    straight = subprocess.run([*python, str(tmp_path / "straight.ckpt"), "0"],
                              capture_output=True, text=True, timeout=300, check=True)
    # the same final loss and the full list of epochs, as if never killed
    assert resumed.stdout.splitlines()[-1] == straight.stdout.splitlines()[-1]
    assert straight.stdout.splitlines()[-1].endswith("[1, 2, 3, 4, 5]")


@pytest.mark.slow
def test_the_same_seed_gives_the_same_numbers_twice(smoke_book) -> None:
    root, _ = smoke_book
    chapter = runner.find_chapter(root, "A1")
    first = runner.book_run(root, chapter).record()
    again = runner.run_chapter(root, chapter, profile="smoke", options=runner.RunOptions(force=True))
    assert again.ok, again.error
    second = json.loads((again.run_dir / "record.json").read_text())
    assert stable(second["results"]) == stable(first["results"])
    assert second["comparison"] == first["comparison"]
