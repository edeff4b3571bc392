"""``ganaug new-plugin NAME --kind KIND``: write a working plugin package to start from.

The skeleton (from ``ganaug/apps/templates``) has a pyproject with the ``ganaug`` entry point, a
``test`` extra and a ruff configuration, one component of the chosen kind (a loss weighter by
default) with its attrs options class (every field an ``option(default, help=...)``), a README and
passing tests that use :mod:`ganaug.testing`. There is a kind for every component kind a plugin can
register: ``generator``, ``discriminator``, ``encoder``, ``loss`` (a GAN loss), ``weighter``,
``augmenter``, ``regularizer``, ``searcher``, ``backbone``, ``evaluator``, ``data``, ``stage`` and
``tracker``; each is named by the recipe key it is given under, where there is one.
"""

from __future__ import annotations

import re
import string
from importlib.resources import files
from pathlib import Path

import attrs
import click

from ganaug import __version__

NAME = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
PREFIX = "ganaug-"

#: Skeleton files of every kind (``{package}`` filled in) -> their templates in ``ganaug/apps/templates``.
FILES: dict[str, str] = {
    "pyproject.toml": "pyproject.toml.tmpl",
    "README.md": "README.md.tmpl",
    "src/{package}/__init__.py": "package_init.py.tmpl",
    "src/{package}/plugin.py": "package_plugin.py.tmpl",
}


@attrs.frozen
class Kind:
    """What one ``--kind`` writes: its module (``<module>.py.tmpl``, tested by
    ``test_<module>.py.tmpl``), the hook registering it, and the words its README uses."""

    module: str
    registry: str  # the registry's kind, e.g. "loss_weighters"
    what: str
    description: str
    summary: str
    where: str
    use: str  # a recipe snippet; ``${component}`` filled in

    @property
    def hook(self) -> str:
        return f"register_{self.registry}"

    def files(self) -> dict[str, str]:
        return {
            **FILES,
            f"src/{{package}}/{self.module}.py": f"{self.module}.py.tmpl",
            "tests/test_plugin.py": f"test_{self.module}.py.tmpl",
        }


DEFAULT_KIND = "weighter"

