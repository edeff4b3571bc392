"""The run's trackers behind one object: built once at the start (rank 0 only), fanned out to.

A tracker that fails is reported once in the run's log and left out for the rest of the run:
losing a dashboard must not lose a training run.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Protocol


class Tracker(Protocol):
    """Receives a run's figures as they are made (TensorBoard, MLflow, ...).

    ``start`` once with the run folder, the resolved recipe and the run's tags (a sweep's setting
    and seed); ``scalars`` per epoch or search record, keyed ``<stage>/<name>``; ``image`` with a
    PNG the run wrote; ``finish`` once with the tags and the run's final numeric metrics."""

    def start(self, run_dir: Path, recipe: dict[str, Any], tags: dict[str, Any]) -> None: ...

    def scalars(self, prefix: str, step: int, values: dict[str, float]) -> None: ...

    def image(self, tag: str, step: int, png: Path) -> None: ...

    def finish(self, tags: dict[str, Any], metrics: dict[str, float]) -> None: ...


def numeric_leaves(value: Any, prefix: str = "") -> dict[str, float]:
    """Flatten nested metrics to ``{"a/b/c": number}`` (finite numbers only; lists left out)."""
    out: dict[str, float] = {}
    if isinstance(value, dict):
        for key, item in value.items():
            out.update(numeric_leaves(item, f"{prefix}/{key}" if prefix else str(key)))
    elif isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        out[prefix] = float(value)
    return out


class Trackers:
    """Fan-out to zero or more trackers; with none, every call does nothing."""

    def __init__(
        self, trackers: Iterable[tuple[str, Tracker]] = (), log: logging.Logger | None = None
    ) -> None:
        self._trackers = dict(trackers)
        self._log = log or logging.getLogger("ganaug")
        self.tags: dict[str, Any] = {}

    def __bool__(self) -> bool:
        return bool(self._trackers)

    def _each(self, method: str, *args: Any) -> None:
        for name, tracker in list(self._trackers.items()):
            try:
                getattr(tracker, method)(*args)
            except Exception as error:  # a third-party tracker's failure must not stop the run
                self._log.warning("tracker %r failed in %s (left out from now on): %s", name, method, error)
                del self._trackers[name]

    def start(self, run_dir: Path, recipe: dict[str, Any], tags: dict[str, Any]) -> None:
        self.tags = dict(tags)
        self._each("start", run_dir, recipe, self.tags)

    def scalars(self, prefix: str, step: int, values: dict[str, float]) -> None:
        finite = {k: float(v) for k, v in values.items() if isinstance(v, int | float) and math.isfinite(v)}
        if finite:
            self._each("scalars", prefix, step, finite)

    def image(self, tag: str, step: int, png: Path) -> None:
        self._each("image", tag, step, png)

    def finish(self, metrics: dict[str, Any]) -> None:
        self._each("finish", self.tags, numeric_leaves(metrics))
