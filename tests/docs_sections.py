"""Reading docs/plugins.md's ``### `name``` sections and the public members a section must name,
for the meta-tests and the contract tests."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import attrs

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs" / "plugins.md"


def squash(text: str) -> str:
    """``text`` with every run of whitespace made one space."""
    return " ".join(text.split())


def doc_section(title: str) -> str:
    """The text of the ``### `title``` section of docs/plugins.md ('' when there is none)."""
    found = re.search(rf"^### `{re.escape(title)}`\n(.*?)(?=^#{{1,3}} |\Z)", DOCS.read_text(), re.M | re.S)
    return squash(found.group(1)) if found else ""


def public_members(cls: type) -> set[str]:
    """Fields, annotated attributes, methods and properties a user of ``cls`` relies on."""
    members = {name for name in getattr(cls, "__annotations__", {}) if not name.startswith("_")}
    members |= {
        name
        for name, value in vars(cls).items()
        if not name.startswith("_")
        and (inspect.isfunction(value) or isinstance(value, property | staticmethod))
    }
    if attrs.has(cls):
        members |= {field.name for field in attrs.fields(cls)}
    return members
