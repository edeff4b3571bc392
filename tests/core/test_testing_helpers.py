"""ganaug.testing, the plugin authors' test kit: hosts, tiny data and recipes, contract checks.

Each check is run on a good component and on a broken one, so a check that stopped checking
would fail here.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import attrs
import pytest
import torch
from click.testing import CliRunner
from torch import Tensor, nn

import ganaug.host.loading
import ganaug.runner.engine
from ganaug.api.hookspecs import Register, hookimpl
from ganaug.api.interfaces import DataBundle, ImageSpec, SearchResult, StageOutput
from ganaug.api.options import component
from ganaug.apps.cli import cli
from ganaug.runtime.errors import RecipeError
from ganaug.testing import (
    TINY,
    TinyDiscriminator,
    TinyEncoder,
    TinyGenerator,
    TinyNetOptions,
    TinySource,
    TinySourceOptions,
    check_component,
    check_data_source,
    check_discriminator,
    check_gan_loss,
    check_generator,
    check_latent_searcher,
    check_loss_weighter,
    check_options,
    plugin_host,
    recipe_from,
    registered,
    run_text,
    tiny_bundle,
    tiny_images,
    tiny_recipe,
)

IMAGE = ImageSpec(1, 8)


# --- components used below: one good of each kind and the plugin registering them -------------


@attrs.frozen
class ScaleOptions:
    scale: float = attrs.field(default=1.0, validator=attrs.validators.ge(0))


class MeanGapWeighter:
    """Weight = scale * mean |real - fake| per sample."""

    def __init__(self, options: ScaleOptions) -> None:
        self.scale = options.scale

    def weights(self, real: Tensor, fake: Tensor) -> Tensor:
        return self.scale * (real - fake).abs().flatten(1).mean(1)


class SquaredLoss:
    def discriminator_loss(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        return ((real_logits - 1) ** 2).mean() + (fake_logits**2).mean()

    def generator_loss(self, fake_logits: Tensor) -> Tensor:
        return (fake_logits - 1) ** 2


class BestOfRandom:
    """A latent searcher that keeps, per query, the best of a few seeded random codes."""

    def __init__(self, options: object) -> None:
        self.tries = 4

    def search(self, generator: Any, discriminator: Any, queries: Tensor, *, seed: int, progress=None):
        gen = torch.Generator().manual_seed(seed)
        n = queries.shape[0]
        codes = torch.randn(self.tries, n, generator.latent_dim, generator=gen)
        with torch.no_grad():
            errors = torch.stack([(generator(z) - queries).abs().flatten(1).sum(1) for z in codes])
        best = errors.argmin(0)
        z = codes[best, torch.arange(n)]
        with torch.no_grad():
            generated = generator(z)
            logits, _ = discriminator(generated)
        score = errors.min(0).values
        return SearchResult(
            z=z,
            z_initial=codes[0],
            generated=generated,
            residual=score,
            discrimination=logits,
            score=score,
            initial_score=errors[0],
            loss_history=errors,
        )


class Evaluates:
    def __init__(self, options: object) -> None:
        pass

    def evaluate(self, ctx: Any) -> None:
        ctx.metrics["seen"] = len(ctx.test)


@attrs.frozen
class ProbeOptions:
    generator: Any = component("generators", "tiny")
    samples: int = attrs.field(default=3, validator=attrs.validators.ge(1))


class ProbeStage:
    """Builds the configured generator for the data's images and reports its output range."""

    produces = frozenset({"metrics"})

    def __init__(self, options: ProbeOptions) -> None:
        self.options = options

    def run(self, ctx: Any) -> StageOutput:
        generator = ctx.build(self.options.generator, image=ctx.data.spec)
        z = torch.randn(self.options.samples, generator.latent_dim)
        images = generator(z)
        return StageOutput(metrics={"shape": list(images.shape), "train": len(ctx.data.splits["train"])})

    def restore(self, ctx: Any) -> StageOutput:
        return StageOutput()


