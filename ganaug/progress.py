"""Progress reporting: rich bars on a terminal, nothing in ``--quiet`` mode or under tests.

Stages receive a :class:`Progress` and call ``task(...)``; they never import rich themselves.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any, Protocol

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.progress import Progress as RichProgress


class Task(Protocol):
    def advance(self, n: float = 1, **fields: Any) -> None: ...


class _NullTask:
    def advance(self, n: float = 1, **fields: Any) -> None:
        return None


class Progress:
    """Silent progress: the base used in quiet mode and by library callers."""

    @contextlib.contextmanager
    def task(self, description: str, total: float | None) -> Iterator[Task]:
        yield _NullTask()


class _RichTask:
    def __init__(self, bars: RichProgress, task_id: Any) -> None:
        self._bars, self._id = bars, task_id

    def advance(self, n: float = 1, **fields: Any) -> None:
        info = " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in fields.items())
        self._bars.update(self._id, advance=n, info=info)


class RichBars(Progress):
    """Rich progress bars with rate and ETA; nested tasks (epochs > batches) stack."""

    def __init__(self, console: Console) -> None:
        self._bars = RichProgress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TaskProgressColumn(),
            TextColumn("[cyan]{task.fields[info]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=False,
        )
        self._depth = 0

    @contextlib.contextmanager
    def task(self, description: str, total: float | None) -> Iterator[Task]:
        if self._depth == 0:
            self._bars.start()
        self._depth += 1
        task_id = self._bars.add_task(description, total=total, info="")
        try:
            yield _RichTask(self._bars, task_id)
        finally:
            self._depth -= 1
            if self._depth > 0:
                self._bars.remove_task(task_id)
            else:
                self._bars.stop()
                for tid in list(self._bars.task_ids):
                    self._bars.remove_task(tid)
