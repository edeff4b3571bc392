"""The 0.1 import paths third-party plugins use keep working for a release, each with a
DeprecationWarning naming the new path (ganaug/_compat.py)."""

from __future__ import annotations

import importlib
import sys
import warnings

import pytest

from ganaug import _compat


def _fresh_import(name: str) -> object:
    sys.modules.pop(name, None)
    return importlib.import_module(name)


@pytest.mark.parametrize("old", sorted(_compat.MOVED))
def test_every_old_path_imports_with_a_warning_naming_the_new_one(old: str) -> None:
    with pytest.warns(DeprecationWarning) as caught:
        module = _fresh_import(old)
    message = str(caught[0].message)
    assert all(new in message for new in _compat.MOVED[old])
    for new in _compat.MOVED[old]:
        target = importlib.import_module(new)
        public = [n for n in vars(target) if not n.startswith("_")]
        assert all(getattr(module, n) is getattr(target, n) for n in public[:20])


def test_names_are_the_same_objects_so_isinstance_holds() -> None:
    from ganaug.api.records import ImageSpec

    with pytest.warns(DeprecationWarning):
        old = _fresh_import("ganaug.interfaces")
    assert old.ImageSpec is ImageSpec  # type: ignore[attr-defined]
    assert isinstance(old.ImageSpec(), ImageSpec)  # type: ignore[attr-defined]


def test_a_submodule_of_a_moved_package_follows_it() -> None:
    from ganaug.kit.search.sharded import sharded_search

    with pytest.warns(DeprecationWarning, match="ganaug.kit.search.sharded"):
        old = _fresh_import("ganaug.search.sharded")
    assert old.sharded_search is sharded_search  # type: ignore[attr-defined]


def test_the_real_modules_keep_their_own_names() -> None:
    """An alias forwards to the new module; it never renames it (pickles, loggers, reprs)."""
    with pytest.warns(DeprecationWarning):
        _fresh_import("ganaug.io")
    from ganaug.runtime import io

    assert io.__name__ == "ganaug.runtime.io" and io.__spec__.name == "ganaug.runtime.io"


def test_the_option_helpers_still_import_from_the_recipe_schema() -> None:
    """``from ganaug.recipe.schema import component, option`` (0.1) is the same function."""
    from ganaug.api import options
    from ganaug.recipe import schema

    assert schema.component is options.component and schema.option is options.option


def test_new_paths_import_without_any_warning() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for name in ("ganaug.api.interfaces", "ganaug.kit.training.trainer", "ganaug.runner.engine"):
            importlib.import_module(name)


def test_an_unknown_old_name_is_still_an_import_error() -> None:
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("ganaug.no_such_module")
