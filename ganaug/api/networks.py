"""Helpers every component that runs a generator or discriminator shares: one of each concept."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import Tensor, nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import spectral_norm

from ganaug.api.records import ImageSpec


def is_conditional(generator: nn.Module) -> bool:
    """Whether ``generator`` takes conditioning images (``Generator.conditional``; False if unset)."""
    return bool(getattr(generator, "conditional", False))


def generate(generator: nn.Module, z: Tensor, condition: Tensor | None = None) -> Tensor:
    """``G(z, x)`` when the generator is conditional (``condition`` required), else ``G(z)``."""
    if is_conditional(generator):
        if condition is None:
            raise ValueError("this generator is conditional: it needs conditioning images")
        return generator(z, condition)
    return generator(z)


def flat_logits(logits: Tensor) -> Tensor:
    """A discriminator's logits as ``[N]`` (one that hands ``[N, 1]`` or a patch map is averaged)."""
    return logits.reshape(logits.shape[0], -1).mean(dim=1) if logits.ndim > 1 else logits


#: The layers :func:`apply_spectral_norm` wraps.
SPECTRAL_NORM_LAYERS: tuple[type[nn.Module], ...] = (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)


def apply_spectral_norm(module: nn.Module) -> nn.Module:
    """Wrap the weight of every Conv2d, ConvTranspose2d and Linear in ``module`` (in place) with
    ``torch.nn.utils.parametrizations.spectral_norm`` and return ``module``.

    Call it after initialising the weights. Each wrapped weight is divided by a power-iteration
    estimate of its largest singular value, refined on every train-mode forward pass; the
    iteration's vectors are buffers, so they travel with ``state_dict`` (and checkpoints). Its
    initial vectors are drawn from torch's global random stream. Layers already wrapped are skipped.
    """
    for layer in list(module.modules()):
        if isinstance(layer, SPECTRAL_NORM_LAYERS) and not parametrize.is_parametrized(layer, "weight"):
            spectral_norm(layer)
    return module


@contextlib.contextmanager
def frozen(*modules: nn.Module) -> Iterator[None]:
    """Put ``modules`` in eval mode with ``requires_grad=False`` and restore both on exit.

    Eval mode matters: BatchNorm in train mode would normalise with the search batch's own
    statistics (coupling the images of a batch) and update its running statistics.
    """
    modes = [(m, m.training) for module in modules for m in module.modules()]
    params = {id(p): (p, p.requires_grad) for module in modules for p in module.parameters()}
    try:
        for module in modules:
            module.eval()
        for param, _ in params.values():
            param.requires_grad_(False)
        yield
    finally:
        for module, mode in modes:
            module.training = mode
        for param, flag in params.values():
            param.requires_grad_(flag)


@contextlib.contextmanager
def without_param_grads(module: nn.Module) -> Iterator[None]:
    """Turn off ``module``'s parameter gradients for a while, its mode unchanged (D during G's
    training step: gradients flow through D to G, D itself is not updated)."""
    flags = [p.requires_grad for p in module.parameters()]
    for p in module.parameters():
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in zip(module.parameters(), flags, strict=True):
            p.requires_grad_(flag)


def output_problems(
    generator: nn.Module, discriminator: nn.Module, image: ImageSpec, batch: int = 2
) -> list[tuple[str, str]]:
    """Run one batch through G and D (eval mode, no gradients, private noise: no state or RNG
    changes) and list ``(role, problem)`` for each output that does not fit ``image``."""
    rng = torch.Generator().manual_seed(0)
    want = (batch, *image.shape)
    problems: list[tuple[str, str]] = []
    g_device = next(generator.parameters(), torch.zeros(0)).device
    d_device = next(discriminator.parameters(), torch.zeros(0)).device
    z = torch.randn(batch, int(generator.latent_dim), generator=rng)
    x = torch.rand(want, generator=rng) * 2 - 1
    with frozen(generator, discriminator), torch.no_grad():
        fake = generate(generator, z.to(g_device), x.to(g_device))
        if not isinstance(fake, Tensor) or tuple(fake.shape) != want:
            got = tuple(fake.shape) if isinstance(fake, Tensor) else type(fake).__name__
            problems.append(("generator", f"output {got}, expected {want} (N, C, H, W)"))
        out = discriminator(x.to(d_device))
        if not (isinstance(out, tuple) and len(out) == 2):
            problems.append(("discriminator", f"returned {type(out).__name__}, expected (logits, features)"))
            return problems
        logits, features = out
        if not isinstance(logits, Tensor) or tuple(logits.shape) != (batch,):
            got = tuple(logits.shape) if isinstance(logits, Tensor) else type(logits).__name__
            problems.append(("discriminator", f"logits {got}, expected ({batch},): one score per image"))
        if not isinstance(features, Tensor) or features.ndim == 0 or features.shape[0] != batch:
            got = tuple(features.shape) if isinstance(features, Tensor) else type(features).__name__
            problems.append(("discriminator", f"features {got}, expected ({batch}, ...): one row per image"))
    return problems
