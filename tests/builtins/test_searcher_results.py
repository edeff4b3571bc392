"""A latent searcher's result is checked where the core receives it: a searcher plugin returning the
wrong number of rows stops the run with a PluginError naming it and its plugin (once a traceback deep
in the anogan evaluator, or, with too many rows, a silently wrong AUC); one that leaves out the
starting-point terms gets a WARNING saying how to keep the @init control."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
import safetensors.torch
import torch
from torch import Tensor

from ganaug.api.hookspecs import Register, hookimpl
from ganaug.api.interfaces import EvalContext, SearchResult, TrainedModel
from ganaug.api.options import ComponentRef
from ganaug.kit.search import SearcherId, checked_result, resumable_search, searcher_id
from ganaug.runtime.distributed import World
from ganaug.runtime.errors import PluginError
from ganaug.runtime.progress import Progress
from ganaug.testing import (
    TINY,
    TinyDiscriminator,
    TinyGenerator,
    check_component,
    plugin_host,
    run_text,
    tiny_images,
    tiny_recipe,
)
from ganaug.testing.tiny import SMALL
from ganaug_plugins.evaluators.anogan import AnoGANEvaluator, AnoGANOptions
from ganaug_plugins.searchers.backprop import BackpropOptions, BackpropSearcher

PLUGIN_NAME = "wrong-rows"


def _resized(result: SearchResult, rows: int) -> SearchResult:
    """``result`` with every per-image field cut to, or padded (first row repeated) to, ``rows``."""

    def fit(value: Tensor, dim: int) -> Tensor:
        n = value.shape[dim]
        index = torch.arange(rows).clamp(max=n - 1) if rows > n else torch.arange(rows)
        return value.index_select(dim, index)

    fields = {name: fit(value, 0) for name, value in result.per_image().items()}
    return SearchResult(**fields, loss_history=fit(result.loss_history, 1))


class ShortSearcher(BackpropSearcher):
    """Back-propagation search that loses the last query's row."""

    extra = -1

    def search(self, generator: Any, discriminator: Any, queries: Tensor, **kwargs: Any) -> SearchResult:
        found = super().search(generator, discriminator, queries, **kwargs)
        return _resized(found, int(queries.shape[0]) + self.extra)


class LongSearcher(ShortSearcher):
    """Back-propagation search that adds one row too many."""

    extra = 1


class Untermed(BackpropSearcher):
    """Builds its SearchResult by hand, without the starting point's two terms."""

    def search(self, generator: Any, discriminator: Any, queries: Tensor, **kwargs: Any) -> SearchResult:
        found = super().search(generator, discriminator, queries, **kwargs)
        fields = {k: v for k, v in found.per_image().items() if not k.startswith("initial_")}
        return SearchResult(**fields, initial_score=found.initial_score, loss_history=found.loss_history)


class WrongRowsPlugin:
    @hookimpl
    def register_latent_searchers(self, register: Register) -> None:
        register("short", ShortSearcher, options=BackpropOptions, description="one row too few")
        register("long", LongSearcher, options=BackpropOptions, description="one row too many")
        register("untermed", Untermed, options=BackpropOptions, description="no initial_* terms")


@pytest.fixture(scope="module")
def host() -> Any:
    return plugin_host(TINY, (PLUGIN_NAME, WrongRowsPlugin()))


TRAIN = {
    "kind": "train",
    "name": "gan",
    "generator": "tiny",
    "discriminator": "tiny",
    "loss": "bce",
    "weighter": "none",
    "epochs": 1,
    "batch_size": 4,
}
DATA = {"size": 8, "per_class": 4}  # 8 test images


@pytest.mark.parametrize(("searcher", "rows"), [("short", 7), ("long", 9)])
def test_a_searcher_returning_the_wrong_rows_stops_the_run_naming_it(
    host: Any, searcher: str, rows: int, tmp_path: Path
) -> None:
    evaluate = {
        "kind": "evaluate",
        "name": "ev",
        "models": ["gan"],
        "positive": "b",
        "evaluators": [{"name": "anogan", "searcher": {"name": searcher, "steps": 2}}, "roc"],
    }
    out = tmp_path / "run"
    with pytest.raises(PluginError) as caught:
        run_text(tiny_recipe(TRAIN, evaluate, data=DATA), host, out)
    message = str(caught.value)
    assert f"latent searcher {searcher!r} (plugin {PLUGIN_NAME!r}) returned {rows} rows of " in message
    assert "score" in message and "for 8 queries" in message
    written = [p for p in out.rglob("*") if p.is_file() and p.suffix in {".json", ".csv", ".md"}]
    assert not [p for p in written if "auc" in p.read_text().lower()], "an AUC was written"
    log = (out / "run.log").read_text()
    assert "please report it" not in log and f"returned {rows} rows" in log


def test_the_encoder_searcher_blames_its_inner_searcher(host: Any) -> None:
    blamed = rf"latent searcher 'short' \(plugin '{PLUGIN_NAME}'\) returned 2 rows"
    with pytest.raises(PluginError, match=blamed):
        check_component(host, "latent_searchers", "encoder", {"search": {"name": "short", "steps": 1}})


def _queries(n: int) -> Tensor:
    return tiny_images(n, ("a", "b"), SMALL.size, SMALL.channels, 1).images


