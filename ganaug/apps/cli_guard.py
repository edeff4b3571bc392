"""How every ``ganaug`` command ends on an error: ganaug's own errors as a clean message and exit
code, Ctrl-C as exit 130, anything else as one line naming it a bug (the traceback with --debug)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import click
from rich.console import Console
from rich.text import Text

from ganaug.runtime.console import stderr_console
from ganaug.runtime.errors import GanaugError, RecipeError


def _report(exc: GanaugError, console: Console) -> None:
    if isinstance(exc, RecipeError):
        head = f"{exc.source}: " if exc.source else ""
        console.print(f"[bold red]error:[/] {head}{len(exc.problems)} problem(s) in the recipe")
        for problem in exc.problems:
            console.print(f"  {problem}", markup=False)
    else:
        console.print(Text.assemble(("error: ", "bold red"), str(exc)))


def guarded(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn ganaug's own errors into a clean message and exit code (traceback with --debug)."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        ctx = click.get_current_context()
        debug = bool(ctx.find_root().params.get("debug"))
        try:
            return fn(*args, **kwargs)
        except GanaugError as exc:
            if debug:
                raise
            _report(exc, stderr_console())
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            stderr_console().print("[yellow]interrupted[/]")
            sys.exit(130)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise  # click answers these itself (usage errors: exit 2)
        except Exception as exc:  # a bug: one line here, the traceback with --debug (and in run.log)
            if debug:
                raise
            text = f"{type(exc).__name__}: {exc}"
            stderr_console().print(
                Text.assemble(
                    ("error: ", "bold red"),
                    f"unexpected {text} — a bug; please report it (the traceback: run again with "
                    "--debug; a run's run.log keeps it too)",
                )
            )
            sys.exit(1)

    wrapper.__name__ = fn.__name__
    wrapper.__doc__ = fn.__doc__
    return wrapper
