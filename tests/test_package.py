"""coursekit installs like a package: a wheel that knows every dataset and claim, a
command that says where the book is, and data settings saved once for every kernel.

The wheel is built from this checkout (no network: the build uses this environment's
setuptools) and installed into a folder that is put first on ``PYTHONPATH`` of a
Python started outside the repository, so the checkout's own sources are not seen.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

import coursekit
from coursekit import data
from coursekit.cli import main

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """A wheel built from a copy of the package's sources (setuptools writes build/
    and egg-info beside the sources it builds, so never in the checkout)."""
    sources = tmp_path_factory.mktemp("sources")
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(REPO / name, sources / name)
    shutil.copytree(REPO / "src", sources / "src",
                    ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                    "--no-build-isolation", "-w", str(out), str(sources)],
                   check=True, capture_output=True, text=True, timeout=300)
    [built] = out.glob("coursekit-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory) -> Path:
    target = tmp_path_factory.mktemp("site")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "--target", str(target), str(wheel)],
                   check=True, capture_output=True, text=True, timeout=300)
    return target


def outside(installed: Path, tmp_path: Path, *argv: str) -> subprocess.CompletedProcess:
    """Python with only the installed wheel's coursekit, run from an empty folder."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("COURSEKIT_")}
    env.update(PYTHONPATH=str(installed), COURSEKIT_CONFIG=str(tmp_path / "none.yaml"))
    return subprocess.run([sys.executable, *argv], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.slow
def test_the_wheel_ships_the_manifests_the_claims_and_its_metadata(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    manifests = sorted(n for n in names if n.startswith("coursekit/data/manifests/"))
    assert len(manifests) == len(data.list_datasets()) >= 12
    assert "coursekit/book/reported.yaml" in names
    [meta] = [n for n in names if n.endswith(".dist-info/METADATA")]
    text = zipfile.ZipFile(wheel).read(meta).decode()
    assert "Requires-Python: >=3.11" in text and "License-Expression: MIT" in text
    for extra in ("book", "text", "dask", "track", "dev"):
        assert f"Provides-Extra: {extra}" in text
    assert "Requires-Dist: torchvision" not in text.split("Provides-Extra")[0]
    # the one URL the package metadata cannot take from coursekit.REPOSITORY, checked
    assert f"Project-URL: Source, {coursekit.REPOSITORY}" in text


def test_the_book_takes_its_repository_url_from_coursekit(tmp_path: Path) -> None:
    from coursekit.runner.book import book_config
    config = yaml.safe_load(book_config(REPO / "_config.yml"))
    assert config["repository"]["url"] == coursekit.REPOSITORY
    assert config["parse"]["myst_substitutions"]["repository"] == coursekit.REPOSITORY
    assert config["launch_buttons"]["colab_url"]  # the buttons that need the URL
    assert coursekit.REPOSITORY not in (REPO / "_config.yml").read_text()


@pytest.mark.slow
def test_an_installed_coursekit_knows_every_dataset(installed: Path, tmp_path: Path) -> None:
    code = ("import coursekit, coursekit.data as d; print(coursekit.__file__); "
            "print(','.join(d.list_datasets())); print(d.load_manifest('cifar10').title)")
    done = outside(installed, tmp_path, "-c", code)
    assert done.returncode == 0, done.stderr
    where, datasets, title = done.stdout.splitlines()
    assert where.startswith(str(installed))  # not the checkout's sources
    assert datasets.split(",") == data.list_datasets()
    assert title == data.load_manifest("cifar10").title


@pytest.mark.slow
def test_the_command_outside_a_checkout_says_where_the_book_is(
        installed: Path, tmp_path: Path) -> None:
    done = outside(installed, tmp_path, "-m", "coursekit.cli", "list")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "git clone https://github.com/coursekit/coursekit" in done.stderr
    version = outside(installed, tmp_path, "-m", "coursekit.cli", "--version")
    assert version.stdout.strip() == "coursekit 0.1.0"


def test_data_settings_are_saved_once_and_the_environment_wins(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setenv("COURSEKIT_CONFIG", str(tmp_path / "cfg" / "config.yaml"))
    monkeypatch.delenv("COURSEKIT_DATA_MIRROR", raising=False)
    monkeypatch.delenv("COURSEKIT_DATA_DIR", raising=False)
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    assert main(["data", "config", "--mirror", str(mirror),
                 "--data-dir", str(tmp_path / "cache")]) == 0
    assert "saved mirror" in capsys.readouterr().out
    assert data.mirror_location() == str(mirror)
    assert data.data_dir() == tmp_path / "cache"
    # a plain kernel (a new Python, no environment variables) finds the same
    code = "import coursekit.data as d; print(d.mirror_location())"
    env = {k: v for k, v in os.environ.items() if not k.startswith("COURSEKIT_DATA")}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.stdout.strip() == str(mirror)
    monkeypatch.setenv("COURSEKIT_DATA_MIRROR", str(tmp_path))
    assert data.mirror_location() == str(tmp_path)  # the environment wins
    assert main(["data", "config"]) == 0
    assert "$COURSEKIT_DATA_MIRROR" in capsys.readouterr().out
    assert main(["data", "config", "--mirror", str(tmp_path / "nope")]) == 2
    assert "no such folder" in capsys.readouterr().err
    assert data.settings.read_config()["mirror"] == str(mirror)  # nothing overwritten
    assert main(["data", "config", "--unset", "mirror"]) == 0
    assert "mirror" not in data.settings.read_config()


def test_a_broken_config_file_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("- just\n- a list\n")
    monkeypatch.setenv("COURSEKIT_CONFIG", str(config))
    monkeypatch.delenv("COURSEKIT_DATA_MIRROR", raising=False)
    assert main(["data", "config"]) == 2
    err = capsys.readouterr().err
    assert str(config) in err and "data_dir, mirror" in err


def test_binder_builds_the_pinned_environment_with_cpu_torch_and_the_package() -> None:
    binder = REPO / "binder"
    assert (binder / "runtime.txt").read_text().strip() == "python-3.11"
    lines = (binder / "requirements.txt").read_text().splitlines()
    assert "-r ../requirements.txt" in lines
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in lines
    post = binder / "postBuild"
    assert os.access(post, os.X_OK) and "pip install --quiet --no-deps -e ." in post.read_text()


# ------------------------------------------------------------ layers

SRC = Path(__file__).resolve().parents[1] / "src" / "coursekit"
# each layer may import from the layers before it (and from itself), never after
LAYERS = [{"_atomic", "_suggest", "_moved"}, {"data"}, {"models"}, {"training"}, {"tasks"},
          {"book"}, {"runner"}, {"chapter", "cli", "train_script", "__init__"}]


def _layer(part: str) -> int:
    return next(i for i, names in enumerate(LAYERS) if part in names)


def _imported(path: Path) -> set[str]:
    """The coursekit parts (first name after ``coursekit.``) that a module imports,
    lazily inside functions too."""
    import ast
    package = path.relative_to(SRC.parent).with_suffix("").parts[:-1]
    parts = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the module's own package
                base = ".".join(package[:len(package) - node.level + 1] + ((base,) if base else ()))
            names = [base] if base != "coursekit" else [f"coursekit.{a.name}" for a in node.names]
        else:
            continue
        parts |= {n.split(".")[1] for n in names if n.startswith("coursekit.")}
    return parts


def test_imports_go_one_way_between_layers() -> None:
    wrong = []
    for path in SRC.rglob("*.py"):
        rel = path.relative_to(SRC).with_suffix("").parts
        own = _layer(rel[0])
        for part in _imported(path) - {rel[0]}:
            if _layer(part) > own:
                wrong.append(f"{'/'.join(rel)} imports coursekit.{part}")
    assert not wrong, "imports against the layers: " + "; ".join(sorted(wrong))


def test_the_paths_of_0_1_still_import_with_a_warning() -> None:
    import importlib
    import sys
    from coursekit import training
    from coursekit.book import report
    for old, new in [("coursekit.train", training), ("coursekit.report", report)]:
        sys.modules.pop(old, None)
        with pytest.warns(FutureWarning, match=f"{old} moved to {new.__name__}"):
            module = importlib.import_module(old)
        assert module is new and module.__spec__.name == new.__name__
    sys.modules.pop("coursekit.init", None)
    with pytest.warns(FutureWarning, match="coursekit.init moved to coursekit.models.init "
                                           "and coursekit.tasks.findings"):
        init = importlib.import_module("coursekit.init")  # 0.1's schemes and A5's measures
    from coursekit.tasks import findings
    assert init.start_table is findings.start_table and callable(init.kaiming_init)
    assert {"kaiming_init", "start_table"} <= set(init.__all__)  # `import *` takes both
