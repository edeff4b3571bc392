"""Resolution: component names looked up, options structured, stage references checked.

Every problem found is collected (never only the first), each with its recipe path.
"""

from __future__ import annotations

import types
import typing
from typing import Any

import attrs
import cattrs

from ganaug.api.options import ComponentRef
from ganaug.host.registry import Registry, create, singular
from ganaug.recipe.convert import describe, field_values, join, structure, with_current_names
from ganaug.recipe.schema import StageSpec
from ganaug.runtime.errors import PluginError, Problem


@attrs.define
class Scope:
    """What the checks of one stage may see: earlier stages' products and the data's names."""

    registry: Registry
    converter: cattrs.Converter
    produced: dict[str, frozenset[str]]
    splits: list[str] | None
    classes: list[str] | None
    problems: list[Problem] = attrs.Factory(list)
    image: Any = None  # the data's ImageSpec when its source declares it (networks are checked against it)


def parse_ref(value: Any, path: str, key: str = "name") -> tuple[ComponentRef | None, list[Problem]]:
    """Read ``"name"`` or ``{name = "...", option = ...}`` into an unresolved reference."""
    if isinstance(value, str):
        return ComponentRef(value), []
    if isinstance(value, ComponentRef):
        return value, []
    if not isinstance(value, dict):
        return None, [Problem(path, f"expected a component name or table, got {describe(value)}")]
    raw = dict(value)
    name = raw.pop(key, None)
    if not isinstance(name, str):
        return None, [Problem(join(path, key), "required: the registered name of the component")]
    return ComponentRef(name, raw), []


def resolve_component(ref: ComponentRef, kind: str, path: str, scope: Scope) -> ComponentRef | None:
    """Look the component up and structure its options into the plugin's options class."""
    try:
        component = scope.registry.get(kind, ref.name)
    except PluginError as exc:
        scope.problems.append(Problem(join(path, "name"), str(exc)))
        return None
    options, problems = structure(scope.converter, ref.raw, component.options, path)
    scope.problems += problems
    if options is None:
        check_unstructured(component.options, ref.raw, path, problems, scope)
        return None
    options = resolve_fields(options, path, scope)
    if kind in NETWORK_KINDS and scope.image is not None:
        _check_network(component, options, path, scope)
    return attrs.evolve(ref, options=options, kind=kind)


#: Kinds whose factories take the data's image shape: built once at validation to check it fits.
NETWORK_KINDS = ("generators", "discriminators")


def _check_network(component: Any, options: Any, path: str, scope: Scope) -> None:
    """Count the network's parameters on PyTorch's meta device (nothing allocated): one too large
    to train on this machine is a recipe problem now. Then build it once on the CPU (then dropped):
    an image size it cannot handle is a recipe problem too, not a failure at run time."""
    image = scope.image
    named = f"{singular(component.kind)} {component.name!r} (plugin {component.plugin!r})"
    problem = _too_large(_parameters_on_meta(component, options, scope))
    if problem:
        scope.problems.append(Problem(path, f"{named} with these options {problem}"))
        return
    try:
        create(scope.registry, component, options, image=image)
    except (ValueError, TypeError) as exc:
        shape = f"{image.channels}x{image.size}x{image.size}"
        scope.problems.append(Problem(path, f"{named} cannot take {shape} images: {exc}"))
    except (MemoryError, RuntimeError) as exc:  # the allocator refused its weights
        if isinstance(exc, MemoryError) or "alloc" in str(exc).lower():
            scope.problems.append(Problem(path, f"{named} with these options is too large to build: {exc}"))
    except Exception:  # anything else is for the run to report with its full context
        return


def _parameters_on_meta(component: Any, options: Any, scope: Scope) -> int | None:
    """The network's parameter count, built on the meta device (None: it cannot be built there)."""
    import torch

    try:
        with torch.device("meta"):
            network = create(scope.registry, component, options, image=scope.image)
        return sum(p.numel() for p in network.parameters())
    except Exception:  # not every plugin builds on meta: the CPU build then checks what it can
        return None


