"""The run report: stage reports gathered, links made run-relative, headings nested."""

from __future__ import annotations

from pathlib import Path

from ganaug.host.loading import make_plugin_host
from ganaug.recipe.load import parse_recipe
from ganaug.runner.report import stage_section, write_report
from tests.core_plugin import RECIPE, CorePlugin


def test_stage_section_rewrites_links_and_nests_headings() -> None:
    text = "# Evaluation\n\n![roc](roc.png) [site](https://x.org) ![abs](/tmp/a.png)\n\n## All methods\n"
    section = stage_section("evaluate", "evaluate", text)
    assert section.startswith("## evaluate (evaluate)\n")
    assert "### Evaluation" in section and "#### All methods" in section
    assert "(evaluate/roc.png)" in section and "(https://x.org)" in section and "(/tmp/a.png)" in section


def test_write_report_gathers_only_stages_with_reports(tmp_path: Path) -> None:
    host = make_plugin_host(builtins=(), entry_points=False, extra=[("core", CorePlugin())])
    recipe = parse_recipe(RECIPE, registry=host.registry)
    assert write_report(tmp_path, recipe) is None
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "report.md").write_text("# R\n\n| a |\n|---|\n| 1 |\n")
    report = write_report(tmp_path, recipe)
    assert report is not None
    text = report.read_text()
    assert text.startswith("# core\n") and "## r (report)" in text and "### R" in text and "| 1 |" in text
    assert "## m (mean)" not in text
