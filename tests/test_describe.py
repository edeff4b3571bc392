"""The options reference: generated from the registry, and docs/components.md kept current."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from ganaug.cli import cli
from ganaug.describe import markdown, option_rows
from ganaug.plugins import make_plugin_host

DOC = Path(__file__).resolve().parent.parent / "docs" / "components.md"


def test_components_doc_is_current() -> None:
    expected = markdown(make_plugin_host(entry_points=False).registry)
    assert DOC.read_text() == expected, "regenerate: ganaug options --markdown > docs/components.md"


def test_rows_show_types_and_paper_defaults() -> None:
    registry = make_plugin_host(entry_points=False).registry
    rows = {name: (kind, default) for name, kind, default in option_rows(registry.get("stages", "train"))}
    assert rows["epochs"] == ("int", "150")
    assert rows["lr_d"] == ("float", "0.0004")
    assert rows["weighter"] == ("component", '{"name": "ssim"}')
    augment = dict((n, d) for n, _, d in option_rows(registry.get("stages", "augment")))
    assert augment["searcher"] == '{"name": "backprop", "steps": 400, "feature_weight": 0.7}'
    assert augment["model"] == "(required)"


def test_cli_options_for_one_component_and_unknown_name() -> None:
    result = CliRunner().invoke(cli, ["options", "backprop"])
    assert result.exit_code == 0 and "feature_weight" in result.output and "0.2" in result.output
    result = CliRunner().invoke(cli, ["options", "backprp"])
    assert result.exit_code == 2 and "did you mean 'backprop'" in result.output
