"""The limited-data ablation's summary table, from a finished sweep of examples/ablation/limited-data.toml
(or of a pair recipe made from it).

Usage: .venv/bin/python scripts/limited_data_table.py SWEEP_DIR [SWEEP_DIR ...] [--baseline anogan_real]

Several sweeps of one data set (the same seeds and split) are read as one: their models side by side,
a model two sweeps share (the plain baseline) taken from the first, after checking that both runs
gave it the same AUC on every seed (the same seed trains the same weights).

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
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ganaug.apps.aggregate_report import summary_text  # noqa: E402
from ganaug.numeric.stats import over_seeds  # noqa: E402


def _runs(sweep: Path) -> list[tuple[int, Path]]:
    manifest = json.loads((sweep / "sweep.json").read_text())
    runs = [(int(r["seed"]), sweep / r["dir"]) for r in manifest["runs"] if r.get("setting") == "default"]
    return sorted(r for r in runs if (r[1] / "evaluate" / "metrics.json").exists())


def _text(values: list[float], digits: int = 3, scale: float = 1.0) -> str:
    return summary_text(over_seeds([v * scale for v in values]).as_dict(), digits)


def _mean_sd(values: list[float], digits: int = 3, scale: float = 1.0) -> str:
    found = over_seeds([v * scale for v in values])
    return f"{found.mean:.{digits}f} ± {found.std:.{digits}f}" if found.n > 1 else f"{found.mean:.{digits}f}"


def _recipe_order(sweeps: list[Path]) -> list[str]:
    """The models in the order the sweeps' evaluate stages list them."""
    order: list[str] = []
    for sweep in sweeps:
        _, run = _runs(sweep)[0]
        recipe = tomllib.loads((run / "recipe.toml").read_text())
        for stage in recipe["stages"]:
            if stage.get("name") == "evaluate":
                order += [m for m in stage["models"] if m not in order]
    return order


def _merged(sweeps: list[Path], folder: str) -> dict[int, dict]:
    """Per seed, the ``folder/metrics.json`` of every sweep, merged model by model (first wins)."""
    merged: dict[int, dict] = {}
    for sweep in sweeps:
        for seed, run in _runs(sweep):
            path = run / folder / "metrics.json"
            if not path.exists():
                continue
            found = json.loads(path.read_text())
            mine = merged.setdefault(seed, {})
            for model, value in found.items():
                if model in mine and folder == "evaluate":
                    a, b = mine[model]["anogan"]["auc"], value["anogan"]["auc"]
                    if a != b:
                        raise SystemExit(f"{model} seed {seed}: AUC {a} in one sweep, {b} in another")
                mine.setdefault(model, value)
    return merged


def table(sweeps: list[Path], baseline: str, only: list[str] | None = None) -> list[str]:
    evaluate = _merged(sweeps, "evaluate")
    quality = _merged(sweeps, "quality")
    models = [m for m in _recipe_order(sweeps) if only is None or m in only]
    # the seeds every listed model was run on (sweeps of other seeds add seeds to the models they share)
    seeds = sorted(s for s in evaluate if all(m in evaluate[s] for m in models))
    if not seeds:
        raise SystemExit(f"no seed has every model of {models}")
    n = evaluate[seeds[0]][baseline]["anogan"]["n"]
    counts = " + ".join(f"{count} of class {name}" for name, count in sorted(n.items()))
    lines = [
        f"Seeds {', '.join(map(str, seeds))}; mean ± SD [95% t-interval over seeds]. Test images per seed: "
        f"{counts}; AnoGAN: the recipe's search.",
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
        differences = [g - p for g, p in zip(gan, plain, strict=True)]
        delta = "—" if model == baseline else f"{_text(differences)} ({better}/{len(seeds)})"
        above = sum(lo > b for lo, b in zip(low, l1, strict=True))
        per_seed = ", ".join(f"{g:.3f}/{b:.3f}" for g, b in zip(gan, l1, strict=True))
        lines.append(
            f"| {model} | {_text(gan)} | {delta} | {_text(l1)} | "
            f"{_text([g - b for g, b in zip(gan, l1, strict=True)])} | {above}/{len(seeds)} | {per_seed} |"
        )
    if not quality:
        return lines
    qseeds = sorted(q for q in quality if q in seeds)
    first = quality[qseeds[0]][models[0]]["quality"]
    lines += [
        "",
        f"Sample quality against the test images of the trained class ({first['reference']} images, "
        f"{first['samples']} samples per model), seeds {', '.join(map(str, qseeds))}. "
        f"Backbone (seed {qseeds[0]}): {first['backbone']}. "
        f"Pairwise SSIM of the real test images: {first['real_ssim']:.3f} (lower: more diverse).",
        "",
        "Mean ± SD over seeds (each seed fits its own backbone on its own split: compare models, not KID "
        "values across data sets).",
        "",
        "| model | KID × 1000 | precision | recall | density | coverage | sample SSIM |",
        "|---|---|---|---|---|---|---|",
    ]
    for model in models:
        found = [quality[s][model]["quality"] for s in qseeds if model in quality[s]]
        cells = [_mean_sd([f["kid"] for f in found], 0, 1000.0)]
        keys = ("precision", "recall", "density", "coverage", "sample_ssim")
        cells += [_mean_sd([f[k] for f in found], 2) for k in keys]
        lines.append(f"| {model} | " + " | ".join(cells) + " |")
    return lines


def sample_sheet(sweeps: list[Path], seed: int, out: Path) -> Path:
    """One figure of every model's last sample grid (fixed z) on ``seed``, titled by model."""
    from matplotlib.figure import Figure
    from PIL import Image

    from ganaug.runtime.io import save_figure

    runs = {s: d for sweep in sweeps for s, d in _runs(sweep)}
    models = _recipe_order(sweeps)
    grids = []
    for model in models:
        for sweep in sweeps:
            found = sorted((sweep / "default" / f"seed-{seed}" / model / "samples").glob("epoch-*.png"))
            if found:
                grids.append((model, Image.open(found[-1])))
                break
    if seed not in runs or not grids:
        raise SystemExit(f"no sample grids for seed {seed}")
    columns = 4
    rows = -(-len(grids) // columns)
    fig = Figure(figsize=(3 * columns, 3.2 * rows), layout="constrained")
    for index, axis in enumerate(fig.subplots(rows, columns, squeeze=False).flat):
        axis.axis("off")
        if index < len(grids):
            axis.imshow(grids[index][1], cmap="gray")
            axis.set_title(grids[index][0], fontsize=10)
    return save_figure(fig, out, dpi=90)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sweeps", type=Path, nargs="+")
    parser.add_argument("--baseline", default="anogan_real")
    parser.add_argument("--models", help="only these models (comma-separated), on every seed they share")
    parser.add_argument("--samples", type=Path, help="also write the seed's last sample grids here (PNG)")
    parser.add_argument("--seed", type=int, default=0, help="the seed of --samples")
    args = parser.parse_args()
    if args.samples:
        sample_sheet(args.sweeps, args.seed, args.samples)
    only = args.models.split(",") if args.models else None
    print("\n".join(table(args.sweeps, args.baseline, only)))


if __name__ == "__main__":
    main()
