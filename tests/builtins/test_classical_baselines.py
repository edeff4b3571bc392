"""The classical baselines (knn, pca, ocsvm): scores against hand-computed values on tiny sets, fitted
on the model's own training images (augmented ones only when asked), the same scores for new images."""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

import attrs
import pytest
import torch
from sklearn.svm import OneClassSVM

from ganaug.api.interfaces import EvalContext, ImageSet, ImageSpec, TrainedModel
from ganaug.api.options import ComponentRef
from ganaug.api.scoring import ScoreContext
from ganaug.api.selection import ImageSelection
from ganaug.host.loading import make_plugin_host
from ganaug.runtime.progress import Progress
from ganaug.testing.toys import ConvDiscriminator, SubspaceGenerator
from ganaug_plugins.backbones.plugin import CnnOptions
from ganaug_plugins.evaluators.classical import (
    ClassicalBaseline,
    KnnBaseline,
    KnnOptions,
    OcsvmBaseline,
    OcsvmOptions,
    PcaBaseline,
    PcaOptions,
    _load,
)


def images(rows: list[list[float]], label: int = 0, prefix: str = "x") -> ImageSet:
    """Images of 1 x 2 x 2 pixels from flat rows of four values."""
    tensor = torch.tensor(rows, dtype=torch.float32).reshape(-1, 1, 2, 2)
    n = len(rows)
    return ImageSet(tensor, torch.full((n,), label), tuple(f"{prefix}{i}" for i in range(n)), ("A", "B"))


TRAIN = images([[0, 0, 0, 0], [1, 0, 0, 0], [0, 0, 0, 1]], prefix="t")
AUGMENTED = images([[0.5, 0.5, 0.5, 0.5]], prefix="aug")
TEST = ImageSet.concat([images([[0, 0, 0, 0.2]], 0, "a"), images([[0.5, 0.5, 0.5, 0.5]], 1, "b")])
SELECTION = ImageSelection(split="train", classes=["A"], add=["aug"])


def model(train_data: ImageSelection | None = SELECTION) -> TrainedModel:
    return TrainedModel(
        "gan", SubspaceGenerator(), ConvDiscriminator(), ImageSpec(1, 2), train_data=train_data
    )


@attrs.define
class Selections:
    """A stand-in for the stage's ``select``: the real images, plus the ``aug`` stage's when named."""

    seen: list[ImageSelection] = attrs.Factory(list)

    def __call__(self, selection: ImageSelection) -> ImageSet:
        self.seen.append(selection)
        return ImageSet.concat([TRAIN, *([AUGMENTED] if "aug" in selection.add else [])])


def build(ref: ComponentRef, **kw: Any) -> Any:
    registry = make_plugin_host(builtins=["ganaug_plugins.backbones.plugin"], entry_points=False).registry
    return registry.get(ref.kind, ref.name).build(ref.options, **kw)


def context(tmp_path: Path, models: dict[str, TrainedModel], select: Selections | None = None) -> EvalContext:
    return EvalContext(
        models=models,
        test=TEST,
        positive="B",
        dir=tmp_path,
        device=torch.device("cpu"),
        seed=0,
        log=logging.getLogger("test"),
        progress=Progress(),
        build=build,
        select=select or Selections(),
    )


def scores(evaluator: Any, tmp_path: Path, select: Selections | None = None) -> dict[str, float]:
    ctx = context(tmp_path, {"gan": model()}, select)
    evaluator.evaluate(ctx)
    return {row["image"]: row["score"] for row in ctx.scores if row["method"] == evaluator.method}


def test_knn_is_the_distance_to_the_nearest_training_image(tmp_path: Path) -> None:
    found = scores(KnnBaseline(KnnOptions()), tmp_path)
    assert found["a0"] == pytest.approx(0.2)  # [0, 0, 0, 0] at 0.2; [0, 0, 0, 1] at 0.8
    assert found["b0"] == pytest.approx(math.sqrt(4 * 0.5**2))  # 1.0 from each training image


def test_knn_options_change_the_score_as_documented(tmp_path: Path) -> None:
    mean2 = scores(KnnBaseline(KnnOptions(k=2)), tmp_path / "m")
    max2 = scores(KnnBaseline(KnnOptions(k=2, reduce="max")), tmp_path / "x")
    l1 = scores(KnnBaseline(KnnOptions(metric="manhattan")), tmp_path / "l")
    assert mean2["a0"] == pytest.approx((0.2 + 0.8) / 2)  # [0,0,0,0] at 0.2, [0,0,0,1] at 0.8
    assert max2["a0"] == pytest.approx(0.8)
    assert l1["b0"] == pytest.approx(0.5 * 3 + 0.5)  # |0.5-1| + 3 x 0.5 to [1,0,0,0]


def test_pca_scores_the_error_off_the_training_images_subspace(tmp_path: Path) -> None:
    line = images([[t, t, 0, 0] for t in (-1.0, -0.5, 0.0, 0.5, 1.0)])  # one direction: (1, 1, 0, 0)
    test = ImageSet.concat([images([[0.3, 0.3, 0, 0]], 0, "on"), images([[0.2, 0.2, 0.4, 0]], 1, "off")])
    ctx = attrs.evolve(context(tmp_path, {"gan": model()}, None), test=test, select=lambda _: line)
    PcaBaseline(PcaOptions()).evaluate(ctx)
    found = {row["image"]: row["score"] for row in ctx.scores}
    assert found["on0"] == pytest.approx(0.0, abs=1e-12)  # on the line: reconstructed exactly
    assert found["off0"] == pytest.approx(0.4**2 / 4)  # the off-line pixel, squared, over 4 pixels


