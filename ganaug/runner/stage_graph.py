"""Which stages a stage needs: the earlier stages its options name (``stage_ref`` fields, at any
depth: ``model``, ``models``, a selection's ``add``, an evaluator's ``fit``), and what they need in
turn. The engine runs stages whose needs are met side by side when ``run.jobs`` > 1.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import attrs


def referenced(options: Any, produces: str | None = None) -> list[str]:
    """The stage names an options value refers to, in the order found (no repeats); with
    ``produces``, only those of fields declared ``stage_ref(produces)`` (``"model"``, ...)."""
    found: list[str] = []
    _walk(options, found, produces)
    return list(dict.fromkeys(found))


def _walk(value: Any, found: list[str], produces: str | None) -> None:
    if attrs.has(type(value)):
        for field in attrs.fields(type(value)):
            item = getattr(value, field.name)
            if "stage_ref" in field.metadata:
                if produces is None or field.metadata["stage_ref"] == produces:
                    names = item if isinstance(item, list | tuple) else [item]
                    found.extend(name for name in names if isinstance(name, str))
            else:
                _walk(item, found, produces)
    elif isinstance(value, list | tuple):
        for item in value:
            _walk(item, found, produces)
    elif isinstance(value, dict):
        for item in value.values():
            _walk(item, found, produces)


def needs(stages: Sequence[tuple[str, Any]]) -> dict[str, set[str]]:
    """For each ``(name, options)``, every earlier stage it needs, directly or through another
    (an evaluation of a model trained on augmented images needs the augmentation too)."""
    direct = {name: set(referenced(options)) for name, options in stages}
    closed: dict[str, set[str]] = {}
    for name, _ in stages:  # recipe order: a stage only names earlier ones
        closed[name] = set()
        for dep in direct[name]:
            closed[name] |= {dep, *closed.get(dep, set())}
    return closed


def ready(pending: Iterable[str], done: set[str], graph: dict[str, set[str]]) -> list[str]:
    """The pending stages whose needs are all done, in the order given."""
    return [name for name in pending if graph[name] <= done]
