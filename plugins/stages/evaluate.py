"""The evaluate stage: score test images with trained models, then ROC/AUC, figures and a report.

Evaluators run in recipe order on one shared context: scoring evaluators (``anogan``,
``l1-mean``) append rows to the score table, metric evaluators (``roc``) read them.
"""

from __future__ import annotations

from typing import Any, Literal

import attrs

from ganaug.api.capabilities import Method, ReadsMethods, ScoringEvaluator
from ganaug.api.context import StageContext
from ganaug.api.interfaces import StageOutput, TrainedModel
from ganaug.api.options import ComponentRef, components, option, stage_ref
from ganaug.api.scoring import Scorer
from ganaug.api.selection import ImageSelection
from ganaug.api.validators import not_empty
from ganaug.kit.tables import write_scores_csv
from ganaug.runtime.errors import DataError, closest
from ganaug.runtime.io import read_json, write_json, write_text
from ganaug_plugins.stages import thresholds as fitted
from ganaug_plugins.stages import work
from ganaug_plugins.stages.evaluate_report import markdown_report

SCORES, METRICS, REPORT, METHODS = "scores.csv", "metrics.json", "report.md", "methods.json"


def _not_the_test(instance: Any, _: attrs.Attribute, value: ImageSelection | None) -> None:
    if value is not None and value.split == instance.test.split:
        raise ValueError(
            f"must not be the test split ({value.split!r}): thresholds fitted on the test images flatter them"
        )


@attrs.frozen
class EvaluateOptions:
    """Options of the evaluate stage: score the test images with trained models, then report."""

    models: list[str] = stage_ref(
        "model", help="the train stages whose models are evaluated", validator=not_empty
    )
    positive: str = option(metadata={"classes": True}, help="the anomalous (positive) class")
    test: ImageSelection = option(factory=lambda: ImageSelection(split="test"), help="the test images")
    evaluators: list[ComponentRef] = components(
        "evaluators",
        "anogan",
        "l1-mean",
        "roc",
        help="run in this order: scoring evaluators add score rows, metric ones read them",
        validator=not_empty,
    )
    validation: ImageSelection | None = option(
        None,
        validator=_not_the_test,
        help="images to fit decision thresholds on, not the test split (unset: no thresholds)",
    )
    threshold: Literal["f1-max", "fpr"] = option(
        "f1-max",
        validator=attrs.validators.in_(("f1-max", "fpr")),
        help="the threshold that decides for new images: highest F1, or the fixed false-positive rate",
    )
    threshold_fpr: float = option(
        0.05,
        validator=[attrs.validators.ge(0), attrs.validators.lt(1)],
        help="the false-positive rate the fpr threshold keeps on the validation images",
    )


class EvaluateStage:
    """Scores the test selection with each model and writes scores, metrics, figures and report."""

    produces = frozenset({"metrics"})

    def __init__(self, options: EvaluateOptions) -> None:
        self.options = options

    def work(self, ctx: StageContext) -> float:
        """Search steps x test images x models, for the run's time-left estimate."""
        o = self.options
        return work.evaluating(ctx, len(o.models), o.test, o.evaluators)

    @staticmethod
    def check_options(options: EvaluateOptions, build: Any) -> list[tuple[str, str]]:
        """A method name an evaluator reads (ROC's curves) that no scoring evaluator of the stage
        gives, when written in the recipe (the defaults are not held against a stage)."""
        built = [build(ref) for ref in options.evaluators]
        given = sorted({m.name for e in built if isinstance(e, ScoringEvaluator) for m in e.methods})
        found = []
        for i, (ref, evaluator) in enumerate(zip(options.evaluators, built, strict=True)):
            if not isinstance(evaluator, ReadsMethods):
                continue
            for field, names in evaluator.methods_read().items():
                if field not in ref.raw:
                    continue
                for name in (n for n in names if n not in given):
                    why = f"no evaluator of this stage gives method {name!r}{closest(name, given)}"
                    found.append((f"evaluators[{i}].{field}", f"{why}; given: {', '.join(given) or 'none'}"))
        return found

    def run(self, ctx: StageContext) -> StageOutput:
        opts = self.options
        test = ctx.select(opts.test)
        if opts.positive not in test.classes:
            raise DataError(f"stage {ctx.name!r}: positive class {opts.positive!r} is not in the data")
        models: dict[str, TrainedModel] = {}
        for name in opts.models:
            model = ctx.output(name).model
            if model is None:
                raise DataError(f"stage {ctx.name!r}: stage {name!r} produced no model")
            models[name] = model
        ectx = ctx.eval_context(models, test, opts.positive)
        methods: list[Method] = []
        built = []
        for ref in opts.evaluators:
            ctx.log.info("evaluator %s", ref.name)
            evaluator = ctx.build(ref)
            built.append(evaluator)
            if isinstance(evaluator, ScoringEvaluator):
                methods += [m for m in evaluator.methods if m not in methods]
            evaluator.evaluate(ectx)
        validated, section = fitted.validate(ctx, built, models, ectx, opts) if opts.validation else ([], [])
        files = [write_scores_csv(ectx.scores, ctx.dir / SCORES), write_json(ctx.dir / METRICS, ectx.metrics)]
        files.append(write_json(ctx.dir / METHODS, [attrs.asdict(m) for m in methods]))
        files += validated
        images = [p.name for p in ectx.files if p.suffix == ".png"]
        classes = sorted(set(test.classes[int(i)] for i in test.labels))
        text = markdown_report(
            f"Evaluation: {ctx.name}", ectx.metrics, opts.positive, classes, images, methods, ectx.scores
        )
        parts = [text.rstrip("\n"), *section, *(["", *ectx.sections] if ectx.sections else [])]
        files.append(write_text(ctx.dir / REPORT, "\n".join(parts) + "\n"))
        return StageOutput(metrics=ectx.metrics, files=[*files, *ectx.files])

    def scorers(self, ctx: StageContext, model: str) -> list[Scorer]:
        """For ``ganaug score``: the evaluators that score images, with the thresholds fitted here."""
        return fitted.scorers(ctx, self.options, model)

    def restore(self, ctx: StageContext) -> StageOutput:
        """Read ``metrics.json`` back; list the files the stage wrote."""
        metrics = read_json(ctx.dir / METRICS)
        files = sorted(p for p in ctx.dir.iterdir() if p.suffix in {".csv", ".json", ".md", ".png"})
        return StageOutput(metrics=metrics, files=[p for p in files if p.name != "done.json"])
