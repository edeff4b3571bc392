"""``ganaug.load_model``: a finished run's model generates and scores new image files, as the run did."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import safetensors.torch
import torch
from PIL import Image

import ganaug
from ganaug.api.preprocessing import Preprocessing
from ganaug.apps.model import ModelError, load_model
from ganaug.kit.tables import read_scores_csv
from ganaug.runtime.errors import DataError, RunDirError
from ganaug.testing import TINY, plugin_host, run_text, tiny_recipe
from ganaug_plugins.data.decode import Preprocess, decode_image
from tests.model_run import host, make_run, same_weights, split_images, write_pngs

pytestmark = pytest.mark.slow  # one tiny run per module (about ten seconds), then quick tests


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_run(tmp_path_factory.mktemp("model") / "run")


@pytest.fixture(scope="module")
def test_pngs(run_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """The run's test images written as PNG files, in the run's order."""
    return write_pngs(split_images(run_dir, "test"), tmp_path_factory.mktemp("pngs"))


def test_load_model_restores_the_final_weights(run_dir: Path) -> None:
    model = ganaug.load_model(run_dir, "base", device="cpu", host=host())
    saved = safetensors.torch.load_file(run_dir / "base" / "generator.safetensors")
    assert all(torch.equal(model.trained.generator.state_dict()[k], v) for k, v in saved.items())
    assert model.image.shape == (1, 16, 16)
    assert (model.latent_dim, model.conditional) == (8, False)
    again = load_model(run_dir, "base", device="cpu", host=host())
    assert same_weights(model.trained.discriminator, again.trained.discriminator)


def test_the_run_recorded_its_preprocessing(run_dir: Path) -> None:
    record = json.loads((run_dir / "data" / "preprocessing.json").read_text())
    assert (record["size"], record["channels"], record["resize"]) == (16, 1, "stretch")
    assert record["value_range"] == [-1.0, 1.0] and record["source"] == "mnist-5k"
    model = load_model(run_dir, "base", device="cpu", host=host())
    assert model.preprocessing == Preprocessing.from_json(record)
    assert model.preprocessing_origin == "recorded"


def test_generate_is_seeded(run_dir: Path) -> None:
    model = load_model(run_dir, "base", device="cpu", host=host())
    a, b, c = model.generate(5, seed=1), model.generate(5, seed=1), model.generate(5, seed=2)
    assert a.images.shape == (5, 1, 16, 16) and a.z.shape == (5, 8)
    assert torch.equal(a.images, b.images) and not torch.equal(a.images, c.images)
    assert a.images.min() >= -1 and a.images.max() <= 1
    with torch.no_grad():  # the images are G(z) for the z reported
        assert torch.allclose(model.trained.generator(a.z), a.images, atol=1e-6)


def test_conditional_generator_takes_the_conditioning_images_in_turn(
    run_dir: Path, test_pngs: list[Path]
) -> None:
    model = load_model(run_dir, "cond", device="cpu", host=host())
    assert model.conditional
    made = model.generate(5, condition=test_pngs[:2], seed=0)
    assert made.condition == tuple(str(p) for p in [test_pngs[0], test_pngs[1]] * 2 + [test_pngs[0]])
    x = model.read_images(test_pngs[:2]).tensor
    with torch.no_grad():
        expected = model.trained.generator(made.z, x[torch.tensor([0, 1, 0, 1, 0])])
    assert torch.allclose(made.images, expected, atol=1e-6)
    with pytest.raises(ModelError, match="conditional: give conditioning images"):
        model.generate(2)


def test_unconditional_generator_refuses_conditioning_images(run_dir: Path, test_pngs: list[Path]) -> None:
    model = load_model(run_dir, "base", device="cpu", host=host())
    with pytest.raises(ModelError, match="unconditional"):
        model.generate(2, condition=test_pngs[:1])


def test_scores_of_the_test_images_match_the_evaluate_stage(run_dir: Path, test_pngs: list[Path]) -> None:
    """Same files, same preprocessing, same search and seed: the run's own numbers."""
    model = load_model(run_dir, "base", device="cpu", host=host())
    result = model.score(test_pngs)
    ours = [r["score"] for r in result.rows if r["method"] == "anogan"]
    stored = [
        r["score"]
        for r in read_scores_csv(run_dir / "eval" / "scores.csv")
        if r["model"] == "base" and r["method"] == "anogan"
    ]
    assert len(ours) == len(stored) == 10
    assert np.allclose(ours, stored, rtol=1e-5, atol=1e-6)
    assert result.methods["anogan"].reconstruction is not None
    assert result.methods["anogan"].reconstruction.shape == (10, 1, 16, 16)


