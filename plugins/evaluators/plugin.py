"""Registers the built-in evaluators components (placeholder until implemented)."""

from __future__ import annotations
