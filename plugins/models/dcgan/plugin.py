"""Registers the built-in models/dcgan components (placeholder until implemented)."""

from __future__ import annotations
