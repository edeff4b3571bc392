"""One image decoder (``ganaug.kit.images``): the folder source and the generic reader turn the same
file into the same tensor, a bad file is the one ``UnreadableImage`` with a reason, and no second
decoder or error class is left in the built-in data sources."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

import ganaug.kit as kit_package
import ganaug_plugins.data as data_package
from ganaug.api.preprocessing import Preprocessing
from ganaug.kit import images as kit
from ganaug.runtime.errors import DataError
from ganaug_plugins.data import decode, folder, reading
from ganaug_plugins.data.folder import FolderOptions, FolderSource
from tests.builders_data import data_context, truncated_jpeg

RULES = ("crop", "pad", "stretch")


def _images() -> dict[str, Image.Image | tuple[Image.Image, dict[str, Any]]]:
    """Files of several modes and shapes (wide, tall, square, large), by file name."""
    rng = np.random.default_rng(3)
    palette = Image.fromarray((rng.integers(0, 8, (21, 27)) * 30).astype(np.uint8)).convert("P")
    exif = Image.Exif()
    exif[0x0112] = 6  # shown rotated 90 degrees clockwise
    y, x = np.mgrid[0:300, 0:420]
    smooth = (127 + 127 * np.sin(x / 9.0) * np.cos(y / 13.0)).astype(np.uint8)
    return {
        "gray-wide.png": Image.fromarray(rng.integers(0, 256, (18, 30), dtype=np.uint8)),
        "rgb-tall.png": Image.fromarray(rng.integers(0, 256, (33, 20, 3), dtype=np.uint8)),
        "rgba.png": Image.fromarray(rng.integers(0, 256, (24, 31, 4), dtype=np.uint8), "RGBA"),
        "palette.png": (palette, {"transparency": 60}),
        "gray16.png": Image.fromarray(rng.integers(0, 65536, (26, 19), dtype=np.uint16)),
        "float.tif": Image.fromarray(rng.random((17, 23)).astype(np.float32)),
        "rotated.jpg": (Image.fromarray(np.stack([smooth, 255 - smooth, smooth // 2], -1)), {"exif": exif}),
        "square.bmp": Image.fromarray(rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)),
    }


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """The images as a folder tree ``root/A/*``, the paths sorted as the source lists them."""
    root = tmp_path_factory.mktemp("one-decoder") / "A"
    root.mkdir()
    for name, item in _images().items():
        img, save = item if isinstance(item, tuple) else (item, {})
        img.save(root / name, **save)
    return sorted(root.iterdir())


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("rule", RULES)
def test_the_folder_source_and_the_generic_reader_agree(
    files: list[Path], tmp_path: Path, rule: str, channels: int
) -> None:
    options = FolderOptions(
        root=files[0].parent.parent,
        split={"train": {"A": "rest"}},
        image_size=16,
        channels=channels,  # type: ignore[arg-type]
        resize=rule,  # type: ignore[arg-type]
        cache=False,
    )
    source = FolderSource(options)
    loaded = source.load(data_context(tmp_path)).splits["train"]
    by_id = {ident: loaded.images[i] for i, ident in enumerate(loaded.ids)}
    described = source.preprocessing()  # what a run records; the generic reader reads by it
    plain = Preprocessing(size=16, channels=channels, resize=rule)
    assert len(by_id) == len(files)
    for path in files:
        generic = kit.read_image(path, described)
        assert generic.dtype == torch.float32 and generic.shape == (channels, 16, 16)
        assert torch.equal(generic, by_id[f"A/{path.name}"]), path.name
        assert torch.equal(generic, source.read_image(path)), path.name
        assert torch.equal(generic, kit.read_image(path, plain)), path.name


def test_other_value_ranges_map_the_same_8_bit_values(files: list[Path]) -> None:
    prep = Preprocessing(size=8, channels=1, resize="crop", value_range=(0.0, 1.0))
    array = kit.decode_image(files[0], prep)
    assert torch.allclose(kit.read_image(files[0], prep), torch.from_numpy(array / 255.0).float())


def test_the_generic_reader_follows_the_sources_bit_depth_rules(tmp_path: Path) -> None:
    """Up to 0.2.0 the generic reader clipped 16-bit and float values to 0..255; now it scales them."""
    Image.fromarray(np.full((12, 12), 100 * 257, np.uint16)).save(tmp_path / "i16.png")
    Image.fromarray(np.full((12, 12), 0.5, np.float32)).save(tmp_path / "half.tif")
    prep = Preprocessing(size=8, channels=1, resize="stretch")
    assert (kit.decode_image(tmp_path / "i16.png", prep) == 100).all()
    assert (kit.decode_image(tmp_path / "half.tif", prep) == 128).all()


def _bad(tmp_path: Path, kind: str) -> Path:
    path = tmp_path / f"{kind}.png"
    if kind == "corrupt":
        path.write_text("not an image")
    elif kind == "truncated":
        path = truncated_jpeg(tmp_path / "truncated.jpg")
    elif kind == "folder":
        path.mkdir()
    elif kind == "dangling":
        path.symlink_to(tmp_path / "nowhere.png")
    elif kind == "nan":
        path = tmp_path / "nan.tif"
        Image.fromarray(np.full((8, 8), np.nan, np.float32)).save(path)
    return path  # "missing": never written


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("corrupt", "not an image file Pillow can read"),
        ("truncated", "truncated or corrupt image data"),
        ("missing", "the file is gone"),
        ("dangling", "the file is gone"),
        ("folder", "a folder, not an image file"),
        ("nan", "NaN or infinite pixel values"),
    ],
)
def test_a_bad_file_is_the_one_unreadable_image_with_a_reason(tmp_path: Path, kind: str, reason: str) -> None:
    path = _bad(tmp_path, kind)
    prep = Preprocessing(size=8, channels=1, resize="crop")
    source = FolderSource(FolderOptions(root=tmp_path, split={"train": {"A": "rest"}}, image_size=8))
    for read in (lambda: kit.read_image(path, prep), lambda: source.read_image(path)):
        with pytest.raises(kit.UnreadableImage) as caught:
            read()
        assert isinstance(caught.value, DataError)
        assert reason in caught.value.reason and caught.value.path == str(path)
        assert str(caught.value) == f"{path}: {caught.value.reason}"


def _modules(package: Any) -> list[Any]:
    names = [m.name for m in pkgutil.walk_packages(package.__path__, f"{package.__name__}.")]
    return [importlib.import_module(name) for name in names]


def test_there_is_one_unreadable_image_class_and_one_decoder() -> None:
    classes = {
        obj
        for module in [*_modules(data_package), *_modules(kit_package)]
        for name, obj in vars(module).items()
        if inspect.isclass(obj) and name == "UnreadableImage"
    }
    assert classes == {kit.UnreadableImage}
    assert decode.UnreadableImage is kit.UnreadableImage and folder.UnreadableImage is kit.UnreadableImage
    assert decode.decode_image is kit.decode_image and folder.decode_image is kit.decode_image
    assert reading.RULES == kit.RULES and tuple(decode.DEFAULT_EXTENSIONS) == kit.IMAGE_EXTENSIONS
    opening = {
        f"{module.__name__}.{name}"
        for module in _modules(data_package)
        for name, obj in vars(module).items()
        if inspect.isfunction(obj) and obj.__module__ == module.__name__
        if "Image.open" in inspect.getsource(obj)
    }
    assert opening == set()  # no data source opens image files with its own code
