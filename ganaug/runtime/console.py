"""Console output for a CLI run: log lines and progress bars on a terminal, quiet otherwise."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

from rich.console import Console
from rich.logging import RichHandler

from ganaug.runtime.progress import Progress, RichBars


def stderr_console(quiet: bool = False) -> Console:
    """The console every command prints to: stderr, no highlighting, no hard wrapping."""
    return Console(stderr=True, quiet=quiet, highlight=False, soft_wrap=True)


@contextlib.contextmanager
def console_session(console: Console, quiet: bool) -> Iterator[Progress]:
    """Show ganaug's log on ``console`` for the duration of a run, with progress bars."""
    if quiet:
        yield Progress()
        return
    handler = RichHandler(console=console, show_path=False, markup=False, rich_tracebacks=False)
    handler.setLevel(logging.INFO)
    handler.addFilter(lambda record: getattr(record, "console", True))  # not what the CLI prints itself
    log = logging.getLogger("ganaug")
    log.addHandler(handler)
    try:
        yield RichBars(console)
    finally:
        log.removeHandler(handler)
