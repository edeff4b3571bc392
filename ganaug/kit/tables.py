"""Score tables as CSV: ``scores.csv`` of the evaluate stage and any stage's per-image rows."""

from __future__ import annotations

import contextlib
import csv
import io
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from ganaug.api.records import SCORE_COLUMNS
from ganaug.runtime.io import atomic_path, write_text


def write_rows_csv(rows: Iterable[Mapping[str, Any]], columns: Sequence[str], path: Path) -> Path:
    """A CSV of ``columns``; empty cells for values a row does not have (None)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in columns})
    return write_text(path, buffer.getvalue())


@contextlib.contextmanager
def streamed_rows_csv(columns: Sequence[str], path: Path) -> Iterator[Callable[[Mapping[str, Any]], None]]:
    """:func:`write_rows_csv` a row at a time (for tables too large to hold): yields a function
    taking one row; the file appears under ``path`` only once the block ends without error."""
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        yield lambda row: writer.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in columns})


def write_scores_csv(rows: Iterable[Mapping[str, Any]], path: Path) -> Path:
    """One line per (image, model, method) of the score table."""
    return write_rows_csv(rows, SCORE_COLUMNS, path)


def read_scores_csv(path: Path) -> list[dict[str, Any]]:
    """Read ``scores.csv`` back; numbers as floats, empty cells as None."""
    with open(path, encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        for key in ("residual", "discrimination", "score"):
            row[key] = float(row[key]) if row[key] not in ("", None) else None
    return rows