#: bytes a float32 parameter costs in training: the weight, its gradient and Adam's two moments
TRAINING_BYTES = 16


def _too_large(count: int | None) -> str | None:
    """What is wrong when training ``count`` parameters needs more memory than the machine has."""
    have = _available_memory()
    if count is None or have is None or count * TRAINING_BYTES <= have:
        return None
    need = count * TRAINING_BYTES
    return (
        f"has {count:,} parameters: training needs about {need / 2**30:.1f} GiB for weights, gradients "
        f"and Adam's state, more than the {have / 2**30:.1f} GiB this machine has"
    )


def _available_memory() -> int | None:
    """The machine's memory in bytes (``MemTotal``; None where it cannot be read)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _check_stage_ref(value: Any, wants: str, path: str, scope: Scope) -> None:
    names = value if isinstance(value, list | tuple) else [value]
    for i, name in enumerate(names):
        where = join(path, i) if isinstance(value, list | tuple) else path
        if name is None:
            continue
        if name not in scope.produced:
            known = ", ".join(scope.produced) or "none"
            scope.problems.append(Problem(where, f"no earlier stage named {name!r} (earlier: {known})"))
        elif wants not in scope.produced[name]:
            scope.problems.append(Problem(where, f"stage {name!r} produces no {wants}"))


def _check_names(value: Any, allowed: list[str] | None, what: str, path: str, scope: Scope) -> None:
    if allowed is None or value is None:
        return
    names = value if isinstance(value, list | tuple) else [value]
    for i, name in enumerate(names):
        if name not in allowed:
            where = join(path, i) if isinstance(value, list | tuple) else path
            scope.problems.append(
                Problem(where, f"unknown {what} {name!r}; the data has: {', '.join(allowed)}")
            )


def resolve_fields(options: Any, path: str, scope: Scope) -> Any:
    """Walk an options instance: resolve component fields, check stage/split/class names."""
    if not attrs.has(type(options)):
        return options
    changes: dict[str, Any] = {}
    for field in attrs.fields(type(options)):
        value = getattr(options, field.name)
        resolved = _resolve_field(field, value, join(path, field.name), scope)
        if resolved is not value:
            changes[field.name] = resolved
    return attrs.evolve(options, **changes) if changes else options


def _resolve_field(field: attrs.Attribute, value: Any, where: str, scope: Scope) -> Any:
    """Resolve or check one options field; return its resolved value."""
    meta = field.metadata
    if "component" in meta:
        return _resolve_component_field(_with_default_options(value, field), meta["component"], where, scope)
    if "stage_ref" in meta:
        _check_stage_ref(value, meta["stage_ref"], where, scope)
    elif meta.get("split"):
        _check_names(value, scope.splits, "split", where, scope)
    elif meta.get("classes"):
        _check_names(value, scope.classes, "class", where, scope)
    elif attrs.has(type(value)):
        return resolve_fields(value, where, scope)
    elif isinstance(value, list) and value and attrs.has(type(value[0])):
        return [resolve_fields(v, join(where, i), scope) for i, v in enumerate(value)]
    return value


def check_unstructured(cls: type, raw: Any, path: str, failed: list[Problem], scope: Scope) -> None:
    """``raw`` did not structure into ``cls`` (``failed`` says why): still resolve and check every
    field without a problem of its own (component references, stage and data names, nested
    tables), so that one level's problems do not hide another's. A field with a problem at or
    under its path is not checked again, but a nested table's other fields are."""
    if not attrs.has(cls) or not isinstance(raw, dict) or _at_or_under(path, failed, exact=True):
        return
    raw = with_current_names(cls, raw)
    bad = {field.name for field in attrs.fields(cls) if _at_or_under(join(path, field.name), failed)}
    good = field_values(scope.converter, cls, raw, bad)
    for field in attrs.fields(cls):
        where = join(path, field.name)
        if field.name in good:
            _resolve_field(field, good[field.name], where, scope)
        elif field.name in bad and field.name in raw:
            nested, many = _nested_class(field.type)
            if nested is None:
                continue
            if not many:
                check_unstructured(nested, raw[field.name], where, failed, scope)
            elif isinstance(raw[field.name], list):
                for i, item in enumerate(raw[field.name]):
                    check_unstructured(nested, item, join(where, i), failed, scope)


