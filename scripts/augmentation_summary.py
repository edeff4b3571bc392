"""The augmentation regime map's results: docs/results/augmentation/ (summary.json, table.md, map.png).

Usage: .venv/bin/python scripts/augmentation_summary.py SWEEP [SWEEP ...] [--out docs/results/augmentation]

Each SWEEP is the folder ``map-T-A-N`` of one ``ganaug sweep examples/augmentation/map-T-A-N.toml``
(trained digit T, anomaly digit A, N training images; see scripts/augmentation_map.py), holding
``default/seed-S`` run folders. Per seed, every detector (AnoGAN, the f-AnoGAN encoder, kNN, PCA,
OC-SVM) scores the same test images under each augmentation (none = the steps-matched real-only
control, self, IAGAN, classical); the AUCs are recomputed from ``scores.csv`` so that every
difference is paired on the same images. Over seeds: the mean, SD and 95% t-interval of
ΔAUC = AUC(augmentation) − AUC(none), and for IAGAN also of AUC(IAGAN) − AUC(classical).

A regime (N, detector) is *met* when IAGAN beats both the control and classical augmentation (both
intervals above zero) on at least two of the three pairs. Runs that are missing or unfinished, and
cells with fewer than two seeds, are named in ``left_out`` rather than silently dropped.
"""

from __future__ import annotations

import argparse
import csv
import math
import re
import shlex
import sys
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from ganaug.numeric.stats import auc, delong, over_seeds
from ganaug.runtime.io import read_json, save_figure, write_json, write_text

PAIRS = ("8-3", "9-4", "7-1")
SEEDS = (0, 1, 2)
SETTING = "default"
AUGMENTATIONS = ("none", "self", "iagan", "classical")
MODELS = {
    "none": "anogan_real_steps",
    "self": "anogan_self",
    "iagan": "anogan_iagan",
    "classical": "anogan_classical",
}
#: detector -> (stage folder, method in scores.csv, suffix of the stage's model names)
DETECTORS = {
    "AnoGAN": ("evaluate", "anogan", ""),
    "f-AnoGAN encoder": ("evaluate_encoder", "encoder", "_encoder"),
    "kNN": ("evaluate", "knn", ""),
    "PCA": ("evaluate", "pca", ""),
    "OC-SVM": ("evaluate", "ocsvm", ""),
}
STAGES = ("evaluate", "evaluate_encoder")
MIN_SEEDS = 2  # a t-interval needs two seeds
PAIRS_NEEDED = 2  # of the three pairs, for a regime to be met
#: the size the design wanted but the data cannot hold (scripts/augmentation_map.py refuses it)
SIZE_NOTE = {
    "what": "N = 1000",
    "n_train": 1000,
    "reason": "mnist-5k holds 500 images per digit and 150 test + 50 probe images are dealt first, "
    "so at most 300 remain for training",
}
NAME = re.compile(r"map-([^-]+)-([^-]+)-(\d+)")
MINUS = "\u2212"


@dataclass(frozen=True)
class Sweep:
    """One sweep folder and what its name says: trained class, anomaly class, training-set size."""

    path: Path
    trained: str
    anomaly: str
    n_train: int

    @property
    def pair(self) -> str:
        return f"{self.trained}-{self.anomaly}"

    def label(self) -> str:
        return f"{self.pair} N={self.n_train}"


@dataclass(frozen=True)
class Detection:
    """One detector in one run: which test images are anomalies and each augmentation's scores,
    aligned image by image (so AUC differences are paired)."""

    positive: np.ndarray
    scores: dict[str, np.ndarray]


@dataclass(frozen=True)
class Run:
    """One finished seed: its detections and the IAGAN conversion rate of the anomaly queries."""

    seed: int
    detections: dict[str, Detection]
    conversion: float | None


def _number(value: float | None) -> float | None:
    """JSON-safe: NaN and None become null."""
    return None if value is None or not math.isfinite(value) else float(value)


def parse_sweep(path: Path) -> Sweep:
    """The pair and size from a ``map-T-A-N`` folder name; anything else is a clear exit."""
    match = NAME.fullmatch(path.name)
    if not match:
        raise SystemExit(f"{path}: not a map sweep folder (expected a name like map-8-3-25)")
    trained, anomaly, n = match.groups()
    return Sweep(path, trained, anomaly, int(n))