@pytest.mark.parametrize("method", ["l1-mean", "knn", "pca", "ocsvm"])
def test_baseline_scores_of_image_files_match_the_evaluate_stage(
    run_dir: Path, test_pngs: list[Path], method: str
) -> None:
    """A classical baseline refits on the fit images the stage kept: the run's own numbers."""
    model = load_model(run_dir, "base", device="cpu", host=host())
    result = model.score(test_pngs, methods=[method])
    ours = [r["score"] for r in result.rows]
    stored = [
        r["score"]
        for r in read_scores_csv(run_dir / "eval" / "scores.csv")
        if r["model"] == "base" and r["method"] == method
    ]
    assert len(ours) == len(stored) == 10
    assert np.allclose(ours, stored, rtol=1e-6, atol=1e-9)
    assert {r["decision"] for r in result.rows} <= {"normal", "anomalous"}  # its threshold decides


def test_the_fitted_threshold_decides(run_dir: Path, test_pngs: list[Path]) -> None:
    model = load_model(run_dir, "base", device="cpu", host=host())
    stored = json.loads((run_dir / "eval" / "thresholds.json").read_text())
    value = stored["models"]["base"]["anogan"]["f1-max"]["value"]
    assert model.thresholds["anogan"].value == value and model.thresholds["anogan"].rule == "f1-max"
    rows = [r for r in model.score(test_pngs).rows if r["method"] == "anogan"]
    assert {"threshold", "decision"} <= set(rows[0])
    for row in rows:
        assert row["decision"] == ("anomalous" if row["score"] >= value else "normal")


def test_a_stage_without_validation_fits_no_threshold(run_dir: Path, test_pngs: list[Path]) -> None:
    assert not (run_dir / "plain" / "thresholds.json").exists()
    model = load_model(run_dir, "base", device="cpu", host=host(), scorer="plain")
    assert model.thresholds == {}
    result = model.score(test_pngs[:2])
    assert "decision" not in result.rows[0] and "decision" not in result.columns


def test_images_of_another_size_or_channel_count_are_read_as_the_source_reads_them(
    run_dir: Path, tmp_path: Path
) -> None:
    rgb = tmp_path / "wide.png"
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (30, 45, 3), dtype=np.uint8), "RGB").save(rgb)
    model = load_model(run_dir, "base", device="cpu", host=host())
    images = model.read_images([rgb])
    expected = decode_image(rgb, Preprocess(size=16, channels=1, resize="stretch"))
    assert images.tensor.shape == (1, 1, 16, 16)
    assert torch.equal(images.tensor[0], torch.tensor(expected).float() / 127.5 - 1)
    assert [r["method"] for r in model.score([rgb]).rows] == ["anogan", "l1-mean", "knn", "pca", "ocsvm"]


def test_a_corrupt_image_is_named_or_skipped(run_dir: Path, test_pngs: list[Path], tmp_path: Path) -> None:
    bad = tmp_path / "broken.png"
    bad.write_bytes(test_pngs[0].read_bytes()[:40])
    model = load_model(run_dir, "base", device="cpu", host=host())
    with pytest.raises(DataError, match=r"broken\.png"):
        model.read_images([test_pngs[0], bad])
    images = model.read_images([test_pngs[0], bad], on_error="skip")
    assert images.ids == (str(test_pngs[0]),) and images.skipped[0][0] == str(bad)
    with pytest.raises(DataError, match="no image left to score"):
        model.score([bad], on_error="skip")


def test_a_folder_is_expanded_to_its_images(run_dir: Path, test_pngs: list[Path]) -> None:
    model = load_model(run_dir, "base", device="cpu", host=host())
    assert model.read_images([test_pngs[0].parent]).ids == tuple(str(p) for p in sorted(test_pngs))


