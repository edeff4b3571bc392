"""A strict cattrs converter whose errors become recipe :class:`Problem` lists with paths."""

from __future__ import annotations

import typing
from collections.abc import Collection
from pathlib import Path
from typing import Any, Literal

import attrs
import cattrs
from cattrs.cols import homogenous_tuple_structure_factory, list_structure_factory
from cattrs.errors import (
    AttributeValidationNote,
    ClassValidationError,
    ForbiddenExtraKeysError,
    IterableValidationError,
    IterableValidationNote,
)
from cattrs.gen import make_dict_structure_fn

from ganaug.api.options import ComponentRef, renamed_options
from ganaug.runtime.errors import Problem, closest


def describe(value: object) -> str:
    """How a value reads in an error message: its TOML-ish type and a short repr."""
    kind = {bool: "boolean", int: "integer", float: "float", str: "string", list: "array"}.get(
        type(value), "table" if isinstance(value, dict) else type(value).__name__
    )
    text = repr(value)
    return f"{kind} {text if len(text) <= 40 else text[:37] + '...'}"


def _strict_int(value: Any, _: type) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"expected an integer, got {describe(value)}")
    return value


def _strict_float(value: Any, _: type) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"expected a number, got {describe(value)}")
    return float(value)


def _strict_str(value: Any, _: type) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {describe(value)}")
    return value


def _strict_bool(value: Any, _: type) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"expected true or false, got {describe(value)}")
    return value


def _path(value: Any, _: type) -> Path:
    return Path(_strict_str(value, str))


def _is_literal(tp: Any) -> bool:
    return typing.get_origin(tp) is Literal


def _literal_hook(tp: Any) -> Any:
    allowed = typing.get_args(tp)

    def structure(value: Any, _: type) -> Any:
        if value not in allowed or type(value) is not type(allowed[allowed.index(value)]):
            choices = ", ".join(repr(a) for a in allowed)
            raise ValueError(f"expected one of {choices}, got {describe(value)}")
        return value

    return structure


def _validated_attrs_hook(converter: cattrs.Converter) -> Any:
    """Structure attrs classes with all field validators run, every failure kept with its field."""

    def factory(cls: type) -> Any:
        base = make_dict_structure_fn(
            cls, converter, _cattrs_forbid_extra_keys=True, _cattrs_detailed_validation=True
        )

        known = {field.alias or field.name for field in attrs.fields(cls)}

        def structure(value: Any, _: type) -> Any:
            if not isinstance(value, dict):
                raise TypeError(f"expected a table, got {describe(value)}")
            errors: list[Exception] = []
            extra = {key for key in value if key not in known}
            if extra:  # reported with the other problems, not instead of them
                errors.append(ForbiddenExtraKeysError("", cls, extra))
                value = {key: item for key, item in with_current_names(cls, value).items() if key in known}
            try:
                with attrs.validators.disabled():
                    instance = base(value, cls)
            except ClassValidationError as exc:
                # the fields that did structure still have their validators run: a bad type in
                # one field does not hide a bad value in another
                failed = failed_fields(exc)
                every = [*errors, *exc.exceptions]
                if failed is not None:
                    every += _validate(cls, _partial(cls, field_values(converter, cls, value, failed)))
                raise ClassValidationError(f"While structuring {cls.__name__}", every, cls) from None
            errors += _validate(cls, instance)
            if errors:
                raise ClassValidationError(f"While structuring {cls.__name__}", errors, cls)
            return instance

        return structure

    return factory


def with_current_names(cls: type, value: dict[str, Any]) -> dict[str, Any]:
    """``value`` plus each former name's value (``renamed_from``) under its current name, when that
    is not given too: the value is still checked, and the field not also reported missing (a stored
    run recipe with a since renamed required field then has the rename as its only problem)."""
    out = dict(value)
    for old, current in sorted(renamed_options(cls).items()):
        if old in value and current not in value:
            out.setdefault(current, value[old])
    return out


