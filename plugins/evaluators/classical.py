"""Classical anomaly detectors (scikit-learn): the bars a GAN detector has to clear.

``knn`` (distance to the nearest training images), ``pca`` (reconstruction error after a PCA of the
training images) and ``ocsvm`` (a one-class SVM with an RBF kernel), on raw pixels by default. Each
is fitted, per model, on exactly the images that model was trained on (its stage's selection; the
images earlier stages added to it only with ``augmented = true``), so a GAN detector and its
baselines see the same data. The fit images are kept in ``baselines/`` of the stage's folder, so
``ganaug score`` refits the same detector and scores new images exactly as the test images were.
"""

from __future__ import annotations

import abc
import json
from typing import Any, ClassVar

import attrs
import numpy as np
import safetensors.torch
import torch
from sklearn.decomposition import PCA
from sklearn.neighbors import NearestNeighbors
from sklearn.svm import OneClassSVM
from torch import Tensor

from ganaug.api.capabilities import Method
from ganaug.api.interfaces import EvalContext, ImageSet, TrainedModel
from ganaug.api.options import ComponentRef, option
from ganaug.api.scoring import ImageScores, ScoreContext
from ganaug.api.selection import ImageSelection
from ganaug.api.validators import method_name
from ganaug.runtime.errors import CheckpointError
from ganaug.runtime.io import write_tensors
from ganaug_plugins.evaluators.anogan import safe_name

FOLDER = "baselines"
FEATURE_CHUNK = 256  # images per backbone forward pass


def _method_or_empty(instance: object, attribute: attrs.Attribute, value: str) -> None:
    if value:  # empty: the baseline's own name
        method_name(instance, attribute, value)


@attrs.frozen
class BaselineOptions:
    """What every classical baseline shares: its rows' name and what it is fitted on."""

    method: str = option(
        "",
        validator=_method_or_empty,
        help="the score rows' method name (empty: the baseline's own name; two of a kind need two)",
    )
    augmented: bool = option(
        False,
        help="fit on the model's whole training set, augmented images included (default: real ones only)",
    )
    fit: ImageSelection | None = option(
        None, help="fit every model's baseline on these images instead of the model's own training images"
    )
    backbone: ComponentRef | None = option(
        None,
        metadata={"component": "backbones"},
        help="score a backbone's features of the images, fitted on the same images (unset: raw pixels)",
    )


@attrs.frozen
class KnnOptions(BaselineOptions):
    """Options of the nearest-neighbour baseline."""

    k: int = option(1, validator=attrs.validators.ge(1), help="neighbours the distance is taken over")
    metric: str = option(
        "euclidean",
        validator=attrs.validators.in_(("euclidean", "manhattan", "cosine")),
        help="distance between images (or their features)",
    )
    reduce: str = option(
        "mean", validator=attrs.validators.in_(("mean", "max")), help="how the k distances become one score"
    )


def _variance(_: object, attribute: attrs.Attribute, value: float) -> None:
    if not 0 < value <= 1:
        raise ValueError(f"must be in (0, 1], got {value!r}")


@attrs.frozen
class PcaOptions(BaselineOptions):
    """Options of the PCA reconstruction-error baseline."""

    variance: float = option(
        0.95, validator=_variance, help="share of the training images' variance the components keep"
    )
    components: int | None = option(
        None,
        validator=attrs.validators.optional(attrs.validators.ge(1)),
        help="a fixed number of components instead of a variance share",
    )


@attrs.frozen
class OcsvmOptions(BaselineOptions):
    """Options of the one-class SVM baseline (RBF kernel, gamma = 1 / (features x variance))."""

    nu: float = option(0.1, validator=_variance, help="upper bound on the share of training outliers")


def _as_matrix(values: Tensor) -> np.ndarray:
    return values.detach().double().cpu().flatten(1).numpy()


