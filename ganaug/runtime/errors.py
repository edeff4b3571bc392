"""Errors ganaug raises on purpose: each one carries a message a user can act on."""

from __future__ import annotations

import difflib

import attrs


class GanaugError(Exception):
    """Base of every error that is reported to the user without a traceback."""

    exit_code = 1


@attrs.frozen
class Problem:
    """One problem in a recipe, located by its path (``stages[2].searcher.steps``).

    ``renamed_to`` is set when the key at ``path`` is an option's former name (``renamed_from``):
    the name that replaced it, so a stored run recipe is re-read without parsing ``message``."""

    path: str
    message: str
    renamed_to: str | None = attrs.field(default=None, kw_only=True)

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class RecipeError(GanaugError):
    """A recipe has one or more problems; all of them are listed, each with its path."""

    exit_code = 2

    def __init__(self, problems: list[Problem], source: str = "") -> None:
        self.problems = list(problems)
        self.source = source
        head = f"{source}: " if source else ""
        lines = "\n".join(f"  {p}" for p in self.problems)
        super().__init__(f"{head}{len(self.problems)} problem(s) in recipe\n{lines}")


class PluginError(GanaugError):
    """A plugin failed to load, registered a duplicate name, or was asked for by a wrong name."""

    exit_code = 2


class DataError(GanaugError):
    """Input data is missing, unreadable or does not match what the recipe asks for."""

    exit_code = 3


class DivergenceError(GanaugError):
    """Training or search produced NaN/inf; the stage stopped instead of continuing on garbage."""

    exit_code = 4


class RunDirError(GanaugError):
    """The run directory cannot be used (locked, changed recipe, unfinished run, disk full)."""

    exit_code = 5


class CheckpointError(GanaugError):
    """A checkpoint is missing, corrupt, or not in a format that is safe to load."""

    exit_code = 6


class RunInterrupted(GanaugError):
    """The user interrupted a run (Ctrl-C); what was checkpointed can be resumed."""

    exit_code = 130


def closest(name: str, known: list[str]) -> str:
    """A 'did you mean' hint for ``name`` among ``known`` ('' when nothing is close)."""
    match = difflib.get_close_matches(name, known, n=1, cutoff=0.5)
    return f" (did you mean {match[0]!r}?)" if match else ""
