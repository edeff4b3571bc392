"""Registers the built-in data components (placeholder until implemented)."""

from __future__ import annotations
