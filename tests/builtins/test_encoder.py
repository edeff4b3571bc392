"""The f-AnoGAN encoder as plugins: the ``encoders`` kind, the encoder stage (izi_f), the ``encoder``
searcher (z = E(x), then optionally N steps), and the anogan evaluator's methods side by side."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import Tensor

from ganaug.api.capabilities import RecordsSteps, ShardableSearcher, UsesEncoder
from ganaug.api.interfaces import Encoder, ImageSpec, TrainedModel
from ganaug.api.networks import frozen
from ganaug.kit.search import MissingEncoder, for_model
from ganaug.runtime.errors import GanaugError, RecipeError
from ganaug.testing import (
    TINY,
    ConditionalToyGenerator,
    ConvDiscriminator,
    SubspaceGenerator,
    TinyDiscriminator,
    TinyEncoder,
    TinyNetOptions,
    check_component,
    check_encoder,
    plugin_host,
    recipe_from,
    run_text,
    tiny_bundle,
    tiny_recipe,
)
from ganaug.testing.toys import LATENT, SIZE
from ganaug_plugins.models.dcgan.encoder import DcganEncoder
from ganaug_plugins.models.dcgan.networks import DcganDiscriminator, DcganGenerator
from ganaug_plugins.searchers.backprop import BackpropOptions, BackpropSearcher
from ganaug_plugins.searchers.encoder import EncoderSearcher, EncoderSearchOptions
from ganaug_plugins.stages.encoder_step import EncoderStep

IMAGE = ImageSpec(1, SIZE)


def _warmed(module: torch.nn.Module, *inputs: Tensor) -> torch.nn.Module:
    """BatchNorm with non-trivial running statistics, then eval mode (what a search sees)."""
    module.train()
    with torch.no_grad():
        module(*inputs)
    return module.eval()


def _dcgan(latent: int = 8) -> tuple[DcganGenerator, DcganDiscriminator, DcganEncoder, Tensor]:
    torch.manual_seed(0)
    g, d, e = DcganGenerator(IMAGE, latent, 8), DcganDiscriminator(IMAGE, 8), DcganEncoder(IMAGE, latent, 8)
    x = torch.rand(32, 1, SIZE, SIZE) * 2 - 1
    _warmed(g, torch.randn(32, latent))
    _warmed(d, x)
    _warmed(e, x)
    return g, d, e, x[:6]


def _encoder_searcher(steps: int, **inner: Any) -> EncoderSearcher:
    backprop = BackpropSearcher(BackpropOptions(steps=steps, record_every=2, **inner))
    return EncoderSearcher(EncoderSearchOptions(), backprop)


# --- the encoders kind ---------------------------------------------------------------------------


def test_register_encoders_adds_the_dcgan_encoder_for_any_size_and_channels() -> None:
    host = plugin_host()
    assert "dcgan" in host.registry.names("encoders")
    for image in (ImageSpec(1, 16), ImageSpec(3, 32), ImageSpec(1, 64)):
        encoder = check_component(host, "encoders", "dcgan", {"width": 8}, image=image)
        assert isinstance(encoder, Encoder)
    with pytest.raises(RecipeError) as caught:
        check_component(host, "encoders", "dcgan", {"width": 0})
    assert [p.path for p in caught.value.problems] == ["encoders.dcgan.width"]


def test_check_encoder_refuses_codes_of_the_wrong_size() -> None:
    check_encoder(TinyEncoder(image=IMAGE, latent_dim=5), IMAGE, latent_dim=5)
    with pytest.raises(AssertionError, match="latent_dim is 5, asked for 6"):
        check_encoder(TinyEncoder(image=IMAGE, latent_dim=5), IMAGE, latent_dim=6)


# --- izi_f training ------------------------------------------------------------------------------


@pytest.mark.parametrize("loss", ["izi_f", "izi", "ziz"])
def test_the_encoder_loss_decreases_on_a_toy_with_g_and_d_frozen(loss: str) -> None:
    torch.manual_seed(1)  # MLPs throughout: convolutions are slow on small CPUs
    g, d = SubspaceGenerator(), TinyDiscriminator(image=IMAGE)
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        x = g(torch.randn(64, LATENT, generator=gen))
    encoder = TinyEncoder(TinyNetOptions(hidden=64), IMAGE, LATENT)
    step = EncoderStep(encoder, g, d, torch.optim.Adam(encoder.parameters(), lr=2e-3), loss, 1.0)  # type: ignore[arg-type]
    before = {k: v.clone() for k, v in [*g.state_dict().items(), *d.state_dict().items()]}
    with frozen(g, d):
        losses = [
            step(x[i % 4 * 16 : i % 4 * 16 + 16], torch.randn(16, LATENT, generator=gen)) for i in range(120)
        ]
    first, last = sum(s["loss"] for s in losses[:8]) / 8, sum(s["loss"] for s in losses[-8:]) / 8
    assert last < 0.5 * first, (first, last)
    if loss == "izi_f":
        assert losses[0]["feature"] > 0 and losses[0]["residual"] > 0
    after = [*g.state_dict().items(), *d.state_dict().items()]
    assert all(torch.equal(before[k], v) for k, v in after), "G or D changed"
    assert all(p.requires_grad for p in [*g.parameters(), *d.parameters()]), "frozen() was not undone"


# --- the encoder searcher ------------------------------------------------------------------------


@pytest.mark.parametrize("steps", [0, 6])
def test_the_encoder_searcher_gives_the_same_per_image_results_batched_and_one_at_a_time(steps: int) -> None:
    g, d, e, queries = _dcgan()
    s = _encoder_searcher(steps, feature_weight=0.3).with_encoder(e)
    batched = s.search(g, d, queries, seed=0)
    for i in range(len(queries)):
        alone = s.search(g, d, queries[i : i + 1], seed=123)  # the seed plays no part
        for name, value in alone.per_image().items():
            torch.testing.assert_close(value[0], batched.per_image()[name][i], rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(alone.loss_history[:, 0], batched.loss_history[:, i], rtol=1e-4, atol=1e-4)
    with torch.no_grad():
        codes = e(queries)
    torch.testing.assert_close(batched.z_initial, codes)
    if steps:  # the warm start moved z, and lowered the score it starts from
        assert (batched.z - codes).abs().max() > 1e-3
        assert bool((batched.score < batched.initial_score).all())
    else:  # the encoder alone: its codes, scored as they are
        torch.testing.assert_close(batched.z, codes)
        torch.testing.assert_close(batched.score, batched.initial_score)


def test_a_conditional_generator_is_searched_from_the_encoders_codes() -> None:
    g, d = ConditionalToyGenerator().eval(), ConvDiscriminator().eval()
    e = TinyEncoder(image=IMAGE, latent_dim=LATENT).eval()
    queries = torch.rand(5, 1, SIZE, SIZE, generator=torch.Generator().manual_seed(2)) * 2 - 1
    s = _encoder_searcher(4).with_encoder(e)
    batched = s.search(g, d, queries, seed=0)
    alone = torch.cat([s.search(g, d, queries[i : i + 1], seed=0).score for i in range(5)])
    torch.testing.assert_close(alone, batched.score, rtol=1e-4, atol=1e-5)
    with torch.no_grad():
        torch.testing.assert_close(batched.z_initial, e(queries))


def test_the_encoder_searcher_declares_what_it_offers_and_needs_an_encoder() -> None:
    _, _, e, _ = _dcgan()
    s = _encoder_searcher(3)
    assert isinstance(s, UsesEncoder) and not isinstance(s, ShardableSearcher)
    bound = s.with_encoder(e)
    assert bound is not s and bound.encoder is e and s.encoder is None
    with pytest.raises(GanaugError, match="has no encoder"):
        s.encode(torch.zeros(1, 1, SIZE, SIZE))
    host = plugin_host()
    built = check_component(host, "latent_searchers", "encoder", {"search": {"name": "backprop", "steps": 4}})
    assert isinstance(built, RecordsSteps) and built.recorded_steps == [0, 4]


def test_for_model_binds_the_models_encoder_or_says_it_has_none() -> None:
    g, d, e, _ = _dcgan()
    searcher = _encoder_searcher(0)
    with_encoder = TrainedModel("enc", g, d, IMAGE, encoder=e)
    assert for_model(searcher, with_encoder).encoder is e
    with pytest.raises(MissingEncoder, match="model 'gan' has none"):
        for_model(searcher, TrainedModel("gan", g, d, IMAGE))
    plain = BackpropSearcher(BackpropOptions(steps=1))
    assert for_model(plain, TrainedModel("gan", g, d, IMAGE)) is plain


# --- recipes: options, stages, the evaluator's methods ---------------------------------------------

TRAIN = {
    "kind": "train",
    "name": "gan",
    "data": {"split": "train", "classes": ["a"]},
    "generator": {"name": "tiny", "latent_dim": 4},
    "discriminator": "tiny",
    "loss": "bce",
    "weighter": "none",
    "epochs": 2,
    "batch_size": 4,
}
ENCODER = {
    "kind": "encoder",
    "name": "enc",
    "model": "gan",
    "data": {"split": "train", "classes": ["a"]},
    "encoder": "tiny",
    "epochs": 3,
    "batch_size": 4,
    "checkpoint_every": 2,
    "samples": 4,
}
METHODS = [
    {"name": "anogan", "searcher": {"name": "backprop", "steps": 6}},
    {"name": "anogan", "method": "encoder", "title": "Encoder", "control": False, "searcher": "encoder"},
    {
        "name": "anogan",
        "method": "encoder+4",
        "control": False,
        "searcher": {"name": "encoder", "search": {"name": "backprop", "steps": 4}},
    },
    "l1-mean",
    {"name": "roc", "bootstrap": 20},
]
EVALUATE = {
    "kind": "evaluate",
    "name": "ev",
    "models": ["gan", "enc"],
    "positive": "b",
    "evaluators": METHODS,
}
DATA = {"size": 8, "per_class": 8}


@pytest.mark.parametrize("loss", ["izi_f", "ziz"])
def test_an_encoder_trains_on_a_conditional_generator(loss: str, tmp_path: Path) -> None:
    """A conditional G gets the real images as its conditioning images: G(E(x), x), or G(z, x) for ziz."""
    train = {**TRAIN, "generator": {"name": "tiny", "latent_dim": 4, "conditional": True}}
    encoder = {**ENCODER, "loss": loss, "epochs": 2}
    result = run_text(tiny_recipe(train, encoder, data=DATA), plugin_host(TINY), tmp_path / "run")
    metrics = result.outputs["enc"].metrics
    assert metrics["steps"] == 4 and metrics["loss"] > 0
    assert (metrics["feature"] > 0) == (loss == "izi_f")
    model = result.outputs["enc"].model
    s = _encoder_searcher(2).with_encoder(model.encoder)
    queries = tiny_bundle(**DATA).splits["test"].images[:3]
    found = s.search(model.generator, model.discriminator, queries, seed=0)
    with torch.no_grad():
        torch.testing.assert_close(found.z_initial, model.encoder(queries))


def test_bad_options_are_located_by_their_recipe_path() -> None:
    host = plugin_host(TINY)
    encoder = {
        **ENCODER,
        "epochs": 0,
        "loss": "izx",
        "feature_weight": -1.0,
        "encoder": {"name": "tiny", "hidden": "8"},
    }
    evaluators = [
        {
            "name": "anogan",
            "method": "enc oder",
            "searcher": {"name": "encoder", "search": {"name": "backprop", "steps": -1}},
        },
        {"name": "anogan", "searcher": {"name": "encoder", "chunk_size": 0}},
    ]
    evaluate = {**EVALUATE, "evaluators": evaluators}
    with pytest.raises(RecipeError) as caught:
        recipe_from(tiny_recipe(TRAIN, encoder, evaluate, data=DATA), host)
    assert sorted(p.path for p in caught.value.problems) == [
        "stages[1].encoder.hidden",
        "stages[1].epochs",
        "stages[1].feature_weight",
        "stages[1].loss",
        "stages[2].evaluators[0].method",
        "stages[2].evaluators[0].searcher.search.steps",
        "stages[2].evaluators[1].searcher.chunk_size",
    ]
    missing = {**ENCODER, "model": "nowhere"}
    with pytest.raises(RecipeError) as caught:
        recipe_from(tiny_recipe(TRAIN, missing, data=DATA), host)
    assert [p.path for p in caught.value.problems] == ["stages[1].model"]


def _encoded_recipe() -> str:
    """Train, encoder, evaluate with the three methods, augment from the encoder's codes."""
    augment = {
        "kind": "augment",
        "name": "aug",
        "model": "enc",
        "label": "a",
        "queries": [{"split": "test", "classes": ["b"]}],
        "searcher": {"name": "encoder", "search": {"name": "backprop", "steps": 2, "feature_weight": 0.7}},
        "diversity_z": 0,
    }
    return tiny_recipe(TRAIN, ENCODER, EVALUATE, augment, data=DATA)


