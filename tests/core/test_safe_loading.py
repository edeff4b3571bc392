"""Nothing in a run directory is ever unpickled: a malicious pickle is refused with CheckpointError.

Each test plants a pickle whose ``__reduce__`` would create a marker file, under the name of a
checkpoint, final weights or the checkpoint pointer, then resumes; the resume must stop with a
clear :class:`CheckpointError` and the marker must never appear. A meta-test checks the source.
"""

from __future__ import annotations

import ast
import hashlib
import io
import json
import pickle
import shutil
from pathlib import Path

import pytest
import torch

from ganaug.host.loading import make_plugin_host
from ganaug.recipe.load import parse_recipe
from ganaug.runner.engine import run_recipe
from ganaug.runtime.errors import CheckpointError
from tests.killhooks.runner import ROOT, TINY

HOST = make_plugin_host()


class Evil:
    """Unpickling this creates ``marker``: proof that a loader ran pickle on our file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (open, (str(self.marker), "w"))


def pickled(marker: Path, kind: str) -> bytes:
    """A malicious file: a bare pickle, or a ``torch.save`` zip holding one."""
    if kind == "pickle":
        return pickle.dumps({"weight": Evil(marker)})
    buffer = io.BytesIO()
    torch.save({"weight": Evil(marker)}, buffer)
    return buffer.getvalue()


def recipe():
    return parse_recipe(TINY, registry=HOST.registry)


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished run of the tiny recipe, copied by each test before it is doctored."""
    out = tmp_path_factory.mktemp("safe") / "run"
    run_recipe(recipe(), out=out, host=HOST)
    return out


@pytest.fixture
def run(finished: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "run"
    shutil.copytree(finished, copy)
    return copy


def unfinish(run: Path) -> Path:
    """Make the train stage ``base`` (and all after it) unfinished, so resume loads its checkpoint."""
    for done in run.glob("*/done.json"):
        done.unlink()
    return run / "base" / "checkpoints"


def resume_refused(run: Path, marker: Path) -> str:
    with pytest.raises(CheckpointError) as caught:
        run_recipe(recipe(), resume=run, host=HOST)
    assert not marker.exists(), "a malicious pickle was unpickled"
    return str(caught.value)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["pickle", "torch.save"])
@pytest.mark.parametrize("name", ["generator", "discriminator", "train_mean"])
def test_pickle_as_final_weights_is_refused_on_restore(
    run: Path, tmp_path: Path, name: str, kind: str
) -> None:
    name = f"{name}.safetensors"
    marker = tmp_path / "pwned"
    (run / "base" / name).write_bytes(pickled(marker, kind))
    message = resume_refused(run, marker)
    assert name in message


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["pickle", "torch.save"])
def test_pickle_as_checkpoint_tensors_is_refused(run: Path, tmp_path: Path, kind: str) -> None:
    """Weights and optimiser state live in the checkpoint's tensor file; its digest catches a swap."""
    marker = tmp_path / "pwned"
    folder = unfinish(run)
    (folder / "step-00000012.safetensors").write_bytes(pickled(marker, kind))
    message = resume_refused(run, marker)
    assert "step-00000012" in message and "digest" in message


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["pickle", "torch.save"])
def test_pickle_with_a_matching_digest_is_refused_as_a_checkpoint_error(
    run: Path, tmp_path: Path, kind: str
) -> None:
    marker = tmp_path / "pwned"
    folder = unfinish(run)
    blob = pickled(marker, kind)
    (folder / "step-00000012.safetensors").write_bytes(blob)
    meta_path = folder / "step-00000012.json"
    meta = json.loads(meta_path.read_text())
    meta["sha256"] = hashlib.sha256(blob).hexdigest()
    meta_path.write_text(json.dumps(meta))
    try:
        resume_refused(run, marker)
    finally:
        assert not marker.exists()


@pytest.mark.slow
@pytest.mark.parametrize("name", ["step-00000012.json", "latest.json"])
def test_pickle_as_checkpoint_metadata_is_refused(run: Path, tmp_path: Path, name: str) -> None:
    marker = tmp_path / "pwned"
    folder = unfinish(run)
    (folder / name).write_bytes(pickled(marker, "pickle"))
    message = resume_refused(run, marker)
    assert name in message


@pytest.mark.slow
def test_pickle_as_optimizer_file_beside_the_checkpoint_is_never_read(run: Path, tmp_path: Path) -> None:
    """Optimiser state is inside the checkpoint; a planted ``optimizer.pt`` is ignored, not loaded."""
    marker = tmp_path / "pwned"
    folder = unfinish(run)
    for name in ("optimizer.pt", "optimizer_g.pt", "checkpoint.pt"):
        (folder / name).write_bytes(pickled(marker, "torch.save"))
    run_recipe(recipe(), resume=run, host=HOST)
    assert not marker.exists()


def _calls(tree: ast.AST) -> list[ast.Call]:
    return [node for node in ast.walk(tree) if isinstance(node, ast.Call)]


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return node.id if isinstance(node, ast.Name) else ""


def _keyword(call: ast.Call, name: str) -> object:
    for keyword in call.keywords:
        if keyword.arg == name and isinstance(keyword.value, ast.Constant):
            return keyword.value.value
    return None


def test_no_unsafe_loader_in_the_source() -> None:
    """torch.load only with weights_only=True, np.load never with pickles, no pickle module at all."""
    sources = [p for folder in ("ganaug", "plugins") for p in (ROOT / folder).rglob("*.py")]
    assert len(sources) > 30
    bad: list[str] = []
    for path in sources:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        where = path.relative_to(ROOT)
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import | ast.ImportFrom) else []
            module = node.module if isinstance(node, ast.ImportFrom) else None
            if {"pickle", "dill", "joblib", "cloudpickle"} & {*names, module}:
                bad.append(f"{where}:{node.lineno}: imports a pickle module")
        for call in _calls(tree):
            name = _dotted(call.func)
            if name == "torch.load" and _keyword(call, "weights_only") is not True:
                bad.append(f"{where}:{call.lineno}: torch.load without weights_only=True")
            if name in {"np.load", "numpy.load"} and _keyword(call, "allow_pickle") is not False:
                bad.append(f"{where}:{call.lineno}: np.load without allow_pickle=False")
    assert not bad, "\n".join(bad)


def test_the_meta_test_catches_an_unsafe_load(tmp_path: Path) -> None:
    tree = ast.parse("import torch\nstate = torch.load(path)\nok = torch.load(path, weights_only=True)\n")
    assert [c.lineno for c in _calls(tree) if _dotted(c.func) == "torch.load"] == [2, 3]
    loads = [c for c in _calls(tree) if _dotted(c.func) == "torch.load"]
    assert [_keyword(c, "weights_only") for c in loads] == [None, True]
