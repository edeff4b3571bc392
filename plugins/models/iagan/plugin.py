"""Registers the built-in models/iagan components (placeholder until implemented)."""

from __future__ import annotations
