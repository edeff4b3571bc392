"""The split protocol every data source shares: per split, per class, how many images.

A recipe writes ``split = { train = { PNEUMONIA = 3265 }, test = { PNEUMONIA = 1000, NORMAL = 1000 },
holdout = { NORMAL = 575 } }``. A value is a count (integer >= 0), a fraction of the class's
images (float in (0, 1], rounded down; ``1.0`` means all), or ``"rest"`` (whatever the class's
other splits leave; at most one per class). The key ``"*"`` applies to every class a split does
not name. Each class's images are sorted by id, shuffled by a generator seeded only by the run's
seed and the class name (adding a class never reshuffles another), and dealt out in split order,
so splits never overlap and every count is exact.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs

from ganaug.runtime.errors import DataError
from ganaug.runtime.seeds import numpy_rng

REST = "rest"
ANY_CLASS = "*"
SplitTable = Mapping[str, Mapping[str, Any]]


def _value_problem(value: Any) -> str:
    if isinstance(value, bool):
        return f"expected a count, a fraction or 'rest', got {value!r}"
    if isinstance(value, int):
        return "" if value >= 0 else f"a count must be >= 0, got {value}"
    if isinstance(value, float):
        return "" if 0.0 < value <= 1.0 else f"a fraction must be in (0, 1], got {value}"
    if value == REST:
        return ""
    return f"expected a count (integer), a fraction (0 < f <= 1) or 'rest', got {value!r}"


def split_problems(table: Any, known_classes: Sequence[str] | None = None) -> list[str]:
    """Everything wrong with a split table that can be seen without the data, one line each."""
    if not isinstance(table, Mapping) or not table:
        return ["expected a table of split = { class = count, fraction or 'rest' }"]
    problems: list[str] = []
    for split, per_class in table.items():
        if not isinstance(per_class, Mapping) or not per_class:
            problems.append(f"{split}: expected a table of class = count, fraction or 'rest'")
            continue
        for cls, value in per_class.items():
            if (problem := _value_problem(value)) != "":
                problems.append(f"{split}.{cls}: {problem}")
            if known_classes is not None and cls != ANY_CLASS and cls not in known_classes:
                problems.append(f"{split}.{cls}: unknown class; the data has: {', '.join(known_classes)}")
    if problems:
        return problems
    named = sorted({cls for per_class in table.values() for cls in per_class} | {ANY_CLASS})
    for cls in named:
        values = {split: _value_for(per_class, cls) for split, per_class in table.items()}
        rests = [split for split, value in values.items() if value == REST]
        if len(rests) > 1:
            problems.append(f"class {cls!r}: 'rest' in more than one split ({', '.join(rests)})")
        total = sum(v for v in values.values() if isinstance(v, float))
        if total > 1.0 + 1e-9:
            problems.append(f"class {cls!r}: fractions add up to {total:g}, more than 1")
    return problems


def _value_for(per_class: Mapping[str, Any], cls: str) -> Any:
    return per_class.get(cls, per_class.get(ANY_CLASS))


def split_validator(
    known: Callable[[Any], Sequence[str] | None] = lambda _: None,
    required: Callable[[Any], str] = lambda _: "",
) -> Callable[[Any, attrs.Attribute, Any], None]:
    """The attrs validator of an options field holding a split table.

    ``known(options)`` gives the class names the table may use (None: not known before loading);
    ``required(options)`` returns why the table must be present or must be absent ('' if neither).
    """

    def check(instance: Any, _: attrs.Attribute, value: Any) -> None:
        if (why := required(instance)) != "":
            raise ValueError(why)
        if value is not None and (problems := split_problems(value, known(instance))):
            raise ValueError("; ".join(problems))

    return check


def split_sizes(table: SplitTable, cls: str, available: int) -> dict[str, int]:
    """How many images of ``cls`` each split takes (splits that don't use the class are left out)."""
    sizes: dict[str, int] = {}
    rest_split = None
    for split, per_class in table.items():
        value = _value_for(per_class, cls)
        if value is None:
            continue
        if value == REST:
            rest_split = split
        elif isinstance(value, float):
            sizes[split] = math.floor(value * available + 1e-9)
        else:
            sizes[split] = int(value)
    asked = sum(sizes.values())
    if asked > available:
        detail = " + ".join(f"{split} {n:,}" for split, n in sizes.items())
        raise DataError(
            f"class {cls!r}: the split asks for {asked:,} images ({detail}), but only {available:,} exist"
        )
    if rest_split is not None:
        sizes[rest_split] = available - asked
    return {split: sizes[split] for split in table if split in sizes}


def deal(
    members: Mapping[str, Sequence[str]], table: SplitTable, seed: int
) -> dict[str, dict[str, list[str]]]:
    """Deal each class's ids into the splits of ``table``: ``{split: {class: [ids]}}``."""
    named = {cls for per_class in table.values() for cls in per_class if cls != ANY_CLASS}
    missing = sorted(named - set(members))
    if missing:
        raise DataError(
            f"the split names class(es) {', '.join(map(repr, missing))}, which the data does not have; "
            f"classes: {', '.join(members)}"
        )
    out: dict[str, dict[str, list[str]]] = {split: {} for split in table}
    for cls, ids in members.items():
        sizes = split_sizes(table, cls, len(ids))
        if not sizes:
            continue
        order = sorted(ids)
        shuffled = [order[i] for i in numpy_rng(seed, "class", cls).permutation(len(order))]
        start = 0
        for split, n in sizes.items():
            out[split][cls] = shuffled[start : start + n]
            start += n
    return out


def interleave(parts: Mapping[str, Sequence[str]], seed: int, split: str) -> list[tuple[str, str]]:
    """Mix one split's classes into a seeded order, ``[(class, id)]``, keeping each class's own
    order and position keys independent of the other classes (so ``limit`` is stable)."""
    keyed: list[tuple[float, str, int, str]] = []
    for cls, ids in parts.items():
        keys = numpy_rng(seed, "order", split, cls).random(len(ids))
        keyed += [
            (float(k), cls, i, ident) for i, (k, ident) in enumerate(zip(sorted(keys), ids, strict=True))
        ]
    keyed.sort()
    return [(cls, ident) for _, cls, _, ident in keyed]