def is_finished(folder: Path) -> bool:
    """A map run is finished when both evaluate stages have written done.json."""
    return all((folder / stage / "done.json").exists() for stage in STAGES)


def check_recipe(sweep: Sweep, folder: Path) -> None:
    """The run's recipe must train the folder name's class against its anomaly class."""
    path = folder / "recipe.toml"
    try:
        recipe = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise SystemExit(f"{path}: unreadable recipe ({exc})") from None
    classes = recipe.get("data", {}).get("classes")
    if classes != [sweep.trained, sweep.anomaly]:
        raise SystemExit(
            f"{path}: classes {classes}, but the folder name says [{sweep.trained}, {sweep.anomaly}]"
        )


def read_scores(path: Path, anomaly: str) -> dict[tuple[str, str], dict[str, tuple[bool, float]]]:
    """``scores.csv`` as (model, method) -> image -> (is anomaly, score)."""
    table: dict[tuple[str, str], dict[str, tuple[bool, float]]] = {}
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            key = (row["model"], row["method"])
            table.setdefault(key, {})[row["image"]] = (row["label"] == anomaly, float(row["score"]))
    return table


def detection(
    table: dict[tuple[str, str], dict[str, tuple[bool, float]]], method: str, suffix: str
) -> Detection | None:
    """One detector's scores per augmentation on the test images every augmentation scored."""
    rows = {aug: table[key] for aug in AUGMENTATIONS if (key := (MODELS[aug] + suffix, method)) in table}
    if not rows:
        return None
    images = sorted(set.intersection(*(set(r) for r in rows.values())))
    first = next(iter(rows.values()))
    positive = np.array([first[image][0] for image in images], dtype=bool)
    scores = {aug: np.array([r[image][1] for image in images]) for aug, r in rows.items()}
    return Detection(positive, scores)


def conversion_rate(sweep: Sweep, folder: Path) -> float | None:
    """IAGAN's conversion rate of the anomaly-class queries (None when the stage wrote none)."""
    path = folder / f"aug_iagan_{sweep.anomaly}" / "summary.json"
    if not path.exists():
        return None
    summary = read_json(path, error=SystemExit)
    found = summary.get("conversion", {}).get("per_query_class", {}).get(sweep.anomaly, {})
    rate = found.get("conversion_rate")
    return None if rate is None else float(rate)


def load_run(sweep: Sweep, folder: Path, seed: int) -> Run:
    """A finished run's detections (every detector of the map) and conversion rate."""
    check_recipe(sweep, folder)
    tables = {stage: read_scores(folder / stage / "scores.csv", sweep.anomaly) for stage in STAGES}
    detections = {}
    for name, (stage, method, suffix) in DETECTORS.items():
        found = detection(tables[stage], method, suffix)
        if found is not None:
            detections[name] = found
    return Run(seed, detections, conversion_rate(sweep, folder))


def load_sweep(sweep: Sweep) -> tuple[list[Run], list[dict[str, Any]]]:
    """The finished runs of a sweep, and a left-out note for each expected seed missing or unfinished."""
    root = sweep.path / SETTING
    found = {int(p.name.removeprefix("seed-")) for p in root.glob("seed-*") if p.name[5:].isdigit()}
    runs: list[Run] = []
    left_out: list[dict[str, Any]] = []
    for seed in sorted(found | set(SEEDS)):
        folder = root / f"seed-{seed}"
        if is_finished(folder):
            runs.append(load_run(sweep, folder, seed))
            continue
        reason = (
            "run unfinished (no done.json from both evaluate stages)" if folder.exists() else "run missing"
        )
        base = {"pair": sweep.pair, "n_train": sweep.n_train, "seed": seed}
        left_out.append({"what": f"{sweep.label()} seed {seed}", **base, "reason": reason})
    if not runs:
        raise SystemExit(f"{sweep.path}: no finished run under {root} (expected seed-0 .. seed-{SEEDS[-1]})")
    return runs, left_out


