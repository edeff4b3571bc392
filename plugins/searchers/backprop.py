"""Batched back-propagation latent search (AnoGAN scoring and IAGAN augmentation).

Each query image gets its own latent code and its own loss term; the batch loss is the SUM of the
per-image losses, so with an element-wise optimiser (Adam, SGD) and frozen eval-mode networks
every image follows exactly the trajectory it would follow if searched alone.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any, Literal

import attrs
import torch
from attrs import validators as v
from torch import Tensor, nn

from ganaug.api.interfaces import SearchResult
from ganaug.api.networks import frozen, generate, is_conditional
from ganaug.api.options import option
from ganaug.runtime.device import generator_for
from ganaug.runtime.errors import DivergenceError
from ganaug.runtime.progress import Progress


@attrs.frozen
class BackpropOptions:
    """Search settings. Defaults: AnoGAN scoring (500 steps, lambda 0.2); the augment stage asks
    for 400 steps and lambda 0.7."""

    steps: int = option(500, validator=v.ge(0), help="optimiser steps per image (0: keep the starting z)")
    feature_weight: float = option(
        0.2,
        validator=[v.ge(0.0), v.le(1.0)],
        help="lambda: loss = (1 - lambda) * sum|x - G(z)| + lambda * sum|f(x) - f(G(z))|",
    )
    optimizer: Literal["adam", "sgd"] = option("adam", help="optimiser of z")
    lr: float = option(
        0.05,
        validator=v.gt(0.0),
        help="learning rate (0.05 with Adam converges in a few hundred steps; 1e-4 barely moves z)",
    )
    momentum: float = option(0.9, validator=[v.ge(0.0), v.lt(1.0)], help="momentum of sgd (sgd only)")
    z_prior: Literal["normal", "uniform"] = option(
        "normal",
        renamed_from="z_init",
        help="the generator's training prior, which the starting z are drawn from",
    )
    z_clamp: float | None = option(
        3.0,
        validator=v.optional(v.gt(0.0)),
        help="clamp z to [-z_clamp, z_clamp] after each step (unset: off)",
    )
    prior_weight: float = option(
        0.0,
        validator=v.ge(0.0),
        help="adds prior_weight * |z|^2 / 2 to the loss: keeps z typical of training, so a conditional "
        "G is not pushed into redrawing the query",
    )
    chunk_size: int = option(64, validator=v.ge(1), help="images searched at once")
    record_every: int = option(
        10, validator=v.ge(1), help="record the search loss every this many steps (and check early stop)"
    )
    channels_last: bool = option(
        False, help="NHWC convolutions: faster on recent CPUs and GPUs, equal within float rounding"
    )
    early_stop_patience: int | None = option(
        None,
        validator=v.optional(v.ge(1)),
        help="stop an image after this many steps without a relative early_stop_tol improvement "
        "(unset: off, the paper's fixed step count)",
    )
    early_stop_tol: float = option(
        1e-3, validator=v.ge(0.0), help="relative loss improvement that resets the early-stop patience"
    )


def recorded_steps(steps: int, record_every: int) -> list[int]:
    """The search steps whose loss ``loss_history`` holds: every ``record_every``-th, then the end."""
    return [*range(0, steps, record_every), steps]


def search_terms(x: Tensor, fx: Tensor, fake: Tensor, f_fake: Tensor) -> tuple[Tensor, Tensor]:
    """Per-image residual ``sum|x - G(z)|`` and discrimination ``sum|f(x) - f(G(z))|``, each ``[N]``."""
    residual = (x - fake).abs().flatten(1).sum(1)
    discrimination = (fx - f_fake).abs().flatten(1).sum(1)
    return residual, discrimination


def _device_of(module: nn.Module, fallback: torch.device) -> torch.device:
    param = next(module.parameters(), None)
    return param.device if param is not None else fallback


@attrs.define
class _Chunk:
    z: Tensor
    generated: Tensor
    residual: Tensor
    discrimination: Tensor
    initial_residual: Tensor
    initial_discrimination: Tensor
    history: Tensor


class BackpropSearcher:
    """Finds z per query minimising ``(1-l)*sum|x-G(z)| + l*sum|f(x)-f(G(z))|`` by gradient steps."""

    def __init__(self, options: BackpropOptions) -> None:
        self.options = options
        self.steps_run = 0  # image-steps of the last search (fewer than n*steps after an early stop)

    @property
    def recorded_steps(self) -> list[int]:
        return recorded_steps(self.options.steps, self.options.record_every)

    def initial_z(self, n: int, latent_dim: int, seed: int) -> Tensor:
        """Starting points drawn from the prior with a private generator (independent of chunking)."""
        gen = generator_for(seed)
        if self.options.z_prior == "uniform":
            return torch.rand(n, latent_dim, generator=gen) * 2 - 1
        return torch.randn(n, latent_dim, generator=gen)

    def search(
        self,
        generator: nn.Module,
        discriminator: nn.Module,
        queries: Tensor,
        *,
        seed: int,
        progress: Any = None,
        z_init: Tensor | None = None,
    ) -> SearchResult:
        """Search a latent point for every image of ``queries`` ``[N,C,H,W]``, ``chunk_size`` at a time."""
        opts = self.options
        n, latent_dim = int(queries.shape[0]), int(generator.latent_dim)
        z0 = self.initial_z(n, latent_dim, seed) if z_init is None else z_init.detach().float().cpu()
        if z0.shape != (n, latent_dim):
            raise ValueError(f"z_init has shape {tuple(z0.shape)}, expected {(n, latent_dim)}")
        device = _device_of(generator, queries.device)
        starts = list(range(0, n, opts.chunk_size))
        chunks: list[_Chunk] = []
        self.steps_run = 0
        memory = torch.channels_last if opts.channels_last else torch.contiguous_format
        with (
            frozen(generator, discriminator),
            memory_format(memory, generator, discriminator),
            (progress or Progress()).task("search", total=opts.steps * len(starts)) as task,
        ):
            for start in starts:
                x = queries[start : start + opts.chunk_size].to(device, torch.float32)
                x = x.contiguous(memory_format=memory)
                z = z0[start : start + opts.chunk_size].to(device)
                chunks.append(self._search_chunk(generator, discriminator, x, z, task))
        return self._result(z0, chunks, n, latent_dim, queries)

    def _search_chunk(
        self, generator: nn.Module, discriminator: nn.Module, x: Tensor, z0: Tensor, task: Any
    ) -> _Chunk:
        opts, lam = self.options, self.options.feature_weight
        condition = x if is_conditional(generator) else None
        with torch.no_grad():
            _, fx = discriminator(x)  # f(x) once per query, never per step
        z = z0.clone().requires_grad_(True)
        if opts.optimizer == "adam":
            optimizer: torch.optim.Optimizer = torch.optim.Adam([z], lr=opts.lr)
        else:
            optimizer = torch.optim.SGD([z], lr=opts.lr, momentum=opts.momentum)
        history: list[Tensor] = []
        initial: tuple[Tensor, Tensor] | None = None
        stopper = _EarlyStop(opts, z) if opts.early_stop_patience is not None else None
        steps_done = 0
        for step in range(opts.steps):
            fake = generate(generator, z, condition)
            _, f_fake = discriminator(fake)
            residual, discrimination = search_terms(x, fx, fake, f_fake)
            loss = (1 - lam) * residual + lam * discrimination
            if opts.prior_weight > 0:
                loss = loss + opts.prior_weight * 0.5 * z.pow(2).sum(1)
            if initial is None:
                initial = (residual.detach(), discrimination.detach())
            if step % opts.record_every == 0:
                history.append(loss.detach())
                if stopper is not None and stopper.all_stopped():
                    break  # one host sync per record_every steps, only with early stop on
            optimizer.zero_grad(set_to_none=True)
            loss.sum().backward()  # the sum: each z_i gets exactly its own image's gradient
            optimizer.step()
            with torch.no_grad():
                if opts.z_clamp is not None:
                    z.clamp_(-opts.z_clamp, opts.z_clamp)
                if stopper is not None:
                    stopper.update(loss.detach(), z)
            steps_done += 1
            task.advance(1)
        task.advance(opts.steps - steps_done)
        self.steps_run += steps_done * int(x.shape[0])
        with torch.no_grad():
            fake = generate(generator, z, condition)
            residual, discrimination = search_terms(x, fx, fake, discriminator(fake)[1])
        final = (1 - lam) * residual + lam * discrimination
        if opts.prior_weight > 0:
            final = final + opts.prior_weight * 0.5 * z.detach().pow(2).sum(1)
        rows = len(recorded_steps(opts.steps, opts.record_every))
        history += [final] * (rows - len(history))  # steps skipped by an early stop: the final loss
        if initial is None:  # steps = 0: the start is the end
            initial = (residual, discrimination)
        return _Chunk(
            z.detach(), fake, residual, discrimination, initial[0], initial[1], torch.stack(history)
        )

    def _result(
        self, z0: Tensor, chunks: list[_Chunk], n: int, latent_dim: int, queries: Tensor
    ) -> SearchResult:
        lam = self.options.feature_weight
        if not chunks:
            empty = torch.zeros(0)
            rows = len(self.recorded_steps)
            return SearchResult(
                z0,
                z0,
                queries.detach().clone(),
                empty,
                empty,
                empty,
                empty,
                torch.zeros(rows, 0),
                empty,
                empty,
            )

        def cat(name: str, dim: int = 0) -> Tensor:
            return torch.cat([getattr(c, name) for c in chunks], dim=dim).detach().cpu()

        residual, discrimination = cat("residual"), cat("discrimination")
        score = (1 - lam) * residual + lam * discrimination
        initial_score = (1 - lam) * cat("initial_residual") + lam * cat("initial_discrimination")
        if not bool(torch.isfinite(score).all()):
            raise DivergenceError("latent search produced non-finite scores (NaN/inf); lower lr")
        return SearchResult(
            z=cat("z"),
            z_initial=z0,
            generated=cat("generated"),
            residual=residual,
            discrimination=discrimination,
            score=score,
            initial_score=initial_score,
            loss_history=cat("history", dim=1),
            initial_residual=cat("initial_residual"),
            initial_discrimination=cat("initial_discrimination"),
        )


class _EarlyStop:
    """Per-image early stop: remembers each image's best loss; a stopped image's z stays put."""

    def __init__(self, opts: BackpropOptions, z: Tensor) -> None:
        n = int(z.shape[0])
        self.patience, self.tol = int(opts.early_stop_patience or 0), opts.early_stop_tol
        self.best = torch.full((n,), float("inf"), device=z.device)
        self.waited = torch.zeros(n, dtype=torch.long, device=z.device)
        self.stopped = torch.zeros(n, dtype=torch.bool, device=z.device)
        self.z_stop = z.detach().clone()

    def update(self, loss: Tensor, z: Tensor) -> None:
        """``loss`` was measured at the z before this step; stopped images get their z back."""
        improved = loss < self.best * (1 - self.tol)
        self.best = torch.where(improved, loss, torch.minimum(self.best, loss))
        self.waited = torch.where(improved, torch.zeros_like(self.waited), self.waited + 1)
        newly = (self.waited >= self.patience) & ~self.stopped
        self.z_stop = torch.where(newly[:, None], z, self.z_stop)
        self.stopped |= newly
        z.copy_(torch.where(self.stopped[:, None], self.z_stop, z))

    def all_stopped(self) -> bool:
        return bool(self.stopped.all())


@contextlib.contextmanager
def memory_format(fmt: torch.memory_format, *modules: nn.Module) -> Iterator[None]:
    """Lay the 4-d parameters of ``modules`` out in ``fmt`` for a while; the original storage is
    put back on exit, so the networks leave exactly as they came."""
    saved = [(p, p.data) for m in modules for p in m.parameters() if p.dim() == 4]
    try:
        if fmt is not torch.contiguous_format:
            for p, data in saved:
                p.data = data.contiguous(memory_format=fmt)
        yield
    finally:
        for p, data in saved:
            p.data = data