class EveryKind:
    """One component through each hook, so every hook is exercised by a registry build."""

    plugin_name = "every-kind"

    @hookimpl
    def register_generators(self, register: Register) -> None:
        register("mlp", TinyGenerator, options=TinyNetOptions)

    @hookimpl
    def register_discriminators(self, register: Register) -> None:
        register("mlp", TinyDiscriminator, options=TinyNetOptions)

    @hookimpl
    def register_encoders(self, register: Register) -> None:
        register("mlp", TinyEncoder, options=TinyNetOptions)

    @hookimpl
    def register_gan_losses(self, register: Register) -> None:
        register("squared", lambda options: SquaredLoss(), description="least squares")

    @hookimpl
    def register_loss_weighters(self, register: Register) -> None:
        register("mean-gap", MeanGapWeighter, options=ScaleOptions)

    @hookimpl
    def register_augmenters(self, register: Register) -> None:
        register("identity", lambda options: lambda images, rng: images)

    @hookimpl
    def register_regularizers(self, register: Register) -> None:
        register("zero", lambda options: object())

    @hookimpl
    def register_backbones(self, register: Register) -> None:
        register("flat", lambda options: object())

    @hookimpl
    def register_latent_searchers(self, register: Register) -> None:
        register("best-of-random", BestOfRandom)

    @hookimpl
    def register_evaluators(self, register: Register) -> None:
        register("count", Evaluates)

    @hookimpl
    def register_data_sources(self, register: Register) -> None:
        register("also-tiny", lambda options: TinySource(TinySourceOptions()))

    @hookimpl
    def register_stages(self, register: Register) -> None:
        register("probe", ProbeStage, options=ProbeOptions)

    @hookimpl
    def register_trackers(self, register: Register) -> None:
        register("quiet", lambda options: object())


@pytest.fixture
def host():
    return plugin_host(TINY, EveryKind(), builtins=False)


# --- plugin hosts -----------------------------------------------------------------------------


def test_every_hook_registers_through_the_host(host) -> None:
    names = {kind: host.registry.names(kind) for kind in host.registry.kinds()}
    assert names == {
        "generators": ["mlp", "tiny"],
        "discriminators": ["mlp", "tiny"],
        "encoders": ["mlp", "tiny"],
        "gan_losses": ["squared"],
        "loss_weighters": ["mean-gap"],
        "augmenters": ["identity"],
        "regularizers": ["zero"],
        "backbones": ["flat"],
        "latent_searchers": ["best-of-random"],
        "evaluators": ["count"],
        "data_sources": ["also-tiny", "tiny"],
        "stages": ["probe"],
        "trackers": ["quiet"],
    }
    assert {p.name for p in host.loaded} == {"ganaug.testing:tiny", "every-kind"}


def test_plugin_host_ignores_the_environment_and_names_plugins(monkeypatch) -> None:
    monkeypatch.setenv("GANAUG_BLOCK_PLUGINS", "ganaug.testing:tiny,renamed")
    host = plugin_host(TINY, ("renamed", EveryKind()), builtins=False)
    assert [p.name for p in host.loaded] == ["ganaug.testing:tiny", "renamed"]
    assert (
        plugin_host(TINY, EveryKind(), builtins=False, blocked=["every-kind"]).registry.names("stages") == []
    )


def test_plugin_host_names_a_module_by_its_module_name() -> None:
    import ganaug.testing.tiny as module  # a module with no hooks is still a valid plugin

    host = plugin_host(module, builtins=False)
    assert [p.name for p in host.loaded] == ["ganaug.testing.tiny"]


def test_plugin_host_raises_for_a_misspelt_hook() -> None:
    class Misspelt:
        @hookimpl
        def register_generator(self, register: Register) -> None:  # no such hook: no final "s"
            pass

    with pytest.raises(AssertionError, match=r"Misspelt.*unknown hook"):
        plugin_host(Misspelt(), builtins=False)


def test_registered_reaches_the_cli_and_is_undone() -> None:
    original = ganaug.host.loading.make_plugin_host
    with registered(TINY):
        assert ganaug.runner.engine.make_plugin_host is not original
        shown = CliRunner().invoke(cli, ["plugins"])
    assert shown.exit_code == 0, shown.output
    assert "ganaug.testing:tiny" in shown.output and "data_sources: tiny" in shown.output
    assert (
        ganaug.host.loading.make_plugin_host is original and ganaug.runner.engine.make_plugin_host is original
    )
    after = CliRunner().invoke(cli, ["plugins"])
    assert "ganaug.testing:tiny" not in after.output


