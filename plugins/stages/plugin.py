"""Registers the built-in stages components (placeholder until implemented)."""

from __future__ import annotations
