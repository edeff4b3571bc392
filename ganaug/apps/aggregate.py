"""Aggregate a sweep: AUC over seeds per setting, paired comparisons, conversion diagnostics.

Reads each run's evaluate stages (``scores.csv``) and augment stages (``summary.json``), and writes
``aggregate.json``, ``aggregate.md`` and one ``aggregate-<stage>.png`` per evaluate stage into the
sweep folder. Paired comparisons use the same test images for both models of one run: DeLong's
test and a paired bootstrap per seed, and over seeds the mean difference with a t-interval and
the number of seeds each model wins.
"""

from __future__ import annotations

import csv
import json
import math
import zlib
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs
import numpy as np

from ganaug.apps.aggregate_race import aligned, race
from ganaug.apps.aggregate_records import RunRecord, Scores
from ganaug.apps.aggregate_report import figure, markdown
from ganaug.apps.sweep import read_manifest
from ganaug.numeric.stats import auc, delong, over_seeds, paired_bootstrap
from ganaug.runner.rundir import RunDir
from ganaug.runtime import io
from ganaug.runtime.errors import GanaugError, closest

JSON, MARKDOWN = "aggregate.json", "aggregate.md"
CONVERSION_FIGURES = ("copy_ssim", "z_diversity_ssim", "conversion_rate")


class AggregateError(GanaugError):
    """The aggregate was asked for something the sweep does not have (a model, a method)."""

    exit_code = 2


class BrokenScores(ValueError):
    """A ``scores.csv`` the aggregate cannot use; the message says why."""


def _read_roles(path: Path) -> dict[str, str]:
    """method -> role from an evaluate stage's ``methods.json`` (empty for a run made before it)."""
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
        return {str(e["name"]): str(e["role"]) for e in entries}
    except (OSError, ValueError, TypeError, KeyError):
        return {}


def _read_scores(path: Path, positive: str, models: Sequence[str]) -> Scores:
    """The score table of one evaluate stage; :class:`BrokenScores` when it cannot be used."""
    labels: dict[str, str] = {}
    by_model: dict[tuple[str, str], dict[str, float]] = defaultdict(dict)
    roles = _read_roles(path.parent / "methods.json")
    try:
        with open(path, encoding="utf-8", newline="") as handle:
            for line, row in enumerate(csv.DictReader(handle), start=2):
                if row.get("score") in ("", None):
                    continue
                try:
                    value = float(row["score"])
                except ValueError:
                    raise BrokenScores(f"line {line}: score {row['score']!r} is not a number") from None
                if math.isnan(value):
                    continue
                labels[row["image"]] = row["label"]
                by_model[(row["model"], row["method"])][row["image"]] = value
    except (OSError, csv.Error, KeyError, TypeError) as exc:
        raise BrokenScores(f"unreadable scores.csv ({type(exc).__name__}: {exc})") from None
    scoring = any(role in ("detector", "baseline", "control") for role in roles.values())
    if not by_model and scoring:
        raise BrokenScores("scores.csv has no usable score (no rows, or every score NaN)")
    if by_model and len({label == positive for label in labels.values()}) < 2:
        raise BrokenScores(f"its test images are all of one class ({positive!r} or not)")
    return Scores(positive, labels, dict(by_model), tuple(models), roles)


def read_run(setting: str, seed: int, folder: Path) -> RunRecord:
    """What a run's finished evaluate and augment stages hold; an evaluate stage that is unfinished
    or whose scores cannot be used is listed in ``left_out`` with why."""
    run = RunDir(folder)
    recipe = run.read_recipe() or {}
    evaluations, conversion = {}, {}
    left_out: list[tuple[str, str]] = []
    for stage in recipe.get("stages", []):
        name, kind = stage.get("name"), stage.get("kind")
        if not run.is_done(name):
            if kind == "evaluate":
                left_out.append((name, "unfinished"))
            continue
        if kind == "evaluate":
            try:
                scores = _read_scores(folder / name / "scores.csv", stage["positive"], stage["models"])
            except BrokenScores as exc:
                left_out.append((name, str(exc)))
                continue
            if scores.by_model:  # a stage of metric evaluators only (sample quality) scores no image
                evaluations[name] = scores
        summary = folder / name / "summary.json"
        if kind == "augment" and summary.exists():
            block = json.loads(summary.read_text(encoding="utf-8")).get("conversion")
            if block:
                conversion[name] = block
    return RunRecord(setting, seed, folder, evaluations, conversion, tuple(left_out))


