"""ganaug-search-restarts: best-of-N latent search as a ganaug plugin (``searcher = {name = "restarts"}``)."""

from __future__ import annotations

from ganaug_search_restarts.searcher import (
    RestartsOptions,
    RestartsSearcher,
    best_of,
    restarts_searcher,
    wrap,
)

__version__ = "0.1.0"

__all__ = ["RestartsOptions", "RestartsSearcher", "__version__", "best_of", "restarts_searcher", "wrap"]
