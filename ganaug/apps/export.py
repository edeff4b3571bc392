"""Export a trained model's generator and discriminator to ONNX or TorchScript, checked for parity.

Writes ``generator.<ext>`` (inputs ``z`` and, when conditional, ``condition``; output ``images``),
``discriminator.<ext>`` (input ``images``; outputs ``logits`` and ``features``, the feature path
AnoGAN's discrimination term compares) and ``model.json`` beside them: image size, channels,
value range, the run's preprocessing, the latent prior, thresholds, and the parity measured right
after writing: exported and PyTorch outputs on the same random inputs must agree within
:data:`ATOL` + :data:`RTOL` x the largest PyTorch output, or the export fails.

ONNX needs the optional extra ``ganaug[onnx]`` (onnx, onnxruntime, onnxscript: torch's
``torch.export``-based exporter); TorchScript needs nothing beyond torch.
"""

from __future__ import annotations

import copy
import importlib.util
import io
import logging
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np
import torch
from torch import Tensor, nn

from ganaug import __version__
from ganaug.api.interfaces import ImageSpec
from ganaug.api.networks import is_conditional
from ganaug.runtime.errors import GanaugError
from ganaug.runtime.io import atomic_path, write_json
from ganaug.runtime.seeds import derive_seed

if TYPE_CHECKING:
    from ganaug.apps.model import Model

FORMATS = ("onnx", "torchscript")
SUFFIX = {"onnx": ".onnx", "torchscript": ".pt"}
ONNX_MODULES = ("onnx", "onnxruntime", "onnxscript")
ONNX_EXTRA = "pip install 'ganaug[onnx]'"
SIDECAR = "model.json"
#: Parity: |exported - PyTorch| <= ATOL + RTOL * max |PyTorch| for every output.
ATOL = 1e-4
RTOL = 1e-4
#: Batch sizes: tracing/exporting with one, checking with another (the batch axis stays free).
EXAMPLE_BATCH, CHECK_BATCH = 2, 3


class ExportError(GanaugError):
    """An export failed, needs a missing extra, or the exported model does not match PyTorch."""

    exit_code = 2


class GeneratorGraph(nn.Module):
    """``G(z)`` or ``G(z, condition)`` with fixed positional inputs, for tracing and export."""

    def __init__(self, generator: nn.Module) -> None:
        super().__init__()
        self.generator = generator
        self.conditional = is_conditional(generator)

    def forward(self, z: Tensor, condition: Tensor | None = None) -> Tensor:
        return self.generator(z, condition) if self.conditional else self.generator(z)


class DiscriminatorGraph(nn.Module):
    """``D(images) -> (logits, features)``: the realness score and the feature map."""

    def __init__(self, discriminator: nn.Module) -> None:
        super().__init__()
        self.discriminator = discriminator

    def forward(self, images: Tensor) -> tuple[Tensor, Tensor]:
        logits, features = self.discriminator(images)
        return logits, features


@attrs.frozen
class Network:
    """One exported network: its file, input and output names, and example inputs' shapes."""

    file: Path
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]


@attrs.frozen
class Exported:
    """What :func:`export_model` wrote and the parity it measured (max |difference| by output)."""

    folder: Path
    generator: Network
    discriminator: Network
    sidecar: Path
    parity: dict[str, float]


def missing_onnx_modules() -> list[str]:
    """The modules of the ``onnx`` extra that are not installed."""
    return [name for name in ONNX_MODULES if importlib.util.find_spec(name) is None]


def check_format(fmt: str) -> None:
    """Refuse an unknown format, or ONNX without its extra (naming what to install)."""
    if fmt not in FORMATS:
        raise ExportError(f"unknown export format {fmt!r}; use one of {', '.join(FORMATS)}")
    if fmt == "onnx" and (missing := missing_onnx_modules()):
        raise ExportError(
            f"ONNX export needs the optional extra 'onnx' ({', '.join(missing)} not installed): {ONNX_EXTRA}"
        )


def example_inputs(generator: nn.Module, image: ImageSpec, n: int, seed: int) -> dict[str, Tensor]:
    """Seeded inputs for both networks: ``z``, ``condition`` (conditional G) and ``images``."""
    gen = torch.Generator().manual_seed(seed)
    z = torch.randn(n, int(generator.latent_dim), generator=gen)
    images = torch.rand(n, *image.shape, generator=gen) * 2 - 1
    inputs = {"z": z, "images": images}
    if is_conditional(generator):
        inputs["condition"] = torch.rand(n, *image.shape, generator=gen) * 2 - 1
    return inputs


