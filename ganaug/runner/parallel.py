"""Stages side by side (``run.jobs`` > 1): every stage whose needs are done runs in a process of its
own (:mod:`ganaug.runner.stage_worker`), up to ``jobs`` at once, each with ``run.threads`` threads.

The engine's process keeps the run folder's lock and the manifest, marks each stage done when its
process ends well and reads the stage's outputs back from its files (as a resumed run does), so
later stages, the report and the caller see what a run taking the stages one at a time sees. A
failing stage stops the others (interrupted, so they keep their last checkpoint) and its error is
raised here as itself.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from ganaug.api.tracking import numeric_leaves
from ganaug.runner.rundir import now
from ganaug.runner.stage_graph import needs, ready
from ganaug.runner.stage_worker import FAILURE_MARK
from ganaug.runtime import errors
from ganaug.runtime.cpu_idle import IdleGate
from ganaug.runtime.device import seed_everything
from ganaug.runtime.run_view import clock
from ganaug.runtime.seeds import stage_seed

if TYPE_CHECKING:
    from ganaug.api.tracking import Trackers
    from ganaug.runner.session import Session
    from ganaug.runtime.run_view import RunView

#: seconds between looks at the running stages, and a stopped stage's time to write its checkpoint
POLL, GRACE = 0.2, 120.0
WORKERS = ".workers"


@attrs.define
class Worker:
    """One stage's process, where its stderr goes, and when it started."""

    index: int
    process: subprocess.Popen[bytes]
    stderr: Path
    started: float

    def failure(self, name: str) -> BaseException:
        """The stage's error as the engine raises it (its class when it is a ganaug error)."""
        text = self.stderr.read_text(encoding="utf-8", errors="replace") if self.stderr.exists() else ""
        marked = [line for line in text.splitlines() if line.startswith(FAILURE_MARK)]
        if not marked:
            tail = " | ".join(text.strip().splitlines()[-3:]) or "no message"
            return RuntimeError(f"stage {name!r} ended with exit status {self.process.returncode}: {tail}")
        found = json.loads(marked[-1][len(FAILURE_MARK) :])
        kind = getattr(errors, found["type"], None)
        if isinstance(kind, type) and issubclass(kind, errors.GanaugError):
            return kind(found["message"])
        return RuntimeError(f"stage {name!r} failed: {found['message']} (traceback in run.log)")


def _launch(session: Session, index: int, name: str) -> Worker:
    folder = session.run_dir.path / WORKERS
    folder.mkdir(exist_ok=True)
    stderr = folder / f"{name}.err"
    command = [sys.executable, "-m", "ganaug.runner.stage_worker", str(session.run_dir.path), name]
    command += ["--device", str(session.device)] + (["--resume"] if session.resume is not None else [])
    threads = str(session.recipe.run.threads)
    env = {**os.environ, "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads}
    with open(stderr, "wb") as err:
        # a session of its own: a Ctrl-C at the terminal reaches the engine alone, which passes
        # exactly one interrupt on (a second one would stop a stage before its checkpoint)
        process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=err, env=env, start_new_session=True
        )
    return Worker(index, process, stderr, time.perf_counter())


def _stop(running: dict[str, Worker]) -> None:
    """Interrupt every running stage (they checkpoint as on Ctrl-C), then end any that hang."""
    for worker in running.values():
        if worker.process.poll() is None:
            worker.process.send_signal(signal.SIGINT)
    deadline = time.monotonic() + GRACE
    for worker in running.values():
        try:
            worker.process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            worker.process.kill()
            worker.process.wait()


def _to_start(
    candidates: list[str], busy: bool, gate: IdleGate | None, waiting: set[str], log: logging.Logger
) -> list[str]:
    """The ready stages to start now: every one that fits (``extra_jobs = "always"``); with the
    idle gate the first one when none runs, else one while a core was idle (a held-back stage is
    logged once, in ``waiting``)."""
    if gate is None or not candidates:
        return candidates
    if not busy or gate.open():
        return candidates[:1]
    for name in [n for n in candidates if n not in waiting]:
        log.info("stage %s waits for an idle CPU core (run.extra_jobs = when-idle)", name)
        waiting.add(name)
    return []