def _validate(cls: type, instance: Any) -> list[Exception]:
    """Run the field validators of ``instance``; those of fields it lacks (a partial one) are skipped."""
    errors: list[Exception] = []
    for field in attrs.fields(cls):
        if field.validator is None or not hasattr(instance, field.name):
            continue
        try:
            field.validator(instance, field, getattr(instance, field.name))
        except (ValueError, TypeError) as exc:
            exc.__notes__ = [AttributeValidationNote(f"{field.name}", field.name, field.type)]
            errors.append(exc)
        except Exception:  # a validator reading a field this partial instance lacks
            continue
    return errors


def _partial(cls: type, values: dict[str, Any]) -> Any:
    """An instance of ``cls`` holding only ``values`` (no ``__init__``), so that the validators of
    the fields that structured can run while another field failed."""
    instance = object.__new__(cls)
    for name, item in values.items():
        object.__setattr__(instance, name, item)
    return instance


def failed_fields(exc: ClassValidationError) -> set[str] | None:
    """The fields a structuring failure names; None when part of it names no field."""
    with_notes, without = exc.group_exceptions()
    if without or not all(isinstance(note, AttributeValidationNote) for _, note in with_notes):
        return None
    return {note.name for _, note in with_notes}  # type: ignore[attr-defined]


def field_values(
    converter: cattrs.Converter, cls: type, value: dict[str, Any], skip: Collection[str]
) -> dict[str, Any]:
    """The fields of ``cls`` outside ``skip``, each structured alone from ``value`` or its default.

    A required field that is missing, a default computed from the instance, a field with an attrs
    converter, or a value that fails alone is left out.
    """
    attrs.resolve_types(cls)
    values: dict[str, Any] = {}
    for field in attrs.fields(cls):
        if field.name in skip or field.converter is not None:
            continue
        if field.name in value:
            item = value[field.name]
            try:
                values[field.name] = item if field.type is None else converter.structure(item, field.type)
            except Exception:  # reported where the whole class was structured
                continue
        elif isinstance(field.default, attrs.Factory):  # type: ignore[arg-type]
            if not field.default.takes_self:  # type: ignore[union-attr]
                values[field.name] = field.default.factory()  # type: ignore[union-attr]
        elif field.default is not attrs.NOTHING:
            values[field.name] = field.default
    return values


def _component_ref(value: Any, _: type) -> Any:
    if isinstance(value, str):
        return ComponentRef(value)
    if not isinstance(value, dict):
        raise TypeError(f"expected a component name or a table with 'name', got {describe(value)}")
    raw = dict(value)
    name = raw.pop("name", None)
    if not isinstance(name, str):
        raise ValueError("expected a table with 'name' = the registered component name")
    return ComponentRef(name, raw)


def _strict_sequence(converter: cattrs.Converter) -> Any:
    """Lists (and tuples) only from TOML arrays: a string is not a list of characters."""

    def factory(tp: Any) -> Any:
        origin = typing.get_origin(tp)
        if origin is tuple and not (len(typing.get_args(tp)) == 2 and typing.get_args(tp)[1] is ...):
            base = _fixed_tuple(converter, typing.get_args(tp))
        elif origin is tuple:
            base = homogenous_tuple_structure_factory(tp, converter)
        else:
            base = list_structure_factory(tp, converter)

        def structure(value: Any, _: type) -> Any:
            if not isinstance(value, list | tuple):
                raise TypeError(f"expected an array, got {describe(value)}")
            return base(value, tp)

        return structure

    return factory


def _fixed_tuple(converter: cattrs.Converter, types: tuple[Any, ...]) -> Any:
    def structure(value: Any, _: type) -> tuple[Any, ...]:
        if len(value) != len(types):
            raise ValueError(f"expected an array of {len(types)} values, got {len(value)}")
        errors: list[Exception] = []
        items: list[Any] = []
        for i, (item, tp) in enumerate(zip(value, types, strict=True)):
            try:
                items.append(converter.structure(item, tp))
            except Exception as exc:
                exc.__notes__ = [IterableValidationNote(f"index {i}", i, tp)]
                errors.append(exc)
        if errors:
            raise IterableValidationError("While structuring a tuple", errors, tuple)
        return tuple(items)

    return structure


