"""Generator EMA in the train stage: the running average, what is handed on and saved, resume."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import safetensors.torch
import torch
from torch import Tensor, nn

import ganaug_plugins.stages.train as train
from ganaug.kit.training.checkpoint import latest_checkpoint, load_checkpoint
from ganaug.runner.engine import run_recipe
from ganaug.runtime.errors import RecipeError, RunInterrupted
from tests.training_toys import CALLS, HOST, TRIGGERS, iagan, run

pytestmark = pytest.mark.usefixtures("one_thread", "reset_triggers")

DECAY, START = 0.5, 2  # 6 G steps in all: steps 1-2 copy G, steps 3-6 average


def ema(*overrides: str) -> Any:
    settings = (f"stages.iagan.ema_decay={DECAY}", f"stages.iagan.ema_start={START}")
    return iagan(0, "watched", *settings, *overrides)


def _file(run_dir: Path, name: str) -> dict[str, Tensor]:
    return safetensors.torch.load_file(run_dir / "iagan" / name)


def _state(module: nn.Module) -> dict[str, Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def test_ema_is_the_running_average_of_g_and_is_handed_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[int, dict[str, Tensor]]] = []  # G after each step, as the EMA saw it
    original = train.update_ema

    def recording(ema_g: nn.Module, g: nn.Module, decay: float, step: int, start: int) -> None:
        seen.append((step, _state(g)))
        original(ema_g, g, decay, step, start)

    monkeypatch.setattr(train, "update_ema", recording)
    result = run(ema(), tmp_path / "run")
    assert [s for s, _ in seen] == [1, 2, 3, 4, 5, 6]

    params = {name for name, _ in result.outputs["iagan"].model.generator.named_parameters()}
    expected: dict[str, Tensor] = {}
    for step, g in seen:  # by hand: a copy until START, then decay * ema + (1 - decay) * G
        for key, value in g.items():
            if step <= START or key not in params:  # buffers are copied, never averaged
                expected[key] = value.clone()
            else:
                expected[key] = DECAY * expected[key] + (1 - DECAY) * value
    model = result.outputs["iagan"].model
    handed = _state(model.generator)
    assert handed.keys() == expected.keys() and any("running_mean" in k for k in handed)
    for key, value in expected.items():
        torch.testing.assert_close(handed[key], value, rtol=1e-6, atol=1e-7, msg=key)

    raw = seen[-1][1]  # the handed-on generator is the EMA copy, not G, and so is generator.safetensors
    assert any(not torch.equal(handed[k], raw[k]) for k in params)
    saved = _file(result.run_dir, "generator.safetensors")
    saved_raw = _file(result.run_dir, "generator_raw.safetensors")
    assert all(torch.equal(saved[k], handed[k]) for k in handed)
    assert all(torch.equal(saved_raw[k], raw[k]) for k in raw)
    info = json.loads((result.run_dir / "iagan" / "training.json").read_text())
    assert info["generator_ema"] is True

    checkpoint = latest_checkpoint(result.run_dir / "iagan" / "checkpoints")
    assert checkpoint is not None
    tensors = load_checkpoint(checkpoint).tensors
    assert all(torch.equal(tensors[f"generator_ema/{k}"], v) for k, v in handed.items())
    assert all(torch.equal(tensors[f"generator/{k}"], v) for k, v in raw.items())

    again = run_recipe(ema(), resume=result.run_dir, host=HOST)  # a finished stage restores the EMA G
    restored = _state(again.outputs["iagan"].model.generator)
    assert all(torch.equal(restored[k], handed[k]) for k in handed)


def test_interrupt_and_resume_is_bit_identical_with_ema(tmp_path: Path) -> None:
    reference = run(ema(), tmp_path / "reference").run_dir
    CALLS["n"] = 0
    TRIGGERS["interrupt"] = 5  # during step 5 (epoch 2), after averaging began
    out = tmp_path / "interrupted"
    with pytest.raises((KeyboardInterrupt, RunInterrupted)):
        run(ema(), out)
    latest = latest_checkpoint(out / "iagan" / "checkpoints")
    assert latest is not None and load_checkpoint(latest).meta["position"]["step"] == 5
    assert any(k.startswith("generator_ema/") for k in load_checkpoint(latest).tensors)
    TRIGGERS["interrupt"] = None
    run_recipe(ema(), resume=out, host=HOST)
    for name in ("generator.safetensors", "generator_raw.safetensors", "discriminator.safetensors"):
        assert (out / "iagan" / name).read_bytes() == (reference / "iagan" / name).read_bytes(), name


@pytest.mark.parametrize("decay", ["0", "1.0", "-0.5", "1.5"])
def test_decay_outside_zero_one_is_refused_with_its_path(decay: str) -> None:
    with pytest.raises(RecipeError) as err:
        iagan(0, "least-squares", f"stages.iagan.ema_decay={decay}")
    assert "stages[0].ema_decay" in {p.path for p in err.value.problems}


def test_negative_start_is_refused_and_defaults_are_off() -> None:
    with pytest.raises(RecipeError) as err:
        iagan(0, "least-squares", "stages.iagan.ema_decay=0.9", "stages.iagan.ema_start=-1")
    assert "stages[0].ema_start" in {p.path for p in err.value.problems}
    options = iagan().stages[0].options
    assert (options.ema_decay, options.ema_start) == (None, 0)
    assert iagan(0, "least-squares", "stages.iagan.ema_decay=0.999").stages[0].options.ema_decay == 0.999


def test_ema_off_writes_what_it_always_did_and_ema_leaves_g_alone(tmp_path: Path) -> None:
    plain = run(iagan(0, "watched"), tmp_path / "plain")
    folder = plain.run_dir / "iagan"
    assert not (folder / "generator_raw.safetensors").exists()
    assert "generator_ema" not in json.loads((folder / "training.json").read_text())
    latest = latest_checkpoint(folder / "checkpoints")
    assert latest is not None
    assert not any(k.startswith("generator_ema/") for k in load_checkpoint(latest).tensors)
    handed = _state(plain.outputs["iagan"].model.generator)
    saved = _file(plain.run_dir, "generator.safetensors")
    assert all(torch.equal(saved[k], v) for k, v in handed.items())

    CALLS["n"] = 0
    averaged = run(ema(), tmp_path / "ema").run_dir  # training itself is untouched by the EMA
    pairs = [("generator.safetensors", "generator_raw.safetensors")]
    pairs += [(name, name) for name in ("discriminator.safetensors", "losses.csv")]
    for name, other in pairs:
        assert (folder / name).read_bytes() == (averaged / "iagan" / other).read_bytes(), name
