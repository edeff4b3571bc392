"""Registers the built-in weighters components (placeholder until implemented)."""

from __future__ import annotations
