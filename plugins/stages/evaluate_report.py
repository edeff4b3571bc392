"""The evaluate stage's Markdown report; its comparison columns are the methods evaluators declare."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ganaug.api.capabilities import Method
from ganaug.numeric.stats import delong


def _auc(found: Mapping[str, Any] | None, ci: bool = False) -> str:
    if not found or found.get("auc") is None:
        return "—"
    text = f"{found['auc']:.3f}"
    if ci and found.get("auc_ci_low") is not None:
        text += f" [{found['auc_ci_low']:.3f}, {found['auc_ci_high']:.3f}]"
    return text


def _verdict(gan: Mapping[str, Any] | None, base: Mapping[str, Any] | None) -> str:
    if not gan or gan.get("auc") is None or not base or base.get("auc") is None:
        return "—"
    if gan["auc"] < base["auc"]:
        return "**no: below the baseline**"
    if gan["auc"] == base["auc"]:
        return "**no: ties the baseline**"
    low = gan.get("auc_ci_low")
    return "yes" if low is not None and low > base["auc"] else "yes (within CI)"


def _first(methods: Sequence[Method], role: str) -> Method | None:
    return next((m for m in methods if m.role == role), None)


def strongest(found: Mapping[str, Any], methods: Sequence[Method]) -> Method | None:
    """The baseline with the highest AUC among a model's results (the bar a detector must clear)."""
    scored = [m for m in methods if m.role == "baseline" and (found.get(m.name) or {}).get("auc") is not None]
    return max(scored, key=lambda m: found[m.name]["auc"], default=None)


def comparison_table(
    metrics: Mapping[str, Mapping[str, Any]], classes: Sequence[str], methods: Sequence[Method]
) -> list[str]:
    """One row per model, one AUC column per declared method (detectors with their CI), whether the
    first detector beats the strongest baseline of that model (the only baseline, when one is
    declared), and the first detector's mean score per class."""
    detector = _first(methods, "detector")
    baselines = [m for m in methods if m.role == "baseline"]
    head = ["model"]
    head += [f"{m.title} AUC [95% CI]" if m.role == "detector" else f"{m.title} AUC" for m in methods]
    if detector and baselines:
        head.append(f"beats {baselines[0].title}" if len(baselines) == 1 else "beats the strongest baseline")
    head += [f"mean score {c}" for c in classes] if detector else []
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for model, found in metrics.items():
        cells = [model] + [_auc(found.get(m.name), ci=m.role == "detector") for m in methods]
        gan = found.get(detector.name) if detector else None
        if detector and baselines:
            bar = strongest(found, baselines)
            verdict = _verdict(gan, found.get(bar.name) if bar else None)
            if bar and len(baselines) > 1:
                verdict += f" ({bar.title} {found[bar.name]['auc']:.3f})"
            cells.append(verdict)
        if detector:
            means, stds = (gan or {}).get("mean_score", {}), (gan or {}).get("std_score", {})
            cells += [f"{means[c]:.4g} ± {stds.get(c, 0):.3g}" if c in means else "—" for c in classes]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _paired_words(low: float, high: float) -> str:
    if low > 0:
        return "**wins** by more than the interval"
    if high < 0:
        return "**loses** by more than the interval"
    return "level: the interval holds 0"


