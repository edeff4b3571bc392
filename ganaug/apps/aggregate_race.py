"""The detector race of a sweep: every detector against the best classical baseline, over seeds.

For one evaluate stage and one setting, every (model, method) score column is an entry; its role
(detector, control, baseline) comes from the stage's ``methods.json``. The best baseline and the
best detector are the entries of their role with the highest mean AUC over seeds; each detector is
compared with that baseline on the same test images, per seed by DeLong's test, and over seeds by
the mean difference with its t-interval and the seeds it wins.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any

import numpy as np

from ganaug.numeric.stats import auc, delong, over_seeds

if TYPE_CHECKING:
    from ganaug.apps.aggregate_records import RunRecord, Scores

Key = tuple[str, str]  # (model, method)


def entry_name(key: Key) -> str:
    """``model/method``: how an entry is named in the aggregate."""
    return f"{key[0]}/{key[1]}"


def aligned(scores: Scores, a: Key, b: Key) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Two score columns on the images both scored, and which are positive (None: a column is
    missing, or those images are of one class)."""
    sa, sb = scores.by_model.get(a), scores.by_model.get(b)
    if not sa or not sb:
        return None
    images = sorted(set(sa) & set(sb))
    y = np.array([scores.labels[i] == scores.positive for i in images], dtype=bool)
    if y.all() or not y.any():
        return None
    return np.array([sa[i] for i in images]), np.array([sb[i] for i in images]), y


def verdict(difference: dict[str, Any]) -> str:
    """In words: does the detector beat the baseline by more than the interval over seeds?"""
    n, low, high = difference.get("n", 0), difference.get("low"), difference.get("high")
    if n < 2 or low is None or high is None or not np.isfinite([low, high]).all():
        return "one seed: no interval"
    if low > 0:
        return "wins by more than the interval"
    if high < 0:
        return "loses by more than the interval"
    return "level: the interval holds 0"


def _entries(recs: list[RunRecord], stage: str) -> dict[Key, dict[str, Any]]:
    """Every scored (model, method) with a known role: its role and AUC per seed."""
    found: dict[Key, dict[str, Any]] = {}
    for rec in recs:
        scores = rec.evaluations[stage]
        for key, by_image in scores.by_model.items():
            role = scores.roles.get(key[1])
            if role not in ("detector", "baseline"):
                continue
            y = np.array([scores.labels[i] == scores.positive for i in by_image], dtype=bool)
            value = auc(np.array(list(by_image.values())), y)
            entry = found.setdefault(key, {"role": role, "per_seed": {}})
            entry["per_seed"][rec.seed] = value
    return found


def _best(entries: dict[Key, dict[str, Any]], role: str) -> Key | None:
    means = {
        k: over_seeds(list(e["per_seed"].values())).mean for k, e in entries.items() if e["role"] == role
    }
    means = {k: m for k, m in means.items() if np.isfinite(m)}
    return max(means, key=lambda k: means[k], default=None)


def _compare(recs: list[RunRecord], stage: str, detector: Key, baseline: Key) -> dict[str, Any]:
    per_seed = []
    for rec in sorted(recs, key=lambda r: r.seed):
        data = aligned(rec.evaluations[stage], detector, baseline)
        if data is None:
            continue
        test = delong(*data)
        per_seed.append({"seed": rec.seed, "images": int(data[2].size), "delong": test.as_dict()})
    diffs = [p["delong"]["difference"] for p in per_seed]
    difference = over_seeds(diffs).as_dict()
    return {
        "detector": entry_name(detector),
        "baseline": entry_name(baseline),
        "per_seed": per_seed,
        "difference": difference,
        "wins": sum(d > 0 for d in diffs),
        "seeds": len(diffs),
        "verdict": verdict(difference),
    }


def race(records: list[RunRecord], stage: str) -> dict[str, Any]:
    """setting -> entries (role, AUC over seeds), the best baseline and detector, and every
    detector compared with the best baseline (empty for runs whose stage recorded no roles)."""
    by_setting: dict[str, list[RunRecord]] = defaultdict(list)
    for rec in records:
        if stage in rec.evaluations:
            by_setting[rec.setting].append(rec)
    out: dict[str, Any] = {}
    for setting, recs in by_setting.items():
        entries = _entries(recs, stage)
        best_baseline, best_detector = _best(entries, "baseline"), _best(entries, "detector")
        if best_baseline is None or best_detector is None:
            continue
        detectors = [k for k, e in entries.items() if e["role"] == "detector"]
        out[setting] = {
            "entries": {
                entry_name(k): {
                    "role": e["role"],
                    "auc": {
                        **over_seeds(list(e["per_seed"].values())).as_dict(),
                        "seeds": sorted(e["per_seed"]),
                    },
                }
                for k, e in entries.items()
            },
            "best_baseline": entry_name(best_baseline),
            "best_detector": entry_name(best_detector),
            "comparisons": [_compare(recs, stage, k, best_baseline) for k in detectors],
        }
    return out
