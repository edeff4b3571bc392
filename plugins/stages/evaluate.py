"""The evaluate stage: score test images with trained models, then ROC/AUC, figures and a report.

Evaluators run in recipe order on one shared context: scoring evaluators (``anogan``,
``l1-mean``) append rows to the score table, metric evaluators (``roc``) read them.
"""

from __future__ import annotations

import json

import attrs

from ganaug.context import StageContext
from ganaug.errors import DataError
from ganaug.interfaces import EvalContext, StageOutput, TrainedModel
from ganaug.io import write_json, write_text
from ganaug.recipe.schema import ComponentRef, components, stage_ref
from ganaug.selection import ImageSelection
from ganaug_plugins.evaluators.report import markdown_report, write_scores_csv

SCORES, METRICS, REPORT = "scores.csv", "metrics.json", "report.md"


@attrs.frozen
class EvaluateOptions:
    """``models``: earlier train stages; ``positive``: the anomalous class; ``test``: the images;
    ``evaluators``: run in this order (defaults: AnoGAN scoring, the L1 baseline, ROC)."""

    models: list[str] = stage_ref("model")
    positive: str = attrs.field(metadata={"classes": True})
    test: ImageSelection = attrs.field(factory=lambda: ImageSelection(split="test"))
    evaluators: list[ComponentRef] = components("evaluators", "anogan", "l1-mean", "roc")


class EvaluateStage:
    """Scores the test selection with each model and writes scores, metrics, figures and report."""

    produces = frozenset({"metrics"})

    def __init__(self, options: EvaluateOptions) -> None:
        self.options = options

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
        ectx = EvalContext(
            models=models,
            test=test,
            positive=opts.positive,
            dir=ctx.dir,
            device=ctx.device,
            seed=ctx.seed,
            log=ctx.log,
            progress=ctx.progress,
            build=ctx.build,
        )
        for ref in opts.evaluators:
            ctx.log.info("evaluator %s", ref.name)
            evaluator = ctx.build(ref)
            if hasattr(evaluator, "world"):  # EvalContext has no world: hand it to those that shard
                evaluator.world = ctx.world
            evaluator.evaluate(ectx)
        files = [write_scores_csv(ectx.scores, ctx.dir / SCORES), write_json(ctx.dir / METRICS, ectx.metrics)]
        images = [p.name for p in ectx.files if p.suffix == ".png"]
        classes = sorted(set(test.classes[int(i)] for i in test.labels))
        text = markdown_report(f"Evaluation: {ctx.name}", ectx.metrics, opts.positive, classes, images)
        files.append(write_text(ctx.dir / REPORT, text))
        return StageOutput(metrics=ectx.metrics, files=[*files, *ectx.files])

    def restore(self, ctx: StageContext) -> StageOutput:
        """Read ``metrics.json`` back; list the files the stage wrote."""
        metrics = json.loads((ctx.dir / METRICS).read_text(encoding="utf-8"))
        files = sorted(p for p in ctx.dir.iterdir() if p.suffix in {".csv", ".json", ".md", ".png"})
        return StageOutput(metrics=metrics, files=[p for p in files if p.name != "done.json"])
