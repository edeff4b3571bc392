"""The limited-data ablation's summary table, from a finished sweep of examples/ablation/limited-data.toml
(or of a pair recipe made from it).

Usage: .venv/bin/python scripts/limited_data_table.py SWEEP_DIR [--baseline anogan_real]

Prints Markdown: one row per model (each switch alone, the combination) with its AnoGAN AUC over
seeds, the paired difference against the plain model, the AnoGAN-minus-L1-mean difference over seeds
and in how many seeds AnoGAN's bootstrap CI lies wholly above the L1-mean AUC, then the sample
quality (KID, precision/recall/density/coverage, pairwise SSIM) over seeds. Every number is read from
the sweep's run folders; nothing is recomputed but the means over seeds.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ganaug.aggregate_report import summary_text  # noqa: E402
from ganaug.stats import over_seeds  # noqa: E402


def _runs(sweep: Path) -> list[tuple[int, Path]]:
    manifest = json.loads((sweep / "sweep.json").read_text())
    runs = [(int(r["seed"]), sweep / r["dir"]) for r in manifest["runs"] if r.get("setting") == "default"]
    return sorted(r for r in runs if (r[1] / "evaluate" / "metrics.json").exists())


def _text(values: list[float], digits: int = 3, scale: float = 1.0) -> str:
    return summary_text(over_seeds([v * scale for v in values]).as_dict(), digits)


def table(sweep: Path, baseline: str) -> list[str]:
    runs = _runs(sweep)
    evaluate = {seed: json.loads((d / "evaluate" / "metrics.json").read_text()) for seed, d in runs}
    quality = {
        seed: json.loads((d / "quality" / "metrics.json").read_text())
        for seed, d in runs
        if (d / "quality" / "metrics.json").exists()
    }
    models = list(next(iter(evaluate.values())))
    seeds = [seed for seed, _ in runs]
    lines = [
        f"Seeds {', '.join(map(str, seeds))}; mean ± SD [95% t-interval over seeds]. Test: 150 + 150 images "
        "per seed; AnoGAN: search of 100 steps (the quickstart's).",
        "",
        "| model | AnoGAN AUC | − plain (seeds better) | L1-mean AUC | AnoGAN − L1-mean | "
        "seeds AnoGAN CI above L1-mean | per seed AnoGAN / L1-mean |",
        "|---|---|---|---|---|---|---|",
    ]
    for model in models:
        gan = [evaluate[s][model]["anogan"]["auc"] for s in seeds]
        low = [evaluate[s][model]["anogan"]["auc_ci_low"] for s in seeds]
        l1 = [evaluate[s][model]["l1-mean"]["auc"] for s in seeds]
        plain = [evaluate[s][baseline]["anogan"]["auc"] for s in seeds]
        better = sum(g > p for g, p in zip(gan, plain, strict=True))
        delta = (
            "—"
            if model == baseline
            else f"{_text([g - p for g, p in zip(gan, plain, strict=True)])} ({better}/{len(seeds)})"
        )
        above = sum(lo > b for lo, b in zip(low, l1, strict=True))
        per_seed = ", ".join(f"{g:.3f}/{b:.3f}" for g, b in zip(gan, l1, strict=True))
        lines.append(
            f"| {model} | {_text(gan)} | {delta} | {_text(l1)} | "
            f"{_text([g - b for g, b in zip(gan, l1, strict=True)])} | {above}/{len(seeds)} | {per_seed} |"
        )
    if not quality:
        return lines
    qseeds = sorted(quality)
    first = quality[qseeds[0]][models[0]]["quality"]
    lines += [
        "",
        f"Sample quality against the test 8s ({first['reference']} images, {first['samples']} samples per "
        f"model), seeds {', '.join(map(str, qseeds))}. Backbone (seed {qseeds[0]}): {first['backbone']}. "
        f"Pairwise SSIM of the real test images: {first['real_ssim']:.3f} (lower: more diverse).",
        "",
        "| model | KID × 1000 | precision | recall | density | coverage | sample SSIM |",
        "|---|---|---|---|---|---|---|",
    ]
    for model in models:
        found = [quality[s][model]["quality"] for s in qseeds if model in quality[s]]
        cells = [_text([f["kid"] for f in found], 2, 1000.0)]
        cells += [
            _text([f[k] for f in found])
            for k in ("precision", "recall", "density", "coverage", "sample_ssim")
        ]
        lines.append(f"| {model} | " + " | ".join(cells) + " |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sweep", type=Path)
    parser.add_argument("--baseline", default="anogan_real")
    args = parser.parse_args()
    print("\n".join(table(args.sweep, args.baseline)))


if __name__ == "__main__":
    main()
