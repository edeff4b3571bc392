"""Run the ganaug CLI with a fault injected, chosen by ``GANAUG_KILL`` (used by the kill tests).

Forms, ``;``-separated:
``write:GLOB:N``  SIGKILL once the temp file of the Nth atomic write whose final path matches GLOB
                  is written, before it is renamed into place (a kill in the middle of a write);
``call:MODULE:ATTR:N``  SIGKILL at the start of the Nth call of ``MODULE.ATTR`` (``Class.method``);
``slow:SECONDS``  sleep this long before every GAN training step (so an outside kill lands mid-epoch);
``enospc:GLOB:N`` raise ENOSPC for the Nth atomic write matching GLOB (a full disk);
``block:N:PATH``  the Nth GAN training step waits until PATH exists (holds a run mid-epoch);
``nan:N``         the Nth GAN training step reports a NaN discriminator loss (a diverging run).
Run as ``python -m killrun run RECIPE ...`` with this folder on ``PYTHONPATH``.
"""

from __future__ import annotations

import contextlib
import errno
import fnmatch
import functools
import importlib
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import ganaug.runtime.io


def die() -> None:
    """Kill this process at once, as the OOM killer or a power cut would (no cleanup runs)."""
    sys.stdout.flush()
    sys.stderr.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def _patch_writes(glob: str, nth: int, action: Callable[[], None]) -> None:
    original = ganaug.runtime.io.atomic_path
    seen = {"n": 0}

    @contextlib.contextmanager
    def atomic_path(path: str | Path) -> Iterator[Path]:
        with original(path) as tmp:
            yield tmp
            if fnmatch.fnmatch(str(path), glob):
                seen["n"] += 1
                if seen["n"] == nth:
                    action()

    ganaug.runtime.io.atomic_path = atomic_path  # type: ignore[assignment]


def _enospc() -> None:
    raise OSError(errno.ENOSPC, "No space left on device (injected)")


def _patch_call(module: str, attr: str, nth: int) -> None:
    owner: Any = importlib.import_module(module)
    *parents, name = attr.split(".")
    for part in parents:
        owner = getattr(owner, part)
    original = getattr(owner, name)
    seen = {"n": 0}

    @functools.wraps(original)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        seen["n"] += 1
        if seen["n"] == nth:
            die()
        return original(*args, **kwargs)

    setattr(owner, name, wrapper)


def _patch_slow(seconds: float) -> None:
    from ganaug_plugins.stages import gan_step

    original = gan_step.GanStep.__call__

    def slow(self: Any, *args: Any, **kwargs: Any) -> Any:
        time.sleep(seconds)
        return original(self, *args, **kwargs)

    gan_step.GanStep.__call__ = slow  # type: ignore[method-assign]


def _patch_nan(nth: int) -> None:
    from ganaug_plugins.stages import gan_step

    original = gan_step.GanStep.__call__
    seen = {"n": 0}

    def diverging(self: Any, *args: Any, **kwargs: Any) -> Any:
        stats = original(self, *args, **kwargs)
        seen["n"] += 1
        return {**stats, "d_loss": float("nan")} if seen["n"] == nth else stats

    gan_step.GanStep.__call__ = diverging  # type: ignore[method-assign]


def _patch_block(nth: int, release: Path) -> None:
    from ganaug_plugins.stages import gan_step

    original = gan_step.GanStep.__call__
    seen = {"n": 0}

    def held(self: Any, *args: Any, **kwargs: Any) -> Any:
        seen["n"] += 1
        deadline = time.monotonic() + 600  # a hang guard only
        while seen["n"] == nth and not release.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        return original(self, *args, **kwargs)

    gan_step.GanStep.__call__ = held  # type: ignore[method-assign]


def install(spec: str) -> None:
    """Install every fault named in ``spec`` (see the module docstring)."""
    for item in filter(None, spec.split(";")):
        kind, _, rest = item.partition(":")
        if kind == "write":
            glob, nth = rest.rsplit(":", 1)
            _patch_writes(glob, int(nth), die)
        elif kind == "enospc":
            glob, nth = rest.rsplit(":", 1)
            _patch_writes(glob, int(nth), _enospc)
        elif kind == "call":
            module, attr, nth = rest.split(":")
            _patch_call(module, attr, int(nth))
        elif kind == "block":
            nth, path = rest.split(":", 1)
            _patch_block(int(nth), Path(path))
        elif kind == "nan":
            _patch_nan(int(rest))
        elif kind == "slow":
            _patch_slow(float(rest))
        else:
            raise SystemExit(f"killrun: unknown fault {item!r}")


def main() -> None:
    install(os.environ.get("GANAUG_KILL", ""))
    from ganaug.apps.cli import main as cli_main

    sys.argv[0] = "ganaug"
    cli_main()


if __name__ == "__main__":
    main()
