"""The evaluate stage's Markdown report; its comparison columns are the methods evaluators declare."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ganaug.capabilities import Method


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


def comparison_table(
    metrics: Mapping[str, Mapping[str, Any]], classes: Sequence[str], methods: Sequence[Method]
) -> list[str]:
    """One row per model, one AUC column per declared method (detectors with their CI), whether the
    first detector beats the first baseline, and the first detector's mean score per class."""
    detector, baseline = _first(methods, "detector"), _first(methods, "baseline")
    head = ["model"]
    head += [f"{m.title} AUC [95% CI]" if m.role == "detector" else f"{m.title} AUC" for m in methods]
    if detector and baseline:
        head.append(f"beats {baseline.title}")
    head += [f"mean score {c}" for c in classes] if detector else []
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for model, found in metrics.items():
        cells = [model] + [_auc(found.get(m.name), ci=m.role == "detector") for m in methods]
        gan = found.get(detector.name) if detector else None
        if detector and baseline:
            cells.append(_verdict(gan, found.get(baseline.name)))
        if detector:
            means, stds = (gan or {}).get("mean_score", {}), (gan or {}).get("std_score", {})
            cells += [f"{means[c]:.4g} ± {stds.get(c, 0):.3g}" if c in means else "—" for c in classes]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


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
) -> str:
    """The stage's ``report.md``: comparison table, all AUCs, and the figures (relative links)."""
    detector, baseline = _first(methods, "detector"), _first(methods, "baseline")
    controls = [m.title for m in methods if m.role == "control"]
    timing = timing_table(metrics, methods)
    notes = []
    if detector and baseline:
        notes.append(f"A GAN detector should beat the trivial {baseline.title} baseline;")
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
