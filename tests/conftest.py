"""Shared fixtures: the smoke book, built once per session for every test that reads it.

tests/ is also put on sys.path so test modules can import the helper module
tests/browser.py (pytest runs with --import-mode=importlib, which does not add it).
"""

import os
import shutil
import sys
from pathlib import Path

import pytest

from coursekit import runner

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
MIRROR = os.environ.get("COURSEKIT_DATA_MIRROR") or str(REPO.parent / "shared" / "data")

if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))


@pytest.fixture(scope="session")
def smoke_data_env(tmp_path_factory) -> dict[str, str]:
    """The data settings of the smoke book's runs: the mirror and a decoded-data folder."""
    return {"COURSEKIT_DATA_MIRROR": MIRROR,
            "COURSEKIT_DATA_DIR": str(tmp_path_factory.mktemp("data"))}


@pytest.fixture(scope="session")
def smoke_book(tmp_path_factory, smoke_data_env):
    """A copy of the book, built once with the smoke profile (shared by all modules)."""
    root = tmp_path_factory.mktemp("book")
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy(REPO / name, root / name)
    for folder in ("book", "chapters"):
        shutil.copytree(REPO / folder, root / folder)
    with pytest.MonkeyPatch.context() as patch:
        for key, value in smoke_data_env.items():
            patch.setenv(key, value)
        result = runner.build_book(root, profile="smoke")
    return root, result


@pytest.fixture
def lib(tmp_path: Path) -> list[Path]:
    """A fake library folder standing in for src/coursekit in the cache key."""
    folder = tmp_path / "fakelib"
    folder.mkdir()
    (folder / "core.py").write_text("x = 1\n")
    return [folder]
