"""The whole run at a glance: which stage of how many, and the time left for the stage and the run.

Each stage's share of the run comes from its own estimate of the work it has to do
(``EstimatesWork``: images through a network); the time left is that work at the speed measured so
far in this run, so the estimate sharpens as the run goes. A stage that makes no estimate counts
as the mean of those that do.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import attrs


def clock(seconds: float | None) -> str:
    """``1h02m``, ``3m05s``, ``42s``; ``?`` when unknown."""
    if seconds is None:
        return "?"
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


@attrs.define
class StagePlan:
    """One stage: its name and kind, its estimated work, and (once it ran) its time."""

    name: str
    kind: str
    work: float | None = None
    seconds: float | None = None
    restored: bool = False


@attrs.define
class RunView:
    """Stage i of N, the fraction of the run's work done, and the time left, from measured speed."""

    stages: list[StagePlan]
    started: float = attrs.Factory(lambda: time.perf_counter())
    current: int = -1
    stage_started: float = 0.0
    fraction: float = 0.0  # of the current stage
    #: work of this session: seconds and work of the stages that ran (restored ones excluded)
    _spent: float = 0.0
    _worked: float = 0.0

    def weight(self, i: int) -> float:
        known = [s.work for s in self.stages if s.work]
        mean = sum(known) / len(known) if known else 1.0
        return self.stages[i].work or mean

    def begin(self, i: int) -> None:
        self.current, self.stage_started, self.fraction = i, time.perf_counter(), 0.0

    def progress(self, fraction: float) -> None:
        """The current stage's progress in [0, 1] (never moves back)."""
        self.fraction = min(1.0, max(self.fraction, fraction))

    def end(self, i: int, restored: bool = False) -> None:
        stage = self.stages[i]
        stage.restored = restored
        if not restored:
            stage.seconds = time.perf_counter() - self.stage_started
            self._spent += stage.seconds
            self._worked += self.weight(i)
        self.current, self.fraction = -1, 0.0

    def ran(self, i: int, seconds: float) -> None:
        """Stage ``i`` ran elsewhere (its own process) for ``seconds``."""
        self.stages[i].seconds = seconds
        self._spent += seconds
        self._worked += self.weight(i)

    def _rate(self) -> float | None:
        """Seconds per unit of work, measured in this session (None before any)."""
        spent, worked = self._spent, self._worked
        if self.current >= 0 and self.fraction > 0:
            spent += time.perf_counter() - self.stage_started
            worked += self.weight(self.current) * self.fraction
        return spent / worked if worked > 0 and spent > 0 else None

    def left(self) -> tuple[float | None, float | None]:
        """Estimated seconds left of the current stage and of the whole run."""
        rate = self._rate()
        if rate is None:
            return None, None
        todo = [i for i, s in enumerate(self.stages) if s.seconds is None and not s.restored]
        stage = self.weight(self.current) * (1 - self.fraction) * rate if self.current >= 0 else 0.0
        rest = sum(self.weight(i) for i in todo if i != self.current) * rate
        return stage, stage + rest

    def left_side_by_side(self, jobs: int) -> float | None:
        """Estimated seconds left of a run whose stages run ``jobs`` at a time (rough: the work left
        at the measured speed, shared by the jobs)."""
        rate = self._rate()
        if rate is None:
            return None
        todo = [i for i, s in enumerate(self.stages) if s.seconds is None and not s.restored]
        return sum(self.weight(i) for i in todo) * rate / max(1, min(jobs, len(todo)))

    def done_share(self) -> float:
        """The share of the run's work done (restored stages count as done)."""
        total = sum(self.weight(i) for i in range(len(self.stages))) or 1.0
        done = sum(self.weight(i) for i, s in enumerate(self.stages) if s.seconds is not None or s.restored)
        if self.current >= 0:
            done += self.weight(self.current) * self.fraction
        return done / total

    def line(self) -> str:
        """``stage 3/12 anogan_real (train) · run 1m20s · left: stage 40s, run 4m10s``."""
        i = self.current
        stage = self.stages[i]
        elapsed = time.perf_counter() - self.started
        stage_left, run_left = self.left()
        return (
            f"stage {i + 1}/{len(self.stages)} {stage.name} ({stage.kind}) · run {clock(elapsed)} · "
            f"left: stage {clock(stage_left)}, run {clock(run_left)}"
        )

    def table(self) -> list[str]:
        """Markdown: each stage's time in this session and its share of the run's time."""
        total = sum(s.seconds or 0.0 for s in self.stages)
        lines = ["| stage | kind | time | share |", "|---|---|---|---|"]
        for s in self.stages:
            if s.restored:
                lines.append(f"| {s.name} | {s.kind} | restored | — |")
            elif s.seconds is not None:
                share = f"{100 * s.seconds / total:.0f}%" if total > 0 else "—"
                lines.append(f"| {s.name} | {s.kind} | {clock(s.seconds)} | {share} |")
        lines.append(f"| **total** | | {clock(total)} | |")
        return lines


def plans(names: Sequence[tuple[str, str, float | None]]) -> list[StagePlan]:
    """Stage plans from (name, kind, work) triples."""
    return [StagePlan(name, kind, work) for name, kind, work in names]
