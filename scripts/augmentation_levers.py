"""IAGAN augmentation's levers (copies per query, share of augmented images per batch) from the
sweeps of examples/augmentation/levers-T-A-N.toml: docs/results/augmentation/levers.{json,md}.

Usage: .venv/bin/python scripts/augmentation_levers.py SWEEP [SWEEP ...] [--out docs/results/augmentation]

For every pair, detector and lever: AUC over seeds, and the paired ΔAUC against the steps-matched
real-only control and against the default IAGAN augmentation (mean and 95% t-interval over seeds).
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import sys
from pathlib import Path
from typing import Any

from ganaug.numeric.stats import auc
from ganaug.runtime.io import write_json, write_text

_spec = importlib.util.spec_from_file_location(
    "augmentation_summary", Path(__file__).with_name("augmentation_summary.py")
)
assert _spec is not None and _spec.loader is not None
summary = importlib.util.module_from_spec(_spec)
sys.modules["augmentation_summary"] = summary
_spec.loader.exec_module(summary)

LEVERS = {
    "none": "anogan_real_steps",
    "iagan": "anogan_iagan",
    "copies 2": "anogan_iagan_copies2",
    "share 0.25": "anogan_iagan_mix25",
    "share 0.5": "anogan_iagan_mix50",
}
NAME = re.compile(r"levers-([^-]+)-([^-]+)-(\d+)")


def seed_aucs(folder: Path, anomaly: str) -> dict[str, dict[str, float]]:
    """detector -> lever -> AUC for one finished run."""
    tables = {stage: summary.read_scores(folder / stage / "scores.csv", anomaly) for stage in summary.STAGES}
    out: dict[str, dict[str, float]] = {}
    for detector, (stage, method, suffix) in summary.DETECTORS.items():
        for lever, model in LEVERS.items():
            rows = tables[stage].get((model + suffix, method))
            if rows:
                images = sorted(rows)
                positive = summary.np.array([rows[i][0] for i in images], dtype=bool)
                scores = summary.np.array([rows[i][1] for i in images])
                out.setdefault(detector, {})[lever] = auc(scores, positive)
    return out


def pair_rows(sweep: Path) -> list[dict[str, Any]]:
    match = NAME.fullmatch(sweep.name.rstrip("/"))
    if match is None:
        raise SystemExit(f"{sweep}: expected a folder named levers-T-A-N")
    trained, anomaly, n = match.groups()
    runs = {}
    for folder in sorted((sweep / summary.SETTING).glob("seed-*")):
        if summary.is_finished(folder):
            runs[int(folder.name.removeprefix("seed-"))] = seed_aucs(folder, anomaly)
    rows = []
    for detector in summary.DETECTORS:
        for lever in LEVERS:
            values = {s: r[detector][lever] for s, r in runs.items() if lever in r.get(detector, {})}
            vs_none = {s: r[detector][lever] - r[detector]["none"] for s, r in runs.items() if detector in r}
            vs_iagan = {
                s: r[detector][lever] - r[detector]["iagan"] for s, r in runs.items() if detector in r
            }
            rows.append(
                {
                    "pair": f"{trained}-{anomaly}",
                    "n_train": int(n),
                    "detector": detector,
                    "lever": lever,
                    "auc": summary.interval(values),
                    "delta": summary.interval(vs_none),
                    "delta_vs_iagan": summary.interval(vs_iagan),
                    "seeds": sorted(values),
                }
            )
    return rows


def table(rows: list[dict[str, Any]], command: str) -> str:
    lines = [
        "# IAGAN augmentation's levers",
        "",
        f"Written by `{command}`. AUC mean ± SD over seeds; Δ against the steps-matched real-only",
        "control and against the default IAGAN augmentation (one output per query, images shuffled",
        "with the real ones), paired per seed, mean [95% t-interval over seeds].",
        "",
        "| pair | N | detector | lever | AUC | Δ vs control | Δ vs IAGAN |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        if row["lever"] == "none":
            continue
        a = row["auc"]
        sd = summary.np.std(list(a["per_seed"].values()), ddof=1) if len(a["per_seed"]) > 1 else float("nan")
        lines.append(
            f"| {row['pair']} | {row['n_train']} | {row['detector']} | {row['lever']} | {a['mean']:.3f} ± "
            f"{sd:.3f} | {summary.delta_text(row['delta'])} | "
            f"{summary.delta_text(row['delta_vs_iagan']) if row['lever'] != 'iagan' else '—'} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sweeps", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, default=Path("docs/results/augmentation"))
    args = parser.parse_args(argv)
    rows = [row for sweep in args.sweeps for row in pair_rows(sweep)]
    args.out.mkdir(parents=True, exist_ok=True)
    command = "scripts/augmentation_levers.py " + " ".join(s.name for s in args.sweeps)
    write_json(args.out / "levers.json", {"levers": rows})
    write_text(args.out / "levers.md", table(rows, command))
    print(f"wrote levers.json and levers.md to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
