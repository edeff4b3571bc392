"""Safe training checkpoints: tensors in safetensors, everything else in JSON; never unpickled.

A checkpoint is ``step-NNNNNNNN.safetensors`` (weights, BatchNorm buffers, optimiser state
tensors, RNG states) plus ``step-NNNNNNNN.json`` (position, optimiser param groups, non-tensor
values, the tensor file's SHA-256). Besides modules, any object with ``state_dict()`` and
``load_state_dict()`` is saved (a loss with its own random stream, say). ``latest.json`` names
the newest checkpoint and is written last, so a kill during a write leaves the previous one.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import attrs
import safetensors.torch
import torch
from torch import Tensor
from torch.optim import Optimizer

from ganaug.api.capabilities import Stateful
from ganaug.runtime.errors import CheckpointError
from ganaug.runtime.io import write_bytes, write_json, writes_enabled

FORMAT = 1
LATEST = "latest.json"
_NAME = re.compile(r"^step-(\d{8})\.(json|safetensors)$")


def stateful(obj: object) -> bool:
    """Whether ``obj`` offers :class:`~ganaug.api.capabilities.Stateful` (saved in a checkpoint)."""
    return isinstance(obj, Stateful)


@attrs.frozen
class Checkpoint:
    """A loaded checkpoint: its JSON metadata, its tensors, and where it lives."""

    path: Path
    meta: dict[str, Any]
    tensors: dict[str, Tensor]


def _flatten(
    modules: dict[str, Stateful], optimizers: dict[str, Optimizer]
) -> tuple[dict[str, Tensor], dict[str, Any]]:
    tensors: dict[str, Tensor] = {}
    meta: dict[str, Any] = {"param_groups": {}, "optimizer_values": {}, "values": {}}
    for name, module in modules.items():
        for key, value in module.state_dict().items():
            if isinstance(value, Tensor):
                tensors[f"{name}/{key}"] = value.detach().cpu().contiguous()
            else:
                meta["values"].setdefault(name, {})[key] = value
    for name, optimizer in optimizers.items():
        state = optimizer.state_dict()
        values: dict[str, dict[str, Any]] = {}
        for index, entry in state["state"].items():
            for key, value in entry.items():
                if isinstance(value, Tensor):
                    tensors[f"{name}/state/{index}/{key}"] = value.detach().cpu().contiguous()
                else:
                    values.setdefault(str(index), {})[key] = value
        meta["param_groups"][name] = state["param_groups"]
        meta["optimizer_values"][name] = values
    tensors["rng/torch"] = torch.get_rng_state()
    if torch.cuda.is_available() and torch.cuda.is_initialized():  # dropout/noise on CUDA draw from these
        for index, state in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng/cuda/{index}"] = state
    return tensors, meta


def save_checkpoint(
    folder: Path,
    step: int,
    modules: dict[str, Stateful],
    optimizers: dict[str, Optimizer],
    position: Position,
    keep: int = 2,
    world_size: int = 1,
) -> Path:
    """Write a checkpoint for global ``step``; point ``latest.json`` at it; keep the newest
    ``keep`` checkpoints; ``world_size`` (processes that trained) is recorded for resume checks.
    Returns the checkpoint's JSON path. Off rank 0 of a distributed run
    (writes disabled) nothing is written or pruned: rank 0 owns the folder."""
    stem = f"step-{step:08d}"
    if not writes_enabled():
        return folder / f"{stem}.json"
    tensors, meta = _flatten(modules, optimizers)
    blob = safetensors.torch.save(tensors)
    write_bytes(folder / f"{stem}.safetensors", blob)
    meta.update(
        format=FORMAT,
        step=step,
        position=position.as_dict(),
        world_size=world_size,
        tensors=f"{stem}.safetensors",
        sha256=hashlib.sha256(blob).hexdigest(),
    )
    path = write_json(folder / f"{stem}.json", meta)
    write_json(folder / LATEST, {"checkpoint": path.name, "step": step})
    _prune(folder, keep, step)
    return path


def _prune(folder: Path, keep: int, current: int) -> None:
    steps = sorted({int(m.group(1)) for p in folder.iterdir() if (m := _NAME.match(p.name))})
    for old in [s for s in steps if s != current][: max(len(steps) - keep, 0)]:
        for suffix in ("json", "safetensors"):
            (folder / f"step-{old:08d}.{suffix}").unlink(missing_ok=True)


def latest_checkpoint(folder: Path) -> Path | None:
    """The JSON path ``latest.json`` names, or None when no checkpoint was written."""
    pointer = folder / LATEST
    if not pointer.exists():
        return None
    try:
        name = json.loads(pointer.read_text())["checkpoint"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CheckpointError(f"{pointer} is unreadable ({exc}); delete it to start over") from None
    return folder / name


def load_checkpoint(path: Path) -> Checkpoint:
    """Read a checkpoint's JSON and tensors, checking the tensor file's digest."""
    try:
        meta = json.loads(path.read_text())
        blob = (path.parent / meta["tensors"]).read_bytes()
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise CheckpointError(f"checkpoint {path} is missing or unreadable: {exc}") from None
    except RecursionError:
        raise CheckpointError(f"checkpoint {path} is nested too deeply to be a checkpoint") from None
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"checkpoint {path} has format {meta.get('format')!r}, expected {FORMAT}")
    if hashlib.sha256(blob).hexdigest() != meta.get("sha256"):
        raise CheckpointError(f"checkpoint {path}: {meta['tensors']} does not match its recorded digest")
    try:
        tensors = safetensors.torch.load(blob)
    except Exception as exc:  # anything that is not a valid safetensors file
        raise CheckpointError(
            f"checkpoint {path}: {meta['tensors']} is not a safetensors file: {exc}"
        ) from None
    return Checkpoint(path, meta, tensors)


def _group(group: dict[str, Any]) -> dict[str, Any]:
    """JSON turned tuples into lists; Adam-style ``betas`` goes back to a tuple."""
    return {k: tuple(v) if k == "betas" and isinstance(v, list) else v for k, v in group.items()}


def restore_checkpoint(
    checkpoint: Checkpoint, modules: dict[str, Stateful], optimizers: dict[str, Optimizer]
) -> None:
    """Load weights, optimiser state and the global torch RNG state into live objects. The
    optimisers' hyperparameters must come back as the recipe set them (a resume refuses a changed
    recipe, so a checkpoint that differs was edited)."""
    tensors, meta = checkpoint.tensors, checkpoint.meta
    expected = {name: [_hyper(g) for g in opt.param_groups] for name, opt in optimizers.items()}
    try:
        for name, module in modules.items():
            prefix = f"{name}/"
            state = {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
            state.update(meta.get("values", {}).get(name, {}))
            module.load_state_dict(state)
        for name, optimizer in optimizers.items():
            state: dict[int, dict[str, Any]] = {}
            prefix = f"{name}/state/"
            for key, value in tensors.items():
                if key.startswith(prefix):
                    index, field = key[len(prefix) :].split("/", 1)
                    state.setdefault(int(index), {})[field] = value
            for index, values in meta["optimizer_values"].get(name, {}).items():
                state.setdefault(int(index), {}).update(values)
            groups = [_group(g) for g in meta["param_groups"][name]]
            optimizer.load_state_dict({"state": state, "param_groups": groups})
    except (RuntimeError, KeyError, ValueError, TypeError, AttributeError) as exc:
        raise CheckpointError(
            f"checkpoint {checkpoint.path} does not fit the networks of this recipe: {exc}"
        ) from None
    _check_groups(checkpoint.path, optimizers)
    for name, optimizer in optimizers.items():
        for want, group in zip(expected[name], optimizer.param_groups, strict=False):
            if _hyper(group) != want:
                raise CheckpointError(
                    f"checkpoint {checkpoint.path}: {name} hyperparameters {_hyper(group)} differ from the "
                    f"recipe's {want}; the checkpoint was edited or belongs to another recipe"
                )
    rng = tensors.get("rng/torch")
    if rng is None or rng.dtype != torch.uint8 or rng.dim() != 1:
        raise CheckpointError(f"checkpoint {checkpoint.path} has no valid random state ('rng/torch')")
    cuda = [tensors[f"rng/cuda/{i}"] for i in range(len(tensors)) if f"rng/cuda/{i}" in tensors]
    try:
        torch.set_rng_state(rng)
        if cuda and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(cuda)
    except RuntimeError as exc:
        raise CheckpointError(f"checkpoint {checkpoint.path}: invalid random state: {exc}") from None


NUMERIC_GROUP_KEYS = ("lr", "eps", "weight_decay", "momentum", "dampening")


def _hyper(group: dict[str, Any]) -> dict[str, Any]:
    """The hyperparameters of an optimiser's param group (learning rate, betas, ...)."""
    return {k: group[k] for k in (*NUMERIC_GROUP_KEYS, "betas") if k in group}


