"""The plugin module named by the ``ganaug`` entry point: registers the ``restarts`` latent searcher."""

from __future__ import annotations

from ganaug.api.hookspecs import Register, hookimpl
from ganaug_search_restarts.searcher import RestartsOptions, restarts_searcher


@hookimpl
def register_latent_searchers(register: Register) -> None:
    register(
        "restarts",
        restarts_searcher,
        options=RestartsOptions,
        description="Another searcher run from several starting points; the best result kept per image",
    )
