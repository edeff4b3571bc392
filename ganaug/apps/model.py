"""A trained model from a run directory: generate images, score new ones (``ganaug.load_model``).

The model is rebuilt by its stage kind's own ``restore(ctx)`` from the stage's folder, exactly as a
resumed run does; new image files are read through the run's data source
(:mod:`ganaug.api.preprocessing`), and scored by the stage that evaluated the model
(:mod:`ganaug.api.scoring`), with the thresholds it fitted.
"""

from __future__ import annotations

import functools
import logging
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

import attrs
import torch
from torch import Tensor

from ganaug.api.capabilities import DescribesPreprocessing, ReadsImages, ScoresModels
from ganaug.api.interfaces import ImageSpec, TrainedModel
from ganaug.api.networks import frozen, generate, is_conditional
from ganaug.api.preprocessing import Preprocessing, recorded
from ganaug.api.records import SCORE_COLUMNS as TABLE_COLUMNS
from ganaug.api.scoring import ImageScores, ScoreContext, Scorer
from ganaug.host.loading import PluginHost, make_plugin_host
from ganaug.kit.images import UnreadableImage, image_files, read_image
from ganaug.numeric.thresholds import Threshold
from ganaug.recipe.resolve import declared_products
from ganaug.runner.restore import FinishedRun, model_stages
from ganaug.runner.rundir import RunDir
from ganaug.runtime.device import generator_for, resolve_device
from ganaug.runtime.errors import DataError, GanaugError, RunDirError, closest
from ganaug.runtime.progress import Progress
from ganaug.runtime.seeds import derive_seed

OnError = Literal["error", "skip"]
#: Images generated or scored in one batch.
BATCH = 256
#: Latent codes drawn (and images generated before they are written) at a time.
Z_CHUNK = 4096
#: columns of ``ganaug score``'s table: the score table's, less the label new images do not have
SCORE_COLUMNS = tuple(c for c in TABLE_COLUMNS if c != "label")
DECISION_COLUMNS = ("threshold", "rule", "decision")


class ModelError(GanaugError):
    """A trained model was asked for something it cannot do (no such model, no scorer, ...)."""

    exit_code = 2


@attrs.frozen
class Images:
    """Images read from files (or given as a tensor): ``[N, C, H, W]``, their names, and the files
    left out with ``on_error="skip"`` (name, reason)."""

    tensor: Tensor
    ids: tuple[str, ...]
    skipped: tuple[tuple[str, str], ...] = ()


@attrs.frozen
class Generation:
    """Generated ``images`` ``[N, C, H, W]``, the latent codes ``z`` and, for a conditional
    generator, the name of each image's conditioning image (and the files skipped)."""

    images: Tensor
    z: Tensor
    seed: int
    condition: tuple[str, ...] | None = None
    skipped: tuple[tuple[str, str], ...] = ()


@attrs.frozen
class Scores:
    """What :meth:`Model.score` found: one row per image and method (``rows``), each method's
    :class:`~ganaug.api.scoring.ImageScores`, the inputs and the files skipped."""

    rows: list[dict[str, Any]]
    methods: dict[str, ImageScores]
    inputs: Images
    thresholds: dict[str, Threshold]

    @property
    def columns(self) -> tuple[str, ...]:
        return SCORE_COLUMNS + (DECISION_COLUMNS if self.thresholds else ())


