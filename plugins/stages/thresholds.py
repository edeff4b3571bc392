"""Decision thresholds of the evaluate stage: fitted on a validation selection, applied to the test.

With ``validation`` set, the stage scores the validation images with its scoring evaluators (in
``validation/``), fits two thresholds per model and method on them (``f1-max``: the highest F1;
``fpr``: the most sensitive threshold whose false-positive rate stays at ``threshold_fpr``),
reports sensitivity, specificity and F1 on the test images at both, and stores them in
``thresholds.json``; ``threshold`` names the one that decides when the model scores new images.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ganaug.api.capabilities import ScoresImages, ScoringEvaluator
from ganaug.api.context import StageContext
from ganaug.api.interfaces import EvalContext, ImageSet, TrainedModel
from ganaug.api.scoring import Scorer
from ganaug.api.selection import ImageSelection
from ganaug.kit.tables import write_scores_csv
from ganaug.numeric.thresholds import Threshold, at_fpr, f1_max, rates
from ganaug.runtime.errors import CheckpointError, DataError
from ganaug.runtime.io import read_json, write_json

THRESHOLDS, VALIDATION = "thresholds.json", "validation"
FORMAT = 1


def describe(selection: ImageSelection, images: ImageSet, positive: str) -> str:
    """``split val, classes 3, 8: 40 images, 20 of class 3`` (what the thresholds were fitted on)."""
    classes = f", classes {', '.join(selection.classes)}" if selection.classes else ""
    n_pos = sum(1 for i in images.labels.tolist() if images.classes[i] == positive)
    return f"split {selection.split}{classes}: {len(images)} images, {n_pos} of class {positive}"


def _groups(rows: Sequence[Mapping[str, Any]]) -> dict[tuple[str, str], list[Mapping[str, Any]]]:
    groups: dict[tuple[str, str], list[Mapping[str, Any]]] = defaultdict(list)
    for row in rows:
        groups[(str(row["model"]), str(row["method"]))].append(row)
    return groups


def _arrays(rows: Sequence[Mapping[str, Any]], positive: str) -> tuple[np.ndarray, np.ndarray]:
    return (
        np.asarray([float(r["score"]) for r in rows], dtype=np.float64),
        np.asarray([str(r["label"]) == positive for r in rows], dtype=bool),
    )


def fit(
    validation: Sequence[Mapping[str, Any]],
    test: Sequence[Mapping[str, Any]],
    positive: str,
    target_fpr: float,
    fitted_on: str,
) -> dict[tuple[str, str], dict[str, Any]]:
    """Per (model, method): each rule's threshold with its rates on the validation and test rows."""
    tests = _groups(test)
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for key, rows in _groups(validation).items():
        scores, y = _arrays(rows, positive)
        t_scores, t_y = _arrays(tests.get(key, []), positive)
        best = f1_max(scores, y)
        candidates = {"f1-max": best[0] if best else None, "fpr": at_fpr(scores, y, target_fpr)}
        entry: dict[str, Any] = {}
        for rule, value in candidates.items():
            if value is None:
                continue
            threshold = Threshold(
                value=value,
                rule=rule,
                method=key[1],
                positive=positive,
                fitted_on=fitted_on,
                target_fpr=target_fpr if rule == "fpr" else None,
            )
            entry[rule] = {
                "threshold": threshold.to_json(),
                "validation": rates(scores, y, value),
                "test": rates(t_scores, t_y, value),
            }
        found[key] = entry
    return found


def validate(
    ctx: StageContext,
    evaluators: Sequence[Any],
    models: dict[str, TrainedModel],
    ectx: EvalContext,
    options: Any,
) -> tuple[list[Path], list[str]]:
    """Score ``options.validation`` with the scoring evaluators, fit and store the thresholds,
    add them to ``ectx.metrics[model][method]["thresholds"]``; returns files and report lines."""
    selection: ImageSelection = options.validation
    images = ctx.select(selection)
    shared = set(images.ids) & set(ectx.test.ids)
    if shared:
        raise DataError(
            f"stage {ctx.name!r}: {len(shared)} validation image(s) are also test images (e.g. "
            f"{sorted(shared)[0]}); thresholds must be fitted on images the test does not use"
        )
    fitted_on = describe(selection, images, options.positive)
    ctx.log.info("thresholds: scoring %d validation images (%s)", len(images), fitted_on)
    vctx = ctx.eval_context(models, images, options.positive, ctx.dir / VALIDATION)
    for evaluator in evaluators:
        if isinstance(evaluator, ScoringEvaluator):
            evaluator.evaluate(vctx)
    found = fit(vctx.scores, ectx.scores, options.positive, options.threshold_fpr, fitted_on)
    stored: dict[str, dict[str, Any]] = {}
    for (model, method), entry in found.items():
        ectx.metrics.setdefault(model, {}).setdefault(method, {})["thresholds"] = entry
        stored.setdefault(model, {})[method] = {rule: e["threshold"] for rule, e in entry.items()}
    body = {
        "format": FORMAT,
        "positive": options.positive,
        "rule": options.threshold,
        "fitted_on": fitted_on,
        "models": stored,
    }
    files = [
        write_scores_csv(vctx.scores, ctx.dir / VALIDATION / "scores.csv"),
        write_json(ctx.dir / THRESHOLDS, body),
        *vctx.files,
    ]
    return files, report_lines(found, ectx.metrics, options.threshold, fitted_on)


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def report_lines(
    found: Mapping[tuple[str, str], Mapping[str, Any]],
    metrics: Mapping[str, Mapping[str, Any]],
    rule: str,
    fitted_on: str,
) -> list[str]:
    """The report's threshold section: test sensitivity, specificity and F1 at each threshold."""
    lines = [
        "",
        "## Thresholds",
        "",
        f"Fitted on the validation selection ({fitted_on}), applied to the test images; "
        f"`{rule}` decides when the model scores new images (`ganaug score`).",
        "",
        "| model | method | rule | threshold | sensitivity | specificity | F1 | AUROC |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for (model, method), entry in found.items():
        auc = metrics.get(model, {}).get(method, {}).get("auc")
        for name, e in entry.items():
            test, value = e["test"], e["threshold"]["value"]
            lines.append(
                f"| {model} | {method} | {name} | {value:.4g} | {_pct(test['sensitivity'])} "
                f"| {_pct(test['specificity'])} | {_pct(test['f1'])} | {_pct(auc)} |"
            )
    return [*lines, ""]


def read_thresholds(folder: Path, model: str) -> dict[str, Threshold]:
    """The deciding threshold of each method for ``model`` from ``thresholds.json`` (none when the
    file is absent: no validation selection, or the stage has not finished)."""
    path = folder / THRESHOLDS
    if not path.is_file():
        return {}
    body = read_json(path)
    try:
        rule = body["rule"]
        methods = body["models"].get(model, {})
        return {m: Threshold.from_json(rules[rule]) for m, rules in methods.items() if rule in rules}
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise CheckpointError(f"{path} cannot be read: {exc}") from None


def scorers(ctx: StageContext, options: Any, model: str) -> list[Scorer]:
    """The evaluate stage's scorers for ``model``: its evaluators that score images."""
    if model not in options.models:
        return []
    thresholds = read_thresholds(ctx.dir, model)
    found = []
    for ref in options.evaluators:
        evaluator = ctx.build(ref)
        if isinstance(evaluator, ScoresImages):
            found.append(Scorer(ctx.name, evaluator, ctx.build, ctx.seed, thresholds, ctx.dir))
    return found