def collect(folder: Path) -> tuple[dict[str, Any], list[RunRecord], list[dict[str, Any]]]:
    """The sweep manifest, a record per run folder that exists, and every run or stage left out
    (``setting``, ``seed``, ``stage``, ``why``)."""
    manifest = read_manifest(folder)
    records, left_out = [], []
    for entry in manifest["runs"]:
        setting, seed = entry["setting"], int(entry["seed"])
        if not (folder / entry["dir"]).is_dir():
            left_out.append({"setting": setting, "seed": seed, "stage": None, "why": "its folder is missing"})
            continue
        record = read_run(setting, seed, folder / entry["dir"])
        left_out += [
            {"setting": setting, "seed": seed, "stage": st, "why": why} for st, why in record.left_out
        ]
        records.append(record)
    return manifest, _same_test_sets(records, left_out), left_out


def _same_test_sets(records: list[RunRecord], left_out: list[dict[str, Any]]) -> list[RunRecord]:
    """Drop an evaluate stage whose columns score different images, or whose test set has another
    size than the same stage of the setting's other runs (a truncated scores.csv): paired and
    over-seeds figures need like for like. Each drop is added to ``left_out``."""
    sizes: dict[tuple[str, str], list[int]] = defaultdict(list)
    for rec in records:
        for stage, scores in rec.evaluations.items():
            sizes[(rec.setting, stage)].append(len(scores.labels))
    kept = []
    for rec in records:
        evaluations = dict(rec.evaluations)
        for stage, scores in rec.evaluations.items():
            usual = Counter(sizes[(rec.setting, stage)]).most_common(1)[0][0]
            short = [k for k, v in scores.by_model.items() if len(v) != len(scores.labels)]
            why = None
            if short:
                (model, method), count = short[0], len(scores.by_model[short[0]])
                why = f"{model}/{method} scores {count} of its {len(scores.labels)} test images"
            elif len(scores.labels) != usual:
                why = f"{len(scores.labels)} test images, where the setting's other runs have {usual}"
            if why:
                del evaluations[stage]
                left_out.append({"setting": rec.setting, "seed": rec.seed, "stage": stage, "why": why})
        kept.append(attrs.evolve(rec, evaluations=evaluations))
    return kept


def check_names(records: list[RunRecord], method: str, baselines: Sequence[str]) -> None:
    """An unknown ``--method`` or ``--baseline`` is an error naming the known ones (and the closest)."""
    methods = sorted({m for rec in records for s in rec.evaluations.values() for (_, m) in s.by_model})
    models = sorted({m for rec in records for s in rec.evaluations.values() for m in s.models})
    if records and methods and method not in methods:
        raise AggregateError(
            f"no score method {method!r} in this sweep{closest(method, methods)}; known: {', '.join(methods)}"
        )
    for name in baselines:
        if models and name not in models:
            raise AggregateError(
                f"no model {name!r} in this sweep{closest(name, models)}; known: {', '.join(models)}"
            )


def _auc_table(records: list[RunRecord], stage: str, method: str) -> dict[str, dict[str, Any]]:
    """setting -> model -> AUC over seeds (with the per-seed values)."""
    values: dict[str, dict[str, dict[int, float]]] = defaultdict(lambda: defaultdict(dict))
    for rec in records:
        scores = rec.evaluations.get(stage)
        if scores is None:
            continue
        for model in scores.models:
            found = scores.by_model.get((model, method))
            if found:
                y = np.array([scores.labels[i] == scores.positive for i in found])
                values[rec.setting][model][rec.seed] = auc(np.array(list(found.values())), y)
    return {
        setting: {
            model: {**over_seeds(list(per_seed.values())).as_dict(), "seeds": sorted(per_seed)}
            for model, per_seed in models.items()
        }
        for setting, models in values.items()
    }


def _pairs(models: Sequence[str], baselines: Sequence[str]) -> list[tuple[str, str]]:
    """(model, baseline) for each model against each baseline the stage has."""
    chosen = [b for b in baselines if b in models] or list(models[:1])
    return [(m, b) for b in chosen for m in models if m != b]


