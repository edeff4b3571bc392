"""The quality evaluator: KID, precision/recall/density/coverage and diversity on a fitted backbone."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import Tensor

from ganaug.api.hookspecs import Register, hookimpl
from ganaug.api.interfaces import ImageSet
from ganaug.host.loading import make_plugin_host
from ganaug.recipe.load import parse_recipe
from ganaug.runner.engine import run_recipe
from ganaug.runtime.errors import DataError
from ganaug.testing import tiny_recipe
from ganaug_plugins.backbones.backbones import ClassifierCnn
from ganaug_plugins.evaluators.sample_metrics import kid, mean_pairwise_ssim, prdc
from tests.training_toys import BlobOptions, Blobs

pytestmark = pytest.mark.usefixtures("one_thread")


def _cloud(n: int, shift: float = 0.0, seed: int = 0) -> Tensor:
    return torch.randn(n, 8, generator=torch.Generator().manual_seed(seed)) + shift


def test_kid_is_near_zero_for_one_distribution_and_grows_with_a_shift() -> None:
    same, _ = kid(_cloud(200), _cloud(200, seed=1), subsets=20, subset_size=100, seed=0)
    shifted, spread = kid(_cloud(200), _cloud(200, 1.0, seed=1), subsets=20, subset_size=100, seed=0)
    assert abs(same) < 0.05 and shifted > 0.5 and spread > 0
    assert kid(_cloud(200), _cloud(200, 1.0, 1), subsets=20, subset_size=100, seed=0) == (shifted, spread)
    with pytest.raises(ValueError, match="at least 2"):
        kid(_cloud(1), _cloud(5), subsets=2, subset_size=10, seed=0)


def test_prdc_is_one_for_the_same_set_and_zero_for_a_far_one() -> None:
    real = _cloud(60)
    same = prdc(real, real.clone(), k=5)
    assert same["precision"] == same["recall"] == same["coverage"] == 1.0
    assert same["density"] >= 1.0  # each sample sits in its own ball and in some neighbours'
    far = prdc(real, _cloud(60, 100.0, seed=1), k=5)
    assert far == {"precision": 0.0, "recall": 0.0, "density": 0.0, "coverage": 0.0}
    collapsed = prdc(real, real[:1].repeat(60, 1) + 1e-6 * _cloud(60, seed=2), k=5)
    assert collapsed["precision"] == 1.0 and collapsed["recall"] < 0.2 and collapsed["coverage"] < 0.2


def test_pairwise_ssim_is_one_for_copies_and_lower_for_varied_images() -> None:
    image = torch.rand(1, 1, 16, 16) * 2 - 1
    assert mean_pairwise_ssim(image.repeat(5, 1, 1, 1)) == pytest.approx(1.0)
    assert mean_pairwise_ssim(torch.rand(5, 1, 16, 16) * 2 - 1) < 0.5


def test_the_classifier_backbone_needs_two_classes() -> None:
    images = ImageSet(torch.zeros(4, 1, 8, 8), torch.zeros(4, dtype=torch.long), tuple("abcd"), ("x", "y"))
    with pytest.raises(DataError, match="at least two classes"):
        ClassifierCnn(8, 4, 1, 1e-3).fit(images, seed=0, device=torch.device("cpu"))


class Pixels:
    """A third-party backbone: the flattened pixels."""

    def fit(self, images: ImageSet, *, seed: int, device: torch.device) -> None:
        self.n = len(images)

    def features(self, images: Tensor) -> Tensor:
        return images.flatten(1)

    def describe(self) -> str:
        return f"raw pixels (fit saw {self.n} images)"


class ThirdParty:
    @hookimpl
    def register_data_sources(self, register: Register) -> None:
        register("blobs", Blobs, options=BlobOptions)

    @hookimpl
    def register_backbones(self, register: Register) -> None:
        register("pixels", lambda options: Pixels())


HOST = make_plugin_host(
    builtins=tuple(
        f"ganaug_plugins.{name}.plugin"
        for name in (
            *("models.dcgan", "models.iagan", "losses", "weighters", "searchers"),
            *("backbones", "evaluators", "stages"),
        )
    ),
    entry_points=False,
    extra=[("thirdparty", ThirdParty())],
)

#: Two generators, plain and conditional, trained for one epoch on the ``left`` blobs.
TRAIN = {
    "kind": "train",
    "data": {"split": "train", "classes": ["left"]},
    "epochs": 1,
    "batch_size": 6,
}
PLAIN = {
    **TRAIN,
    "name": "plain",
    "generator": {"name": "dcgan", "latent_dim": 8, "width": 8},
    "discriminator": {"name": "dcgan", "width": 8},
    "loss": "bce",
    "weighter": "none",
}
CONDITIONAL = {
    **TRAIN,
    "name": "conditional",
    "generator": {"name": "iagan", "latent_dim": 8, "width": 8},
    "discriminator": {"name": "iagan", "width": 8},
}


def recipe_text(backbone: str | dict[str, Any]) -> str:
    """Both generators, then an evaluate stage scoring their samples with ``backbone``."""
    quality = {
        "name": "quality",
        "backbone": backbone,
        "fit": {"split": "train"},
        "k": 3,
        "kid_subsets": 5,
        "chunk_size": 5,
    }
    evaluate = {
        "kind": "evaluate",
        "name": "quality",
        "models": ["plain", "conditional"],
        "test": {"split": "train"},
        "positive": "right",
        "evaluators": [quality],
    }
    return tiny_recipe(PLAIN, CONDITIONAL, evaluate, data={"source": "blobs", "n": 48})


def _run(tmp_path: Path, backbone: str | dict[str, Any]) -> tuple[dict[str, Any], str]:
    recipe = parse_recipe(recipe_text(backbone), registry=HOST.registry)
    result = run_recipe(recipe, out=tmp_path / "run", host=HOST)
    folder = result.run_dir / "quality"
    return json.loads((folder / "metrics.json").read_text()), (folder / "report.md").read_text()


def test_quality_reports_every_metric_with_its_backbone(tmp_path: Path) -> None:
    metrics, report = _run(tmp_path, {"name": "classifier-cnn", "epochs": 2})
    found = metrics["plain"]["quality"]
    assert {
        "kid",
        "kid_std",
        "precision",
        "recall",
        "density",
        "coverage",
        "sample_ssim",
        "real_ssim",
    } <= set(found)
    left = int((Blobs(BlobOptions(n=48)).load(None).splits["train"].labels == 0).sum())
    assert found["reference"] == found["samples"] == left  # the test images not of 'right'
    assert "classifier-cnn (64-d features) fitted on 48 images of left, right" in found["backbone"]

    assert "conditional" not in metrics  # a conditional G's samples depend on x: skipped, logged
    assert "## Sample quality" in report and found["backbone"] in report and "| plain |" in report


def test_a_third_party_backbone_is_used_and_named(tmp_path: Path) -> None:
    metrics, report = _run(tmp_path, "pixels")
    assert metrics["plain"]["quality"]["backbone"] == "raw pixels (fit saw 48 images)"
    assert "Backbone: raw pixels" in report