def strongest_baseline_table(
    metrics: Mapping[str, Mapping[str, Any]],
    methods: Sequence[Method],
    scores: Sequence[Mapping[str, Any]],
    positive: str,
) -> list[str]:
    """Every detector of every model against that model's strongest baseline, paired on the same
    test images by DeLong's test ([] without detectors and baselines, or without scores)."""
    rows: dict[tuple[str, str], dict[str, float]] = {}
    labels: dict[str, bool] = {}
    for row in scores:
        if row.get("score") is not None:
            rows.setdefault((str(row["model"]), str(row["method"])), {})[str(row["image"])] = float(
                row["score"]
            )
            labels[str(row["image"])] = str(row["label"]) == positive
    lines = [
        "| model | detector | AUC | strongest baseline | its AUC | ΔAUC [95% CI, DeLong] | p | verdict |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for model, found in metrics.items():
        bar = strongest(found, methods)
        for m in (m for m in methods if m.role == "detector" and bar is not None):
            a, b = rows.get((model, m.name)), rows.get((model, bar.name))
            images = sorted(set(a) & set(b)) if a and b else []
            y = np.array([labels[i] for i in images], dtype=bool)
            if not images or y.all() or not y.any():
                continue
            test = delong([a[i] for i in images], [b[i] for i in images], y)
            lines.append(
                f"| {model} | {m.title} | {test.auc_a:.3f} | {bar.title} | {test.auc_b:.3f} "
                f"| {test.difference:+.3f} [{test.low:+.3f}, {test.high:+.3f}] | {test.p_value:.3g} "
                f"| {_paired_words(test.low, test.high)} |"
            )
    if len(lines) == 2:
        return []
    return [
        "## Against the strongest baseline",
        "",
        "Each detector against the classical baseline that scores highest on these test images for the",
        "same model (fitted on the same training images), paired on the same images. One seed: a sweep",
        "(`ganaug sweep`, `ganaug aggregate`) says whether a difference holds over training seeds.",
        "",
        *lines,
        "",
    ]


def all_methods_table(metrics: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Every (model, method) with its AUC, CI and image count."""
    lines = ["| model | method | AUC [95% CI] | images |", "|---|---|---|---|"]
    for model, methods in metrics.items():
        for method, found in methods.items():
            if isinstance(found, Mapping) and "auc" in found:
                count = sum(found.get("n", {}).values())
                lines.append(f"| {model} | {method} | {_auc(found, ci=True)} | {count} |")
    return lines


def timing_table(metrics: Mapping[str, Mapping[str, Any]], methods: Sequence[Method]) -> list[str]:
    """Search time per image of every (model, method) that records one (``seconds_per_image``), and
    how many times faster than the first declared detector on the same model ([] when none does)."""
    detector = _first(methods, "detector")
    lines = ["| model | method | seconds per image | speed-up |", "|---|---|---|---|"]
    for model, found in metrics.items():
        reference = (found.get(detector.name) or {}).get("seconds_per_image") if detector else None
        for method, entry in found.items():
            seconds = entry.get("seconds_per_image") if isinstance(entry, Mapping) else None
            if seconds is None:
                continue
            faster = f"{reference / seconds:.1f}x" if reference and seconds > 0 else "—"
            lines.append(f"| {model} | {method} | {seconds:.4g} | {faster} |")
    if len(lines) == 2:
        return []
    against = f"speed-up: against {detector.title} on the same model" if detector else ""
    return ["## Time per image", "", *lines, "", against] if against else ["## Time per image", "", *lines]


def markdown_report(
    title: str,
    metrics: Mapping[str, Mapping[str, Any]],
    positive: str,
    classes: Sequence[str],
    images: Sequence[str],
    methods: Sequence[Method] = (),
    scores: Sequence[Mapping[str, Any]] = (),
) -> str:
    """The stage's ``report.md``: comparison table, the detectors against the strongest baseline,
    all AUCs, time per image, and the figures (relative links)."""
    detector, baseline = _first(methods, "detector"), _first(methods, "baseline")
    several = sum(m.role == "baseline" for m in methods) > 1
    controls = [m.title for m in methods if m.role == "control"]
    timing = timing_table(metrics, methods)
    notes = []
    if detector and baseline and several:
        notes.append("A GAN detector has to beat the strongest classical baseline, not only the weakest;")
    elif detector and baseline:
        notes.append(f"A GAN detector should beat the {baseline.title} baseline;")
    if controls:
        notes.append(f"{', '.join(controls)}: control(s) for the detector (e.g. scores without the search).")
    parts = [
        f"# {title}",
        "",
        f"Positive (anomalous) class: **{positive}**; higher score = more anomalous.",
        *notes,
        "",
        *comparison_table(metrics, classes, methods),
        "",
        *strongest_baseline_table(metrics, methods, scores, positive),
        "## All methods",
        "",
        *all_methods_table(metrics),
        "",
        *([*timing, ""] if timing else []),
        "## Figures",
        "",
    ]
    parts += [f"![{Path(name).stem}]({name})" for name in images]
    return "\n".join(parts) + "\n"
