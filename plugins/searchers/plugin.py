"""Registers the built-in searchers components (placeholder until implemented)."""

from __future__ import annotations
