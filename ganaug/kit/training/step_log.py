"""A training stage's per-step figures: one row per step, epoch means, ``losses.csv`` written and
read back on resume. Which columns a stage logs is its own; plotting them is its own too."""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import Any, TypeVar

import attrs

from ganaug.runtime.io import write_text

_Log = TypeVar("_Log", bound="StepLog")


@attrs.define
class StepLog:
    """Rows of ``epoch``, ``step``, the ``step_fields`` (every step), the ``epoch_fields`` (set on
    an epoch's last row, else nan) and the ``extras`` (optional per step, averaged where set)."""

    step_fields: tuple[str, ...] = ()
    epoch_fields: tuple[str, ...] = ()
    extras: tuple[str, ...] = ()
    rows: list[dict[str, float]] = attrs.Factory(list)

    @property
    def fields(self) -> tuple[str, ...]:
        return ("epoch", "step", *self.step_fields, *self.epoch_fields, *self.extras)

    def add(self, epoch: int, step: int, stats: dict[str, float]) -> None:
        nan = float("nan")
        self.rows.append(
            {
                "epoch": epoch,
                "step": step,
                **{k: stats[k] for k in self.step_fields},
                **dict.fromkeys(self.epoch_fields, nan),
                **{k: stats.get(k, nan) for k in self.extras},
            }
        )

    def annotate(self, values: dict[str, float]) -> None:
        """Per-epoch figures on the epoch's last row."""
        if self.rows:
            self.rows[-1].update({k: float(values[k]) for k in self.epoch_fields if k in values})

    def epoch_mean(self, epoch: int) -> dict[str, float]:
        """Mean of each step column over the rows of one (1-based) epoch; per-epoch figures: their
        value, when the epoch has one; extras: the mean of the rows that have them."""
        rows = [r for r in self.rows if r["epoch"] == epoch]
        if not rows:
            return {}
        out = {k: sum(r[k] for r in rows) / len(rows) for k in self.step_fields}
        out.update({k: rows[-1][k] for k in self.epoch_fields if not math.isnan(rows[-1][k])})
        for key in self.extras:
            values = [r[key] for r in rows if not math.isnan(r[key])]
            if values:
                out[key] = sum(values) / len(values)
        return out

    def epoch_means(self, key: str) -> tuple[list[int], list[float]]:
        """Each epoch's last step and the epoch's mean of ``key`` (for plots)."""
        ends: list[int] = []
        means: list[float] = []
        for epoch in sorted({int(r["epoch"]) for r in self.rows}):
            rows = [r for r in self.rows if r["epoch"] == epoch]
            ends.append(int(rows[-1]["step"]))
            means.append(sum(r[key] for r in rows) / len(rows))
        return ends, means

    def write_csv(self, path: Path) -> Path:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=self.fields, lineterminator="\n")
        writer.writeheader()
        for row in self.rows:
            writer.writerow({k: (repr(v) if isinstance(v, float) else v) for k, v in row.items()})
        return write_text(path, buffer.getvalue())

    def resumed(self: _Log, path: Path, up_to_step: int) -> _Log:
        """This log's columns with an earlier ``losses.csv``'s rows up to ``up_to_step`` (for a
        resumed stage). A column the file lacks (an older file) reads as nan."""
        if not path.exists():
            return attrs.evolve(self, rows=[])
        with path.open(newline="") as handle:
            rows = [_parse(row, self.fields) for row in csv.DictReader(handle)]
        return attrs.evolve(self, rows=[r for r in rows if r["step"] <= up_to_step])

    @classmethod
    def read_csv(cls: type[_Log], path: Path, up_to_step: int, **columns: Any) -> _Log:
        """:meth:`resumed` on a new log; ``columns`` as the constructor's."""
        return cls(**columns).resumed(path, up_to_step)


def _parse(row: dict[str, Any], fields: tuple[str, ...]) -> dict[str, float]:
    return {k: (int(row[k]) if k in ("epoch", "step") else float(row.get(k) or "nan")) for k in fields}
