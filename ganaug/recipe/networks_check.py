"""The network check of ``ganaug validate``: every generator and discriminator a stage's options
name together is built for the data's image and given one batch, so a network that cannot be built
or gives the wrong shape is a located recipe problem naming its plugin, before any run.

Which stages have networks is read from their resolved options (component fields of the
``generators`` and ``discriminators`` kinds, wherever the resolver finds them), never from stage
kind names. Data whose source declares no image shape (``DeclaresImage``) is not checked.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from types import TracebackType
from typing import Any

import attrs
import torch
from torch import nn

from ganaug.api.capabilities import DeclaresImage
from ganaug.api.networks import output_problems
from ganaug.api.options import ComponentRef
from ganaug.api.records import ImageSpec
from ganaug.host.registry import Registry, builder, create
from ganaug.recipe.convert import join
from ganaug.recipe.schema import Recipe
from ganaug.runtime.errors import Problem, RecipeError


@attrs.frozen
class Network:
    """One network a recipe names: its role, where in the recipe, and the resolved reference."""

    role: str  # "generator" or "discriminator"
    path: str
    ref: ComponentRef


ROLES = {"generators": "generator", "discriminators": "discriminator"}


def check_networks(recipe: Recipe, registry: Registry) -> None:
    """Raise :class:`RecipeError` listing :func:`network_problems` when there are any."""
    problems = network_problems(recipe, registry)
    if problems:
        raise RecipeError(problems, recipe.source)


def network_problems(recipe: Recipe, registry: Registry) -> list[Problem]:
    """The problems of every generator/discriminator pair the recipe's stages name, built on the CPU
    for the data's declared image (torch's random state is left as it was)."""
    image = declared_image(recipe, registry)
    if image is None:
        return []
    problems: list[Problem] = []
    with torch.random.fork_rng(devices=[]):
        for i, spec in enumerate(recipe.stages):
            for generator, discriminator in network_pairs(spec.options, f"stages[{i}]"):
                problems += pair_problems(generator, discriminator, image, registry)
    return list(dict.fromkeys(problems))  # a network paired twice is reported once


def declared_image(recipe: Recipe, registry: Registry) -> ImageSpec | None:
    """The image shape the recipe's data source declares (None: it declares none)."""
    if recipe.data is None or recipe.data.options is None:
        return None
    source = builder(registry)(recipe.data)
    return source.declared_image() if isinstance(source, DeclaresImage) else None


def network_pairs(options: Any, path: str) -> Iterator[tuple[Network, Network]]:
    """Each (generator, discriminator) named by fields of one options instance, then those inside
    its nested options and its components' options, as the resolver walks them."""
    if not attrs.has(type(options)):
        return
    found: dict[str, list[Network]] = {"generator": [], "discriminator": []}
    for field in attrs.fields(type(options)):
        value, where = getattr(options, field.name), join(path, field.name)
        if "component" in field.metadata:
            refs = _refs(value, where)
            role = ROLES.get(field.metadata["component"])
            if role is not None:
                found[role] += [Network(role, at, ref) for at, ref in refs if ref.options is not None]
            for at, ref in refs:
                yield from network_pairs(ref.options, at)
        elif attrs.has(type(value)):
            yield from network_pairs(value, where)
        elif isinstance(value, list | tuple):
            for i, item in enumerate(value):
                yield from network_pairs(item, join(where, i))
    yield from itertools.product(found["generator"], found["discriminator"])


def _refs(value: Any, path: str) -> list[tuple[str, ComponentRef]]:
    if isinstance(value, ComponentRef):
        return [(path, value)]
    if isinstance(value, list | tuple):
        return [(join(path, i), ref) for i, ref in enumerate(value) if isinstance(ref, ComponentRef)]
    return []


def pair_problems(
    generator: Network, discriminator: Network, image: ImageSpec, registry: Registry
) -> list[Problem]:
    """Build both networks for ``image`` and run one batch through them: what does not work, each
    located at its network's path and naming the plugin."""
    shape = "x".join(str(n) for n in image.shape)
    problems: list[Problem] = []
    built: dict[str, nn.Module] = {}
    for network in (generator, discriminator):
        try:
            component = _component(network, registry)
            built[network.role] = create(registry, component, network.ref.options, image=image)
        except Exception as exc:  # any failure of plugin code is the recipe's problem here
            text = f"cannot be built for {shape} images on the CPU: {type(exc).__name__}: {exc}"
            problems.append(Problem(network.path, f"{_named(network, registry)} {text}"))
    if problems:
        return problems
    networks = {"generator": generator, "discriminator": discriminator}
    try:
        found = output_problems(built["generator"], built["discriminator"], image)
    except Exception as exc:
        text = f"failed on one batch of {shape} images: {type(exc).__name__}: {exc}"
        role = _raised_in(exc.__traceback__, built)
        if role is None:  # raised outside both networks' code: name the pair
            both = f"{_named(generator, registry)} with {_named(discriminator, registry)}"
            return [Problem(generator.path, f"{both} {text}")]
        return [Problem(networks[role].path, f"{_named(networks[role], registry)} {text}")]
    return [Problem(networks[r].path, f"{_named(networks[r], registry)}: {what}") for r, what in found]


def _component(network: Network, registry: Registry) -> Any:
    return registry.get(network.ref.kind or f"{network.role}s", network.ref.name)


def _named(network: Network, registry: Registry) -> str:
    """``generator 'tiny' (plugin 'ganaug.testing:tiny')``."""
    return f"{network.role} {network.ref.name!r} (plugin {_component(network, registry).plugin!r})"


def _raised_in(tb: TracebackType | None, built: dict[str, nn.Module]) -> str | None:
    """The role of the network whose own code (its module or a layer of it) raised, innermost first."""
    frames: list[Any] = []
    while tb is not None:
        frames.append(tb.tb_frame)
        tb = tb.tb_next
    layers = {
        role: {id(m) for m in module.modules()} if isinstance(module, nn.Module) else {id(module)}
        for role, module in built.items()
    }
    for frame in reversed(frames):
        owner = frame.f_locals.get("self")
        for role, ids in layers.items():
            if owner is not None and id(owner) in ids:
                return role
    return None
