"""The detector race's results from its sweep aggregates: docs/results/detectors/.

Usage: .venv/bin/python scripts/detector_summary.py SWEEP [SWEEP ...] [--out docs/results/detectors]

Each SWEEP is the folder of one pair's ``ganaug sweep examples/detectors/race-T-A.toml`` (named
``race-T-A``), already aggregated. Writes ``summary.json`` (one object per pair: the best GAN
detector and the best classical baseline by mean AUC over seeds, and the paired difference of the
two over seeds with its 95% t-interval), ``table.md`` (the same, with every entry's AUC over
seeds) and a copy of each pair's ``aggregate.md``.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
from pathlib import Path
from typing import Any

from ganaug.apps.aggregate_report import summary_text
from ganaug.runtime.io import write_json, write_text

STAGE = "race"


def _number(value: Any) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)


def _label(entry: str, role: str) -> str:
    """A baseline by its method (fitted on the same real images for every model), a GAN detector
    as model/method."""
    return entry.split("/", 1)[1] if role == "baseline" else entry


def pair_summary(folder: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """The summary object of one pair's sweep, and its race block (for the table)."""
    aggregate = json.loads((folder / "aggregate.json").read_text(encoding="utf-8"))
    blocks = aggregate["evaluate"][STAGE]["race"]
    if len(blocks) != 1:
        raise SystemExit(f"{folder}: expected one setting in the race, found {sorted(blocks)}")
    block = next(iter(blocks.values()))
    entries = block["entries"]
    gan, base = block["best_detector"], block["best_baseline"]
    comparison = next(c for c in block["comparisons"] if c["detector"] == gan)
    difference = comparison["difference"]

    def best(entry: str) -> dict[str, Any]:
        auc = entries[entry]["auc"]
        name = _label(entry, entries[entry]["role"])
        return {"name": name, "auc_mean": _number(auc["mean"]), "auc_sd": _number(auc["std"])}

    summary = {
        "pair": folder.name.removeprefix("race-"),
        "seeds": sorted(entries[gan]["auc"]["seeds"]),
        "best_gan": best(gan),
        "best_baseline": best(base),
        "delta": {
            "mean": _number(difference["mean"]),
            "ci_low": _number(difference["low"]),
            "ci_high": _number(difference["high"]),
        },
    }
    return summary, {**block, "wins": comparison["wins"], "verdict": comparison["verdict"]}


def table(rows: list[tuple[dict[str, Any], dict[str, Any]]]) -> str:
    """Markdown: the race per pair, then every entry's AUC over seeds."""
    out = [
        "# The detector race: best GAN detector against the best classical baseline",
        "",
        "Written by `scripts/detector_summary.py` from the sweep aggregates (AUC mean ± SD over seeds",
        "[95% t-interval]; Δ = best GAN − best baseline, paired on the same test images per seed).",
        "",
        "| pair | best GAN detector | AUC | best baseline | AUC | ΔAUC [95% t-interval] | seeds won "
        "| verdict |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for summary, block in rows:
        gan, base = block["best_detector"], block["best_baseline"]
        comparison = next(c for c in block["comparisons"] if c["detector"] == gan)
        gan_auc = summary_text(block["entries"][gan]["auc"])
        out.append(
            f"| {summary['pair']} | {summary['best_gan']['name']} | {gan_auc} "
            f"| {summary['best_baseline']['name']} | {summary_text(block['entries'][base]['auc'])} "
            f"| {summary_text(comparison['difference'])} | {block['wins']}/{comparison['seeds']} "
            f"| {block['verdict']} |"
        )
    out += ["", "## Every detector and baseline", ""]
    for summary, block in rows:
        out += [
            f"### {summary['pair']}",
            "",
            "| entry | role | AUC over seeds | per seed |",
            "|---|---|---|---|",
        ]
        ranked = sorted(block["entries"].items(), key=lambda kv: -(kv[1]["auc"]["mean"] or 0))
        for name, entry in ranked:
            values = ", ".join(f"{v:.3f}" for v in entry["auc"]["values"])
            out.append(f"| {name} | {entry['role']} | {summary_text(entry['auc'])} | {values} |")
        out.append("")
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sweeps", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, default=Path("docs/results/detectors"))
    args = parser.parse_args()
    rows = [pair_summary(folder) for folder in args.sweeps]
    args.out.mkdir(parents=True, exist_ok=True)
    write_json(args.out / "summary.json", [summary for summary, _ in rows])
    write_text(args.out / "table.md", table(rows) + "\n")
    for folder in args.sweeps:
        shutil.copyfile(folder / "aggregate.md", args.out / f"aggregate-{folder.name}.md")
    print(f"wrote {args.out / 'summary.json'} and {args.out / 'table.md'} ({len(rows)} pairs)")


if __name__ == "__main__":
    main()
