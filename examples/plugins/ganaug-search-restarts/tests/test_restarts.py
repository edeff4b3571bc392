"""Tests of the restarts searcher, written with ganaug.testing as any plugin author would."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from ganaug_search_restarts import RestartsOptions, RestartsSearcher, wrap
from ganaug_search_restarts import plugin as restarts_plugin
from torch import Tensor, nn

from ganaug.api.capabilities import RecordsSteps, ShardableSearcher
from ganaug.api.hookspecs import Register, hookimpl
from ganaug.api.interfaces import ImageSpec, SearchResult
from ganaug.api.options import ComponentRef
from ganaug.runtime.errors import RecipeError
from ganaug.runtime.seeds import derive_seed
from ganaug.testing import (
    TINY,
    TinyDiscriminator,
    TinyGenerator,
    check_component,
    plugin_host,
    recipe_from,
    run_text,
    tiny_images,
    tiny_recipe,
)

IMAGE = ImageSpec(1, 8)
STEPS = 20  # a short search: enough for restarts to land in different places


class GuessSearcher:
    """No search: scores one random z per image. A searcher without the optional capabilities."""

    def __init__(self, options: Any = None) -> None:
        self.options = options

    def search(
        self,
        generator: nn.Module,
        discriminator: nn.Module,
        queries: Tensor,
        *,
        seed: int,
        progress: Any = None,
    ) -> SearchResult:
        n = int(queries.shape[0])
        z = torch.randn(n, generator.latent_dim, generator=torch.Generator().manual_seed(seed))
        with torch.no_grad():
            fake = generator(z)
        residual = (queries - fake).abs().flatten(1).sum(1)
        zero = torch.zeros(n)
        return SearchResult(z, z, fake, residual, zero, residual, residual, residual[None])


class GuessPlugin:
    """Registers ``guess``, a third-party searcher ``restarts`` can wrap by name."""

    plugin_name = "guess"

    @hookimpl
    def register_latent_searchers(self, register: Register) -> None:
        register("guess", GuessSearcher, description="one random z per image, no search")


@pytest.fixture(scope="module")
def host():
    return plugin_host(restarts_plugin, GuessPlugin())  # the built-ins (backprop) and this plugin


@pytest.fixture(scope="module")
def networks() -> tuple[nn.Module, nn.Module, Tensor]:
    torch.manual_seed(0)
    generator, discriminator = TinyGenerator(image=IMAGE).eval(), TinyDiscriminator(image=IMAGE).eval()
    return generator, discriminator, tiny_images(6, size=IMAGE.size, seed=1).images


@pytest.fixture(scope="module")
def inner(host) -> Any:
    """The built-in searcher alone, as the restarted runs use it."""
    return backprop(host)


@pytest.fixture(scope="module")
def three(host) -> Any:
    """It restarted the default number of times (3), built and contract-checked as a recipe would."""
    return restarts(host)


def backprop(host, **options: Any) -> Any:
    return check_component(host, "latent_searchers", "backprop", {"steps": STEPS, **options}, image=IMAGE)


def restarts(host, restarts: int | None = None, **inner: Any) -> Any:
    table: dict[str, Any] = {"inner": {"name": "backprop", "steps": STEPS, **inner}}
    if restarts is not None:
        table["restarts"] = restarts
    return check_component(host, "latent_searchers", "restarts", table, image=IMAGE)


def assert_same(a: SearchResult, b: SearchResult, **tolerance: float) -> None:
    assert a.per_image().keys() == b.per_image().keys()
    for name, value in a.per_image().items():
        torch.testing.assert_close(value, b.per_image()[name], msg=name, **tolerance)
    torch.testing.assert_close(a.loss_history, b.loss_history, **tolerance)


def test_registered_and_meets_the_searcher_contract(host, three) -> None:
    assert "restarts" in host.registry.names("latent_searchers")
    assert RestartsOptions() == RestartsOptions(inner=ComponentRef("backprop"), restarts=3)
    searcher = three
    assert isinstance(searcher, RestartsSearcher)
    assert searcher.options.restarts == 3
    assert (searcher.options.inner.kind, searcher.options.inner.name) == ("latent_searchers", "backprop")
    inner = searcher.options.inner.options  # resolved: backprop's options class, its defaults filled in
    assert (inner.steps, inner.feature_weight) == (STEPS, 0.2)
    assert isinstance(searcher, ShardableSearcher) and isinstance(searcher, RecordsSteps)
    assert searcher.recorded_steps == searcher.inner.recorded_steps


def test_capabilities_follow_the_inner_searcher(host, networks) -> None:
    searcher = check_component(host, "latent_searchers", "restarts", {"inner": "guess"}, image=IMAGE)
    assert isinstance(searcher.inner, GuessSearcher)  # built by name from another plugin
    assert not isinstance(searcher, ShardableSearcher)
    assert not isinstance(searcher, RecordsSteps)
    generator, discriminator, queries = networks
    with pytest.raises(ValueError, match="z_init"):
        searcher.search(
            generator, discriminator, queries, seed=0, z_init=torch.zeros(6, generator.latent_dim)
        )


def test_keeps_the_lowest_score_of_each_image(host, networks) -> None:
    """With a searcher that only guesses, the result is the element-wise best of its seeded runs."""
    generator, discriminator, queries = networks
    searcher = wrap(RestartsOptions(inner=ComponentRef("guess"), restarts=3), GuessSearcher())
    result = searcher.search(generator, discriminator, queries, seed=5)
    seeds = [5, derive_seed(5, "restart", 1), derive_seed(5, "restart", 2)]
    runs = [GuessSearcher().search(generator, discriminator, queries, seed=s) for s in seeds]
    scores = torch.stack([run.score for run in runs])
    best = scores.argmin(0)
    assert len(set(best.tolist())) > 1  # the test means something: different runs win
    assert torch.equal(result.score, scores.min(0).values)
    for i, r in enumerate(best.tolist()):
        assert torch.equal(result.z[i], runs[r].z[i])
        assert torch.equal(result.generated[i], runs[r].generated[i])
        assert torch.equal(result.loss_history[:, i], runs[r].loss_history[:, i])


def test_best_of_n_is_never_worse_than_one_run(inner, three, networks) -> None:
    generator, discriminator, queries = networks
    single = inner.search(generator, discriminator, queries, seed=0)
    best = three.search(generator, discriminator, queries, seed=0)
    assert bool((best.score <= single.score).all()), (best.score, single.score)
    improved = best.score < single.score
    assert bool(improved.any())  # a later restart won somewhere
    # An image whose restart 0 lost took every field from the winning restart, its start included.
    assert not torch.equal(best.z_initial[improved], single.z_initial[improved])
    torch.testing.assert_close(best.z_initial[~improved], single.z_initial[~improved])
    # backprop's last history row is the final loss, i.e. the score: the columns match the choice.
    torch.testing.assert_close(best.loss_history[-1], best.score)


def test_one_restart_is_exactly_the_inner_searcher(host, inner, networks) -> None:
    generator, discriminator, queries = networks
    once = restarts(host, 1)
    assert_same(
        once.search(generator, discriminator, queries, seed=3),
        inner.search(generator, discriminator, queries, seed=3),
        rtol=0,
        atol=0,
    )
    z0 = torch.randn(6, generator.latent_dim, generator=torch.Generator().manual_seed(9))
    assert_same(
        once.search(generator, discriminator, queries, seed=3, z_init=z0),
        inner.search(generator, discriminator, queries, seed=3, z_init=z0),
        rtol=0,
        atol=0,
    )


def test_initial_z_is_where_the_search_starts(three, networks) -> None:
    """What sharded and resumed searches rely on: handing in ``initial_z`` changes nothing."""
    generator, discriminator, queries = networks
    searcher = three
    z0 = searcher.initial_z(6, generator.latent_dim, 7)
    assert torch.equal(z0, searcher.inner.initial_z(6, generator.latent_dim, 7))
    assert_same(
        searcher.search(generator, discriminator, queries, seed=7),
        searcher.search(generator, discriminator, queries, seed=7, z_init=z0),
        rtol=0,
        atol=0,
    )


def test_batched_equals_one_image_at_a_time(three, networks) -> None:
    """Each image's restarts start where they would if it were searched alone (sharding relies on it)."""
    generator, discriminator, queries = networks
    searcher = three
    z0 = searcher.initial_z(6, generator.latent_dim, 0)
    batched = searcher.search(generator, discriminator, queries, seed=0, z_init=z0)
    for i in range(6):
        alone = searcher.search(generator, discriminator, queries[i : i + 1], seed=0, z_init=z0[i : i + 1])
        for name, value in alone.per_image().items():
            torch.testing.assert_close(value[0], batched.per_image()[name][i], rtol=1e-4, atol=1e-4, msg=name)
        torch.testing.assert_close(alone.loss_history[:, 0], batched.loss_history[:, i], rtol=1e-4, atol=1e-4)


