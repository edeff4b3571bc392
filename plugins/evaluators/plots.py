"""Figures of the ROC evaluator: ROC curves (paper Fig. 6) and mean score per class (Fig. 7).

Figures are built with ``matplotlib.figure.Figure`` (no pyplot state, Agg rendering) and written
atomically through :func:`ganaug.runtime.io.save_figure`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from ganaug.kit.figures import color as _color
from ganaug.runtime.io import save_figure


def plot_roc(curves: Mapping[str, Mapping[str, Any]], path: Path, title: str = "ROC") -> Path:
    """One ROC curve per entry: ``{label: {"fpr": [...], "tpr": [...], "auc": float}}``."""
    fig = Figure(figsize=(5, 5))
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1], color="0.6", linestyle=":", linewidth=1, label="chance")
    for i, (label, curve) in enumerate(curves.items()):
        auc = curve.get("auc")
        text = f"{label} (AUC {auc:.3f})" if auc is not None else label
        ax.plot(curve["fpr"], curve["tpr"], color=_color(i), linewidth=1.6, label=text)
    ax.set(
        xlabel="false positive rate", ylabel="true positive rate", title=title, xlim=(0, 1), ylim=(0, 1.01)
    )
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    return save_figure(fig, path, dpi=120)


def plot_scores_by_class(
    means: Mapping[str, Mapping[str, float]],
    stds: Mapping[str, Mapping[str, float]],
    path: Path,
    title: str = "mean anomaly score per class",
) -> Path:
    """Grouped bars: for each model (x), one bar per class with its mean score and std."""
    models = list(means)
    classes = sorted({c for m in models for c in means[m]})
    fig = Figure(figsize=(max(4.0, 1.6 * len(models) + 2), 4))
    ax = fig.add_subplot()
    width = 0.8 / max(1, len(classes))
    x = np.arange(len(models))
    for j, cls in enumerate(classes):
        heights = [means[m].get(cls, np.nan) for m in models]
        errors = [stds[m].get(cls, 0.0) for m in models]
        bars = ax.bar(x + (j - (len(classes) - 1) / 2) * width, heights, width, yerr=errors, capsize=3)
        for bar in bars:
            bar.set_color(_color(j))
        bars.set_label(cls)
        ax.bar_label(bars, fmt="%.4g", fontsize=7, padding=2)
    ax.set_xticks(x, models, rotation=15 if len(models) > 3 else 0)
    ax.set(ylabel="score", title=title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return save_figure(fig, path, dpi=120)