def _good(n: int = 3) -> SearchResult:
    searcher = BackpropSearcher(BackpropOptions(steps=2, record_every=1))
    return searcher.search(TinyGenerator().eval(), TinyDiscriminator().eval(), _queries(n), seed=0)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"z": torch.zeros(3)}, r"z of shape \(3\); expected \[N, latent_dim\]"),
        ({"generated": torch.zeros(3, 1, 4, 4)}, r"generated images of shape \(3, 1, 4, 4\) for queries"),
        ({"score": torch.zeros(3, 2)}, r"score of shape \(3, 2\); expected one value per query"),
        ({"loss_history": torch.zeros(3, 2)}, r"loss_history of shape \(3, 2\); expected \(\w+, 3\)"),
        ({"residual": [0.0, 0.0, 0.0]}, "residual as a list, not a tensor"),
        ({"initial_residual": torch.zeros(4)}, "4 rows of initial_residual for 3 queries"),
    ],
)
def test_checked_result_names_what_is_wrong(change: dict[str, Any], expected: str) -> None:
    good = _good()
    fields = {**good.per_image(), "loss_history": good.loss_history, **change}
    bad = SearchResult(**fields)
    named = r"latent searcher 'mine' \(plugin 'theirs'\) returned .*"
    with pytest.raises(PluginError, match=named + expected):
        checked_result(bad, _queries(3), "mine", "theirs")


def test_checked_result_passes_a_good_result_and_refuses_other_objects() -> None:
    good = _good()
    assert checked_result(good, _queries(3), SearcherId("backprop")) is good
    with pytest.raises(PluginError, match="'backprop' returned a dict, not a SearchResult"):
        checked_result(good.per_image(), _queries(3), SearcherId("backprop"))


def test_searcher_id_finds_the_plugin_through_a_registry_builder(host: Any) -> None:
    ref = ComponentRef("short", kind="latent_searchers")
    assert searcher_id(ref, host.registry.build) == SearcherId("short", PLUGIN_NAME)
    assert searcher_id(ref, lambda r: None) == SearcherId("short")  # a builder that cannot tell


def test_resumable_groups_are_checked_and_a_foreign_group_file_is_searched_again(tmp_path: Path) -> None:
    g, d, queries = TinyGenerator().eval(), TinyDiscriminator().eval(), _queries(6)
    with pytest.raises(PluginError, match=r"ShortSearcher' returned 1 rows of .* for 2 queries"):
        short = ShortSearcher(BackpropOptions(steps=1))
        resumable_search(short, World(), g, d, queries, seed=0, store=tmp_path / "a", group=2)
    searcher = BackpropSearcher(BackpropOptions(steps=1))
    whole = resumable_search(searcher, World(), g, d, queries, seed=0, store=tmp_path / "b", group=2)

    class Stop(BackpropSearcher):  # stops (like a kill) after the first group
        calls = 0

        def search(self, *args: Any, **kwargs: Any) -> SearchResult:
            Stop.calls += 1
            if Stop.calls > 1:
                raise KeyboardInterrupt
            return super().search(*args, **kwargs)

    store = tmp_path / "c"
    with pytest.raises(KeyboardInterrupt):
        resumable_search(Stop(BackpropOptions(steps=1)), World(), g, d, queries, seed=0, store=store, group=2)
    (saved,) = store.glob("*.safetensors")
    with safetensors.safe_open(str(saved), framework="pt") as handle:
        metadata = handle.metadata()
        tensors = {name: handle.get_tensor(name) for name in handle.keys()}  # noqa: SIM118
    cut = {k: (v[:, :1] if k == "loss_history" else v[:1]).contiguous() for k, v in tensors.items()}
    saved.write_bytes(safetensors.torch.save(cut, metadata=metadata))  # same key, one row short
    resumed = resumable_search(searcher, World(), g, d, queries, seed=0, store=store, group=2)
    assert torch.equal(resumed.score, whole.score) and resumed.z.shape == (6, 8)


# --- the @init control --------------------------------------------------------------------------


def _eval_ctx(tmp_path: Path, host: Any) -> EvalContext:
    test = tiny_images(4, ("a", "b"), SMALL.size, SMALL.channels, 0)
    models = {name: TrainedModel(name, TinyGenerator(), TinyDiscriminator(), SMALL) for name in ("m1", "m2")}
    return EvalContext(
        models=models,
        test=test,
        positive="b",
        dir=tmp_path,
        device=torch.device("cpu"),
        seed=0,
        log=logging.getLogger("test.searcher_results"),
        progress=Progress(),
        build=host.registry.build,
    )


def _anogan(name: str) -> AnoGANEvaluator:
    ref = ComponentRef(name, options=BackpropOptions(steps=1), kind="latent_searchers")
    return AnoGANEvaluator(AnoGANOptions(searcher=ref, curves=0, samples=0))


def test_a_result_without_starting_terms_warns_once_naming_searcher_and_fix(
    host: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    ctx = _eval_ctx(tmp_path, host)
    with caplog.at_level(logging.WARNING, logger="test.searcher_results"):
        _anogan("untermed").evaluate(ctx)
    assert {row["method"] for row in ctx.scores} == {"anogan"}  # no @init rows
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, warnings  # once for both models
    (text,) = warnings
    assert f"latent searcher 'untermed' (plugin {PLUGIN_NAME!r})" in text and "m1, m2" in text
    assert "set SearchResult.initial_residual and initial_discrimination" in text
    assert "to get the @init control" in text


def test_a_result_with_starting_terms_gets_the_control_and_no_warning(
    host: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    ctx = _eval_ctx(tmp_path, host)
    with caplog.at_level(logging.WARNING, logger="test.searcher_results"):
        _anogan("backprop").evaluate(ctx)
    assert {row["method"] for row in ctx.scores} == {"anogan", "anogan@init"}
    assert not [r for r in caplog.records if r.levelno == logging.WARNING]
