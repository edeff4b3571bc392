"""Progress reporting: rich bars on a terminal, nothing in ``--quiet`` mode or under tests.

Stages receive a :class:`Progress` and call ``task(...)``; they never import rich themselves. The
engine hands the run's :class:`~ganaug.runtime.run_view.RunView` to ``view``: on a terminal a top bar shows
the stage of how many and the time left for the stage and the run, fed by each stage's outermost task.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Protocol

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

if TYPE_CHECKING:
    from ganaug.runtime.run_view import RunView


class Task(Protocol):
    def advance(self, n: float = 1, **fields: Any) -> None: ...


class _NullTask:
    def advance(self, n: float = 1, **fields: Any) -> None:
        return None


class Progress:
    """Silent progress: the base used in quiet mode and by library callers."""

    #: the run's stage view (set by the engine for the duration of a run)
    view: RunView | None = None

    @contextlib.contextmanager
    def task(self, description: str, total: float | None) -> Iterator[Task]:
        yield _NullTask()


class _RichTask:
    def __init__(self, owner: RichBars, task_id: Any, outermost: bool) -> None:
        self._owner, self._id, self._outermost = owner, task_id, outermost

    def advance(self, n: float = 1, **fields: Any) -> None:
        info = " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in fields.items())
        bars = self._owner.bars
        bars.update(self._id, advance=n, info=info)
        if self._outermost:
            task = bars.tasks[bars.task_ids.index(self._id)]
            self._owner.stage_progress(task.completed / task.total if task.total else 0.0)


class RichBars(Progress):
    """Rich progress bars with rate and ETA; nested tasks (epochs > batches) stack."""

    def __init__(self, console: Console) -> None:
        self.bars = RichProgress(
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
        self._overview: Any = None

    def stage_progress(self, fraction: float) -> None:
        """The current stage's outermost task moved: update the run view and its bar."""
        if self.view is None:
            return
        self.view.progress(fraction)
        if self._overview is not None:
            self.bars.update(self._overview, completed=self.view.done_share(), info=self.view.line())

    @contextlib.contextmanager
    def task(self, description: str, total: float | None) -> Iterator[Task]:
        if self._depth == 0:
            self.bars.start()
            if self.view is not None and self.view.current >= 0:
                share = self.view.done_share()
                self._overview = self.bars.add_task("run", total=1.0, completed=share, info=self.view.line())
        self._depth += 1
        task_id = self.bars.add_task(description, total=total, info="")
        try:
            yield _RichTask(self, task_id, outermost=self._depth == 1)
        finally:
            self._depth -= 1
            if self._depth > 0:
                self.bars.remove_task(task_id)
            else:
                self.bars.stop()
                for tid in list(self.bars.task_ids):
                    self.bars.remove_task(tid)
                self._overview = None
