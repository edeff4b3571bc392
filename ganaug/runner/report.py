"""The run's ``report.md``: every stage's own report gathered under one title."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from ganaug.recipe.schema import Recipe
from ganaug.runtime import io

_LINK = re.compile(r"\]\((?!https?:|/)([^)]+)\)")
_HEADING = re.compile(r"^(#+) ", re.MULTILINE)


def stage_section(stage: str, kind: str, text: str) -> str:
    """One stage's report, its links made relative to the run folder, its headings nested below ours."""
    text = _LINK.sub(rf"]({stage}/\1)", text)
    text = _HEADING.sub(r"##\1 ", text)
    return f"## {stage} ({kind})\n\n{text.strip()}\n"


def write_report(run_dir: Path, recipe: Recipe, stage_times: Sequence[str] = ()) -> Path | None:
    """Gather each stage's ``report.md`` into ``run_dir/report.md``, with the table of stage times
    when given; None when no stage wrote a report."""
    parts = [
        stage_section(spec.name, spec.kind, (run_dir / spec.name / "report.md").read_text(encoding="utf-8"))
        for spec in recipe.stages
        if (run_dir / spec.name / "report.md").exists()
    ]
    if not parts:
        return None
    head = f"# {recipe.run.name}\n\nRun directory: `{run_dir}`, seed {recipe.run.seed}.\n"
    if stage_times:
        note = "Wall time of each stage in the last session (a resume restores the rest)."
        head += f"\n## Stage times\n\n{note}\n\n" + "\n".join(stage_times) + "\n"
    return io.write_text(run_dir / "report.md", "\n".join([head, *parts]))