def _cpu_eval(module: nn.Module) -> nn.Module:
    copied = copy.deepcopy(module).cpu().eval()
    for param in copied.parameters():
        param.requires_grad_(False)
    return copied


def _export_onnx(graph: nn.Module, args: tuple[Tensor, ...], names: Network, path: Path) -> None:
    batch = torch.export.Dim("batch", min=1)
    quiet = [logging.getLogger(n) for n in ("torch.onnx", "torch._dynamo", "torch.export", "onnxscript")]
    levels = [log.level for log in quiet]
    try:
        for log in quiet:
            log.setLevel(logging.ERROR)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            program = torch.onnx.export(
                graph,
                args,
                input_names=list(names.inputs),
                output_names=list(names.outputs),
                dynamic_shapes=tuple({0: batch} for _ in args),
                dynamo=True,
                verbose=False,
            )
        program.save(str(path), external_data=False)
    except (GanaugError, OSError):  # the atomic writer around this names a full disk itself
        raise
    except Exception as exc:
        raise ExportError(f"ONNX export of {path.stem} failed: {type(exc).__name__}: {exc}") from exc
    finally:
        for log, level in zip(quiet, levels, strict=True):
            log.setLevel(level)


def _export_torchscript(graph: nn.Module, args: tuple[Tensor, ...], path: Path) -> None:
    buffer = io.BytesIO()  # saved to memory first: torch's own file writer aborts the process on a full disk
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # torch deprecates TorchScript
            traced = torch.jit.trace(graph, args, check_trace=False)
            torch.jit.save(traced, buffer)
    except GanaugError:
        raise
    except Exception as exc:
        raise ExportError(f"TorchScript export of {path.stem} failed: {type(exc).__name__}: {exc}") from exc
    path.write_bytes(buffer.getvalue())


def load_exported(path: Path, fmt: str) -> Callable[..., list[Tensor]]:
    """A function running an exported network: tensors in, a list of output tensors out (CPU)."""
    if fmt == "onnx":
        import onnxruntime

        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        names = [i.name for i in session.get_inputs()]

        def run_onnx(*args: Tensor) -> list[Tensor]:
            feed = {n: a.detach().cpu().numpy().astype(np.float32) for n, a in zip(names, args, strict=True)}
            return [torch.from_numpy(np.asarray(out)) for out in session.run(None, feed)]

        return run_onnx
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        module = torch.jit.load(str(path), map_location="cpu")

    def run_script(*args: Tensor) -> list[Tensor]:
        with torch.no_grad():
            out = module(*args)
        return list(out) if isinstance(out, tuple | list) else [out]

    return run_script


def differences(reference: Sequence[Tensor], exported: Sequence[Tensor]) -> list[tuple[float, float]]:
    """Per output: (max |exported - reference|, the allowed difference for it)."""
    found = []
    for ref, out in zip(reference, exported, strict=True):
        ref, out = ref.detach().float().cpu(), out.detach().float().cpu()
        if ref.shape != out.shape:
            return [(float("inf"), 0.0)]
        allowed = ATOL + RTOL * float(ref.abs().max()) if ref.numel() else ATOL
        found.append((float((ref - out).abs().max()) if ref.numel() else 0.0, allowed))
    return found