def seed_aucs(run: Run, detector: str) -> dict[str, float]:
    """AUC of each augmentation for one detector in one run (only finite ones)."""
    found = run.detections.get(detector)
    if found is None:
        return {}
    values = {aug: auc(scores, found.positive) for aug, scores in found.scores.items()}
    return {aug: value for aug, value in values.items() if math.isfinite(value)}


def interval(values: dict[int, float]) -> dict[str, Any]:
    """Mean and 95% t-interval over seeds (null bounds with fewer than two seeds)."""
    summary = over_seeds(list(values.values()))
    enough = summary.n >= MIN_SEEDS
    return {
        "mean": _number(summary.mean),
        "ci_low": _number(summary.low) if enough else None,
        "ci_high": _number(summary.high) if enough else None,
        "per_seed": {str(seed): value for seed, value in sorted(values.items())},
    }


def paired(runs: Sequence[Run], detector: str, a: str, b: str) -> dict[str, Any]:
    """AUC(a) − AUC(b) over the seeds that have both, with each seed's DeLong p-value."""
    diffs: dict[int, float] = {}
    p_values: dict[str, float] = {}
    for run in runs:
        aucs = seed_aucs(run, detector)
        if a in aucs and b in aucs:
            diffs[run.seed] = aucs[a] - aucs[b]
            found = run.detections[detector]
            p_values[str(run.seed)] = delong(found.scores[a], found.scores[b], found.positive).p_value
    return {**interval(diffs), "p_delong": p_values, "seeds": sorted(diffs)}


def cell(sweep: Sweep, runs: Sequence[Run], detector: str, aug: str) -> dict[str, Any]:
    """One (pair, N, detector, augmentation): AUC over seeds and the paired deltas."""
    delta = paired(runs, detector, aug, "none")
    seeds = delta.pop("seeds")
    per_seed = {run.seed: seed_aucs(run, detector)[aug] for run in runs if run.seed in seeds}
    summary = over_seeds(list(per_seed.values()))
    rates = {str(run.seed): run.conversion for run in runs if run.conversion is not None}
    found: dict[str, Any] = {
        "pair": sweep.pair,
        "n_train": sweep.n_train,
        "detector": detector,
        "augmentation": aug,
        "auc": {
            "mean": _number(summary.mean),
            "sd": _number(summary.std),
            "per_seed": {str(s): v for s, v in per_seed.items()},
        },
        "delta": delta,
        "seeds": seeds,
        "wins": [int(s) for s, v in delta["per_seed"].items() if v > 0],
        "iagan_conversion": {
            "mean": _number(float(np.mean(list(rates.values())))) if rates else None,
            "per_seed": rates,
        },
    }
    if aug == "iagan":
        versus = paired(runs, detector, "iagan", "classical")
        found["delta_vs_classical"] = versus
    return found


def cell_notes(found: dict[str, Any]) -> list[dict[str, Any]]:
    """Left-out notes for a cell whose intervals rest on fewer than two seeds."""
    what = f"{found['pair']} N={found['n_train']} {found['detector']} {found['augmentation']}"
    key = {k: found[k] for k in ("pair", "n_train", "detector", "augmentation")}
    notes = []
    if len(found["seeds"]) < MIN_SEEDS:
        reason = f"{len(found['seeds'])} seed(s) with both it and the control; a t-interval needs {MIN_SEEDS}"
        notes.append({"what": what, **key, "reason": reason})
    versus = found.get("delta_vs_classical")
    if versus is not None and len(versus["seeds"]) < MIN_SEEDS <= len(found["seeds"]):
        reason = (
            f"{len(versus['seeds'])} seed(s) with both IAGAN and classical; no interval against classical"
        )
        notes.append({"what": what + " vs classical", **key, "reason": reason})
    return notes


def beats_both(found: dict[str, Any] | None) -> bool:
    """IAGAN's interval lies above zero against the control and against classical augmentation."""
    if found is None:
        return False
    low, versus = found["delta"]["ci_low"], found["delta_vs_classical"]["ci_low"]
    return low is not None and versus is not None and low > 0 and versus > 0