def _paired(
    records: list[RunRecord], stage: str, method: str, baselines: Sequence[str], resamples: int
) -> dict[str, list[dict[str, Any]]]:
    """setting -> comparisons (model vs baseline): per seed DeLong and bootstrap, pooled over seeds."""
    out: dict[str, list[dict[str, Any]]] = {}
    by_setting: dict[str, list[RunRecord]] = defaultdict(list)
    for rec in records:
        if stage in rec.evaluations:
            by_setting[rec.setting].append(rec)
    for setting, recs in by_setting.items():
        models = recs[0].evaluations[stage].models
        rows = []
        for a, b in _pairs(models, baselines):
            per_seed = []
            for rec in sorted(recs, key=lambda r: r.seed):
                data = aligned(rec.evaluations[stage], (a, method), (b, method))
                if data is None:
                    continue
                seed = zlib.crc32(f"{setting}/{rec.seed}/{a}/{b}".encode())
                test = delong(*data)
                boot = paired_bootstrap(*data, resamples=resamples, seed=seed)
                per_seed.append(
                    {
                        "seed": rec.seed,
                        "images": int(data[2].size),
                        "delong": test.as_dict(),
                        "bootstrap": {"low": boot.low, "high": boot.high, "resamples": resamples},
                    }
                )
            diffs = [p["delong"]["difference"] for p in per_seed]
            rows.append(
                {
                    "model": a,
                    "baseline": b,
                    "per_seed": per_seed,
                    "difference": over_seeds(diffs).as_dict(),
                    "wins": sum(d > 0 for d in diffs),
                    "seeds": len(diffs),
                }
            )
        out[setting] = rows
    return out


def _conversion(records: list[RunRecord]) -> dict[str, dict[str, dict[str, dict[str, Any]]]]:
    """setting -> augment stage -> query class -> figure -> summary over seeds."""
    values: dict[str, Any] = defaultdict(lambda: defaultdict(lambda: defaultdict(lambda: defaultdict(list))))
    for rec in records:
        for stage, block in rec.conversion.items():
            for cls, entry in block.get("per_query_class", {}).items():
                for key in CONVERSION_FIGURES:
                    if key in entry:
                        values[rec.setting][stage][cls][key].append(entry[key])
                accuracy = block.get("probe", {}).get("accuracy")
                if accuracy is not None:
                    values[rec.setting][stage][cls]["probe_accuracy"].append(accuracy)
    return {
        setting: {
            stage: {
                cls: {key: over_seeds(v).as_dict() for key, v in figures.items()}
                for cls, figures in classes.items()
            }
            for stage, classes in stages.items()
        }
        for setting, stages in values.items()
    }


def aggregate(
    folder: str | Path,
    *,
    method: str = "anogan",
    baselines: Sequence[str] = (),
    resamples: int = 2000,
) -> dict[str, Any]:
    """Aggregate the sweep in ``folder``; write ``aggregate.json``/``.md`` and figures; return the data."""
    folder = Path(folder)
    manifest, records, left_out = collect(folder)
    check_names(records, method, baselines)
    stages = sorted({stage for rec in records for stage in rec.evaluations}, key=_stage_order(records))
    result: dict[str, Any] = {
        "recipe": manifest.get("recipe"),
        "settings": manifest.get("settings", {}),
        "method": method,
        "runs": [{"setting": r.setting, "seed": r.seed, "evaluate": sorted(r.evaluations)} for r in records],
        "evaluate": {
            stage: {
                "auc": _auc_table(records, stage, method),
                "paired": _paired(records, stage, method, baselines, resamples),
                "race": race(records, stage),
            }
            for stage in stages
        },
        "conversion": _conversion(records),
        "left_out": left_out,
    }
    io.write_json(folder / JSON, result)
    io.write_text(folder / MARKDOWN, markdown(result))
    for stage, block in result["evaluate"].items():
        figure(stage, block["auc"], folder / f"aggregate-{stage}.png")
    return result


def _stage_order(records: list[RunRecord]) -> Any:
    order: dict[str, int] = {}
    for rec in records:
        for stage in rec.evaluations:
            order.setdefault(stage, len(order))
    return lambda stage: order[stage]
