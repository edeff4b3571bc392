"""Fixtures of the built-in plugin tests; named, not autouse: a module asks for them with
``pytestmark = pytest.mark.usefixtures(...)``, so no other test's thread count or state changes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch


@pytest.fixture
def one_thread() -> Iterator[None]:
    """Tiny networks run fastest on one thread, above all on a busy 2-core machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def reset_triggers() -> Iterator[None]:
    """Clear tests/training_toys.py's ``watched`` loss triggers and call count around a test."""
    from tests.training_toys import CALLS, TRIGGERS

    TRIGGERS.update(interrupt=None, nan=None)
    CALLS["n"] = 0
    yield
    TRIGGERS.update(interrupt=None, nan=None)