def _check_groups(path: Path, optimizers: dict[str, Optimizer]) -> None:
    """Hyperparameters restored from JSON must be numbers (``lr = "fast"`` fails only later, in a step)."""
    for name, optimizer in optimizers.items():
        for group in optimizer.param_groups:
            for key in NUMERIC_GROUP_KEYS:
                if key in group and not _number(group[key]):
                    raise CheckpointError(f"checkpoint {path}: {name} {key} is not a number: {group[key]!r}")
            betas = group.get("betas", (0.0, 0.0))
            if not (isinstance(betas, tuple) and len(betas) == 2 and all(_number(b) for b in betas)):
                raise CheckpointError(f"checkpoint {path}: {name} betas are not two numbers: {betas!r}")


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


POSITION_KEYS = {"epoch": int, "batch": int, "step": int, "images": int, "seconds": float}


@attrs.define
class Position:
    """Where a training stage stands: the 0-based ``epoch`` and ``batch`` it will run next, the
    global ``step`` count, the images seen and the seconds spent training (what a checkpoint saves)."""

    epoch: int = 0
    batch: int = 0
    step: int = 0
    images: int = 0
    seconds: float = 0.0

    def at(self, epoch: int, batch: int) -> Position:
        """This position moved to ``batch`` of ``epoch`` (what a checkpoint there records)."""
        return attrs.evolve(self, epoch=epoch, batch=batch)

    def as_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)


