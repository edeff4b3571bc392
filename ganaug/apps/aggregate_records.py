"""What a sweep's aggregate reads from each run: its evaluate stages' scores and its conversion
figures (shared by the aggregate and the detector race)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs


@attrs.frozen
class Scores:
    """One evaluate stage of one run: per (model, method), scores by image id, and labels."""

    positive: str
    labels: dict[str, str]
    by_model: dict[tuple[str, str], dict[str, float]]
    models: tuple[str, ...]
    #: method -> role (detector, control, baseline) from the stage's methods.json (empty: not recorded)
    roles: dict[str, str] = attrs.Factory(dict)


@attrs.frozen
class RunRecord:
    """One run of a sweep: its setting and seed, folder, evaluations by stage and conversion."""

    setting: str
    seed: int
    dir: Path
    evaluations: dict[str, Scores]
    conversion: dict[str, dict[str, Any]]
    #: (stage, why) of every evaluate stage of the run that the aggregate cannot use
    left_out: tuple[tuple[str, str], ...] = ()
