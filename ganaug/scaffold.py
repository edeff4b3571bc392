"""``ganaug new-plugin NAME``: write a working plugin package to start a third-party plugin from.

The skeleton (from ``ganaug/templates``) has a pyproject with the ``ganaug`` entry
point, a loss weighter with its attrs options class, a README and passing tests that use
:mod:`ganaug.testing`.
"""

from __future__ import annotations

import re
import string
from importlib.resources import files
from pathlib import Path

import click

from ganaug import __version__

NAME = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
PREFIX = "ganaug-"

#: Skeleton file (``{package}`` filled in) -> its template in ``ganaug/templates``.
FILES: dict[str, str] = {
    "pyproject.toml": "pyproject.toml.tmpl",
    "README.md": "README.md.tmpl",
    "src/{package}/__init__.py": "package_init.py.tmpl",
    "src/{package}/plugin.py": "package_plugin.py.tmpl",
    "src/{package}/weighter.py": "package_weighter.py.tmpl",
    "tests/test_plugin.py": "tests_test_plugin.py.tmpl",
}


def names_for(name: str) -> dict[str, str]:
    """The names a plugin called ``name`` gets: distribution, component, package and class."""
    component = name.removeprefix(PREFIX)
    if not NAME.match(name) or not NAME.match(component):
        raise ValueError(
            f"{name!r} is not a plugin name: use lower-case letters, digits and single hyphens, "
            "starting with a letter (e.g. 'ganaug-my-weighter' or 'my-weighter')"
        )
    dist = PREFIX + component
    return {
        "dist": dist,
        "component": component,
        "package": dist.replace("-", "_"),
        "cls": "".join(part.capitalize() for part in component.split("-")),
        "ganaug_version": __version__,
    }


def scaffold(name: str, parent: Path) -> list[Path]:
    """Write the plugin skeleton into ``parent/<distribution name>``; return the files written.

    Refuses a target folder that exists and is not empty, so nothing is ever overwritten.
    """
    values = names_for(name)
    target = Path(parent) / values["dist"]
    if target.exists() and any(target.iterdir()):
        raise FileExistsError(f"{target} exists and is not empty")
    templates = files("ganaug.templates")
    written: list[Path] = []
    for relative, template in FILES.items():
        path = target / relative.format(**values)
        text = templates.joinpath(template).read_text(encoding="utf-8")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(string.Template(text).substitute(values), encoding="utf-8")
        written.append(path)
    return written


@click.command("new-plugin")
@click.argument("name")
@click.option(
    "--dir",
    "parent",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Folder to create the plugin package in.",
)
def new_plugin(name: str, parent: Path) -> None:
    """Create a plugin package NAME (e.g. ganaug-my-weighter) with an entry point and tests."""
    try:
        written = scaffold(name, parent)
    except (ValueError, FileExistsError) as exc:
        raise click.UsageError(str(exc)) from None
    values = names_for(name)
    root = Path(parent) / values["dist"]
    for path in written:
        click.echo(f"  wrote {path.relative_to(root.parent)}")
    click.echo(
        f"\nNext: cd {root} && pip install -e . && pytest && ganaug plugins\n"
        f'Use it in a recipe as {{ name = "{values["component"]}" }} where a loss weighter is taken.'
    )
