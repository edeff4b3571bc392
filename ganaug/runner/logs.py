"""The run's log: the ``ganaug`` logger and ``run.log``, which the engine and a stage's own
process (``run.jobs`` > 1) both append to."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from ganaug.runner.rundir import LOG, open_no_follow

LOGGER = "ganaug"
#: ``extra`` for a log record that goes to run.log but not to the console (the CLI prints it).
LOG_ONLY = {"console": False}


class _RunLog(logging.FileHandler):
    """``run.log``, appended to; a symbolic link or an unwritable file is a RunDirError naming it."""

    def _open(self) -> Any:
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND
        return os.fdopen(open_no_follow(Path(self.baseFilename), flags, "run log"), "a", encoding="utf-8")


def file_log(run_dir: Path) -> logging.Handler:
    """A handler appending to ``run_dir``'s ``run.log`` with time, level and logger name."""
    handler = _RunLog(run_dir / LOG, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    return handler
