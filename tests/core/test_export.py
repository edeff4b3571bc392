"""Export to ONNX and TorchScript: exported and PyTorch outputs agree (parity), the sidecar says
what a colleague's pipeline needs, and ONNX without its extra names the extra to install.

Tolerance: every output within ``ATOL + RTOL * max|PyTorch output|`` (1e-4 + 1e-4 x); measured
on the CPU: about 1e-7 for ONNX Runtime here (up to 8e-6 on a quickstart run's 32x32 DCGAN), 0 for
TorchScript.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from ganaug.api.interfaces import ImageSpec
from ganaug.api.networks import frozen
from ganaug.apps.cli import cli
from ganaug.apps.export import ATOL, RTOL, Exported, ExportError, export_model, export_networks, load_exported
from ganaug.apps.model import Model, load_model
from ganaug.testing import TINY, TinyDiscriminator, TinyGenerator, TinyNetOptions, registered
from tests.model_run import host, make_run, split_images, write_pngs


def within(reference: torch.Tensor, exported: torch.Tensor) -> bool:
    allowed = ATOL + RTOL * float(reference.abs().max())
    return reference.shape == exported.shape and float((reference - exported).abs().max()) <= allowed


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_run(tmp_path_factory.mktemp("export") / "run")


@pytest.fixture(scope="module")
def model(run_dir: Path) -> Model:
    return load_model(run_dir, "base", device="cpu", host=host())


@pytest.fixture(scope="module")
def real(run_dir: Path, model: Model, tmp_path_factory: pytest.TempPathFactory) -> torch.Tensor:
    """Real digits, written as PNG files and read back through the run's preprocessing."""
    paths = write_pngs(split_images(run_dir, "test"), tmp_path_factory.mktemp("real"))
    return model.read_images(paths).tensor


@pytest.fixture(scope="module", params=["onnx", "torchscript"])
def exported(
    request: pytest.FixtureRequest, model: Model, tmp_path_factory: pytest.TempPathFactory
) -> Exported:
    return export_model(model, tmp_path_factory.mktemp(request.param), request.param)


def fmt_of(done: Exported) -> str:
    return "onnx" if done.generator.file.suffix == ".onnx" else "torchscript"


@pytest.mark.slow
def test_discriminator_parity_on_real_images(exported: Exported, model: Model, real: torch.Tensor) -> None:
    run = load_exported(exported.discriminator.file, fmt_of(exported))
    logits, features = run(real)
    with frozen(model.trained.discriminator), torch.no_grad():
        ref_logits, ref_features = model.trained.discriminator(real)
    assert len(real) == 10
    assert within(ref_logits, logits) and within(ref_features, features)


@pytest.mark.slow
def test_generator_parity_on_latent_codes_of_real_images(
    exported: Exported, model: Model, real: torch.Tensor
) -> None:
    """z* found by the latent search for real digits (what scoring feeds G), and random z."""
    z_star = model.score(real[:4]).methods["anogan"].z
    assert z_star is not None
    run = load_exported(exported.generator.file, fmt_of(exported))
    for z in (z_star, torch.randn(7, model.latent_dim, generator=torch.Generator().manual_seed(1))):
        with frozen(model.trained.generator), torch.no_grad():
            reference = model.trained.generator(z)
        assert within(reference, run(z)[0])


@pytest.mark.slow
def test_export_measured_parity_on_random_inputs(exported: Exported) -> None:
    assert set(exported.parity) == {"generator.images", "discriminator.logits", "discriminator.features"}
    assert all(0 <= diff <= ATOL for diff in exported.parity.values())


@pytest.mark.slow
def test_sidecar_describes_inputs_preprocessing_and_threshold(exported: Exported, model: Model) -> None:
    side = json.loads(exported.sidecar.read_text())
    assert side["image"] == {"channels": 1, "size": 16} and side["value_range"] == [-1.0, 1.0]
    assert side["preprocessing"]["resize"] == "stretch" and side["preprocessing_origin"] == "recorded"
    assert side["generator"]["inputs"] == [{"name": "z", "shape": ["batch", 8]}]
    assert [o["name"] for o in side["discriminator"]["outputs"]] == ["logits", "features"]
    assert side["thresholds"]["anogan"]["value"] == model.thresholds["anogan"].value
    assert side["scoring"]["stage"] == "eval"
    assert (exported.folder / side["generator"]["file"]).is_file()


