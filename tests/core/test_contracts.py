"""Plugin contracts a third party relies on: early shape checks, errors that name the plugin,
composition through a builder, declared capabilities, and searchers scored by their own formula."""

from __future__ import annotations

import ast
import logging
from pathlib import Path
from typing import Any

import attrs
import pytest
import torch
from torch import Tensor, nn

from ganaug.api import capabilities
from ganaug.api.capabilities import Method, ShardableSearcher
from ganaug.api.hookspecs import Register, hookimpl
from ganaug.api.interfaces import EvalContext, ImageSpec, SearchResult
from ganaug.api.networks import generate, output_problems
from ganaug.api.options import ComponentRef, component
from ganaug.host.registry import builder, takes_build
from ganaug.runtime.errors import PluginError, RecipeError
from ganaug.runtime.progress import Progress
from ganaug.testing import (
    TINY,
    TinyDiscriminator,
    TinyGenerator,
    check_generator,
    plugin_host,
    recipe_from,
    registered,
    run_text,
)
from ganaug.testing.tiny import TinyNetOptions, tiny_images, tiny_recipe
from ganaug_plugins.evaluators.anogan import AnoGANEvaluator, AnoGANOptions
from ganaug_plugins.searchers.backprop import BackpropOptions, BackpropSearcher
from tests.docs_sections import doc_section, public_members

ROOT = Path(__file__).resolve().parents[2]
IMAGE = ImageSpec(1, 8)