@pytest.fixture(scope="module")
def encoded_run(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return run_text(_encoded_recipe(), plugin_host(TINY), tmp_path_factory.mktemp("encoded") / "run")


def test_the_encoder_stage_hands_on_g_and_d_with_its_encoder(encoded_run: Any) -> None:
    gan, enc = encoded_run.outputs["gan"].model, encoded_run.outputs["enc"].model
    assert gan.encoder is None and enc.encoder is not None
    assert enc.generator is gan.generator and enc.discriminator is gan.discriminator
    assert enc.encoder.latent_dim == 4 and not enc.encoder.training
    folder = encoded_run.run_dir / "enc"
    info = json.loads((folder / "encoder.json").read_text())
    assert info["latent_dim"] == 4 and info["model"] == "gan" and info["loss"] == "izi_f"
    assert {"loss", "residual", "feature", "steps"} <= set(info["metrics"]) and info["metrics"]["steps"] == 6
    assert (folder / "samples" / "epoch-0003.png").is_file() and (folder / "losses.png").is_file()


def test_the_evaluator_reports_the_three_methods_side_by_side_with_their_time(encoded_run: Any) -> None:
    folder = encoded_run.run_dir / "ev"
    metrics = json.loads((folder / "metrics.json").read_text())
    assert {"anogan", "anogan@init", "encoder", "encoder+4", "l1-mean"} <= set(metrics["enc"])
    assert "encoder" not in metrics["gan"] and "encoder+4" not in metrics["gan"]  # gan has no encoder
    for method in ("anogan", "encoder", "encoder+4"):
        entry = metrics["enc"][method]
        assert entry["auc"] is not None and entry["seconds_per_image"] > 0
        assert entry["search_seconds"] == pytest.approx(entry["seconds_per_image"] * 16)
    assert "encoder@init" not in metrics["enc"]  # control = false
    report = (folder / "report.md").read_text()
    assert (
        "| model | AnoGAN AUC [95% CI] | AnoGAN@init AUC | Encoder AUC [95% CI] | encoder+4 AUC [95% CI] |"
        in report
    )
    assert "## Time per image" in report and "| enc | encoder | " in report
    # the same G, D and seed: the random-start search scores both models' images alike
    assert metrics["enc"]["anogan"]["auc"] == metrics["gan"]["anogan"]["auc"]
    assert (folder / "reconstructions-enc-encoder.png").is_file()


def test_an_augment_stage_searches_from_the_encoder_of_its_model(encoded_run: Any) -> None:
    summary = encoded_run.outputs["aug"].metrics
    assert summary["images"] == 8
    host = plugin_host(TINY)
    augment = {
        "kind": "augment",
        "name": "aug",
        "model": "gan",
        "label": "a",
        "queries": [{"split": "test", "classes": ["b"]}],
        "searcher": "encoder",
        "diversity_z": 0,
    }
    with pytest.raises(MissingEncoder, match=r"stage 'aug': .*model 'gan' has none"):
        run_text(tiny_recipe(TRAIN, augment, data=DATA), host, encoded_run.run_dir.parent / "no-encoder")


def test_the_encoder_stage_is_restored_on_resume(encoded_run: Any) -> None:
    """A finished encoder stage is loaded from its files: the same encoder weights come back."""
    from ganaug.runner.engine import run_recipe

    host = plugin_host(TINY)
    recipe = recipe_from(_encoded_recipe(), host)
    again = run_recipe(recipe, resume=encoded_run.run_dir, host=host)
    restored = again.outputs["enc"].model.encoder
    original = encoded_run.outputs["enc"].model.encoder
    for (name, value), (_, want) in zip(
        restored.state_dict().items(), original.state_dict().items(), strict=True
    ):
        assert torch.equal(value.cpu(), want.cpu()), name
    assert "stage enc: finished earlier" in (encoded_run.run_dir / "run.log").read_text()


def test_a_loaded_encoder_model_scores_new_images_with_every_method(encoded_run: Any) -> None:
    """``ganaug.load_model`` restores the encoder stage (with the train stage it names); its scores
    match the evaluate stage's for the same images."""
    from ganaug import load_model
    from ganaug.kit.tables import read_scores_csv

    host = plugin_host(TINY)
    model = load_model(encoded_run.run_dir, "enc", device="cpu", host=host)
    assert model.trained.encoder is not None
    images = tiny_bundle(**DATA).splits["test"]  # what the tiny source dealt the run (seed 0)
    scores = model.score(images.images, methods=["encoder", "encoder+4"])
    assert set(scores.methods) == {"encoder", "encoder+4"}
    want = {
        (row["image"], row["method"]): float(row["score"])
        for row in read_scores_csv(encoded_run.run_dir / "ev" / "scores.csv")
        if row["model"] == "enc"
    }
    for method in ("encoder", "encoder+4"):
        expected = torch.tensor([want[(image, method)] for image in images.ids])
        torch.testing.assert_close(scores.methods[method].score, expected, rtol=1e-4, atol=1e-4)
    plain = load_model(encoded_run.run_dir, "gan", device="cpu", host=host)
    assert set(plain.score(images.images).methods) == {"anogan", "l1-mean"}  # no encoder methods
