"""One broken plugin never stops ganaug: hooks, duplicates and imports are guarded per plugin.

Each test reproduces a plugin that used to break every command (a hook that raises, a name a
built-in has, ``sys.exit`` or argv parsing at import) and checks that only that plugin is left
out, with a warning naming it and ``GANAUG_BLOCK_PLUGINS``.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from ganaug.api.hookspecs import hookimpl
from ganaug.apps.cli import cli
from ganaug.host.loading import BLOCK_ENV, make_plugin_host
from ganaug.runtime.errors import PluginError
from tests.core_plugin import CorePlugin
from tests.plugin_dists import fake_distribution

QUICKSTART = str(Path(__file__).resolve().parents[2] / "examples" / "quickstart.toml")

#: Registers a generator, then fails in a later hook: the generator must go too (all or nothing).
RAISES_IN_HOOK = """
from ganaug.api.hookspecs import hookimpl

@hookimpl
def register_generators(register):
    register("kaput-gen", object)

@hookimpl
def register_evaluators(register):
    raise RuntimeError("kaput")
"""

#: Takes the built-in loss name ``bce`` (and a name of its own, which must not load either).
DUPLICATE_BCE = """
from ganaug.api.hookspecs import hookimpl

@hookimpl
def register_gan_losses(register):
    register("mine-loss", object)
    register("bce", object)
"""

EXITS_AT_IMPORT = "import sys\nsys.exit(0)\n"

#: Parses the command line when imported, with no arguments of its own: ganaug's argv would fail it.
PARSES_ARGV = """
import argparse
from ganaug.api.hookspecs import hookimpl

ARGS = argparse.ArgumentParser(prog="argv-plugin").parse_args()

@hookimpl
def register_loss_weighters(register):
    register("argv-weights", object)
"""

#: Needs a positional argument nobody gives it: argparse exits (2) while it is imported.
NEEDS_ARGV = """
import argparse

parser = argparse.ArgumentParser(prog="needy")
parser.add_argument("target")
parser.parse_args()
"""

GOOD = """
from ganaug.api.hookspecs import hookimpl

@hookimpl
def register_loss_weighters(register):
    register("good-weights", object)
"""


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A folder on sys.path for fake installed distributions; their modules are forgotten after."""
    path = tmp_path / "site"
    path.mkdir()
    monkeypatch.syspath_prepend(str(path))
    monkeypatch.delenv(BLOCK_ENV, raising=False)
    before = set(sys.modules)
    yield path
    for name in set(sys.modules) - before:
        if name.startswith("guard_"):
            del sys.modules[name]


def install(site: Path, plugin: str, source: str) -> None:
    """A distribution ``ganaug-<plugin>`` whose entry point ``plugin`` is the module ``source``."""
    module = "guard_" + plugin.replace("-", "_")
    fake_distribution(site, f"ganaug_{module}", "0.1", {plugin: module}, {module: source})


def reason_of(host: object, name: str) -> str:
    failures = {f.name: f.reason for f in host.failures}  # type: ignore[attr-defined]
    assert name in failures, failures
    return failures[name]


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def flat(text: str) -> str:
    return " ".join(text.split())


# --- the host: what is left out, what stays --------------------------------------------------


def test_hook_that_raises_leaves_out_every_component_of_that_plugin(site: Path) -> None:
    install(site, "kaput", RAISES_IN_HOOK)
    install(site, "fine", GOOD)
    host = make_plugin_host(builtins=())
    reason = reason_of(host, "kaput")
    assert "failed in register_evaluators: RuntimeError: kaput" in reason
    assert f"{BLOCK_ENV}=kaput" in reason
    assert "kaput-gen" not in host.registry.names("generators")  # its other hook had succeeded
    assert "kaput" not in {p.name for p in host.loaded}
    assert host.pm.get_plugin("kaput") is None
    assert host.registry.get("loss_weighters", "good-weights").plugin == "fine"


def test_duplicate_of_a_builtin_name_keeps_the_builtin(site: Path) -> None:
    install(site, "dupe", DUPLICATE_BCE)
    host = make_plugin_host(builtins=("ganaug_plugins.losses.plugin",))
    assert host.registry.get("gan_losses", "bce").plugin == "builtin:losses"
    assert "mine-loss" not in host.registry.names("gan_losses")
    reason = reason_of(host, "dupe")
    assert "'bce'" in reason and "'builtin:losses'" in reason


def test_a_plugin_registering_one_name_twice_is_left_out() -> None:
    class Twice:
        @hookimpl
        def register_data_sources(self, register):
            register("twice", object)
            register("twice", object)

    host = make_plugin_host(
        builtins=(), entry_points=False, extra=[("twice", Twice()), ("core", CorePlugin())]
    )
    assert "registers data source 'twice' twice" in reason_of(host, "twice")
    assert host.registry.names("data_sources") == ["numbers"]


def test_system_exit_at_import_is_a_failure_not_an_exit(site: Path) -> None:
    install(site, "quitter", EXITS_AT_IMPORT)
    install(site, "fine", GOOD)
    host = make_plugin_host(builtins=())  # used to end the process with status 0
    assert "SystemExit" in reason_of(host, "quitter")
    assert host.registry.names("loss_weighters") == ["good-weights"]


