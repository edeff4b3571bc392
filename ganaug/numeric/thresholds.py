"""Decision thresholds on anomaly scores: fitted on labelled scores, applied to new ones.

An image is called anomalous when its score is at or above the threshold (higher = more
anomalous). A fitted threshold lies halfway between the lowest flagged score and the next lower
one, so new images just below the fitting set's cut are not flagged by a hair.
"""

from __future__ import annotations

import math
from typing import Any

import attrs
import numpy as np

RULES = ("f1-max", "fpr")


@attrs.frozen
class Threshold:
    """A decision threshold for one scoring ``method``: its ``value``, the ``rule`` that fitted it
    (``f1-max`` or ``fpr`` with ``target_fpr``), the anomalous class and what it was fitted on."""

    value: float
    rule: str
    method: str
    positive: str
    fitted_on: str = ""
    target_fpr: float | None = None

    def decide(self, score: float) -> bool:
        """Whether ``score`` is called anomalous."""
        return score >= self.value

    def to_json(self) -> dict[str, Any]:
        return attrs.asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Threshold:
        """Read back; a threshold that is not a finite number is a ValueError (it would decide
        every image the same way)."""
        fields = {f.name for f in attrs.fields(cls)}
        value = data.get("value")
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise ValueError(f"threshold value must be a finite number, got {value!r}")
        return cls(**{k: v for k, v in data.items() if k in fields})


def _cuts(scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct scores, highest first, and the threshold that flags exactly the scores >= each."""
    values = np.unique(scores)[::-1]
    below = np.append(values[1:], values[-1])
    return values, (values + below) / 2


def _counts(scores: np.ndarray, positive: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """True and false positives when every score >= each of ``values`` is flagged."""
    order = np.sort(scores[positive])
    neg = np.sort(scores[~positive])
    tp = len(order) - np.searchsorted(order, values, side="left")
    fp = len(neg) - np.searchsorted(neg, values, side="left")
    return tp, fp


def f1_max(scores: np.ndarray, positive: np.ndarray) -> tuple[float, float] | None:
    """The threshold with the highest F1 and that F1 (ties: the highest threshold); None without
    positives."""
    scores, positive = np.asarray(scores, dtype=np.float64), np.asarray(positive, dtype=bool)
    if scores.size == 0 or not positive.any():
        return None
    values, thresholds = _cuts(scores)
    tp, fp = _counts(scores, positive, values)
    f1 = 2 * tp / (2 * tp + fp + (positive.sum() - tp))
    best = int(np.argmax(f1))
    return float(thresholds[best]), float(f1[best])


def at_fpr(scores: np.ndarray, positive: np.ndarray, target: float) -> float | None:
    """The lowest threshold whose false-positive rate on these scores is at most ``target`` (the
    most sensitive one that keeps it); None without negatives."""
    scores, positive = np.asarray(scores, dtype=np.float64), np.asarray(positive, dtype=bool)
    negatives = int((~positive).sum())
    if negatives == 0:
        return None
    values, thresholds = _cuts(scores)
    _, fp = _counts(scores, positive, values)
    allowed = np.nonzero(fp / negatives <= target + 1e-12)[0]
    if allowed.size == 0:  # even the highest score is a negative too many: flag nothing
        return float(np.nextafter(values[0], np.inf))
    return float(thresholds[allowed[-1]])


def rates(scores: np.ndarray, positive: np.ndarray, threshold: float) -> dict[str, Any]:
    """Sensitivity, specificity, precision, F1, accuracy and the counts at ``threshold``
    (a rate with an empty denominator is None)."""
    scores, positive = np.asarray(scores, dtype=np.float64), np.asarray(positive, dtype=bool)
    flagged = scores >= threshold
    tp = int((flagged & positive).sum())
    fp = int((flagged & ~positive).sum())
    fn = int((~flagged & positive).sum())
    tn = int((~flagged & ~positive).sum())

    def ratio(a: int, b: int) -> float | None:
        return a / b if b else None

    return {
        "sensitivity": ratio(tp, tp + fn),
        "specificity": ratio(tn, tn + fp),
        "precision": ratio(tp, tp + fp),
        "f1": ratio(2 * tp, 2 * tp + fp + fn),
        "accuracy": ratio(tp + tn, len(scores)),
        "tp": tp,
        "fp": fp,
        "tn": tn,
        "fn": fn,
    }
