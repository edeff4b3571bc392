"""Shared test set-up: private cache, headless plotting, and the tiny CLI recipe as a file."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test session gets its own decode cache, never the user's."""
    monkeypatch.setenv("GANAUG_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "cache"))
    monkeypatch.delenv("GANAUG_BLOCK_PLUGINS", raising=False)


def pytest_configure(config: pytest.Config) -> None:
    os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    """tests/killhooks/runner.py's TINY recipe (every stage kind, 16x16 digits) as a file."""
    from tests.killhooks.runner import TINY

    path = tmp_path / "tiny.toml"
    path.write_text(TINY)
    return path
