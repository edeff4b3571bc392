"""``ganaug generate`` and ``ganaug score`` end to end on a tiny finished run, bad input included."""

from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner, Result
from PIL import Image

from ganaug.apps.cli import cli
from ganaug.apps.model import load_model
from ganaug.kit.imaging import load_png
from ganaug.testing import TINY, registered
from tests.model_run import host, make_run, split_images, write_pngs

pytestmark = pytest.mark.slow  # one tiny run per module (about ten seconds), then quick tests


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_run(tmp_path_factory.mktemp("cli") / "run")


@pytest.fixture(scope="module")
def pngs(run_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return write_pngs(split_images(run_dir, "test"), tmp_path_factory.mktemp("pngs"))


def invoke(*args: str | Path) -> Result:
    with registered(TINY):
        return CliRunner().invoke(cli, [str(a) for a in args])


def read_csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_generate_writes_images_and_their_z(run_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "gen"
    result = invoke("generate", run_dir, "--stage", "base", "-n", 3, "--seed", 4, "--out", out)
    assert result.exit_code == 0, result.output
    rows = read_csv((out / "generated.csv").read_text())
    assert [r["file"] for r in rows] == [f"generated-{i:05d}.png" for i in range(3)]
    expected = load_model(run_dir, "base", device="cpu", host=host()).generate(3, seed=4)
    z = torch.tensor([[float(r[f"z_{j}"]) for j in range(8)] for r in rows])
    assert torch.allclose(z, expected.z)
    for i, row in enumerate(rows):
        image = load_png(out / row["file"], channels=1)
        assert torch.allclose(image, expected.images[i], atol=1 / 127.5)  # 8-bit PNG
        assert row["seed"] == "4" and row["condition"] == ""


def test_generate_writes_chunk_by_chunk_with_the_first_chunk_unchanged(
    run_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ganaug.apps.model

    whole = load_model(run_dir, "base", device="cpu", host=host()).generate(5, seed=2)
    monkeypatch.setattr(ganaug.apps.model, "Z_CHUNK", 2)
    out = tmp_path / "gen"
    result = invoke("generate", run_dir, "--stage", "base", "-n", 5, "--seed", 2, "--out", out)
    assert result.exit_code == 0, result.output
    rows = read_csv((out / "generated.csv").read_text())
    assert [r["file"] for r in rows] == [f"generated-{i:05d}.png" for i in range(5)]
    z = torch.tensor([[float(r[f"z_{j}"]) for j in range(8)] for r in rows])
    assert torch.allclose(z[:2], whole.z[:2])  # chunk 0 draws from the seed as one call always did
    assert not torch.allclose(z[2:4], z[:2])  # later chunks have seeds of their own


def test_generate_refuses_a_count_the_disk_cannot_hold(run_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "huge"
    result = invoke("generate", run_dir, "--stage", "base", "-n", 10**12, "--out", out)
    assert result.exit_code == 5, result.output
    assert "need at least" in result.output and "Traceback" not in result.output
    assert not out.exists() or not any(out.iterdir())


def test_generate_into_an_earlier_generates_folder_needs_replace(run_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "again"
    assert invoke("generate", run_dir, "--stage", "base", "-n", 4, "--out", out).exit_code == 0
    refused = invoke("generate", run_dir, "--stage", "base", "-n", 2, "--out", out)
    assert refused.exit_code == 3 and "already holds 4 generated image(s)" in refused.output
    replaced = invoke("generate", run_dir, "--stage", "base", "-n", 2, "--out", out, "--replace")
    assert replaced.exit_code == 0, replaced.output
    assert sorted(p.name for p in out.glob("generated-*.png")) == [
        "generated-00000.png",
        "generated-00001.png",
    ]
    assert len(read_csv((out / "generated.csv").read_text())) == 2


def test_generate_conditions_on_a_folder(run_dir: Path, pngs: list[Path], tmp_path: Path) -> None:
    out = tmp_path / "cond"
    result = invoke(
        "generate", run_dir, "--stage", "cond", "-n", 12, "--condition", pngs[0].parent, "--out", out
    )
    assert result.exit_code == 0, result.output
    rows = read_csv((out / "generated.csv").read_text())
    assert [r["condition"] for r in rows] == [str(p) for p in sorted(pngs)] + [
        str(sorted(pngs)[0]),
        str(sorted(pngs)[1]),
    ]
    assert len(list(out.glob("generated-*.png"))) == 12


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--stage", "base"], 0, ""),
        (["--stage", "nope"], 2, "no stage 'nope'"),
        (["--stage", "eval"], 2, "produces no model"),
        (["--stage", "base", "--condition", "PNG"], 2, "unconditional"),
        (["--stage", "cond"], 2, "conditional: give conditioning images"),
    ],
)
def test_generate_bad_requests(
    run_dir: Path, pngs: list[Path], tmp_path: Path, args: list[str], code: int, message: str
) -> None:
    args = [str(pngs[0]) if a == "PNG" else a for a in args]
    result = invoke("generate", run_dir, *args, "-n", 1, "--out", tmp_path / "o")
    assert result.exit_code == code, result.output
    assert message in result.output


def test_missing_run_dir_is_named(tmp_path: Path, pngs: list[Path]) -> None:
    for args in (
        ["generate", tmp_path / "gone", "--stage", "base", "-n", 1, "--out", tmp_path / "o"],
        ["score", tmp_path / "gone", "--model", "base", pngs[0]],
    ):
        result = invoke(*args)
        assert result.exit_code == 5 and "no such run directory" in result.output


def test_score_writes_scores_decisions_and_heatmaps(run_dir: Path, pngs: list[Path], tmp_path: Path) -> None:
    out, maps = tmp_path / "scores.csv", tmp_path / "maps"
    result = invoke("score", run_dir, "--model", "base", *pngs[:3], "--out", out, "--heatmaps", maps, "-q")
    assert result.exit_code == 0, result.output
    every = read_csv(out.read_text())
    scores = ["image", "model", "method", "residual", "discrimination", "score"]
    assert list(every[0]) == [*scores, "threshold", "rule", "decision", "heatmap"]
    assert {r["method"] for r in every} == {"anogan", "l1-mean", "knn", "pca", "ocsvm"}
    assert all(r["heatmap"] == "" for r in every if r["method"] != "anogan")  # no reconstruction
    rows = [r for r in every if r["method"] == "anogan"]
    assert [r["image"] for r in rows] == [str(p) for p in pngs[:3]]
    for row in rows:
        assert row["decision"] == (
            "anomalous" if float(row["score"]) >= float(row["threshold"]) else "normal"
        )
        panels = np.asarray(Image.open(row["heatmap"]))
        assert panels.shape[0] == 128 and panels.shape[2] == 3  # 16 px enlarged 8x, three panels side by side
        assert panels.shape[1] == 3 * 128 + 2 * 4


def test_score_prints_csv_without_out(run_dir: Path, pngs: list[Path]) -> None:
    result = invoke("score", run_dir, "--model", "base", pngs[0], "--method", "anogan", "-q")
    assert result.exit_code == 0, result.output
    rows = read_csv(result.stdout)
    assert len(rows) == 1 and rows[0]["method"] == "anogan" and float(rows[0]["score"]) > 0


def test_score_reads_other_sizes_and_channel_counts(run_dir: Path, tmp_path: Path) -> None:
    big = tmp_path / "rgb.jpg"
    Image.fromarray(np.random.default_rng(1).integers(0, 255, (50, 40, 3), dtype=np.uint8)).save(big)
    result = invoke("score", run_dir, "--model", "base", big, "-q")
    assert result.exit_code == 0, result.output
    assert read_csv(result.stdout)[0]["image"] == str(big)


def test_a_corrupt_image_is_named_and_skip_lists_it(run_dir: Path, pngs: list[Path], tmp_path: Path) -> None:
    bad = tmp_path / "corrupt.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    result = invoke("score", run_dir, "--model", "base", pngs[0], bad, "-q")
    assert result.exit_code == 3 and "corrupt.png" in result.output and "--on-error skip" in result.output
    result = invoke("score", run_dir, "--model", "base", pngs[0], bad, "--on-error", "skip", "-q")
    assert result.exit_code == 0, result.output
    assert "skipped 1 unreadable file(s)" in result.stderr and str(bad) in result.stderr
    assert {r["image"] for r in read_csv(result.stdout)} == {str(pngs[0])}


def test_score_refuses_an_unfinished_stage(run_dir: Path, pngs: list[Path], tmp_path: Path) -> None:
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    (copy / "base" / "done.json").unlink()
    result = invoke("score", copy, "--model", "base", pngs[0])
    assert result.exit_code == 5 and "is not finished" in result.output


def test_score_needs_a_stage_that_scores_the_model(run_dir: Path, pngs: list[Path]) -> None:
    result = invoke("score", run_dir, "--model", "cond", pngs[0])
    assert result.exit_code == 2 and "no stage of this run scores model 'cond'" in result.output
