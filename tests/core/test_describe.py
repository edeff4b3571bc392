"""The options reference: generated from the registry, and docs/components.md kept current."""

from __future__ import annotations

import typing
from pathlib import Path
from typing import Any

import attrs
from click.testing import CliRunner

from ganaug.api.options import ComponentRef, component, help_of, option, renamed_options, stage_ref
from ganaug.apps.cli import cli
from ganaug.apps.describe import markdown, option_rows
from ganaug.host.loading import make_plugin_host
from ganaug.recipe.convert import make_converter, structure
from ganaug.recipe.schema import RunSection

DOC = Path(__file__).resolve().parents[2] / "docs" / "components.md"


def test_components_doc_is_current() -> None:
    expected = markdown(make_plugin_host(entry_points=False).registry)
    assert DOC.read_text() == expected, "regenerate: ganaug options --markdown > docs/components.md"


def test_rows_show_types_and_paper_defaults() -> None:
    registry = make_plugin_host(entry_points=False).registry
    rows = {name: (kind, default) for name, kind, default, _ in option_rows(registry.get("stages", "train"))}
    assert rows["epochs"] == ("int", "150")
    assert rows["lr_d"] == ("float", "0.0004")
    assert rows["weighter"] == ("component", '{"name": "ssim"}')
    augment = {n: d for n, _, d, _ in option_rows(registry.get("stages", "augment"))}
    assert augment["searcher"] == '{"name": "backprop", "steps": 400, "feature_weight": 0.7}'
    assert augment["model"] == "(required)"


def test_rows_and_markdown_carry_each_options_help() -> None:
    registry = make_plugin_host(entry_points=False).registry
    helps = {name: text for name, _, _, text in option_rows(registry.get("latent_searchers", "backprop"))}
    assert helps["z_prior"] == "the generator's training prior, which the starting z are drawn from"
    text = markdown(registry)
    assert "| option | type | default | description |" in text
    assert "| `latent_dim` | int | `100` | size of the noise vector z (100, as in DCGAN/AnoGAN) |" in text


def test_cli_options_for_one_component_and_unknown_name() -> None:
    result = CliRunner().invoke(cli, ["options", "backprop"])
    assert result.exit_code == 0 and "feature_weight" in result.output and "0.2" in result.output
    assert "description" in result.output and "optimiser steps per image" in result.output
    result = CliRunner().invoke(cli, ["options", "roc"])
    assert "list[str]" in result.output  # shown as text, not eaten as console markup
    result = CliRunner().invoke(cli, ["options", "backprp"])
    assert result.exit_code == 2 and "did you mean 'backprop'" in result.output


def _options_classes(cls: type, seen: set[type]) -> None:
    """``cls`` and every attrs class its fields hold (nested tables), into ``seen``; a component
    reference is the referenced component's table, checked with that component."""
    if not attrs.has(cls) or cls in seen or cls is ComponentRef:
        return
    seen.add(cls)
    for tp in typing.get_type_hints(cls).values():
        for inner in (tp, *typing.get_args(tp)):
            _options_classes(inner, seen)


def test_every_field_of_every_builtin_options_class_has_help() -> None:
    registry = make_plugin_host(entry_points=False).registry
    classes: set[type] = set()
    _options_classes(RunSection, classes)
    for comp in registry:
        if comp.plugin.startswith("builtin:"):
            _options_classes(comp.options, classes)
    assert len(classes) > 15
    missing = [
        f"{cls.__module__}.{cls.__qualname__}.{field.name}"
        for cls in classes
        for field in attrs.fields(cls)
        if not help_of(field).strip() or "\n" in help_of(field)
    ]
    assert not missing, f"fields without a one-line help: {missing}"


def test_field_helpers_keep_their_metadata_and_add_help() -> None:
    @attrs.frozen
    class Demo:
        model: str = stage_ref("model", help="the stage")
        loss: Any = component("gan_losses", "bce", help="the loss", real_label=0.9)
        size: int = option(3, validator=attrs.validators.ge(1), renamed_from=("old_size", "sz"), help="big")
        names: list[str] = option(factory=list, metadata={"classes": True}, help="the classes")

    fields = attrs.fields_dict(Demo)
    assert fields["model"].metadata == {"stage_ref": "model", "help": "the stage"}
    assert fields["loss"].metadata["component"] == "gan_losses" and help_of(fields["loss"]) == "the loss"
    assert fields["names"].metadata["classes"] is True and help_of(fields["names"]) == "the classes"
    assert renamed_options(Demo) == {"old_size": "size", "sz": "size"}
    demo, problems = structure(make_converter(), {"model": "m", "sz": 2, "colour": 1}, Demo, "x")
    assert demo is None
    assert {p.path: p.message for p in problems} == {
        "x.sz": "renamed: use size",
        "x.colour": "unknown option",
    }
    demo, problems = structure(make_converter(), {"model": "m", "size": 0}, Demo, "x")
    assert [p.path for p in problems] == ["x.size"]  # the validator still runs
    assert Demo("m").loss.raw == {"real_label": 0.9} and Demo("m").names == []