KINDS: dict[str, Kind] = {
    "generator": Kind(
        "generator",
        "generators",
        "generator",
        "MLP generator from a latent code to an image",
        "a small unconditional MLP from the latent code to an image in [-1, 1]",
        "where a train stage takes a generator",
        'generator = { name = "${component}", latent_dim = 16 }',
    ),
    "discriminator": Kind(
        "discriminator",
        "discriminators",
        "discriminator",
        "Two strided convolutions and a linear head",
        "two strided convolutions and a linear head, giving raw logits and the last feature map",
        "where a train stage takes a discriminator",
        'discriminator = { name = "${component}", width = 16 }',
    ),
    "encoder": Kind(
        "encoder",
        "encoders",
        "encoder",
        "MLP encoder from an image to a latent code",
        "a small MLP from an image to a latent code of the generator's size (f-AnoGAN's E)",
        "where an encoder stage takes an encoder",
        'encoder = { name = "${component}", hidden = 64 }',
    ),
    "loss": Kind(
        "loss",
        "gan_losses",
        "GAN loss",
        "Hinge loss on raw discriminator logits",
        "the hinge loss: D's scalar loss on real and fake logits, G's loss per sample",
        "where a train stage takes a loss",
        'loss = { name = "${component}", margin = 1.0 }',
    ),
    "weighter": Kind(
        "weighter",
        "loss_weighters",
        "loss weighter",
        "Weights samples by their mean absolute gap to the real image",
        "each generated sample's generator loss is weighted by `1 + strength * mean|real - fake|`",
        "where a train stage takes a loss weighter",
        'weighter = { name = "${component}", strength = 2.0 }',
    ),
    "augmenter": Kind(
        "augmenter",
        "augmenters",
        "augmenter",
        "Flips some images D sees upside down",
        "each image D sees, real or generated, is flipped top to bottom with probability `p`",
        "in a train stage's `augmenters`, applied in order to every batch D sees",
        'augmenters = [{ name = "${component}", p = 0.3 }]',
    ),
    "regularizer": Kind(
        "regularizer",
        "regularizers",
        "regularizer",
        "Keeps the discriminator's logits near zero",
        "a term `weight * mean(real_logits^2 + fake_logits^2)` added to D's loss every step",
        "in a train stage's `regularizers`",
        'regularizers = [{ name = "${component}", weight = 0.01 }]',
    ),
    "searcher": Kind(
        "searcher",
        "latent_searchers",
        "latent searcher",
        "Random search: the best of many latent codes per query",
        "random search, keeping the best of `candidates` latent codes drawn per query image",
        "where an augment stage or the `anogan` evaluator takes a searcher",
        'searcher = { name = "${component}", candidates = 64 }',
    ),
    "backbone": Kind(
        "backbone",
        "backbones",
        "backbone",
        "Principal components of the fit images' pixels",
        "features from the principal components of the pixels of the images it is fitted on",
        "where the `quality` evaluator takes a backbone",
        'evaluators = [{ name = "quality", backbone = { name = "${component}", dim = 16 } }]',
    ),
    "evaluator": Kind(
        "evaluator",
        "evaluators",
        "evaluator",
        "Baseline score: distance to the mean training image",
        "a baseline anomaly score, each test image's distance to the mean training image",
        "in an evaluate stage's `evaluators`, before the metric evaluators reading its scores",
        'evaluators = [{ name = "${component}", power = 2.0 }, { name = "roc" }]',
    ),
    "data": Kind(
        "source",
        "data_sources",
        "data source",
        "Seeded synthetic striped images",
        "seeded synthetic images, each class a bright row at a height of its own over noise",
        "as its `[data]` source",
        '[data]\nsource = "${component}"\nclasses = ["a", "b"]\ntrain_per_class = 16',
    ),
    "stage": Kind(
        "stage",
        "stages",
        "stage",
        "Counts the selected images per class",
        "a metrics stage counting the images of a selection per class into `counts.json`",
        "as one of its `[[stages]]`",
        '[[stages]]\nkind = "${component}"\nname = "count"\nimages = { split = "train" }',
    ),
    "tracker": Kind(
        "tracker",
        "trackers",
        "tracker",
        "The run's scalars in a CSV file",
        "the run's scalars (losses per epoch, metrics per stage, the final metrics) in a CSV file",
        "in its `[run]` section's `trackers`",
        '[run]\ntrackers = [{ name = "${component}", file = "scalars.csv" }]',
    ),
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


def values_for(name: str, kind: str = DEFAULT_KIND) -> dict[str, str]:
    """Every ``${...}`` a template of ``kind`` may use: the names plus the kind's words."""
    values = names_for(name)
    spec = KINDS[kind]
    words = {f.name: getattr(spec, f.name) for f in attrs.fields(Kind)}
    words["use"] = string.Template(spec.use).substitute(values)
    return {**values, **words, "hook": spec.hook}


def scaffold(name: str, parent: Path, kind: str = DEFAULT_KIND) -> list[Path]:
    """Write the skeleton of a ``kind`` plugin into ``parent/<distribution name>``; return the
    files written. Refuses a target folder that exists and is not empty: nothing is overwritten.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown plugin kind {kind!r}; known: {', '.join(KINDS)}")
    values = values_for(name, kind)
    target = Path(parent) / values["dist"]
    if target.exists() and any(target.iterdir()):
        raise FileExistsError(f"{target} exists and is not empty")
    templates = files("ganaug.apps.templates")
    written: list[Path] = []
    for relative, template in KINDS[kind].files().items():
        path = target / relative.format(**values)
        text = templates.joinpath(template).read_text(encoding="utf-8")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(string.Template(text).substitute(values), encoding="utf-8")
        written.append(path)
    return written


@click.command("new-plugin")
@click.argument("name")
@click.option(
    "--kind",
    type=click.Choice(list(KINDS)),
    default=DEFAULT_KIND,
    show_default=True,
    help="The component the skeleton holds ("
    + "; ".join(f"{name}: a {kind.what}" for name, kind in KINDS.items() if name != kind.what)
    + "; the others as named).",
)
@click.option(
    "--dir",
    "parent",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Folder to create the plugin package in.",
)
def new_plugin(name: str, kind: str, parent: Path) -> None:
    """Create a plugin package NAME (e.g. ganaug-my-weighter) holding one component of KIND
    (generator, discriminator, encoder, loss, weighter, augmenter, regularizer, searcher, backbone,
    evaluator, data, stage or tracker), with an entry point and tests."""
    try:
        written = scaffold(name, parent, kind)
    except (ValueError, FileExistsError) as exc:
        raise click.UsageError(str(exc)) from None
    values = values_for(name, kind)
    root = Path(parent) / values["dist"]
    for path in written:
        click.echo(f"  wrote {path.relative_to(root.parent)}")
    click.echo(
        f"\nNext: cd {root} && pip install -e '.[test]' && pytest && ganaug plugins\n"
        f"Use the {values['what']} in a recipe {values['where']}:\n{values['use']}"
    )
