"""How many CPU cores the machine left idle lately, for ``run.extra_jobs = "when-idle"``: a run
starts a stage beside its running ones only while a core is free, so beside other work it takes
no more than its share of the machine (docs/performance.md)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import attrs

#: seconds over which idle time is measured before a stage may start beside the running ones
WINDOW = 2.0
#: share of a stage's threads that must have been idle over the window
IDLE_SHARE = 0.75

Reading = tuple[float, float, int]  # idle jiffies, all jiffies, cores


def proc_stat(path: Path = Path("/proc/stat")) -> Reading | None:
    """All cores' idle and total time and the core count from Linux's ``/proc/stat``; None where
    the file is missing or not understood."""
    try:
        lines = path.read_text(encoding="ascii").splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    fields = lines[0].split() if lines else []
    cores = sum(1 for line in lines if line.startswith("cpu") and line[3:4].isdigit())
    if len(fields) < 5 or fields[0] != "cpu" or cores == 0:
        return None
    try:
        values = [float(v) for v in fields[1:9]]  # user..steal; guest time is inside user already
    except ValueError:
        return None
    return values[3] + values[4], sum(values), cores


def load_average() -> float | None:
    """Idle cores as the core count less the one-minute load (where /proc/stat is missing)."""
    try:
        return max(0.0, (os.cpu_count() or 1) - os.getloadavg()[0])
    except (AttributeError, OSError):
        return None


@attrs.define
class IdleGate:
    """Says whether a core was idle over the last ``window`` seconds; starts a fresh window after
    each stage it lets start, so that stage's own load counts before the next one."""

    threads: int
    window: float = WINDOW
    read: Callable[[], Reading | None] = proc_stat
    clock: Callable[[], float] = time.monotonic
    _since: float = attrs.field(init=False, default=0.0)
    _first: Reading | None = attrs.field(init=False, default=None)

    def __attrs_post_init__(self) -> None:
        self.restart()

    def restart(self) -> None:
        """Begin a new measuring window now."""
        self._since, self._first = self.clock(), self.read()

    def idle_cores(self) -> float | None:
        """Idle cores over the window that just ended (and a new window begun), or None while it
        is still running."""
        if self.clock() - self._since < self.window:
            return None
        first, last = self._first, self.read()
        self.restart()
        if first is None or last is None:
            return load_average()
        total = last[1] - first[1]
        return (last[0] - first[0]) / total * last[2] if total > 0 else None

    def open(self) -> bool:
        """True when the last window left enough of a core idle for one more stage's threads."""
        idle = self.idle_cores()
        return idle is not None and idle >= IDLE_SHARE * self.threads