@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
def test_conditional_generator_exports_with_both_inputs(fmt: str, tmp_path: Path) -> None:
    spec = ImageSpec(1, 8)
    torch.manual_seed(0)
    g = TinyGenerator(TinyNetOptions(conditional=True), spec)
    d = TinyDiscriminator(TinyNetOptions(), spec)
    g_net, _, parity = export_networks(g, d, spec, tmp_path, fmt)
    assert g_net.inputs == ("z", "condition")
    z, x = torch.randn(4, 8), torch.rand(4, 1, 8, 8) * 2 - 1
    with torch.no_grad():
        assert within(g(z, x), load_exported(g_net.file, fmt)(z, x)[0])
    assert max(parity.values()) <= ATOL


def test_without_the_extra_onnx_export_names_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    real_find = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "onnxruntime" else real_find(name, *a)
    )
    with pytest.raises(ExportError, match=r"pip install 'ganaug\[onnx\]'"):
        export_networks(TinyGenerator(), TinyDiscriminator(), ImageSpec(1, 8), tmp_path, "onnx")
    with registered(TINY):
        result = CliRunner().invoke(cli, ["export", str(tmp_path), "--model", "base", "--format", "onnx"])
    assert result.exit_code == 2
    assert "onnxruntime not installed" in result.output and "ganaug[onnx]" in result.output


@pytest.mark.slow
def test_cli_export_writes_the_model_and_sidecar(run_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "ts"
    with registered(TINY):
        result = CliRunner().invoke(
            cli, ["export", str(run_dir), "--model", "base", "--format", "torchscript", "--out", str(out)]
        )
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["discriminator.pt", "generator.pt", "model.json"]
    assert "largest |exported - PyTorch|" in result.output


@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
def test_a_failed_parity_check_leaves_nothing_under_the_final_name(
    fmt: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ganaug.apps.export as export

    monkeypatch.setattr(export, "differences", lambda ref, out: [(1.0, 1e-6)] * len(ref))
    with pytest.raises(ExportError, match=r"differs by 1 .*nothing written as generator"):
        export_networks(
            TinyGenerator(TinyNetOptions()),
            TinyDiscriminator(TinyNetOptions()),
            ImageSpec(1, 8),
            tmp_path,
            fmt,
        )
    assert list(tmp_path.iterdir()) == []  # neither the file nor its temporary


def test_nan_weights_are_named_as_such(tmp_path: Path) -> None:
    generator = TinyGenerator(TinyNetOptions())
    with torch.no_grad():
        next(generator.parameters()).fill_(float("nan"))
    with pytest.raises(ExportError, match="NaN or infinite outputs"):
        export_networks(
            generator, TinyDiscriminator(TinyNetOptions()), ImageSpec(1, 8), tmp_path, "torchscript"
        )
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_torchscript_export_over_the_file_size_limit_is_a_clear_error(run_dir: Path, tmp_path: Path) -> None:
    """torch.jit.save's own writer aborted the process (exit 134); now the bytes go through ganaug's."""
    import subprocess
    import sys

    out = tmp_path / "ts"
    code = (
        "import resource, sys; resource.setrlimit(resource.RLIMIT_FSIZE, (10 * 1024, 10 * 1024)); "
        "from ganaug.apps.cli import main; from ganaug.testing import TINY, registered; "
        "sys.argv = ['ganaug'] + sys.argv[1:]\nwith registered(TINY): main()"
    )
    args = ["export", str(run_dir), "--model", "base", "--format", "torchscript", "--out", str(out)]
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=300)
    assert done.returncode == 5, done.stderr
    assert "file size limit" in done.stderr and "Traceback" not in done.stderr
    assert not [p for p in out.rglob("*") if p.suffix == ".tmp" or p.name.endswith(".pt")]
