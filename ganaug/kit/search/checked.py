"""A searcher's result checked where the core receives it: a wrong row count or shape becomes a
:class:`~ganaug.runtime.errors.PluginError` naming the searcher and its plugin, instead of a
traceback deep in an evaluator (too few rows) or a silently wrong score table (too many)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import attrs
from torch import Tensor

from ganaug.api.options import ComponentRef
from ganaug.api.records import SearchResult
from ganaug.runtime.errors import PluginError

#: per-image fields read as one number per query (score tables, thresholds, plots)
SCALARS = (
    "residual",
    "discrimination",
    "score",
    "initial_score",
    "initial_residual",
    "initial_discrimination",
)
#: per-image fields holding one latent code per query
CODES = ("z", "z_initial")


@attrs.frozen
class SearcherId:
    """Which searcher made a result, for messages: its registered name and, when known, its plugin."""

    name: str
    plugin: str | None = None

    def __str__(self) -> str:
        owner = f" (plugin {self.plugin!r})" if self.plugin else ""
        return f"latent searcher {self.name!r}{owner}"


def searcher_id(ref: ComponentRef, build: Callable[..., Any] | None = None) -> SearcherId:
    """The searcher ``ref`` names, with its plugin when ``build`` can tell: a stage's builder
    (``StageContext.build``) or the registry's (``Registry.build``); any other builder gives the name
    alone."""
    owner = getattr(build, "__self__", None)
    registry = getattr(owner, "registry", owner)
    try:
        plugin = registry.get(ref.kind or "latent_searchers", ref.name).plugin
    except Exception:  # not a registry, or the name is unknown to it: the name alone still helps
        plugin = None
    return SearcherId(ref.name, plugin if isinstance(plugin, str) else None)


def unnamed(searcher: object) -> SearcherId:
    """An id for a searcher handed over without its recipe name: its class's full path."""
    cls = type(searcher)
    return SearcherId(f"{cls.__module__}.{cls.__qualname__}")


def _shape(value: Tensor) -> str:
    return f"({', '.join(str(d) for d in value.shape)})"


def _problem(name: str, value: Tensor, queries: Tensor) -> str | None:
    """What is wrong with one field whose row count is right (None: nothing)."""
    n, shape = int(queries.shape[0]), _shape(value)
    if name == "generated" and value.shape[1:] != queries.shape[1:]:
        return f"generated images of shape {shape} for queries of shape {_shape(queries)}"
    if name in CODES and value.ndim != 2:
        return f"{name} of shape {shape}; expected [N, latent_dim]"
    if name in SCALARS and value.numel() != n:
        return f"{name} of shape {shape}; expected one value per query, ({n},)"
    return None


def result_problems(result: object, queries: Tensor) -> list[str]:
    """What is wrong with ``result`` as the search of ``queries`` (empty: nothing), each a phrase
    that follows "returned"; fields with the wrong row count are grouped by the count."""
    if not isinstance(result, SearchResult):
        return [f"a {type(result).__name__}, not a SearchResult"]
    n = int(queries.shape[0])
    problems: list[str] = []
    miscounted: dict[int, list[str]] = {}
    for field in attrs.fields(SearchResult):
        name, value = field.name, getattr(result, field.name)
        if value is None and name in ("initial_residual", "initial_discrimination"):
            continue  # optional: the searcher does not report them
        if not isinstance(value, Tensor):
            problems.append(f"{name} as a {type(value).__name__}, not a tensor")
        elif name == "loss_history":
            if value.ndim != 2 or (value.numel() and value.shape[1] != n):
                problems.append(f"loss_history of shape {_shape(value)}; expected (steps_recorded, {n})")
        elif value.ndim == 0 or value.shape[0] != n:
            miscounted.setdefault(int(value.shape[0]) if value.ndim else 0, []).append(name)
        elif (problem := _problem(name, value, queries)) is not None:
            problems.append(problem)
    counted = [f"{rows} rows of {', '.join(names)} for {n} queries" for rows, names in miscounted.items()]
    return counted + problems


def checked_result(
    result: object, queries: Tensor, searcher: SearcherId | str, plugin: str | None = None
) -> SearchResult:
    """``result`` when it is a well-formed search of ``queries``; else a :class:`PluginError` naming
    the searcher (a :class:`SearcherId`, or a registered name and its ``plugin``) and what is wrong."""
    problems = result_problems(result, queries)
    if problems:
        who = searcher if isinstance(searcher, SearcherId) else SearcherId(searcher, plugin)
        raise PluginError(
            f"{who} returned {'; '.join(problems)} (every per-image SearchResult field has one row per "
            "query, loss_history one column per query: a bug in the searcher, report it to its authors)"
        )
    return cast(SearchResult, result)