def _at_or_under(path: str, problems: list[Problem], *, exact: bool = False) -> bool:
    """Whether a problem is located at ``path`` (or, unless ``exact``, inside it)."""
    return any(
        p.path == path or (not exact and p.path.startswith((f"{path}.", f"{path}["))) for p in problems
    )


def _nested_class(tp: Any) -> tuple[type | None, bool]:
    """The attrs class a field type holds (``X``, ``X | None``, ``list[X]``) and whether in a list."""
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    if typing.get_origin(tp) in (typing.Union, types.UnionType) and len(args) == 1:
        return _nested_class(args[0])
    if typing.get_origin(tp) in (list, tuple) and args and attrs.has(args[0]):
        return args[0], True
    return (tp, False) if isinstance(tp, type) and attrs.has(tp) else (None, False)


def _with_default_options(value: Any, field: attrs.Attribute) -> Any:
    """A recipe naming the field's default component keeps the default's options under its own.

    ``searcher = {name = "backprop", steps = 200}`` in a stage whose default searcher is
    ``backprop`` with ``feature_weight = 0.7`` keeps 0.7 rather than the plugin's own default.
    """
    default = field.default
    if not isinstance(default, attrs.Factory) or default.takes_self:  # type: ignore[arg-type]
        return value
    base = default.factory()
    if not isinstance(base, ComponentRef) or not base.raw:
        return value
    ref, _ = parse_ref(value, "")
    if ref is None or ref.name != base.name or ref is base:
        return value
    return attrs.evolve(ref, raw={**base.raw, **ref.raw})


def _resolve_component_field(value: Any, kind: str, path: str, scope: Scope) -> Any:
    if value is None:
        return None
    if isinstance(value, list):
        resolved = []
        for i, item in enumerate(value):
            ref, problems = parse_ref(item, join(path, i))
            scope.problems += problems
            resolved.append(ref and resolve_component(ref, kind, join(path, i), scope))
        return resolved
    ref, problems = parse_ref(value, path)
    scope.problems += problems
    return ref and resolve_component(ref, kind, path, scope)


def declared_products(factory: Any) -> frozenset[str]:
    """What a stage kind declares it hands on (``Stage.produces`` on its factory class): a subset of
    ``model``, ``images``, ``metrics``; nothing when it declares none."""
    return frozenset(getattr(factory, "produces", frozenset()))


def _checked(factory: Any, options: Any, path: str, scope: Scope) -> list[Problem]:
    """The problems a stage kind offering ``check_options`` (ChecksOptions) finds in its options."""
    check = getattr(factory, "check_options", None)
    if check is None:
        return []

    def build(ref: ComponentRef) -> Any:
        return create(scope.registry, scope.registry.get(ref.kind, ref.name), ref.options)

    try:
        found = check(options, build)
    except Exception:  # a check that fails is the run's to report, with its full context
        return []
    return [Problem(join(path, where), message) for where, message in found]


def resolve_stage(spec: StageSpec, path: str, scope: Scope, *, record: bool = True) -> StageSpec:
    """Structure one stage's options and (if ``record``) record what it produces for later stages."""
    try:
        component = scope.registry.get("stages", spec.kind)
    except PluginError as exc:
        scope.problems.append(Problem(join(path, "kind"), str(exc)))
        if record:
            scope.produced[spec.name] = frozenset({"model", "images", "metrics"})  # no cascade
        return spec
    options, problems = structure(scope.converter, spec.raw, component.options, path)
    scope.problems += problems
    produces = declared_products(component.factory)
    if options is not None:
        before = len(scope.problems)
        options = resolve_fields(options, path, scope)
        if len(scope.problems) == before:  # its own checks only on options that resolved cleanly
            scope.problems += _checked(component.factory, options, path, scope)
    else:
        check_unstructured(component.options, spec.raw, path, problems, scope)
    if record:
        scope.produced[spec.name] = produces
    return attrs.evolve(spec, options=options)