def _strict_mapping(converter: cattrs.Converter) -> Any:
    """Dicts only from TOML tables: ``split = "abc"`` is a located problem, not an AttributeError."""

    def factory(tp: Any) -> Any:
        args = typing.get_args(tp)
        key_type, value_type = args if len(args) == 2 else (Any, Any)

        def structure(value: Any, _: type) -> Any:
            if not isinstance(value, dict):
                raise TypeError(f"expected a table, got {describe(value)}")
            return {
                converter.structure(k, key_type): converter.structure(v, value_type) for k, v in value.items()
            }

        return structure

    return factory


def _is_mapping_type(tp: Any) -> bool:
    return typing.get_origin(tp) is dict or tp is dict


def _is_sequence_type(tp: Any) -> bool:
    return typing.get_origin(tp) in (list, tuple) or tp in (list, tuple)


def make_converter() -> cattrs.Converter:
    """The converter used for recipes and every plugin's options class."""
    converter = cattrs.Converter(forbid_extra_keys=True, detailed_validation=True)
    converter.register_structure_hook(int, _strict_int)
    converter.register_structure_hook(float, _strict_float)
    converter.register_structure_hook(str, _strict_str)
    converter.register_structure_hook(bool, _strict_bool)
    converter.register_structure_hook(Path, _path)
    converter.register_unstructure_hook(Path, str)
    converter.register_structure_hook_factory(_is_literal, _literal_hook)
    converter.register_structure_hook_factory(_is_sequence_type, _strict_sequence(converter))
    converter.register_structure_hook(ComponentRef, _component_ref)
    converter.register_unstructure_hook(ComponentRef, lambda ref: _unstructure_ref(converter, ref))
    converter.register_structure_hook_factory(attrs.has, _validated_attrs_hook(converter))
    converter.register_structure_hook_factory(_is_mapping_type, _strict_mapping(converter))
    return converter


def _unstructure_ref(converter: cattrs.Converter, ref: Any) -> dict[str, Any]:
    body = converter.unstructure(ref.options) if ref.options is not None else dict(ref.raw)
    return {"name": ref.name, **body}


def join(path: str, part: str | int) -> str:
    if isinstance(part, int):
        return f"{path}[{part}]"
    return f"{path}.{part}" if path else part


def problems_from(exc: BaseException, path: str) -> list[Problem]:
    """Flatten a cattrs validation error tree into problems, each with its recipe path."""
    if isinstance(exc, ClassValidationError | IterableValidationError):
        found: list[Problem] = []
        with_notes, without = exc.group_exceptions()
        for inner, note in with_notes:
            if isinstance(note, AttributeValidationNote):
                found += problems_from(inner, join(path, note.name))
            elif isinstance(note, IterableValidationNote):
                found += problems_from(inner, join(path, note.index))
            else:
                found += problems_from(inner, path)
        for inner in without:
            found += problems_from(inner, path)
        return found
    if isinstance(exc, ForbiddenExtraKeysError):
        return [_unknown(exc.cl, key, path) for key in sorted(exc.extra_fields)]
    if isinstance(exc, KeyError):
        return [Problem(path, "required option is missing")]
    message = str(exc) or type(exc).__name__
    return [Problem(path, message)]


def _unknown(cls: type, key: str, path: str) -> Problem:
    """An unknown key's problem: a field's former name (``renamed_from``) says what replaced it
    (also as ``Problem.renamed_to``), any other key the closest field name, if one is close."""
    current = renamed_options(cls).get(key)
    if current:
        return Problem(join(path, key), f"renamed: use {current}", renamed_to=current)
    names = sorted(field.alias or field.name for field in attrs.fields(cls)) if attrs.has(cls) else []
    return Problem(join(path, key), f"unknown option{closest(key, names)}")


def structure(converter: cattrs.Converter, value: Any, cls: type, path: str) -> tuple[Any, list[Problem]]:
    """Structure ``value`` into ``cls``; on failure return ``(None, problems)``."""
    try:
        return converter.structure(value, cls), []
    except Exception as exc:  # every structuring failure becomes a located problem
        return None, problems_from(exc, path)