def test_registered_plugins_run_a_recipe_through_the_cli(tmp_path: Path) -> None:
    recipe = tmp_path / "recipe.toml"
    recipe.write_text(tiny_recipe({"kind": "probe", "samples": 2}, data={"size": 8}))
    with registered(TINY, EveryKind()):
        result = CliRunner().invoke(cli, ["run", str(recipe), "--out", str(tmp_path / "run"), "--quiet"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "run" / "probe" / "done.json").exists()


# --- tiny data and recipes ----------------------------------------------------------------------


def test_tiny_images_are_seeded_labelled_and_in_range() -> None:
    images = tiny_images(12, ("x", "y", "z"), size=6, channels=3, seed=5)
    assert images.images.shape == (12, 3, 6, 6) and images.images.dtype == torch.float32
    assert float(images.images.min()) >= -1 and float(images.images.max()) <= 1
    assert images.labels.tolist() == [0, 1, 2] * 4 and images.classes == ("x", "y", "z")
    assert len(set(images.ids)) == 12
    assert torch.equal(images.images, tiny_images(12, ("x", "y", "z"), 6, 3, 5).images)
    assert not torch.equal(images.images, tiny_images(12, ("x", "y", "z"), 6, 3, 6).images)
    means = [float(images.of_classes([c]).images.mean()) for c in images.classes]
    assert means[0] < means[1] < means[2]  # the classes can be told apart


def test_tiny_bundle_has_distinct_splits() -> None:
    bundle = tiny_bundle(per_class=3, classes=("a", "b"), splits=("train", "test", "held"))
    assert isinstance(bundle, DataBundle) and list(bundle.splits) == ["train", "test", "held"]
    assert all(len(split) == 6 for split in bundle.splits.values())
    assert not set(bundle.splits["train"].ids) & set(bundle.splits["test"].ids)
    assert not torch.equal(bundle.splits["train"].images, bundle.splits["test"].images)


def test_tiny_recipe_resolves_and_runs(host, tmp_path: Path) -> None:
    text = tiny_recipe(
        {"kind": "probe", "name": "p", "generator": {"name": "mlp", "latent_dim": 3}},
        data={"per_class": 2, "size": 8},
        run={"seed": 4},
    )
    recipe = recipe_from(text, host)
    assert recipe.run.seed == 4 and recipe.run.device == "cpu" and recipe.data.name == "tiny"
    assert recipe.stage("p").options.generator.options == TinyNetOptions(latent_dim=3)
    result = run_text(text, host, tmp_path / "run")
    assert result.metrics["p"] == {"shape": [3, 1, 8, 8], "train": 4}


def test_tiny_recipe_lays_data_and_run_over_its_defaults() -> None:
    """``data`` and ``run`` override the defaults key by key: another source, split tables, a name."""
    split = {"train": {"8": 16}, "test": {"8": 4, "3": 4}}
    stage = {"kind": "train", "name": "t", "data": {"split": "train", "add": ["aug"]}}
    text = tiny_recipe(stage, data={"source": "mnist-5k", "split": split}, run={"name": "x", "seed": 3})
    assert tomllib.loads(text) == {
        "run": {"name": "x", "seed": 3, "device": "cpu"},
        "data": {"source": "mnist-5k", "split": split},
        "stages": [stage],
    }


def test_tiny_recipe_errors_are_located(host) -> None:
    text = tiny_recipe({"kind": "probe", "samples": 0}, data={"classes": "a"})
    with pytest.raises(RecipeError) as caught:
        recipe_from(text, host)
    assert {p.path for p in caught.value.problems} == {"data.classes", "stages[0].samples"}
    with pytest.raises(ValueError, match="at least one stage"):
        tiny_recipe()


# --- contract checks ------------------------------------------------------------------------------


def test_check_component_builds_and_checks_each_kind(host) -> None:
    generator = check_component(host, "generators", "mlp", {"conditional": True}, image=IMAGE)
    assert generator.conditional and generator.image == IMAGE
    assert isinstance(check_component(host, "discriminators", "mlp", image=IMAGE), TinyDiscriminator)
    assert isinstance(check_component(host, "gan_losses", "squared"), SquaredLoss)
    assert check_component(host, "loss_weighters", "mean-gap", {"scale": 2.0}).scale == 2.0
    assert isinstance(check_component(host, "latent_searchers", "best-of-random"), BestOfRandom)
    assert check_component(host, "data_sources", "tiny", {"per_class": 1}).options.per_class == 1
    assert isinstance(check_component(host, "evaluators", "count"), Evaluates)


def test_check_component_builds_encoders_and_searchers_for_the_latent_dim_asked(host) -> None:
    encoder = check_component(host, "encoders", "mlp", image=IMAGE, latent_dim=16)
    assert encoder.latent_dim == 16
    assert encoder(tiny_images(2, size=IMAGE.size).images).shape == (2, 16)
    assert check_component(host, "encoders", "mlp", image=IMAGE).latent_dim == 8  # the default
    assert check_latent_searcher(BestOfRandom(None), image=IMAGE, latent_dim=5).z.shape == (3, 5)

    class FixedWidth:  # an encoder plugin that ignores the latent_dim it is built with
        @hookimpl
        def register_encoders(self, register: Register) -> None:
            register("fixed", lambda options, image, latent_dim: TinyEncoder(options, image), TinyNetOptions)

    fixed = plugin_host(("fixed-width", FixedWidth()), builtins=False)
    assert check_component(fixed, "encoders", "fixed", image=IMAGE).latent_dim == 8
    with pytest.raises(AssertionError, match="latent_dim is 8, asked for 16"):
        check_component(fixed, "encoders", "fixed", image=IMAGE, latent_dim=16)


def test_check_component_reports_located_option_problems(host) -> None:
    with pytest.raises(RecipeError) as caught:
        check_component(host, "loss_weighters", "mean-gap", {"scale": -1.0})
    assert [str(p) for p in caught.value.problems] == [
        "loss_weighters.mean-gap.scale: 'scale' must be >= 0: -1.0"
    ]
    with pytest.raises(RecipeError, match="did you mean 'mean-gap'"):
        check_component(host, "loss_weighters", "mean-gaps")


def test_check_options_round_trips_and_refuses_non_attrs() -> None:
    assert check_options(ScaleOptions, {"scale": 3}) == ScaleOptions(3.0)
    with pytest.raises(AssertionError, match="not an attrs class"):
        check_options(dict)
    with pytest.raises(AssertionError, match="does not structure"):
        check_options(ScaleOptions, {"scale": "big"})


class Untanhed(TinyGenerator):
    def forward(self, z: Tensor, x: Tensor | None = None) -> Tensor:
        return 3 * super().forward(z, x)


class FlatLogits(TinyDiscriminator):
    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        logits, features = super().forward(x)
        return logits.unsqueeze(1), features


class Detached(TinyDiscriminator):
    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        logits, features = super().forward(x.detach())
        return logits, features


class MeanGenerator(SquaredLoss):
    def generator_loss(self, fake_logits: Tensor) -> Tensor:
        return super().generator_loss(fake_logits).mean()


class DeadPenalty(SquaredLoss):
    def discriminator_penalty(self, discriminator: nn.Module, real: Tensor, fake: Tensor) -> Tensor:
        return (real - fake).pow(2).mean().requires_grad_(True)


class Negative(MeanGapWeighter):
    def weights(self, real: Tensor, fake: Tensor) -> Tensor:
        return -super().weights(real, fake)


@pytest.mark.parametrize(
    ("check", "good", "bad", "message"),
    [
        (check_generator, TinyGenerator(image=IMAGE), Untanhed(image=IMAGE), r"leaves \[-1, 1\]"),
        (check_discriminator, TinyDiscriminator(image=IMAGE), FlatLogits(image=IMAGE), "logits shape"),
        (check_discriminator, TinyDiscriminator(image=IMAGE), Detached(image=IMAGE), "no gradient"),
        (check_gan_loss, SquaredLoss(), MeanGenerator(), "generator_loss shape"),
        (check_gan_loss, SquaredLoss(), DeadPenalty(), "does not reach the discriminator"),
        (check_loss_weighter, MeanGapWeighter(ScaleOptions()), Negative(ScaleOptions()), "negative"),
    ],
)
def test_checks_pass_good_and_catch_broken_components(check, good, bad, message: str) -> None:
    image = {"image": IMAGE}
    check(good, **image)
    with pytest.raises(AssertionError, match=message):
        check(bad, **image)


def test_check_gan_loss_returns_the_terms() -> None:
    terms = check_gan_loss(SquaredLoss())
    assert set(terms) == {"discriminator_loss", "generator_loss"}
    assert terms["generator_loss"].shape == (4,)


def test_check_latent_searcher_catches_a_short_result() -> None:
    result = check_latent_searcher(BestOfRandom(None), image=IMAGE, batch=3)
    assert result.z.shape == (3, 8) and result.generated.shape == (3, 1, 8, 8)

    class DropsOne(BestOfRandom):
        def search(self, generator: Any, discriminator: Any, queries: Tensor, **kwargs: Any):
            return super().search(generator, discriminator, queries[:-1], **kwargs)

    with pytest.raises(AssertionError, match="rows"):
        check_latent_searcher(DropsOne(None), image=IMAGE)


def test_check_data_source_compares_declared_names(host) -> None:
    source = check_component(host, "data_sources", "tiny", {"classes": ["p", "q"]})
    assert check_data_source(source).classes == ("p", "q")

    class Misdeclared:  # a DeclaresNames source: both methods, None for what it cannot know
        def declared_splits(self) -> list[str] | None:
            return None

        def declared_classes(self) -> list[str]:
            return ["p"]

        def load(self, ctx: Any) -> DataBundle:
            return source.load(ctx)

    with pytest.raises(AssertionError, match="declared_classes"):
        check_data_source(Misdeclared())