def test_bad_run_dirs_and_stages_are_clear_errors(run_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(RunDirError, match="no such run directory"):
        load_model(tmp_path / "nowhere", "base", host=host())
    with pytest.raises(RunDirError, match="holds no ganaug run"):
        load_model(tmp_path, "base", host=host())
    with pytest.raises(
        ModelError, match=r"no stage 'bse'.*did you mean 'base'.*stages with a model: base, cond"
    ):
        load_model(run_dir, "bse", host=host())
    with pytest.raises(ModelError, match="'eval' \\(evaluate\\) produces no model"):
        load_model(run_dir, "eval", host=host())


def test_an_unfinished_stage_is_refused(run_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    (copy / "base" / "done.json").unlink()
    with pytest.raises(RunDirError, match=r"stage 'base' .* is not finished"):
        load_model(copy, "base", host=host())


def test_a_run_made_before_the_record_falls_back_to_its_recipe(
    run_dir: Path, test_pngs: list[Path], tmp_path: Path
) -> None:
    copy = tmp_path / "old"
    shutil.copytree(run_dir, copy)
    (copy / "data" / "preprocessing.json").unlink()
    model = load_model(copy, "base", device="cpu", host=host())
    assert model.preprocessing_origin == "recipe"
    assert (model.preprocessing.size, model.preprocessing.resize) == (16, "stretch")
    new = load_model(run_dir, "base", host=host())
    assert torch.equal(model.read_images(test_pngs[:3]).tensor, new.read_images(test_pngs[:3]).tensor)


def test_a_source_that_cannot_read_files_says_so(tmp_path: Path, test_pngs: list[Path]) -> None:
    plugins = plugin_host(TINY)
    stage = {
        "kind": "train",
        "name": "gan",
        "generator": "tiny",
        "discriminator": "tiny",
        "loss": "bce",
        "weighter": "none",
        "epochs": 1,
        "batch_size": 4,
    }
    run_text(tiny_recipe(stage), plugins, tmp_path / "run")
    model = load_model(tmp_path / "run", "gan", device="cpu", host=plugins)
    assert model.generate(3).images.shape == (3, 1, 16, 16)  # generating needs no files
    assert model.preprocessing is None
    with pytest.raises(ModelError, match="neither reads image files nor describes its preprocessing"):
        model.read_images(test_pngs[:1])
    with pytest.raises(ModelError, match="no stage of this run scores model 'gan'"):
        model.score(torch.zeros(1, 1, 16, 16))


def test_evaluate_reports_test_rates_at_the_validation_thresholds(run_dir: Path) -> None:
    metrics = json.loads((run_dir / "eval" / "metrics.json").read_text())["base"]["anogan"]
    for rule in ("f1-max", "fpr"):
        test = metrics["thresholds"][rule]["test"]
        assert {"sensitivity", "specificity", "f1"} <= set(test) and test["tp"] + test["fn"] == 5
    assert metrics["thresholds"]["fpr"]["threshold"]["target_fpr"] == 0.2
    assert metrics["thresholds"]["fpr"]["validation"]["specificity"] >= 0.8
    assert {"auc", "aupr", "f1_max"} <= set(metrics)
    report = (run_dir / "eval" / "report.md").read_text()
    assert "## Thresholds" in report and "| base | anogan | f1-max |" in report
    assert (run_dir / "eval" / "validation" / "scores.csv").is_file()


def test_without_validation_the_evaluation_is_unchanged(run_dir: Path) -> None:
    """The plain stage (no validation selection) has the same test scores and AUC, no thresholds."""
    with_val = json.loads((run_dir / "eval" / "metrics.json").read_text())["base"]
    plain = json.loads((run_dir / "plain" / "metrics.json").read_text())["base"]
    assert "thresholds" not in plain["anogan"] and plain["anogan"]["auc"] == with_val["anogan"]["auc"]
    assert read_scores_csv(run_dir / "plain" / "scores.csv") == read_scores_csv(
        run_dir / "eval" / "scores.csv"
    )
    assert "## Thresholds" not in (run_dir / "plain" / "report.md").read_text()


def test_a_run_recipe_with_since_renamed_options_still_loads(run_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "renamed"
    shutil.copytree(run_dir, copy)
    text = (copy / "recipe.toml").read_text()
    assert "latent_dim = 8" in text
    (copy / "recipe.toml").write_text(text.replace("latent_dim = 8", "z_dim = 8", 1))  # base's generator
    model = load_model(copy, "base", device="cpu", host=host())
    assert model.latent_dim == 8
    assert same_weights(model.trained.generator, load_model(run_dir, "base", host=host()).trained.generator)


def test_dangling_links_and_nan_images_are_named_or_skipped_not_dropped(
    run_dir: Path, test_pngs: list[Path], tmp_path: Path
) -> None:
    folder = tmp_path / "mixed"
    folder.mkdir()
    shutil.copyfile(test_pngs[0], folder / "good.png")
    (folder / "dangling.png").symlink_to(tmp_path / "nowhere.png")
    Image.fromarray(np.full((16, 16), np.nan, dtype=np.float32)).save(folder / "nan.tif")
    model = load_model(run_dir, "base", device="cpu", host=host())
    with pytest.raises(DataError, match=r"dangling\.png"):
        model.read_images([folder])
    read = model.read_images([folder], on_error="skip")
    assert [Path(i).name for i in read.ids] == ["good.png"]
    reasons = {Path(name).name: why for name, why in read.skipped}
    assert set(reasons) == {"dangling.png", "nan.tif"}
    assert "NaN or infinite pixel values" in reasons["nan.tif"]