def test_restarts_follow_the_seed(three, networks) -> None:
    generator, discriminator, queries = networks
    searcher = three
    first = searcher.search(generator, discriminator, queries, seed=1)
    assert_same(first, searcher.search(generator, discriminator, queries, seed=1), rtol=0, atol=0)
    assert not torch.equal(first.score, searcher.search(generator, discriminator, queries, seed=2).score)


@pytest.mark.parametrize(
    ("table", "path"),
    [
        ({"inner": {"name": "backprop", "steps": -1}}, "inner.steps"),
        ({"inner": {"name": "no-such-searcher"}}, "inner.name"),
        ({"restarts": 0}, "restarts"),
    ],
)
def test_options_are_checked_with_their_path(host, table: dict, path: str) -> None:
    with pytest.raises(RecipeError) as caught:
        check_component(host, "latent_searchers", "restarts", table, image=IMAGE)
    assert [p.path for p in caught.value.problems] == [f"latent_searchers.restarts.{path}"]


def _evaluate_recipe(searcher: dict[str, Any]) -> str:
    train = {
        "kind": "train",
        "name": "gan",
        "data": {"split": "train", "classes": ["a"]},
        "generator": "tiny",
        "discriminator": "tiny",
        "loss": "bce",
        "weighter": "none",
        "epochs": 1,
        "batch_size": 4,
        "samples": 4,
    }
    anogan = {"name": "anogan", "searcher": searcher, "curves": 2, "samples": 2}
    evaluate = {
        "kind": "evaluate",
        "name": "evaluate",
        "models": ["gan"],
        "positive": "b",
        "evaluators": [anogan, {"name": "roc", "bootstrap": 0}],
    }
    return tiny_recipe(train, evaluate, data={"size": 8, "per_class": 4})


def test_a_nested_problem_in_a_recipe_is_located() -> None:
    host = plugin_host(TINY, restarts_plugin)
    text = _evaluate_recipe({"name": "restarts", "inner": {"name": "backprop", "steps": -1}})
    with pytest.raises(RecipeError) as caught:
        recipe_from(text, host)
    paths = [p.path for p in caught.value.problems]
    assert len(paths) == 1 and paths[0].endswith("evaluators[0].searcher.inner.steps"), paths


def test_scores_a_test_set_end_to_end(tmp_path) -> None:
    host = plugin_host(TINY, restarts_plugin)
    searcher = {"name": "restarts", "inner": {"name": "backprop", "steps": 5}, "restarts": 2}
    result = run_text(_evaluate_recipe(searcher), host, tmp_path / "run")
    metrics = result.outputs["evaluate"].metrics
    assert metrics["gan"]["anogan"]["search_loss"]["steps"] == [0, 5]
    assert 0.0 <= metrics["gan"]["anogan"]["auc"] <= 1.0
    assert (result.run_dir / "evaluate" / "scores.csv").exists()
