"""``ganaug validate`` builds every generator/discriminator pair a stage names for the data's declared
image and runs one batch through them: a wrong output shape, or a factory or forward pass that
raises anything, is a located problem naming the plugin (exit 2), not a traceback or a failure
minutes into a run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs
import pytest
import torch
from click.testing import CliRunner, Result
from torch import Tensor

from ganaug.api.hookspecs import Register, hookimpl
from ganaug.api.interfaces import ImageSpec, StageOutput
from ganaug.api.options import ComponentRef, component
from ganaug.apps.cli import cli
from ganaug.host.loading import make_plugin_host
from ganaug.recipe import load_recipe, network_problems
from ganaug.recipe.networks_check import network_pairs
from ganaug.testing import TINY, TinyDiscriminator, TinyGenerator, plugin_host, recipe_from, registered
from ganaug.testing.tiny import TinyNetOptions, TinySource, TinySourceOptions, tiny_recipe

ROOT = Path(__file__).resolve().parents[2]
QUICKSTART = ROOT / "examples" / "quickstart.toml"


class ShapedSource(TinySource):
    """The tiny data source, declaring its image shape (as the built-in image sources do)."""

    def declared_image(self) -> ImageSpec:
        return ImageSpec(self.options.channels, self.options.size)


class HalfSizeGenerator(TinyGenerator):
    """Builds fine, but gives images half the size asked for."""

    def __init__(self, options: TinyNetOptions, image: ImageSpec) -> None:
        super().__init__(options, ImageSpec(image.channels, image.size // 2))


class WeightsMissing(Exception):
    """Not a ValueError or TypeError: the build check once let such errors through to the run."""


def missing_weights(options: TinyNetOptions, image: ImageSpec) -> TinyGenerator:
    raise WeightsMissing("pretrained weights for this size are not installed")


def failing_generator(options: TinyNetOptions, image: ImageSpec) -> TinyGenerator:
    raise RuntimeError("the generator factory failed")


class CrashingDiscriminator(TinyDiscriminator):
    """Builds fine; its forward pass raises."""

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        raise RuntimeError("D cannot read these images")


@attrs.frozen
class Pair:
    generator: ComponentRef = component("generators", "tiny", help="G")
    discriminator: ComponentRef = component("discriminators", "tiny", help="D")


@attrs.frozen
class NestedOptions:
    """A third-party stage whose networks sit in a nested table: found by kind, not stage name."""

    nets: Pair = attrs.Factory(Pair)


class NestedStage:
    produces = frozenset({"metrics"})

    def __init__(self, options: NestedOptions) -> None:
        self.options = options

    def run(self, ctx: Any) -> StageOutput:
        return StageOutput()

    def restore(self, ctx: Any) -> StageOutput:
        return StageOutput()


class BrokenNets:
    plugin_name = "broken-nets"

    @hookimpl
    def register_data_sources(self, register: Register) -> None:
        register("shaped", ShapedSource, options=TinySourceOptions)

    @hookimpl
    def register_generators(self, register: Register) -> None:
        register("half", HalfSizeGenerator, options=TinyNetOptions)
        register("no-weights", missing_weights, options=TinyNetOptions)
        register("failing", failing_generator, options=TinyNetOptions)

    @hookimpl
    def register_discriminators(self, register: Register) -> None:
        register("crashing", CrashingDiscriminator, options=TinyNetOptions)

    @hookimpl
    def register_stages(self, register: Register) -> None:
        register("nested", NestedStage, options=NestedOptions)


def train(generator: str = "tiny", discriminator: str = "tiny") -> dict[str, Any]:
    return {
        "kind": "train",
        "name": "t",
        "data": {"split": "train"},
        "generator": {"name": generator},
        "discriminator": {"name": discriminator},
        "weighter": {"name": "none"},
    }


def validate(tmp_path: Path, *stages: dict[str, Any], source: str = "shaped") -> Result:
    recipe = tmp_path / "recipe.toml"
    recipe.write_text(tiny_recipe(*stages, data={"source": source, "size": 8}))
    with registered(TINY, BrokenNets()):
        return CliRunner().invoke(cli, ["validate", str(recipe)])


def flat(text: str) -> str:
    return " ".join(text.split())


def test_a_generator_of_the_wrong_shape_fails_validation_naming_its_plugin(tmp_path: Path) -> None:
    result = validate(tmp_path, train(generator="half"))
    assert result.exit_code == 2, result.output
    assert (
        "stages[0].generator: generator 'half' (plugin 'broken-nets'): "
        "output (2, 1, 4, 4), expected (2, 1, 8, 8)" in flat(result.output)
    )
    assert "1 problem(s)" in result.output


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("failing", "RuntimeError: the generator factory failed"),
        ("no-weights", "WeightsMissing: pretrained weights for this size are not installed"),
    ],
)
def test_a_generator_whose_factory_raises_is_a_located_problem(tmp_path: Path, name: str, error: str) -> None:
    result = validate(tmp_path, train(generator=name))
    assert result.exit_code == 2, result.output
    text = flat(result.output)
    assert (
        f"stages[0].generator: generator {name!r} (plugin 'broken-nets') cannot be built for 1x8x8 "
        f"images on the CPU: {error}" in text
    )
    assert "Traceback" not in result.output and "a bug" not in result.output


def test_a_discriminator_raising_on_one_batch_is_located_at_the_discriminator(tmp_path: Path) -> None:
    result = validate(tmp_path, train(discriminator="crashing"))
    assert result.exit_code == 2, result.output
    assert (
        "stages[0].discriminator: discriminator 'crashing' (plugin 'broken-nets') failed on one batch "
        "of 1x8x8 images: RuntimeError: D cannot read these images" in flat(result.output)
    )


def test_networks_in_a_third_party_stage_are_found_by_their_kind(tmp_path: Path) -> None:
    stage = {"kind": "nested", "name": "n", "nets": {"generator": "half"}}
    result = validate(tmp_path, stage)
    assert result.exit_code == 2, result.output
    assert "stages[0].nets.generator: generator 'half' (plugin 'broken-nets')" in flat(result.output)


def test_data_that_declares_no_image_skips_the_check(tmp_path: Path) -> None:
    result = validate(tmp_path, train(generator="failing"), source="tiny")
    assert result.exit_code == 0, result.output
    assert "ok" in result.output


def test_the_check_leaves_torchs_random_state_alone() -> None:
    host = plugin_host(TINY, BrokenNets())
    recipe = recipe_from(tiny_recipe(train(generator="half"), data={"source": "shaped", "size": 8}), host)
    before = torch.get_rng_state()
    found = network_problems(recipe, host.registry)
    assert [p.path for p in found] == ["stages[0].generator"]
    assert torch.equal(torch.get_rng_state(), before)


def test_the_quickstart_recipe_validates_clean_with_every_train_stage_checked() -> None:
    result = CliRunner().invoke(cli, ["validate", str(QUICKSTART)])
    assert result.exit_code == 0, result.output
    recipe = load_recipe(QUICKSTART, registry=make_plugin_host(entry_points=False).registry)
    checked = [spec.name for spec in recipe.stages if list(network_pairs(spec.options, spec.name))]
    assert checked == [spec.name for spec in recipe.stages if spec.kind == "train"]
    assert len(checked) == 5