def checked_position(
    path: Path, meta: dict[str, Any], epochs: int | None = None, steps: int | None = None
) -> Position:
    """The training position a checkpoint records, every field present and a number, and (given
    the stage's ``epochs`` and ``steps`` per epoch) within them."""
    position = meta.get("position")
    if not isinstance(position, dict):
        raise CheckpointError(f"checkpoint {path} records no training position")
    out: dict[str, Any] = {}
    for key, kind in POSITION_KEYS.items():
        value = position.get(key)
        if not _number(value) or (kind is int and not isinstance(value, int)) or value < 0:
            raise CheckpointError(f"checkpoint {path}: position {key!r} is not a valid number: {value!r}")
        out[key] = kind(value)
    if epochs is not None and out["epoch"] > epochs:
        raise CheckpointError(
            f"checkpoint {path}: position epoch {out['epoch']} is beyond the {epochs} epochs"
        )
    if steps is not None and out["batch"] >= steps:
        raise CheckpointError(
            f"checkpoint {path}: position batch {out['batch']} is beyond the {steps} per epoch"
        )
    if epochs is not None and steps is not None and out["step"] > epochs * steps:
        raise CheckpointError(
            f"checkpoint {path}: position step {out['step']} is beyond the {epochs * steps} steps"
        )
    return Position(**out)
