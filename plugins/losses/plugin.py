"""Registers the built-in losses components (placeholder until implemented)."""

from __future__ import annotations
