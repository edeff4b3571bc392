"""ROC evaluation of the score table: AUC with a bootstrap CI, AUPR, F1-max, ROC curves, mean score
per class.

Higher score = more anomalous; ``ctx.positive`` names the anomalous (positive) class. Metrics go
to ``ctx.metrics[model][method]``; ``roc.png`` (paper Fig. 6) and ``scores-by-class.png`` (Fig. 7).
"""

from __future__ import annotations

import zlib
from collections import defaultdict
from typing import Any

import attrs
import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve

from ganaug.api.interfaces import EvalContext
from ganaug.api.options import option
from ganaug.numeric.stats import rank_auc
from ganaug.numeric.thresholds import f1_max
from ganaug_plugins.evaluators.plots import plot_roc, plot_scores_by_class

BLOCK = 200  # bootstrap resamples ranked at once (bounded memory for large test sets)


@attrs.frozen
class RocOptions:
    """Options of the ROC evaluation of the score table."""

    bootstrap: int = option(
        1000, validator=attrs.validators.ge(0), help="bootstrap resamples for the AUC's CI (0: no CI)"
    )
    confidence: float = option(
        0.95,
        validator=[attrs.validators.gt(0), attrs.validators.lt(1)],
        help="confidence level of the AUC's CI",
    )
    curves: list[str] = option(factory=lambda: ["anogan"], help="scoring methods drawn on roc.png")
    bars: str = option("anogan", help="the method whose per-class mean scores scores-by-class.png shows")


def bootstrap_ci(
    scores: np.ndarray, positive: np.ndarray, resamples: int, confidence: float, rng: np.random.Generator
) -> tuple[float | None, float | None, int]:
    """Percentile CI of the AUC over ``resamples`` bootstrap resamples (one-class draws dropped)."""
    n = len(scores)
    values: list[np.ndarray] = []
    for start in range(0, resamples, BLOCK):
        idx = rng.integers(0, n, size=(min(BLOCK, resamples - start), n))
        values.append(rank_auc(scores[idx], positive[idx]))
    aucs = np.concatenate(values) if values else np.zeros(0)
    aucs = aucs[np.isfinite(aucs)]
    if aucs.size == 0:
        return None, None, 0
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(aucs, [tail, 100 - tail])
    return float(low), float(high), int(aucs.size)


def roc_metrics(
    scores: np.ndarray, labels: list[str], positive: str, resamples: int, confidence: float, seed: int
) -> dict[str, Any]:
    """AUC, its CI, ROC curve points, AUPR (average precision), F1-max with its threshold (both on
    these scores, so optimistic; the evaluate stage's validation thresholds are not), and per-class
    mean/std/count of one model's scores."""
    y = np.asarray([label == positive for label in labels])
    out: dict[str, Any] = {"mean_score": {}, "std_score": {}, "n": {}}
    for cls in sorted(set(labels)):
        values = scores[np.asarray([label == cls for label in labels])]
        out["mean_score"][cls] = float(values.mean())
        out["std_score"][cls] = float(values.std(ddof=1)) if values.size > 1 else 0.0
        out["n"][cls] = int(values.size)
    if y.all() or not y.any():
        out.update(auc=None, auc_ci_low=None, auc_ci_high=None, bootstrap=0, roc_curve=None)
        out.update(aupr=None, f1_max=None, f1_max_threshold=None)
        return out
    fpr, tpr, _ = roc_curve(y, scores)
    low, high, used = bootstrap_ci(scores, y, resamples, confidence, np.random.default_rng(seed))
    best = f1_max(scores, y)  # fitted on these same (test) scores: an optimistic bound
    out.update(
        aupr=float(average_precision_score(y, scores)),
        f1_max=best[1] if best else None,
        f1_max_threshold=best[0] if best else None,
    )
    out.update(
        auc=float(roc_auc_score(y, scores)),
        auc_ci_low=low,
        auc_ci_high=high,
        bootstrap=used,
        roc_curve={"fpr": fpr.tolist(), "tpr": tpr.tolist()},
    )
    return out


class RocEvaluator:
    """Turns the score rows of every (model, method) into ROC metrics and the two summary figures."""

    def __init__(self, options: RocOptions) -> None:
        self.options = options

    def methods_read(self) -> dict[str, list[str]]:
        """The methods its figures draw (ReadsMethods)."""
        return {"curves": list(self.options.curves), "bars": [self.options.bars]}

    def evaluate(self, ctx: EvalContext) -> None:
        groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
        for row in ctx.scores:
            groups[(row["model"], row["method"])].append(row)
        for (model, method), rows in groups.items():
            seed = zlib.crc32(f"{ctx.seed}/{model}/{method}".encode())  # independent of group order
            metrics = roc_metrics(
                np.asarray([float(r["score"]) for r in rows]),
                [str(r["label"]) for r in rows],
                ctx.positive,
                self.options.bootstrap,
                self.options.confidence,
                seed,
            )
            if metrics["auc"] is None:
                ctx.log.warning("roc: %s/%s has one class only; no AUC", model, method)
            ctx.metrics.setdefault(model, {}).setdefault(method, {}).update(metrics)
        self._figures(ctx, groups.keys())

    def _figures(self, ctx: EvalContext, keys: Any) -> None:
        keys = list(keys)
        curves: dict[str, dict[str, Any]] = {}
        for method in self.options.curves:
            for model, m in keys:
                found = ctx.metrics[model][m]
                if m == method and found.get("roc_curve"):
                    label = model if len(self.options.curves) == 1 else f"{model} {method}"
                    curves[label] = {**found["roc_curve"], "auc": found["auc"]}
        if curves:
            title = f"ROC, positive = {ctx.positive}"
            ctx.files.append(plot_roc(curves, ctx.dir / "roc.png", title=title))
        bars = [model for model, m in keys if m == self.options.bars]
        if bars:
            means = {model: ctx.metrics[model][self.options.bars]["mean_score"] for model in bars}
            stds = {model: ctx.metrics[model][self.options.bars]["std_score"] for model in bars}
            title = f"mean {self.options.bars} score per class"
            ctx.files.append(plot_scores_by_class(means, stds, ctx.dir / "scores-by-class.png", title=title))
