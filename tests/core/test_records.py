"""The records that replaced loose dicts: the score table's rows, a training position."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import torch

from ganaug.api.records import SCORE_COLUMNS, EvalContext, ImageSet, ScoreRow
from ganaug.kit.tables import read_scores_csv, write_scores_csv
from ganaug.kit.training import Position
from ganaug.kit.training.checkpoint import checked_position
from ganaug.runtime.errors import CheckpointError
from ganaug.runtime.progress import Progress


def _context(tmp_path: Path, n: int = 3) -> EvalContext:
    test = ImageSet(torch.zeros(n, 1, 4, 4), torch.tensor([0, 1, 0][:n]), ("a", "b", "c")[:n], ("ok", "bad"))
    return EvalContext(
        models={}, test=test, positive="bad", dir=tmp_path, device=torch.device("cpu"), seed=0,
        log=logging.getLogger("test"), progress=Progress(),
    )  # fmt: skip


def test_add_scores_writes_one_row_per_test_image_in_the_table_columns(tmp_path: Path) -> None:
    ctx = _context(tmp_path)
    ctx.add_scores("m", "anogan", torch.tensor([0.5, 2.0, 1.0]), residual=[0.25, 1.0, 0.5])
    assert [tuple(row) for row in ctx.scores] == [SCORE_COLUMNS] * 3
    assert [(r["image"], r["label"], r["score"], r["residual"]) for r in ctx.scores] == [
        ("a", "ok", 0.5, 0.25),
        ("b", "bad", 2.0, 1.0),
        ("c", "ok", 1.0, 0.5),
    ]
    assert all(r["discrimination"] is None and r["model"] == "m" for r in ctx.scores)


def test_add_scores_refuses_a_count_that_is_not_the_test_sets(tmp_path: Path) -> None:
    ctx = _context(tmp_path)
    with pytest.raises(ValueError, match=r"2 score.* for 3 test images"):
        ctx.add_scores("m", "knn", [1.0, 2.0])
    assert ctx.scores == []


def test_score_rows_round_trip_through_scores_csv(tmp_path: Path) -> None:
    rows = [ScoreRow("a", "ok", "m", "pca", 0.125, residual=0.125).as_row()]
    path = write_scores_csv(rows, tmp_path / "scores.csv")
    assert path.read_text().splitlines()[0] == ",".join(SCORE_COLUMNS)
    back = read_scores_csv(path)
    assert back[0]["score"] == 0.125 and back[0]["method"] == "pca"


def test_a_position_is_what_a_checkpoint_records_and_reads_back(tmp_path: Path) -> None:
    at = Position(epoch=2, batch=1, step=9, images=144, seconds=3.5)
    assert at.at(3, 0) == Position(3, 0, 9, 144, 3.5) and at.epoch == 2  # a copy, not a move
    assert checked_position(tmp_path, {"position": at.as_dict()}, epochs=5, steps=4) == at
    with pytest.raises(CheckpointError, match="beyond the 8 steps"):
        checked_position(tmp_path, {"position": at.as_dict()}, epochs=2, steps=4)
    with pytest.raises(CheckpointError, match="'seconds' is not a valid number"):
        checked_position(tmp_path, {"position": {**at.as_dict(), "seconds": "x"}})
