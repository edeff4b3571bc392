"""The evaluate stage's tables: ``scores.csv`` and the Markdown comparison report."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ganaug.io import write_text

SCORE_COLUMNS = ("image", "label", "model", "method", "residual", "discrimination", "score")
GAN, CONTROL, BASELINE = "anogan", "anogan@init", "l1-mean"


def write_rows_csv(rows: Iterable[Mapping[str, Any]], columns: Sequence[str], path: Path) -> Path:
    """A CSV of ``columns``; empty cells for values a row does not have (None)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in columns})
    return write_text(path, buffer.getvalue())


def write_scores_csv(rows: Iterable[Mapping[str, Any]], path: Path) -> Path:
    """One line per (image, model, method) of the score table."""
    return write_rows_csv(rows, SCORE_COLUMNS, path)


def read_scores_csv(path: Path) -> list[dict[str, Any]]:
    """Read ``scores.csv`` back; numbers as floats, empty cells as None."""
    with open(path, encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        for key in ("residual", "discrimination", "score"):
            row[key] = float(row[key]) if row[key] not in ("", None) else None
    return rows


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


def comparison_table(metrics: Mapping[str, Mapping[str, Any]], classes: Sequence[str]) -> list[str]:
    """One row per model: AnoGAN AUC with CI, no-search control, L1 baseline, mean score per class."""
    head = ["model", "AnoGAN AUC [95% CI]", "AnoGAN@init AUC", "L1-mean AUC", "beats L1-mean"]
    head += [f"mean score {c}" for c in classes]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for model, methods in metrics.items():
        gan, base = methods.get(GAN), methods.get(BASELINE)
        cells = [model, _auc(gan, ci=True), _auc(methods.get(CONTROL)), _auc(base), _verdict(gan, base)]
        means = (gan or {}).get("mean_score", {})
        stds = (gan or {}).get("std_score", {})
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


def markdown_report(
    title: str,
    metrics: Mapping[str, Mapping[str, Any]],
    positive: str,
    classes: Sequence[str],
    images: Sequence[str],
) -> str:
    """The stage's ``report.md``: comparison table, all AUCs, and the figures (relative links)."""
    parts = [
        f"# {title}",
        "",
        f"Positive (anomalous) class: **{positive}**; higher score = more anomalous.",
        "A GAN detector should beat the trivial L1-to-mean-training-image baseline (L1-mean);",
        "AnoGAN@init scores at the search's starting point (no search), the control for the search.",
        "",
        *comparison_table(metrics, classes),
        "",
        "## All methods",
        "",
        *all_methods_table(metrics),
        "",
        "## Figures",
        "",
    ]
    parts += [f"![{Path(name).stem}]({name})" for name in images]
    return "\n".join(parts) + "\n"