def export_networks(
    generator: nn.Module, discriminator: nn.Module, image: ImageSpec, folder: Path, fmt: str, seed: int = 0
) -> tuple[Network, Network, dict[str, float]]:
    """Write both networks to ``folder`` in ``fmt``, reload them and check parity on seeded random
    inputs (another batch size than the export's); raises :class:`ExportError` beyond tolerance."""
    check_format(fmt)
    g, d = GeneratorGraph(_cpu_eval(generator)), DiscriminatorGraph(_cpu_eval(discriminator))
    g_in = ("z", "condition") if g.conditional else ("z",)
    nets = {
        "generator": (g, Network(folder / f"generator{SUFFIX[fmt]}", g_in, ("images",))),
        "discriminator": (
            d,
            Network(folder / f"discriminator{SUFFIX[fmt]}", ("images",), ("logits", "features")),
        ),
    }
    example = example_inputs(generator, image, EXAMPLE_BATCH, derive_seed(seed, "export"))
    check = example_inputs(generator, image, CHECK_BATCH, derive_seed(seed, "parity"))
    parity: dict[str, float] = {}
    for role, (graph, net) in nets.items():
        args = tuple(example[name] for name in net.inputs)
        inputs = tuple(check[name] for name in net.inputs)
        with torch.no_grad():
            reference = graph(*inputs)
        reference = list(reference) if isinstance(reference, tuple) else [reference]
        if not all(bool(torch.isfinite(out).all()) for out in reference):
            raise ExportError(
                f"the {role} gives NaN or infinite outputs on random inputs (damaged or diverged "
                f"weights): nothing exported as {net.file.name}"
            )
        # written, reloaded and checked under a temporary name: a file that fails the check never
        # appears under its final name
        with atomic_path(net.file) as tmp:
            if fmt == "onnx":
                _export_onnx(graph, args, net, tmp)
            else:
                _export_torchscript(graph, args, tmp)
            exported = load_exported(tmp, fmt)(*inputs)
            for name, (diff, allowed) in zip(net.outputs, differences(reference, exported), strict=True):
                parity[f"{role}.{name}"] = diff
                if not diff <= allowed:
                    raise ExportError(
                        f"the exported {role} does not match PyTorch: {name} differs by {diff:.3g} "
                        f"(allowed {allowed:.3g}) on random inputs; nothing written as {net.file.name}"
                    )
    return nets["generator"][1], nets["discriminator"][1], parity


def _io(net: Network, shapes: dict[str, list[Any]]) -> dict[str, Any]:
    return {
        "file": net.file.name,
        "inputs": [{"name": n, "shape": shapes[n]} for n in net.inputs],
        "outputs": [{"name": n, "shape": shapes[n]} for n in net.outputs],
    }


def export_model(model: Model, folder: str | Path, fmt: str, seed: int = 0) -> Exported:
    """Export ``model``'s networks to ``folder`` in ``fmt`` with the ``model.json`` sidecar."""
    check_format(fmt)
    folder = Path(folder).expanduser()
    trained = model.trained
    g_net, d_net, parity = export_networks(
        trained.generator, trained.discriminator, model.image, folder, fmt, seed
    )
    with torch.no_grad():
        probe = example_inputs(trained.generator, model.image, 1, 0)["images"]
        features = _cpu_eval(trained.discriminator)(probe)[1]
    image = ["batch", *model.image.shape]
    shapes = {
        "z": ["batch", model.latent_dim],
        "condition": image,
        "images": image,
        "logits": ["batch"],
        "features": ["batch", *features.shape[1:]],
    }
    prep = model.preprocessing
    try:
        scorers = model.scorers
    except GanaugError:
        scorers = []
    sidecar = {
        "format": fmt,
        "ganaug": __version__,
        "torch": torch.__version__,
        "run": str(model.run_dir.resolve()),
        "stage": model.name,
        "image": {"channels": model.image.channels, "size": model.image.size},
        "value_range": list(prep.value_range) if prep else [-1.0, 1.0],
        "preprocessing": prep.to_json() if prep else None,
        "preprocessing_origin": model.preprocessing_origin,
        "generator": {
            **_io(g_net, shapes),
            "latent_dim": model.latent_dim,
            "latent_prior": "standard normal N(0, I)",
            "conditional": model.conditional,
        },
        "discriminator": _io(d_net, shapes),
        "scoring": {
            "stage": scorers[0].stage if scorers else None,
            "note": "the anomaly score needs a latent search over z; it is not part of the exported "
            "graphs (ganaug score runs it, or search z against the exported generator)",
        },
        "thresholds": {method: t.to_json() for method, t in model.thresholds.items()} if scorers else {},
        "parity": {
            "inputs": f"seeded random, batch {CHECK_BATCH} (exported with batch {EXAMPLE_BATCH})",
            "atol": ATOL,
            "rtol": RTOL,
            "max_abs_difference": parity,
        },
    }
    path = write_json(folder / SIDECAR, sidecar)
    return Exported(folder, g_net, d_net, path, parity)