class ClassicalBaseline(abc.ABC):
    """Fits a scikit-learn detector on each model's training images and scores the test images;
    a subclass says how (``_detector``: fit, then score new rows, higher = more anomalous)."""

    name: ClassVar[str] = ""
    title: ClassVar[str] = ""

    def __init__(self, options: Any) -> None:
        self.options = options
        self.method = options.method or self.name
        title = self.title if self.method == self.name else self.method
        self.methods = (Method(self.method, title, role="baseline"),)

    def evaluate(self, ctx: EvalContext) -> None:
        fitted: dict[tuple[str, ...], np.ndarray] = {}  # models trained on the same images share a fit
        for name, model in ctx.models.items():
            reference = self._reference(ctx, name, model)
            if reference is None:
                continue
            self._save(reference, ctx.dir / FOLDER / self._file(name))
            if reference.ids not in fitted:
                fitted[reference.ids] = self._scores(reference, ctx.test.images, ctx.seed, ctx)
            scores = fitted[reference.ids]
            ctx.log.info("%s: model %s fitted on %d images", self.method, name, len(reference))
            ctx.add_scores(name, self.method, scores, residual=scores)

    def score_images(self, ctx: ScoreContext) -> list[ImageScores]:
        """Score new images (``ganaug score``) with the detector refitted on the kept fit images."""
        if ctx.dir is None:
            ctx.log.warning("%s: no stage folder to read the fit images from; left out", self.method)
            return []
        path = ctx.dir / FOLDER / self._file(ctx.model.name)
        if not path.is_file():
            ctx.log.warning("%s: %s is missing (the model was not scored by it); left out", self.method, path)
            return []
        scores = torch.from_numpy(self._scores(_load(path), ctx.images, ctx.seed, ctx))
        return [ImageScores(self.method, scores, residual=scores)]

    def _file(self, model: str) -> str:
        return f"{safe_name(model)}-{safe_name(self.method)}.safetensors"

    def _reference(self, ctx: EvalContext, name: str, model: TrainedModel) -> ImageSet | None:
        """The images the baseline is fitted on for ``model`` (None, with a warning: not known)."""
        selection = self.options.fit
        if selection is None:
            if model.train_data is None:
                ctx.log.warning(
                    "%s: model %s does not say what it was trained on; left out", self.method, name
                )
                return None
            selection = model.train_data if self.options.augmented else attrs.evolve(model.train_data, add=[])
        if ctx.select is None:
            raise RuntimeError(f"the {self.method} baseline needs the stage's image selection")
        return ctx.select(selection)

    def _scores(self, reference: ImageSet, images: Tensor, seed: int, ctx: Any) -> np.ndarray:
        train, test = reference.images, images
        if self.options.backbone is not None:
            backbone = ctx.build(self.options.backbone)
            backbone.fit(reference, seed=seed, device=ctx.device)
            train, test = _features(backbone, train), _features(backbone, test)
        score = self._detector(_as_matrix(train))
        return np.asarray(score(_as_matrix(test)), dtype=np.float64)

    @abc.abstractmethod
    def _detector(self, train: np.ndarray) -> Any:
        """Fit on the training rows; return a function scoring rows (higher = more anomalous)."""

    @staticmethod
    def _save(reference: ImageSet, path: Any) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # one metadata key: safetensors writes several in a random order, so the file's bytes (and
        # its hash in done.json) would differ between identical runs
        fit = json.dumps({"ids": list(reference.ids), "classes": list(reference.classes)})
        write_tensors(path, {"images": reference.images, "labels": reference.labels}, {"fit": fit})


def _features(backbone: Any, images: Tensor) -> Tensor:
    with torch.no_grad():
        return torch.cat(
            [
                backbone.features(images[i : i + FEATURE_CHUNK]).cpu()
                for i in range(0, len(images), FEATURE_CHUNK)
            ]
        )


def _load(path: Any) -> ImageSet:
    try:
        with safetensors.safe_open(str(path), framework="pt") as handle:
            meta = handle.metadata() or {}
            images, labels = handle.get_tensor("images"), handle.get_tensor("labels")
        if "fit" in meta:
            fit = json.loads(meta["fit"])
            ids, classes = fit["ids"], fit["classes"]
        else:  # written before 0.2: one key each
            ids, classes = json.loads(meta["ids"]), json.loads(meta["classes"])
        return ImageSet(images, labels, tuple(ids), tuple(classes))
    except Exception as exc:  # missing keys, damaged bytes, a file that is not safetensors
        raise CheckpointError(f"cannot read the baseline's fit images {path}: {exc}") from None


class KnnBaseline(ClassicalBaseline):
    """Distance to the ``k`` nearest training images (mean or max over them)."""

    name, title = "knn", "kNN"

    def _detector(self, train: np.ndarray) -> Any:
        o = self.options
        k = min(o.k, len(train))
        index = NearestNeighbors(n_neighbors=k, metric=o.metric, algorithm="brute").fit(train)

        def score(rows: np.ndarray) -> np.ndarray:
            distances, _ = index.kneighbors(rows)
            return distances.mean(1) if o.reduce == "mean" else distances.max(1)

        return score


class PcaBaseline(ClassicalBaseline):
    """Mean squared error of each image against its reconstruction from the training images'
    principal components."""

    name, title = "pca", "PCA"

    def _detector(self, train: np.ndarray) -> Any:
        o = self.options
        keep: float | int = o.variance if o.components is None else min(o.components, *train.shape)
        if isinstance(keep, float) and keep >= 1.0:
            keep = min(train.shape)
        pca = PCA(n_components=keep, svd_solver="full").fit(train)

        def score(rows: np.ndarray) -> np.ndarray:
            return ((rows - pca.inverse_transform(pca.transform(rows))) ** 2).mean(1)

        return score


class OcsvmBaseline(ClassicalBaseline):
    """Negative decision value of a one-class SVM (RBF kernel, ``gamma="scale"``)."""

    name, title = "ocsvm", "OC-SVM"

    def _detector(self, train: np.ndarray) -> Any:
        svm = OneClassSVM(kernel="rbf", nu=self.options.nu, gamma="scale").fit(train)
        return lambda rows: -svm.decision_function(rows)