def regimes(cells: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per (N, detector): on which pairs IAGAN beats both, and whether that holds on two pairs."""
    index = {(c["pair"], c["n_train"], c["detector"], c["augmentation"]): c for c in cells}
    out = []
    for n in sorted({c["n_train"] for c in cells}):
        pairs = ordered({c["pair"] for c in cells if c["n_train"] == n})
        for detector in DETECTORS:
            verdicts = {pair: beats_both(index.get((pair, n, detector, "iagan"))) for pair in pairs}
            winners = [pair for pair, won in verdicts.items() if won]
            out.append(
                {
                    "n_train": n,
                    "detector": detector,
                    "pairs": verdicts,
                    "beats_both": winners,
                    "met": len(winners) >= PAIRS_NEEDED,
                }
            )
    return out


def target(found: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Whether any regime is met, which ones, and one sentence saying so."""
    met = [{"n_train": r["n_train"], "detector": r["detector"]} for r in found if r["met"]]
    rule = (
        "beat both the steps-matched real-only control and classical augmentation (95% t-interval of the "
        f"paired ΔAUC over seeds above zero) on at least {PAIRS_NEEDED} of {len(PAIRS)} digit pairs"
    )
    if met:
        where = ", ".join(f"N={m['n_train']} {m['detector']}" for m in met)
        text = f"IAGAN augmentation {rule} in {len(met)} (training-set size, detector) regime(s): {where}."
    else:
        text = f"In no (training-set size, detector) regime did IAGAN augmentation {rule}."
    return {"met": bool(met), "regimes_met": met, "text": text}


def ordered(pairs: Iterable[str]) -> list[str]:
    """The map's pairs in its own order, any others after them."""
    found = set(pairs)
    return [p for p in PAIRS if p in found] + sorted(found - set(PAIRS))


def summarise(loaded: dict[Sweep, tuple[list[Run], list[dict[str, Any]]]]) -> dict[str, Any]:
    """The summary object: cells, left-out notes, regimes and the target."""
    cells: list[dict[str, Any]] = []
    left_out: list[dict[str, Any]] = [dict(SIZE_NOTE)]
    for sweep in sorted(loaded, key=lambda s: (ordered([s.pair, *PAIRS]).index(s.pair), s.n_train)):
        runs, missing = loaded[sweep]
        left_out += missing
        for detector in DETECTORS:
            for aug in AUGMENTATIONS:
                found = cell(sweep, runs, detector, aug)
                cells.append(found)
                left_out += cell_notes(found)
    found_regimes = regimes(cells)
    return {"cells": cells, "left_out": left_out, "regimes": found_regimes, "target": target(found_regimes)}


def signed(value: float) -> str:
    """``+0.012`` / ``−0.020`` (a true minus sign)."""
    return f"{value:+.3f}".replace("-", MINUS)


def delta_text(delta: dict[str, Any] | None) -> str:
    """``+0.012 [−0.020, +0.044]``; a single seed shows its count instead of an interval."""
    if delta is None or delta["mean"] is None:
        return "—"
    if delta["ci_low"] is None:
        return f"{signed(delta['mean'])} ({len(delta['per_seed'])} seed)"
    return f"{signed(delta['mean'])} [{signed(delta['ci_low'])}, {signed(delta['ci_high'])}]"


def auc_text(found: dict[str, Any]) -> str:
    """AUC mean ± SD over seeds."""
    mean, sd = found["auc"]["mean"], found["auc"]["sd"]
    if mean is None:
        return "—"
    return f"{mean:.3f}" + (f" ± {sd:.3f}" if sd is not None else f" ({len(found['seeds'])} seed)")


def pair_table(cells: Sequence[dict[str, Any]], pair: str) -> list[str]:
    """One pair's Markdown table: rows (N, detector), columns the deltas over the control."""
    index = {(c["n_train"], c["detector"], c["augmentation"]): c for c in cells if c["pair"] == pair}
    trained, anomaly = pair.split("-", 1)
    out = [
        f"## {trained} vs {anomaly}",
        "",
        "| N | detector | AUC none | Δ self | Δ IAGAN | Δ classical | Δ IAGAN − classical "
        "| IAGAN conversion (anomaly queries) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for n in sorted({key[0] for key in index}):
        for detector in DETECTORS:
            if (n, detector, "none") not in index:
                continue
            row = {aug: index.get((n, detector, aug)) for aug in AUGMENTATIONS}
            iagan = row["iagan"]
            rate = row["none"]["iagan_conversion"]["mean"]
            out.append(
                f"| {n} | {detector} | {auc_text(row['none'])} "
                + "".join(f"| {delta_text(row[a]['delta'] if row[a] else None)} " for a in AUGMENTATIONS[1:])
                + f"| {delta_text(iagan.get('delta_vs_classical') if iagan else None)} "
                + f"| {'—' if rate is None else f'{rate:.2f}'} |"
            )
    return [*out, ""]


def regime_table(found: Sequence[dict[str, Any]]) -> list[str]:
    """N × detector: the pairs where IAGAN beats both the control and classical (✓ = regime met)."""
    out = [
        "## Regimes",
        "",
        f"Pairs where IAGAN beats both the control and classical augmentation; ✓ = met "
        f"(at least {PAIRS_NEEDED} pairs).",
        "",
        "| N | " + " | ".join(DETECTORS) + " |",
        "|---|" + "---|" * len(DETECTORS),
    ]
    by_key = {(r["n_train"], r["detector"]): r for r in found}
    for n in sorted({r["n_train"] for r in found}):
        entries = []
        for detector in DETECTORS:
            regime = by_key[(n, detector)]
            text = ", ".join(regime["beats_both"]) or "—"
            entries.append(text + (" ✓" if regime["met"] else ""))
        out.append(f"| {n} | " + " | ".join(entries) + " |")
    return [*out, ""]


def table(summary: dict[str, Any], command: str) -> str:
    """The Markdown page: how it was made, a table per pair, the regimes and what was left out."""
    cells = summary["cells"]
    out = [
        "# The augmentation regime map",
        "",
        f"Written by `{command}`.",
        "",
        "AUC none: the steps-matched real-only control, mean ± SD over seeds. Δ: AUC(augmentation) − "
        "AUC(none), paired on the same test images per seed, mean [95% t-interval over seeds]; "
        "Δ IAGAN − classical likewise. Conversion: IAGAN's conversion rate of the held-out anomaly "
        "queries, mean over seeds.",
        "",
        f"**Target:** {summary['target']['text']}",
        "",
    ]
    for pair in ordered(c["pair"] for c in cells):
        out += pair_table(cells, pair)
    out += regime_table(summary["regimes"])
    out += ["## Left out", "", *left_out_lines(summary["left_out"])]
    return "\n".join(out) + "\n"


def left_out_lines(notes: Sequence[dict[str, Any]]) -> list[str]:
    """The left-out notes as a list, the cells of one (pair, N) with one reason on one line."""
    lines: dict[str, list[str]] = {}
    for note in notes:
        if "augmentation" in note:
            head = f"{note['pair']} N={note['n_train']}: {note['reason']}"
            lines.setdefault(head, []).append(
                note["what"].removeprefix(f"{note['pair']} N={note['n_train']} ")
            )
        else:
            lines[f"{note['what']}: {note['reason']}"] = []
    every = len(DETECTORS) * len(AUGMENTATIONS)
    out = []
    for head, which in lines.items():
        if not which:
            out.append(f"- {head}")
        else:
            listed = "every detector and augmentation" if len(which) == every else "; ".join(which)
            out.append(f"- {head} ({listed})")
    return out


def figure(summary: dict[str, Any], path: Path) -> Path:
    """ΔAUC over the control against N: columns = pairs, rows = detectors, a line per augmentation."""
    cells = summary["cells"]
    pairs = ordered(c["pair"] for c in cells)
    detectors = list(DETECTORS)
    fig = Figure(figsize=(max(3.8 * len(pairs), 7.0), 2.4 * len(detectors)), layout="constrained")
    axes = fig.subplots(len(detectors), len(pairs), squeeze=False, sharey="row")
    shift = {"self": 0.93, "iagan": 1.0, "classical": 1.07}
    colors = {"self": "tab:orange", "iagan": "tab:blue", "classical": "tab:green"}
    index = {(c["pair"], c["n_train"], c["detector"], c["augmentation"]): c for c in cells}
    every_size = sorted({c["n_train"] for c in cells})
    for col, pair in enumerate(pairs):
        sizes = sorted({c["n_train"] for c in cells if c["pair"] == pair})
        for row, detector in enumerate(detectors):
            ax = axes[row][col]
            ax.axhline(0.0, color="grey", linestyle="--", linewidth=1, label="none (control)")
            for aug in ("self", "iagan", "classical"):
                deltas = [index[(pair, n, detector, aug)]["delta"] for n in sizes]
                mean = np.array([np.nan if d["mean"] is None else d["mean"] for d in deltas])
                low = np.array([np.nan if d["ci_low"] is None else d["ci_low"] for d in deltas])
                high = np.array([np.nan if d["ci_high"] is None else d["ci_high"] for d in deltas])
                x = np.array(sizes, dtype=float) * shift[aug]
                ax.errorbar(
                    x,
                    mean,
                    yerr=[mean - low, high - mean],
                    marker="o",
                    capsize=3,
                    color=colors[aug],
                    label=aug,
                )
            ax.set_xscale("log")
            ax.set_xlim(every_size[0] * 0.75, every_size[-1] * 1.33)
            ax.set_xticks(every_size, [str(n) for n in every_size])
            ax.minorticks_off()
            ax.set_title(f"{pair.replace('-', ' vs ')} · {detector}", fontsize=10)
            if row == len(detectors) - 1:
                ax.set_xlabel("training images N")
            if col == 0:
                ax.set_ylabel("ΔAUC vs control")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=len(labels))
    fig.suptitle(
        "Augmentation regime map: ΔAUC over the real-only control\n(mean, 95% t-interval over seeds)"
    )
    return save_figure(fig, path, dpi=110)


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sweeps", nargs="+", type=Path, help="map-T-A-N sweep folders")
    parser.add_argument("--out", type=Path, default=Path("docs/results/augmentation"))
    parser.add_argument(
        "--not-run",
        action="append",
        default=[],
        metavar="[PAIR:]N=REASON",
        help="a training-set size (of one pair, or every pair) the map has recipes for but whose runs "
        "were not made, and why (named under Left out)",
    )
    return parser.parse_args(list(argv))


def not_run_notes(items: Sequence[str]) -> list[dict[str, Any]]:
    """``[PAIR:]N=REASON`` arguments as left-out notes; a malformed one is a clear exit."""
    notes = []
    for item in items:
        where, _, reason = item.partition("=")
        pair, _, size = where.strip().rpartition(":")
        if not size.isdigit() or not reason.strip() or (pair and not re.fullmatch(r"[^-:]+-[^-:]+", pair)):
            raise SystemExit(f"--not-run {item!r}: expected [PAIR:]N=REASON, e.g. 9-4:100='no machine time'")
        note: dict[str, Any] = {"what": f"{pair} N={int(size)}" if pair else f"N = {int(size)}"}
        note["n_train"] = int(size)
        if pair:
            note["pair"] = pair
        notes.append({**note, "reason": reason.strip()})
    return notes


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    not_run = not_run_notes(args.not_run)
    sweeps = [parse_sweep(path) for path in args.sweeps]
    labels = [s.label() for s in sweeps]
    if len(set(labels)) != len(labels):
        raise SystemExit(f"the same pair and size given twice: {sorted(labels)}")
    summary = summarise({sweep: load_sweep(sweep) for sweep in sweeps})
    summary["left_out"][1:1] = not_run
    command = shlex.join([".venv/bin/python", "scripts/augmentation_summary.py", *map(str, args.sweeps)])
    command += f" --out {shlex.quote(str(args.out))}"
    command += "".join(f" --not-run {shlex.quote(item)}" for item in args.not_run)
    write_json(args.out / "summary.json", summary)
    write_text(args.out / "table.md", table(summary, command))
    figure(summary, args.out / "map.png")
    print(f"wrote summary.json, table.md and map.png to {args.out} ({len(sweeps)} sweeps)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