def test_system_exit_while_registering_is_a_failure() -> None:
    class ExitsWhenListed:
        def __dir__(self) -> list[str]:
            raise SystemExit(3)

    host = make_plugin_host(builtins=(), entry_points=False, extra=[("lister", ExitsWhenListed())])
    assert reason_of(host, "lister").startswith("SystemExit: 3")


def test_module_parsing_argv_at_import_sees_a_neutral_command_line(
    site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install(site, "argv-reader", PARSES_ARGV)
    argv = ["ganaug", "validate", "recipe.toml", "--set", "run.seed=1"]
    monkeypatch.setattr(sys, "argv", list(argv))
    host = make_plugin_host(builtins=())
    assert host.failures == []
    assert host.registry.get("loss_weighters", "argv-weights").plugin == "argv-reader"
    assert sys.argv == argv


def test_module_exiting_on_its_own_argv_parse_is_left_out(
    site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install(site, "needy", NEEDS_ARGV)
    monkeypatch.setattr(sys, "argv", ["ganaug", "plugins"])
    host = make_plugin_host(builtins=())
    assert "SystemExit: 2" in reason_of(host, "needy")
    assert sys.argv == ["ganaug", "plugins"]


def test_unknown_name_mentions_failed_and_blocked_plugins(site: Path) -> None:
    install(site, "kaput", RAISES_IN_HOOK)
    install(site, "fine", GOOD)
    host = make_plugin_host(builtins=(), blocked={"fine"})
    assert host.blocked == ["fine"]
    with pytest.raises(PluginError) as info:
        host.registry.get("generators", "kaput-gen")
    assert "plugins not loaded: kaput, fine" in str(info.value)
    assert "see `ganaug plugins`" in str(info.value)


def test_unknown_name_says_nothing_of_plugins_when_all_loaded() -> None:
    host = make_plugin_host(builtins=(), entry_points=False, extra=[("core", CorePlugin())])
    with pytest.raises(PluginError) as info:
        host.registry.get("generators", "nope")
    assert "not loaded" not in str(info.value)


# --- the command line: other commands keep working -------------------------------------------

BROKEN = {
    "kaput": (RAISES_IN_HOOK, "failed in register_evaluators"),
    "dupe": (DUPLICATE_BCE, "'builtin:losses'"),
    "quitter": (EXITS_AT_IMPORT, "SystemExit"),
}


@pytest.mark.parametrize("plugin", sorted(BROKEN))
def test_commands_work_with_a_broken_plugin_installed(site: Path, plugin: str) -> None:
    source, why = BROKEN[plugin]
    install(site, plugin, source)
    listed = invoke("plugins")
    assert listed.exit_code == 0, listed.output
    assert plugin in listed.stdout and "failed" in listed.stdout
    assert "builtin:losses" in listed.stdout  # the rest is listed as before
    checked = invoke("validate", QUICKSTART)
    assert checked.exit_code == 0, checked.output
    assert "ok" in checked.stdout
    warning = flat(checked.stderr)
    assert f"plugin {plugin!r} not loaded" in warning and why in warning
    assert f"{BLOCK_ENV}={plugin}" in warning


def test_argv_parsing_plugin_does_not_take_over_the_command(
    site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install(site, "argv-reader", PARSES_ARGV)
    monkeypatch.setattr(sys, "argv", ["ganaug", "validate", QUICKSTART])
    checked = invoke("validate", QUICKSTART)
    assert checked.exit_code == 0, checked.output
    assert "usage: argv-plugin" not in checked.output
    listed = invoke("plugins")
    assert "argv-reader" in listed.stdout and "loss_weighters: argv-weights" in flat(listed.stdout)


def test_unknown_name_in_a_recipe_points_at_the_failed_plugin(site: Path) -> None:
    install(site, "kaput", RAISES_IN_HOOK)
    checked = invoke("validate", QUICKSTART, "--set", 'stages[0].generator.name="kaput-gen"')
    assert checked.exit_code != 0
    message = flat(checked.stderr)
    assert "unknown generator 'kaput-gen'" in message
    assert "plugins not loaded: kaput" in message


def test_plugins_lists_blocked_plugins(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    install(site, "fine", GOOD)
    monkeypatch.setenv(BLOCK_ENV, "fine")
    listed = invoke("plugins")
    assert listed.exit_code == 0, listed.output
    assert f"blocked ({BLOCK_ENV})" in listed.stdout
    assert "good-weights" not in listed.stdout


def test_the_same_plugin_passed_again_in_code_is_not_a_failure(site: Path) -> None:
    install(site, "fine", GOOD)
    module = importlib.import_module("guard_fine")  # as `registered(plugin)` does in a CLI test
    host = make_plugin_host(builtins=(), extra=[("guard_fine", module)])
    assert host.failures == []
    assert [p.name for p in host.loaded] == ["fine"]
    assert host.registry.names("loss_weighters") == ["good-weights"]


BRACKETS_IN_REASON = """
from ganaug.api.hookspecs import hookimpl

@hookimpl
def register_generators(register):
    raise RuntimeError("bad [/x] markup [bold]")
"""


def test_a_reason_with_brackets_is_printed_as_text(site: Path) -> None:
    """The warning prints the reason verbatim: rich markup in it neither breaks nor styles it."""
    install(site, "brackets", BRACKETS_IN_REASON)
    result = invoke("validate", QUICKSTART)
    assert result.exit_code == 0, result.output
    assert "bad [/x] markup [bold]" in flat(result.output)