class HalfSizeGenerator(TinyGenerator):
    """Gives images half the size asked for: the wrong output shape of the issue."""

    def __init__(self, options: TinyNetOptions, image: ImageSpec) -> None:
        super().__init__(options, ImageSpec(image.channels, image.size // 2))


class PoolingDiscriminator(nn.Module):
    """Pools over space, so it accepts any image size (and so hides a wrong G until late)."""

    def __init__(self, options: TinyNetOptions, image: ImageSpec) -> None:
        super().__init__()
        self.conv = nn.Conv2d(image.channels, 4, 3, padding=1)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        features = self.conv(x).mean(dim=(2, 3))
        return features.sum(1), features


class FailingLoss:
    """A GAN loss whose generator term raises: an error inside third-party code."""

    def discriminator_loss(self, real: Tensor, fake: Tensor) -> Tensor:
        return (fake - real).mean()

    def generator_loss(self, fake: Tensor) -> Tensor:
        raise ValueError("boom in generator_loss")


class ThirdParty:
    plugin_name = "acme"

    @hookimpl
    def register_generators(self, register: Register) -> None:
        register("half", HalfSizeGenerator, options=TinyNetOptions, description="wrong size")

    @hookimpl
    def register_discriminators(self, register: Register) -> None:
        register("pool", PoolingDiscriminator, options=TinyNetOptions, description="pools")

    @hookimpl
    def register_gan_losses(self, register: Register) -> None:
        register("failing", lambda options: FailingLoss(), description="raises")


def _train(**stage: Any) -> str:
    table = {
        "kind": "train",
        "name": "t",
        "data": {"split": "train"},
        "generator": {"name": "tiny"},
        "discriminator": {"name": "tiny"},
        "weighter": {"name": "none"},
        "epochs": 1,
        "batch_size": 4,
        **stage,
    }
    return tiny_recipe(table, data={"size": 8, "per_class": 4})


def test_a_generator_of_the_wrong_shape_fails_when_built_naming_it_and_its_plugin(tmp_path: Path) -> None:
    host = plugin_host(TINY, ThirdParty())
    text = _train(generator={"name": "half"}, discriminator={"name": "pool"})
    with pytest.raises(PluginError) as caught:
        run_text(text, host, tmp_path / "run")
    message = str(caught.value)
    assert "generator 'half' (plugin 'acme')" in message
    assert "output (2, 1, 4, 4), expected (2, 1, 8, 8)" in message
    assert not (tmp_path / "run" / "t" / "done.json").exists()


def test_output_problems_lists_each_role_and_changes_no_state() -> None:
    g, d = TinyGenerator(image=IMAGE), TinyDiscriminator(image=IMAGE)
    g.train()
    rng_before = torch.get_rng_state()
    assert output_problems(g, d, IMAGE) == []
    assert g.training and torch.equal(torch.get_rng_state(), rng_before)
    problems = output_problems(
        HalfSizeGenerator(TinyNetOptions(), IMAGE), PoolingDiscriminator(None, IMAGE), IMAGE
    )  # type: ignore[arg-type]
    assert [role for role, _ in problems] == ["generator"]


def test_an_error_inside_plugin_code_names_the_plugin_not_a_bug_of_ours(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    host = plugin_host(TINY, ThirdParty())
    with caplog.at_level(logging.ERROR, logger="ganaug"), pytest.raises(PluginError) as caught:
        run_text(_train(loss={"name": "failing"}), host, tmp_path / "run")
    message = str(caught.value)
    assert message.startswith("plugin 'acme' failed: ValueError: boom in generator_loss")
    assert "test_contracts.py" in message and "in generator_loss" in message
    assert "GANAUG_BLOCK_PLUGINS=acme" in message
    assert "a bug; please report it" not in caplog.text
    assert isinstance(caught.value.__cause__, ValueError)


def test_check_generator_says_what_it_expected() -> None:
    with pytest.raises(AssertionError, match=r"output \(3, 1, 4, 4\), expected \(3, 1, 8, 8\)"):
        check_generator(HalfSizeGenerator(TinyNetOptions(), IMAGE), IMAGE)


# --- composition --------------------------------------------------------------------------------


@attrs.frozen
class BestOfOptions:
    inner: ComponentRef = component("latent_searchers", "backprop", steps=2)


class BestOf:
    """Wraps another searcher by name: the builder is its only way to it."""

    def __init__(self, options: BestOfOptions, build: Any) -> None:
        self.inner = build(options.inner)


class Composer:
    plugin_name = "composer"

    @hookimpl
    def register_latent_searchers(self, register: Register) -> None:
        register("best-of", BestOf, options=BestOfOptions, description="wraps a searcher")


def test_a_factory_that_takes_build_gets_a_builder_for_other_components() -> None:
    host = plugin_host(TINY, Composer())
    assert takes_build(BestOf) and not takes_build(BackpropSearcher)
    train = {"kind": "train", "name": "t", "generator": {"name": "tiny"}, "discriminator": {"name": "tiny"}}
    augment = {
        "kind": "augment",
        "name": "a",
        "model": "t",
        "queries": [{"split": "test"}],
        "label": "a",
        "searcher": {"name": "best-of", "inner": {"name": "backprop", "steps": 3}},
    }
    recipe = recipe_from(tiny_recipe(train, augment), host)
    built = builder(host.registry)(recipe.stage("a").options.searcher)
    assert isinstance(built, BestOf) and isinstance(built.inner, BackpropSearcher)
    assert built.inner.options == BackpropOptions(steps=3)
    bad = dict(augment, searcher={"name": "best-of", "inner": {"name": "backprop", "steps": -1}})
    with pytest.raises(RecipeError) as caught:
        recipe_from(tiny_recipe(train, bad), host)
    assert [p.path for p in caught.value.problems] == ["stages[1].searcher.inner.steps"]


# --- declared capabilities ----------------------------------------------------------------------


def test_the_builtin_searcher_declares_its_capabilities() -> None:
    searcher = BackpropSearcher(BackpropOptions(steps=2))
    assert isinstance(searcher, ShardableSearcher)
    assert isinstance(searcher, capabilities.RecordsSteps)
    assert capabilities.recorded_steps(object(), 3) == [0, 1, 2]


class PlainSearcher:
    """Searches nothing: G at the start; reports no starting-point terms and no z_init."""

    def search(
        self, generator: nn.Module, discriminator: nn.Module, queries: Tensor, **_: Any
    ) -> SearchResult:
        n = int(queries.shape[0])
        z = torch.zeros(n, int(generator.latent_dim))
        with torch.no_grad():
            fake = generate(generator, z, queries)
        score = (queries - fake).abs().flatten(1).sum(1) * 0 + torch.arange(n, dtype=torch.float32)
        zero = torch.zeros(n)
        return SearchResult(z, z, fake, score, zero, score, score, torch.zeros(1, n))


def _eval_ctx(tmp_path: Path, searcher: Any) -> EvalContext:
    from ganaug.api.interfaces import TrainedModel

    test = tiny_images(3, ("a", "b"), IMAGE.size, 1, 0)
    model = TrainedModel("m", TinyGenerator(image=IMAGE), TinyDiscriminator(image=IMAGE), IMAGE)
    return EvalContext(
        models={"m": model},
        test=test,
        positive="b",
        dir=tmp_path,
        device=torch.device("cpu"),
        seed=0,
        log=logging.getLogger("test"),
        progress=Progress(),
        build=lambda ref: searcher,
    )


def test_the_init_control_uses_the_searchers_own_terms(tmp_path: Path) -> None:
    searcher = BackpropSearcher(BackpropOptions(steps=3, feature_weight=0.5))
    ctx = _eval_ctx(tmp_path, searcher)
    AnoGANEvaluator(AnoGANOptions(curves=0, samples=0)).evaluate(ctx)
    init = [row for row in ctx.scores if row["method"] == "anogan@init"]
    result = searcher.search(
        ctx.models["m"].generator, ctx.models["m"].discriminator, ctx.test.images, seed=0
    )
    assert [row["score"] for row in init] == pytest.approx(result.initial_score.tolist())
    assert [row["residual"] for row in init] == pytest.approx(result.initial_residual.tolist())


def test_a_searcher_without_starting_terms_gets_no_init_control(tmp_path: Path) -> None:
    ctx = _eval_ctx(tmp_path, PlainSearcher())
    AnoGANEvaluator(AnoGANOptions(curves=0, samples=0)).evaluate(ctx)
    methods = {row["method"] for row in ctx.scores}
    assert methods == {"anogan"}
    assert [row["score"] for row in ctx.scores] == [float(i) for i in range(len(ctx.test))]


def test_methods_are_validated() -> None:
    with pytest.raises(ValueError):
        Method("x", "X", role="judge")


# --- one place per concept, no cross-family imports ------------------------------------------------


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
    return found


def test_no_builtin_family_imports_another_familys_modules() -> None:
    """A built-in plugin uses only the core and its own family folder, as a third party would."""
    problems = []
    for path in sorted((ROOT / "plugins").rglob("*.py")):
        family = path.relative_to(ROOT / "plugins").parts[0]
        if family == "__init__.py":
            continue
        if family == "models":
            family = "/".join(path.relative_to(ROOT / "plugins").parts[:2])
        own = "ganaug_plugins." + family.replace("/", ".")
        for module in _imports(path):
            if module.startswith("ganaug_plugins") and not (module == own or module.startswith(own + ".")):
                problems.append(f"{path.relative_to(ROOT)} imports {module}")
    assert not problems, "\n".join(problems)


def test_conditional_generation_is_written_once() -> None:
    """'G(z, x) if conditional else G(z)' lives in ganaug.api.networks.generate only."""
    offenders = [
        str(path.relative_to(ROOT))
        for folder in ("ganaug", "plugins")
        for path in (ROOT / folder).rglob("*.py")
        if (path.name != "networks.py" and 'getattr(generator, "conditional"' in path.read_text())
        or 'conditional", False) else' in path.read_text()
    ]
    assert not offenders, offenders


def test_ganaug_run_builds_the_plugin_host_once(tmp_path: Path) -> None:
    import ganaug.host.loading

    recipe = tmp_path / "r.toml"
    recipe.write_text(_train())
    calls: list[dict[str, Any]] = []
    with registered(TINY):
        inner = ganaug.host.loading.make_plugin_host

        def counting(**kwargs: Any) -> Any:
            calls.append(kwargs)
            return inner(**kwargs)

        ganaug.host.loading.make_plugin_host = counting  # type: ignore[assignment]
        try:
            result = ganaug.run(recipe, out=tmp_path / "run")
        finally:
            ganaug.host.loading.make_plugin_host = inner  # type: ignore[assignment]
    assert len(calls) == 1
    assert (result.run_dir / "t" / "done.json").exists()


def _capabilities() -> list[str]:
    return sorted(
        name
        for name, obj in vars(capabilities).items()
        if isinstance(obj, type) and obj.__module__ == capabilities.__name__ and not name.startswith("_")
    )


@pytest.mark.parametrize("name", _capabilities())
def test_capability_is_documented(name: str) -> None:
    """Each declared extension point has a docs/plugins.md section naming all its members."""
    section = doc_section(name)
    assert section, f"docs/plugins.md has no '### `{name}`' section"
    cls = getattr(capabilities, name)
    missing = sorted(m for m in public_members(cls) if f"`{m}" not in section and f".{m}" not in section)
    assert not missing, f"the {name} section does not mention {missing}"


def test_capabilities_are_runtime_checkable_protocols() -> None:
    protocols = [getattr(capabilities, n) for n in _capabilities() if n != "Method"]
    assert protocols and all(getattr(p, "_is_runtime_protocol", False) for p in protocols)