@contextlib.contextmanager
def _interruptible() -> Iterator[None]:
    """SIGINT raises KeyboardInterrupt here even in a run started with it ignored (a script's
    background job), as a stage run in the engine's own process hears it through its
    DeferredInterrupt; the previous handling comes back afterwards."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGINT)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous if previous is not None else signal.default_int_handler)


@_interruptible()
def run_side_by_side(
    session: Session, track: Trackers, manifest: dict[str, Any], outputs: dict[str, Any], view: RunView,
    stages: list[tuple[Any, Any, Any]],
) -> None:  # fmt: skip
    """Run the not yet finished ``stages`` (``(spec, stage, ctx)`` in recipe order), ``run.jobs`` at
    a time as their needs allow, filling ``outputs`` and the manifest as each one ends."""
    run_dir, log, jobs = session.run_dir, session.log, session.recipe.run.jobs
    graph = needs([(spec.name, spec.options) for spec, _, _ in stages])
    pending = [spec.name for spec, _, _ in stages if spec.name not in outputs]
    done = set(outputs)
    index = {spec.name: i for i, (spec, _, _) in enumerate(stages)}
    running: dict[str, Worker] = {}
    gate = IdleGate(session.recipe.run.threads) if session.recipe.run.extra_jobs == "when-idle" else None
    waiting: set[str] = set()
    try:
        while pending or running:
            fits = ready(pending, done, graph)[: max(0, jobs - len(running))]
            for name in _to_start(fits, bool(running), gate, waiting, log):
                pending.remove(name)
                spec = stages[index[name]][0]
                manifest["finished"] = None
                manifest["stages"][name] = {"kind": spec.kind, "started": now()}
                run_dir.write_manifest(manifest)
                running[name] = _launch(session, index[name], name)
                if gate is not None:
                    gate.restart()  # the new stage's load counts before another may start
                log.info("stage %s (%s) started; running: %s", name, spec.kind, ", ".join(running))
            if not running:
                raise errors.RecipeError(f"stages {', '.join(pending)} wait for stages that never run")
            time.sleep(POLL)
            for name in [n for n, w in running.items() if w.process.poll() is not None]:
                worker = running.pop(name)
                if worker.process.returncode != 0:
                    raise worker.failure(name)
                _finished(session, track, manifest, outputs, view, stages[index[name]], worker)
                done.add(name)
                left = [s.name for s in view.stages if s.seconds is None and not s.restored]
                log.info(
                    "stage %s finished in %s; %d of %d stages left, run left: %s",
                    name, clock(view.stages[worker.index].seconds), len(left), len(view.stages),
                    clock(view.left_side_by_side(jobs)) if left else "0s",
                )  # fmt: skip
    except BaseException:
        _stop(running)
        raise
    finally:  # a failure's message was read above and its traceback is in run.log
        for path in (run_dir.path / WORKERS).glob("*.err"):
            path.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            (run_dir.path / WORKERS).rmdir()


def _finished(
    session: Session, track: Trackers, manifest: dict[str, Any], outputs: dict[str, Any], view: RunView,
    entry: tuple[Any, Any, Any], worker: Worker,
) -> None:  # fmt: skip
    """A stage's process ended well: mark it done, read its outputs back, record its time."""
    spec, stage, ctx = entry
    seconds = time.perf_counter() - worker.started
    session.run_dir.mark_done(spec.name, {"kind": spec.kind})
    seed_everything(stage_seed(session.recipe.run.seed, spec.name), session.recipe.run.deterministic)
    outputs[spec.name] = stage.restore(ctx)
    track.scalars(f"{spec.name}/metrics", 0, numeric_leaves(outputs[spec.name].metrics))
    view.ran(worker.index, seconds)
    manifest["stages"][spec.name]["finished"] = now()
    manifest["stages"][spec.name]["seconds"] = seconds
    session.run_dir.write_manifest(manifest)
    worker.stderr.unlink(missing_ok=True)