class Model:
    """A trained model of a run (see :func:`load_model`)."""

    def __init__(self, run: FinishedRun, name: str, trained: TrainedModel, scorer: str | None = None) -> None:
        self.run, self.name, self.trained, self._scorer = run, name, trained, scorer
        self.run_dir, self.recipe, self.host, self.device = run.dir.path, run.recipe, run.host, run.device
        self.log = logging.getLogger("ganaug").getChild("model")
        self.source = self.host.registry.build(self.recipe.data)

    # --- what the model is -------------------------------------------------------------------

    @property
    def image(self) -> ImageSpec:
        return self.trained.image

    @property
    def latent_dim(self) -> int:
        return int(self.trained.generator.latent_dim)

    @property
    def conditional(self) -> bool:
        return is_conditional(self.trained.generator)

    @functools.cached_property
    def preprocessing(self) -> Preprocessing | None:
        """The run's recorded preprocessing, else what its data source (rebuilt from the stored
        recipe) describes; None when neither exists."""
        found = recorded(self.run_dir)
        return found if found is not None else self._described()

    @property
    def preprocessing_origin(self) -> str | None:
        """``recorded`` (data/preprocessing.json), ``recipe`` (derived from it), or None."""
        if recorded(self.run_dir) is not None:
            return "recorded"
        return "recipe" if self._described() is not None else None

    def _described(self) -> Preprocessing | None:
        if not isinstance(self.source, DescribesPreprocessing):
            return None
        described = self.source.preprocessing()
        return attrs.evolve(described, source=self.recipe.data.name) if described is not None else None

    @functools.cached_property
    def scorers(self) -> list[Scorer]:
        """The scorers of the first stage that scores this model (or of the stage named when
        loading); raises :class:`ModelError` when no stage does."""
        for spec in self.recipe.stages:
            if self._scorer is not None and spec.name != self._scorer:
                continue
            stage = self.run.stage(spec.name)
            if isinstance(stage, ScoresModels):
                if self.run.dir.is_done(spec.name):
                    self.run.dir.verify_done(spec.name)
                ctx = self.run.context(spec.name)
                if scorers := stage.scorers(ctx, self.name):
                    return scorers
        which = f"stage {self._scorer!r} does not score" if self._scorer else "no stage of this run scores"
        raise ModelError(
            f"{which} model {self.name!r}: scoring uses the settings of a stage that evaluated it (an "
            "evaluate stage listing it in models, with an evaluator that scores images, such as anogan)"
        )

    @property
    def thresholds(self) -> dict[str, Threshold]:
        """The decision thresholds the scoring stage fitted, by method (empty when none)."""
        return {method: t for scorer in self.scorers for method, t in scorer.thresholds.items()}

    # --- reading images ----------------------------------------------------------------------

    def read_images(self, items: Tensor | Iterable[str | Path], on_error: OnError = "error") -> Images:
        """Image files or folders read as the run's data source read its own images (or a tensor
        ``[N, C, H, W]`` in the run's value range, checked and taken as it is)."""
        if isinstance(items, Tensor):
            if items.ndim != 4 or tuple(items.shape[1:]) != self.image.shape:
                raise DataError(
                    f"images of shape {tuple(items.shape)}; model {self.name!r} takes "
                    f"[N, {self.image.channels}, {self.image.size}, {self.image.size}]"
                )
            return Images(items.float(), tuple(f"image-{i:05d}" for i in range(len(items))))
        files = image_files(items)
        if not files:
            raise DataError("no image files given")
        read = self._reader()
        tensors: list[Tensor] = []
        ids: list[str] = []
        skipped: list[tuple[str, str]] = []
        for path in files:
            try:
                tensor = read(path)
                if not bool(torch.isfinite(tensor).all()):
                    raise UnreadableImage(path, "it holds NaN or infinite pixel values")
            except UnreadableImage as exc:
                if on_error == "error":
                    raise DataError(
                        f"{path}: {exc.reason} (use --on-error skip to leave unreadable files out)"
                    ) from None
                skipped.append((str(path), exc.reason))
                continue
            if tuple(tensor.shape) != self.image.shape:
                raise ModelError(
                    f"{path}: the data source read it as {tuple(tensor.shape)}, but model {self.name!r} "
                    f"takes {self.image.shape}"
                )
            tensors.append(tensor.float())
            ids.append(str(path))
        stacked = torch.stack(tensors) if tensors else torch.zeros(0, *self.image.shape)
        return Images(stacked, tuple(ids), tuple(skipped))

    def _reader(self) -> Any:
        recorded_prep = recorded(self.run_dir)
        described = self._described()
        if recorded_prep is not None and described is not None and recorded_prep != described:
            raise DataError(
                f"the data source {self.recipe.data.name!r} now preprocesses images differently from when "
                f"this run loaded its data: recorded {recorded_prep.to_json()}, now {described.to_json()}; "
                "new images would not be read as the run's were"
            )
        if isinstance(self.source, ReadsImages):
            return self.source.read_image
        prep = recorded_prep or described
        if prep is None:
            raise ModelError(
                f"the run's data source {self.recipe.data.name!r} neither reads image files nor describes "
                f"its preprocessing, and {self.run_dir}/data/preprocessing.json does not exist: new "
                "images cannot be preprocessed as the run's were"
            )
        return lambda path: read_image(path, prep)

    # --- generating --------------------------------------------------------------------------

    def generate(
        self,
        n: int,
        *,
        condition: Tensor | Iterable[str | Path] | None = None,
        seed: int = 0,
        on_error: OnError = "error",
    ) -> Generation:
        """``n`` images from ``z ~ N(0, I)`` drawn from ``seed``; a conditional generator takes
        conditioning images (files, folders or a tensor), used in turn."""
        parts = list(self.generate_chunks(n, condition=condition, seed=seed, on_error=on_error))
        first = parts[0]
        cond = tuple(c for p in parts for c in (p.condition or ())) if first.condition is not None else None
        images, z = torch.cat([p.images for p in parts]), torch.cat([p.z for p in parts])
        return Generation(images, z, seed, cond, first.skipped)

    def generate_chunks(
        self,
        n: int,
        *,
        condition: Tensor | Iterable[str | Path] | None = None,
        seed: int = 0,
        on_error: OnError = "error",
    ) -> Iterator[Generation]:
        """:meth:`generate` ``Z_CHUNK`` images at a time, so any count fits in memory: chunk k draws
        its z from its own seed (chunk 0 from the same one as ever, so up to ``Z_CHUNK`` images are
        what they always were)."""
        if n < 1:
            raise ModelError(f"asked for {n} images; give at least 1")
        x_all: Tensor | None = None
        ids: tuple[str, ...] = ()
        skipped: tuple[tuple[str, str], ...] = ()
        if self.conditional:
            if condition is None:
                raise ModelError(
                    f"the generator of {self.name!r} is conditional: give conditioning images (--condition)"
                )
            given = self.read_images(condition, on_error)
            if len(given.ids) == 0:
                raise DataError("none of the conditioning images could be read")
            x_all, ids, skipped = given.tensor, given.ids, given.skipped
        elif condition is not None:
            raise ModelError(
                f"the generator of {self.name!r} is unconditional: it takes no conditioning images"
            )
        g = self.trained.generator
        for k, begin in enumerate(range(0, n, Z_CHUNK)):
            count = min(Z_CHUNK, n - begin)
            rng = generator_for(derive_seed(seed, "generate") if k == 0 else derive_seed(seed, "generate", k))
            z = torch.randn(count, self.latent_dim, generator=rng)
            x, cond_ids = None, None
            if x_all is not None:
                pick = torch.arange(begin, begin + count) % len(ids)
                x, cond_ids = x_all[pick], tuple(ids[i] for i in pick.tolist())
            parts: list[Tensor] = []
            with frozen(g), torch.no_grad():
                for start in range(0, count, BATCH):
                    xs = x[start : start + BATCH].to(self.device) if x is not None else None
                    parts.append(generate(g, z[start : start + BATCH].to(self.device), xs).float().cpu())
            yield Generation(torch.cat(parts), z, seed, cond_ids, skipped)

    # --- scoring -----------------------------------------------------------------------------

    def score(
        self,
        images: Images | Tensor | Iterable[str | Path],
        *,
        seed: int | None = None,
        on_error: OnError = "error",
        methods: Sequence[str] | None = None,
        progress: Progress | None = None,
    ) -> Scores:
        """Score images (files, folders or a tensor) as the run's scoring stage scored its test
        images; ``seed`` defaults to the run's. Each row has a decision when a threshold exists."""
        inputs = images if isinstance(images, Images) else self.read_images(images, on_error)
        if len(inputs.ids) == 0:
            listed = "; ".join(f"{name}: {why}" for name, why in inputs.skipped)
            raise DataError(f"no image left to score ({len(inputs.skipped)} skipped: {listed})")
        found: dict[str, ImageScores] = {}
        thresholds: dict[str, Threshold] = {}
        with tempfile.TemporaryDirectory(prefix="ganaug-score-") as work:
            for i, scorer in enumerate(self.scorers):
                ctx = ScoreContext(
                    model=self.trained,
                    images=inputs.tensor,
                    seed=scorer.seed if seed is None else seed,
                    device=self.device,
                    build=scorer.build,
                    workdir=Path(work) / str(i),
                    log=self.log,
                    progress=progress or Progress(),
                    dir=scorer.dir,
                )
                for result in scorer.evaluator.score_images(ctx):
                    if methods is not None and result.method not in methods:
                        continue
                    found.setdefault(result.method, result)
                    if result.method in scorer.thresholds:
                        thresholds[result.method] = scorer.thresholds[result.method]
        if methods is not None and (missing := [m for m in methods if m not in found]):
            raise ModelError(f"no scorer of {self.name!r} gives method(s) {', '.join(missing)}")
        return Scores(_rows(self.name, inputs.ids, found, thresholds), found, inputs, thresholds)


