"""``run.extra_jobs = "when-idle"``: idle cores read from /proc/stat over a window, and the gate
that lets a stage start beside running ones only while a core was idle."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ganaug.runner.parallel import _to_start
from ganaug.runtime.cpu_idle import IdleGate, proc_stat

STAT = """cpu  {user} 0 {system} {idle} {iowait} 0 0 0 0 0
cpu0 1 0 1 1 0 0 0 0 0 0
cpu1 1 0 1 1 0 0 0 0 0 0
intr 1 2 3
"""


def test_proc_stat_reads_idle_total_and_cores(tmp_path: Path) -> None:
    path = tmp_path / "stat"
    path.write_text(STAT.format(user=100, system=50, idle=300, iowait=20))
    assert proc_stat(path) == (320.0, 470.0, 2)


@pytest.mark.parametrize("text", ["", "cpu a b c d e\ncpu0 1\n", "intr 1 2\n", "cpu 1 2 3 4 5\n"])
def test_proc_stat_gives_none_for_what_it_does_not_understand(tmp_path: Path, text: str) -> None:
    path = tmp_path / "stat"
    path.write_text(text)
    assert proc_stat(path) is None
    assert proc_stat(tmp_path / "missing") is None


def test_the_real_proc_stat_when_there_is_one() -> None:
    reading = proc_stat()
    if reading is None:
        pytest.skip("no /proc/stat on this system")
    idle, total, cores = reading
    assert 0 <= idle <= total and cores >= 1


class Machine:
    """A fake /proc/stat and clock: ``busy(cores, seconds)`` advances time with that many of two
    cores working."""

    def __init__(self) -> None:
        self.now, self.idle, self.total = 0.0, 0.0, 0.0

    def read(self) -> tuple[float, float, int]:
        return self.idle, self.total, 2

    def busy(self, cores: float, seconds: float) -> None:
        self.now += seconds
        self.total += 2 * seconds * 100
        self.idle += (2 - cores) * seconds * 100


def gate(machine: Machine, threads: int = 1) -> IdleGate:
    return IdleGate(threads, window=2.0, read=machine.read, clock=lambda: machine.now)


def test_the_gate_opens_only_after_a_window_with_an_idle_core() -> None:
    machine = Machine()
    g = gate(machine)
    machine.busy(1, 1.0)
    assert not g.open()  # the window has not ended
    machine.busy(1, 1.5)
    assert g.open()  # one of two cores idle for 2.5 s
    machine.busy(2, 2.0)
    assert not g.open()  # a neighbour took the other core
    machine.busy(1.5, 2.0)
    assert not g.open()  # half a core is less than 0.75 of a one-thread stage
    g.restart()
    machine.busy(0.2, 2.0)
    assert IdleGate(2, read=machine.read, clock=lambda: machine.now).idle_cores() is None
    assert g.idle_cores() == pytest.approx(1.8)


def test_a_two_thread_stage_needs_more_idle_cores() -> None:
    machine = Machine()
    g = gate(machine, threads=2)
    machine.busy(1, 2.0)
    assert not g.open()  # 1 idle core < 0.75 x 2
    machine.busy(0, 2.0)
    assert g.open()


@given(busy=st.floats(0, 2), seconds=st.floats(2.0, 100.0), threads=st.integers(1, 4))
def test_the_gate_opens_exactly_when_enough_cores_were_idle(
    busy: float, seconds: float, threads: int
) -> None:
    machine = Machine()
    g = gate(machine, threads)
    machine.busy(busy, seconds)
    idle = 2 - busy
    if abs(idle - 0.75 * threads) > 1e-6:
        assert g.open() == (idle > 0.75 * threads)


def test_to_start_always_every_stage_that_fits() -> None:
    log = logging.getLogger("test")
    assert _to_start(["a", "b"], True, None, set(), log) == ["a", "b"]


def test_to_start_when_idle_one_at_a_time_and_held_back_while_busy(caplog: pytest.LogCaptureFixture) -> None:
    machine, waiting = Machine(), set[str]()
    g, log = gate(machine), logging.getLogger("test")
    assert _to_start(["a", "b"], False, g, waiting, log) == ["a"]  # nothing runs: start at once
    machine.busy(2, 3.0)
    with caplog.at_level(logging.INFO, logger="test"):
        assert _to_start(["b"], True, g, waiting, log) == []
        machine.busy(2, 3.0)
        assert _to_start(["b"], True, g, waiting, log) == []
    assert waiting == {"b"}
    assert [r.getMessage() for r in caplog.records].count(
        "stage b waits for an idle CPU core (run.extra_jobs = when-idle)"
    ) == 1  # said once
    machine.busy(1, 3.0)
    assert _to_start(["b", "c"], True, g, waiting, log) == ["b"]
    assert _to_start([], True, g, waiting, log) == []