def test_ocsvm_is_the_negative_decision_value_of_a_one_class_svm(tmp_path: Path) -> None:
    found = scores(OcsvmBaseline(OcsvmOptions(nu=0.5)), tmp_path)
    train = TRAIN.images.flatten(1).double().numpy()
    svm = OneClassSVM(kernel="rbf", nu=0.5, gamma="scale").fit(train)
    expected = -svm.decision_function(TEST.images.flatten(1).double().numpy())
    assert [found["a0"], found["b0"]] == pytest.approx(expected.tolist())
    assert found["b0"] > found["a0"]


def test_baselines_fit_on_real_images_unless_asked_for_the_augmented_ones(tmp_path: Path) -> None:
    plain, asked = Selections(), Selections()
    real = scores(KnnBaseline(KnnOptions()), tmp_path / "r", plain)
    augmented = scores(KnnBaseline(KnnOptions(augmented=True)), tmp_path / "a", asked)
    assert [s.add for s in plain.seen] == [[]]
    assert [s.add for s in asked.seen] == [["aug"]]
    assert real["b0"] > 0.5 and augmented["b0"] == pytest.approx(0.0)  # b0 is the augmented image


def test_a_fit_selection_replaces_the_models_own(tmp_path: Path) -> None:
    select = Selections()
    fit = ImageSelection(split="probe", classes=["A"])
    scores(PcaBaseline(PcaOptions(fit=fit)), tmp_path, select)
    assert select.seen == [fit]


def test_a_model_that_does_not_say_its_training_images_is_left_out(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    ctx = context(tmp_path, {"gan": model(train_data=None)})
    with caplog.at_level(logging.WARNING):
        KnnBaseline(KnnOptions()).evaluate(ctx)
    assert ctx.scores == []
    assert "does not say what it was trained on" in caplog.text


def score_context(tmp_path: Path, images: torch.Tensor, folder: Path | None) -> ScoreContext:
    return ScoreContext(
        model=model(),
        images=images,
        seed=0,
        device=torch.device("cpu"),
        build=build,
        workdir=tmp_path / "work",
        dir=folder,
    )


@pytest.mark.parametrize(
    "evaluator",
    [
        KnnBaseline(KnnOptions(k=2)),
        PcaBaseline(PcaOptions(components=2)),
        OcsvmBaseline(OcsvmOptions()),
        KnnBaseline(
            KnnOptions(
                method="knn-cnn",
                backbone=ComponentRef("random-cnn", options=CnnOptions(dim=4, width=2), kind="backbones"),
            )
        ),
    ],
    ids=["knn", "pca", "ocsvm", "knn-backbone"],
)
def test_new_images_score_as_the_test_images_did(tmp_path: Path, evaluator: Any) -> None:
    stage = tmp_path / "stage"
    found = scores(evaluator, stage)
    (result,) = evaluator.score_images(score_context(tmp_path, TEST.images, stage))
    assert result.method == evaluator.method
    assert result.score.tolist() == [found["a0"], found["b0"]]
    assert (stage / "baselines" / f"gan-{evaluator.method}.safetensors").is_file()


def test_without_the_fit_images_a_baseline_scores_nothing(tmp_path: Path) -> None:
    evaluator = KnnBaseline(KnnOptions())
    assert evaluator.score_images(score_context(tmp_path, TEST.images, tmp_path / "empty")) == []
    assert evaluator.score_images(score_context(tmp_path, TEST.images, None)) == []


def test_two_of_a_kind_need_their_own_method_names() -> None:
    assert KnnBaseline(KnnOptions()).methods[0].name == "knn"
    renamed = KnnBaseline(KnnOptions(method="knn-5", k=5)).methods[0]
    assert (renamed.name, renamed.title, renamed.role) == ("knn-5", "knn-5", "baseline")
    with pytest.raises(ValueError, match="names score rows"):
        KnnOptions(method="k n n")


def test_the_kept_fit_images_are_the_same_bytes_every_time_and_read_back(tmp_path: Path) -> None:
    """One metadata key: safetensors writes several in a random order, which made the file (and its
    hash in ``done.json``) differ between identical runs."""
    reference = ImageSet(torch.rand(3, 1, 4, 4), torch.tensor([0, 1, 0]), ("a", "b", "c"), ("ok", "bad"))
    paths = [tmp_path / f"fit-{i}.safetensors" for i in range(8)]
    for path in paths:
        ClassicalBaseline._save(reference, path)
    assert len({path.read_bytes() for path in paths}) == 1
    back = _load(paths[0])
    assert back.ids == reference.ids and back.classes == reference.classes
    assert torch.equal(back.images, reference.images) and torch.equal(back.labels, reference.labels)


def test_fit_images_kept_before_0_2_still_read(tmp_path: Path) -> None:
    from ganaug.runtime.io import write_tensors

    path = write_tensors(
        tmp_path / "old.safetensors",
        {"images": torch.zeros(2, 1, 4, 4), "labels": torch.tensor([0, 1])},
        {"ids": '["a", "b"]', "classes": '["ok", "bad"]'},
    )
    assert _load(path).ids == ("a", "b") and _load(path).classes == ("ok", "bad")