def _value(tensor: Tensor | None, i: int) -> float | None:
    return None if tensor is None else float(tensor[i])


def _rows(
    model: str, ids: Sequence[str], found: dict[str, ImageScores], thresholds: dict[str, Threshold]
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for i, image in enumerate(ids):
        for method, result in found.items():
            row: dict[str, Any] = {
                "image": image,
                "model": model,
                "method": method,
                "residual": _value(result.residual, i),
                "discrimination": _value(result.discrimination, i),
                "score": float(result.score[i]),
            }
            if method in thresholds:
                t = thresholds[method]
                decision = "anomalous" if t.decide(row["score"]) else "normal"
                row.update(threshold=t.value, rule=t.rule, decision=decision)
            rows.append(row)
    return rows


def load_model(
    run_dir: str | Path,
    name: str,
    *,
    device: str | torch.device | None = None,
    scorer: str | None = None,
    host: PluginHost | None = None,
) -> Model:
    """The trained model of stage ``name`` in ``run_dir``, rebuilt by its stage kind's
    ``restore``. ``scorer`` names the stage whose scoring settings and thresholds to use (default:
    the first that scores this model); ``device`` defaults to ``auto``."""
    run_dir = Path(run_dir).expanduser()
    host = host or make_plugin_host()
    torch_device = device if isinstance(device, torch.device) else resolve_device(device or "auto")
    run = FinishedRun.open(run_dir, host, torch_device)
    recipe = run.recipe
    names = [spec.name for spec in recipe.stages]
    if name not in names:
        raise ModelError(
            f"{run_dir} has no stage {name!r}{closest(name, names)}; stages with a model: "
            f"{', '.join(model_stages(recipe, host)) or 'none'}"
        )
    spec = recipe.stage(name)
    if "model" not in declared_products(host.registry.get("stages", spec.kind).factory):
        raise ModelError(
            f"stage {name!r} ({spec.kind}) produces no model; stages with a model: "
            f"{', '.join(model_stages(recipe, host)) or 'none'}"
        )
    if scorer is not None and scorer not in names:
        raise ModelError(f"{run_dir} has no stage {scorer!r}{closest(scorer, names)} to score with")
    if not RunDir(run_dir).is_done(name):
        raise RunDirError(
            f"stage {name!r} of {run_dir} is not finished (no {name}/done.json); finish the run first: "
            f"ganaug run RECIPE --resume {run_dir}"
        )
    output = run.restore_with_models(name)
    if output.model is None:
        raise ModelError(f"stage {name!r} ({spec.kind}) restored no model from {run_dir / name}")
    trained = output.model
    trained.generator.eval()
    trained.discriminator.eval()
    return Model(run, name, trained, scorer)
