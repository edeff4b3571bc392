"""The folder data source: decoding of every image mode, layouts, bad input, the decoded cache."""

from __future__ import annotations

import csv
import logging
import os
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import pytest
import torch
from PIL import Image

from ganaug.api.hookspecs import hookimpl
from ganaug.api.selection import ImageSelection
from ganaug.host.loading import make_plugin_host
from ganaug.recipe.convert import make_converter, structure
from ganaug.recipe.load import parse_recipe
from ganaug.runtime.errors import DataError, RecipeError
from ganaug_plugins.data import folder as folder_module
from ganaug_plugins.data.decode import Preprocess, UnreadableImage, decode_image
from ganaug_plugins.data.folder import FolderOptions, FolderSource
from tests.builders_data import data_context, gray_image, noise_image, tree, truncated_jpeg

STRETCH8 = Preprocess(size=8, channels=1, resize="stretch")


def decode(img: Image.Image, path: Path, prep: Preprocess = STRETCH8, **save: Any) -> np.ndarray:
    img.save(path, **save)
    return decode_image(path, prep)


# ---- one image: modes, EXIF, geometry --------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "name", "expected"),
    [
        (lambda: Image.new("L", (16, 12), 100), "l.png", 100),
        (lambda: Image.new("RGB", (16, 12), (255, 0, 0)), "rgb.png", 76),  # ITU-R 601 luma of red
        (lambda: Image.new("RGBA", (16, 12), (255, 255, 255, 0)), "clear.png", 0),  # onto black
        (lambda: Image.new("RGBA", (16, 12), (200, 200, 200, 255)), "opaque.png", 200),
        (lambda: Image.new("LA", (16, 12), (255, 128)), "la.png", 128),
        (lambda: Image.new("CMYK", (16, 12), (0, 0, 0, 0)), "cmyk.tif", 255),
        (lambda: Image.new("CMYK", (16, 12), (0, 0, 0, 255)), "cmyk-black.tif", 0),
        (lambda: Image.new("1", (16, 12), 1), "one.png", 255),
        (lambda: Image.fromarray(np.full((12, 16), 100 * 257, np.uint16)), "i16.png", 100),
        (lambda: Image.fromarray(np.full((12, 16), 40000, np.int32)), "i32.tif", 156),
        (lambda: Image.fromarray(np.full((12, 16), 90, np.int32)), "i8.tif", 90),
    ],
)
def test_every_mode_becomes_8_bit_grayscale_with_the_documented_value(
    tmp_path: Path, make: Any, name: str, expected: int
) -> None:
    out = decode(make(), tmp_path / name)
    assert out.shape == (1, 8, 8) and out.dtype == np.uint8
    assert np.abs(out.astype(int) - expected).max() <= 1


def test_palette_images_use_their_palette_and_transparency(tmp_path: Path) -> None:
    img = Image.new("P", (16, 12), 1)
    img.putpalette([0, 0, 0, 255, 255, 255] + [0] * 762)
    assert decode(img, tmp_path / "p.png").min() == 255
    assert decode(img, tmp_path / "p-clear.png", transparency=1).max() == 0  # transparent -> black


def test_cmyk_jpeg_and_rgb_output(tmp_path: Path) -> None:
    white = decode(Image.new("CMYK", (16, 12), (0, 0, 0, 0)), tmp_path / "c.jpg")
    assert white.min() >= 250
    rgb = decode_image(
        gray_image(tmp_path / "g.png", 77), Preprocess(size=8, channels=3, resize="stretch")
    )  # grayscale asked as RGB: three equal channels
    assert rgb.shape == (3, 8, 8) and (rgb == 77).all()
    red = decode(Image.new("RGB", (16, 12), (255, 0, 0)), tmp_path / "r.png", Preprocess(8, 3, "crop"))
    assert red[:, 0, 0].tolist() == [255, 0, 0]


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    array = np.zeros((20, 40), np.uint8)
    array[:, :20] = 255  # stored: left half white
    exif = Image.Exif()
    exif[0x0112] = 6  # shown rotated 90 degrees clockwise: the left half becomes the top
    out = decode(Image.fromarray(array), tmp_path / "rot.jpg", STRETCH8, exif=exif, quality=95)
    assert out[0, :3].mean() > 200 and out[0, 5:].mean() < 50
    assert abs(float(out[0, :, :4].mean()) - float(out[0, :, 4:].mean())) < 20


def test_crop_pad_and_stretch(tmp_path: Path) -> None:
    bands = np.zeros((20, 60), np.uint8)
    bands[:, :20], bands[:, 20:40] = 255, 128  # white | grey | black
    path = tmp_path / "bands.png"
    Image.fromarray(bands).save(path)
    crop = decode_image(path, Preprocess(8, 1, "crop"))
    assert (np.abs(crop.astype(int) - 128) <= 1).all()  # the centre square is the grey band
    stretch = decode_image(path, Preprocess(9, 1, "stretch"))
    assert stretch[0, :, 0].min() > 240 and stretch[0, :, -1].max() < 15
    pad = decode_image(path, Preprocess(9, 1, "pad"))
    assert (pad[0, :3] == 0).all() and (pad[0, -3:] == 0).all()  # black bars above and below
    assert pad[0, 4, 0] > 240 and abs(int(pad[0, 4, 4]) - 128) <= 2


@pytest.mark.parametrize(
    ("write", "reason"),
    [
        (truncated_jpeg, "truncated"),
        (lambda p: p.write_text("not an image") and p, "not an image file"),
        (lambda p: p.write_bytes(b"") and p, "not an image file"),
    ],
)
def test_unreadable_files_say_why(tmp_path: Path, write: Any, reason: str) -> None:
    path = tmp_path / "bad.jpeg"
    write(path)
    with pytest.raises(UnreadableImage, match=reason):
        decode_image(path, STRETCH8)


# ---- the folder source -------------------------------------------------------------------------

KERMANY = {
    "train": {"NORMAL": 6, "PNEUMONIA": 12},
    "test": {"NORMAL": 3, "PNEUMONIA": 5},
    "val": {"NORMAL": 1, "PNEUMONIA": 1},
}
SMALL_PROTOCOL = {
    "train": {"PNEUMONIA": 13},
    "test": {"PNEUMONIA": 5, "NORMAL": 5},
    "holdout": {"NORMAL": 5},
}


def load(tmp_path: Path, seed: int = 0, **options: Any) -> Any:
    return FolderSource(FolderOptions(**options)).load(data_context(tmp_path, seed))


def test_pooled_layout_deals_the_papers_protocol_from_a_kermany_tree(tmp_path: Path) -> None:
    root = tree(tmp_path / "chest_xray", KERMANY, ext=".jpeg")
    bundle = load(tmp_path, root=root, split=SMALL_PROTOCOL)
    assert bundle.classes == ("NORMAL", "PNEUMONIA")
    assert list(bundle.splits) == ["train", "test", "holdout"]
    for split, wanted in SMALL_PROTOCOL.items():
        images = bundle.splits[split]
        assert images.images.shape[1:] == (1, 64, 64) and images.images.dtype == torch.float32
        assert images.images.min() >= -1.0 and images.images.max() <= 1.0
        for cls, n in wanted.items():
            assert int((images.labels == bundle.classes.index(cls)).sum()) == n
        for ident, label in zip(images.ids, images.labels.tolist(), strict=True):
            assert ident.split("/")[-2] == bundle.classes[label]  # the id is the relative path
            assert (root / ident).is_file()
    every = [i for s in bundle.splits.values() for i in s.ids]
    assert len(every) == len(set(every)) == 28


def test_tree_layout_keeps_the_trees_own_splits(tmp_path: Path) -> None:
    root = tree(tmp_path / "chest_xray", KERMANY)
    source = FolderSource(FolderOptions(root=root, layout="tree", classes=["PNEUMONIA", "NORMAL"]))
    assert source.declared_splits() is None and source.declared_classes() == ["PNEUMONIA", "NORMAL"]
    bundle = source.load(data_context(tmp_path))
    assert bundle.classes == ("PNEUMONIA", "NORMAL")
    assert sorted(bundle.splits) == ["test", "train", "val"]
    for split, per_class in KERMANY.items():
        images = bundle.splits[split]
        assert all(i.startswith(f"{split}/") for i in images.ids)
        for cls, n in per_class.items():
            assert int((images.labels == bundle.classes.index(cls)).sum()) == n


def test_the_split_is_seeded(tmp_path: Path) -> None:
    root = tree(tmp_path / "data", {"all": {"A": 20, "B": 5}})
    options = {"root": root, "split": {"train": {"A": 10, "B": 2}, "test": {"A": "rest"}}, "cache": False}
    first, again = load(tmp_path, 1, **options), load(tmp_path, 1, **options)
    other = load(tmp_path, 2, **options)
    assert first.splits["train"].ids == again.splits["train"].ids
    assert torch.equal(first.splits["train"].images, again.splits["train"].images)
    assert set(first.splits["train"].ids) != set(other.splits["train"].ids)


def test_many_sizes_and_modes_load_in_one_folder(tmp_path: Path) -> None:
    cls = tmp_path / "data" / "X"
    noise_image(cls / "rgb.jpg", 1, (300, 200))
    noise_image(cls / "tall.png", 2, (30, 90), mode="L")
    Image.new("RGBA", (50, 50), (9, 9, 9, 255)).save(cls / "rgba.png")
    Image.new("CMYK", (40, 70), (0, 0, 0, 0)).save(cls / "cmyk.jpg")
    Image.new("1", (33, 17), 1).save(cls / "bits.bmp")
    Image.fromarray(np.full((20, 20), 65535, np.uint16)).save(cls / "deep.png")
    bundle = load(tmp_path, root=tmp_path / "data", split={"all": {"X": "rest"}}, channels=3, image_size=16)
    images = bundle.splits["all"]
    assert images.images.shape == (6, 3, 16, 16)
    assert images.images.min() >= -1 and images.images.max() <= 1


def test_other_files_are_ignored_silently(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    root = tree(tmp_path / "data", {"s": {"A": 3}})
    (root / "s" / "A" / ".DS_Store").write_bytes(b"\0\1junk")
    (root / "s" / "A" / "notes.txt").write_text("hello")
    (root / "s" / "A" / "._img.jpeg").write_bytes(b"\0\5\26\7 apple double")
    (root / "__MACOSX" / "A").mkdir(parents=True)
    (root / "__MACOSX" / "A" / "x.png").write_bytes(b"junk")
    with caplog.at_level(logging.WARNING):
        bundle = load(tmp_path, root=root, split={"all": {"A": "rest"}})
    assert len(bundle.splits["all"]) == 3 and bundle.skipped == ()
    assert not caplog.records


@pytest.mark.parametrize("on_error", ["error", "skip"])
def test_missing_root_and_missing_or_empty_classes(tmp_path: Path, on_error: str) -> None:
    """These are errors in both modes: ``skip`` is about unreadable files, not missing classes."""
    with pytest.raises(DataError, match="does not exist"):
        load(tmp_path, on_error=on_error, root=tmp_path / "nowhere", split={"t": {"A": 1}})
    root = tree(tmp_path / "data", {"train": {"NORMAL": 2, "PNEUMONIA": 2}})
    with pytest.raises(DataError, match=r"class 'COVID': no folder of that name .* found: NORMAL, PNEUMONIA"):
        load(tmp_path, on_error=on_error, root=root, classes=["NORMAL", "COVID"], split={"t": {"NORMAL": 1}})
    (root / "train" / "EMPTY").mkdir()
    with pytest.raises(DataError, match=r"class folder 'EMPTY' is empty"):
        load(tmp_path, on_error=on_error, root=root, split={"t": {"NORMAL": 1}})  # every folder is a class
    with pytest.raises(DataError, match=r"class folder 'EMPTY' is empty"):
        load(tmp_path, on_error=on_error, root=root, classes=["EMPTY"], split={"t": {"EMPTY": 1}})
    bundle = load(
        tmp_path, on_error=on_error, root=root, classes=["NORMAL"], split={"t": {"NORMAL": 1}}
    )  # not asked for
    assert bundle.classes == ("NORMAL",)


def test_asking_for_more_images_than_a_class_has(tmp_path: Path) -> None:
    root = tree(tmp_path / "data", {"train": {"NORMAL": 2}})
    with pytest.raises(DataError, match=r"class 'NORMAL': the split asks for 3 images .* only 2 exist"):
        load(tmp_path, root=root, split={"t": {"NORMAL": 3}})


def bad_tree(tmp_path: Path) -> Path:
    root = tree(tmp_path / "data", {"train": {"A": 4}})
    truncated_jpeg(root / "train" / "A" / "cut.jpg")
    (root / "train" / "A" / "fake.jpeg").write_text("this is text")
    return root


def test_unreadable_files_stop_the_load_by_default(tmp_path: Path) -> None:
    root = bad_tree(tmp_path)
    with pytest.raises(DataError, match=r"cut\.jpg: truncated .* on_error = 'skip'"):
        load(tmp_path, root=root, split={"t": {"A": "rest"}})
    assert not (tmp_path / "report" / "skipped.csv").exists()


def test_on_error_skip_leaves_them_out_and_lists_them(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root = bad_tree(tmp_path)
    with caplog.at_level(logging.WARNING):
        bundle = load(tmp_path, root=root, split={"t": {"A": "rest"}}, on_error="skip")
    assert len(bundle.splits["t"]) == 4
    assert [name for name, _ in bundle.skipped] == ["train/A/cut.jpg", "train/A/fake.jpeg"]
    with open(tmp_path / "report" / "skipped.csv", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["file", "reason"]
    assert rows[1][0] == "train/A/cut.jpg" and "truncated" in rows[1][1]
    assert rows[2][0] == "train/A/fake.jpeg" and "not an image file" in rows[2][1]
    assert any("skipped 2 unreadable" in r.getMessage() for r in caplog.records)


# ---- the decoded cache ---------------------------------------------------------------------------


def failing_decoder(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(path: Path, prep: Preprocess) -> np.ndarray:
        raise AssertionError(f"decoded {path} although the cache should answer")

    monkeypatch.setattr(folder_module, "decode_image", fail)


def counting_decoder(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    calls: list[Path] = []

    def count(path: Path, prep: Preprocess) -> np.ndarray:
        calls.append(path)
        return decode_image(path, prep)

    monkeypatch.setattr(folder_module, "decode_image", count)
    return calls


def test_a_second_load_does_not_decode(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tree(tmp_path / "data", KERMANY)
    options = {"root": root, "split": SMALL_PROTOCOL}
    first = load(tmp_path, **options)
    assert len(list((tmp_path / "cache").rglob("*.npy"))) == 1
    failing_decoder(monkeypatch)
    second = load(tmp_path, **options)
    for split in SMALL_PROTOCOL:
        assert second.splits[split].ids == first.splits[split].ids
        assert torch.equal(second.splits[split].images, first.splits[split].images)


def test_changed_added_or_removed_files_invalidate_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tree(tmp_path / "data", {"s": {"A": 3}})
    options = {"root": root, "split": {"all": {"A": "rest"}}}
    before = load(tmp_path, **options)
    calls = counting_decoder(monkeypatch)
    target = root / "s" / "A" / "A_s_0.png"
    gray_image(target, 255, (20, 16))
    stat = target.stat()
    os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10_000_000_000))
    changed = load(tmp_path, **options)
    assert len(calls) == 3
    row = changed.splits["all"].ids.index("s/A/A_s_0.png")
    assert bool((changed.splits["all"].images[row] == 1.0).all())
    assert not torch.equal(changed.splits["all"].images, before.splits["all"].images)
    gray_image(root / "s" / "A" / "new.png", 10)
    assert len(load(tmp_path, **options).splits["all"]) == 4 and len(calls) == 7
    (root / "s" / "A" / "A_s_1.png").unlink()
    assert len(load(tmp_path, **options).splits["all"]) == 3 and len(calls) == 10
    load(tmp_path, **options, image_size=32)  # other preprocessing, other entry
    assert len(calls) == 13


def test_cache_off_damaged_entries_and_cached_skips(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    root = bad_tree(tmp_path)
    options = {"root": root, "split": {"all": {"A": "rest"}}}
    load(tmp_path, **options, cache=False, on_error="skip")
    assert not (tmp_path / "cache").exists()
    first = load(tmp_path, **options, on_error="skip")
    with pytest.raises(DataError, match=r"cut\.jpg: truncated"):  # the cache remembers the bad file
        load(tmp_path, **options)
    (npy,) = (tmp_path / "cache").rglob("*.npy")
    npy.write_bytes(b"garbage")
    calls = counting_decoder(monkeypatch)
    with caplog.at_level(logging.WARNING):
        again = load(tmp_path, **options, on_error="skip")
    assert any("damaged" in r.getMessage() for r in caplog.records) and len(calls) == 6
    assert torch.equal(again.splits["all"].images, first.splits["all"].images)


def test_decoding_reports_progress(tmp_path: Path) -> None:
    root = tree(tmp_path / "data", {"s": {"A": 3}})
    seen: list[tuple[str, float | None, int]] = []

    class Recorder:
        def task(self, description: str, total: float | None) -> Any:
            counter = {"n": 0}
            seen.append((description, total, 0))

            class Task:
                def advance(self, n: float = 1, **fields: Any) -> None:
                    counter["n"] += 1
                    seen[-1] = (description, total, counter["n"])

            class Manager:
                def __enter__(self) -> Task:
                    return Task()

                def __exit__(self, *exc: object) -> None:
                    return None

            return Manager()

    ctx = attrs.evolve(data_context(tmp_path), progress=Recorder())
    FolderSource(FolderOptions(root=root, split={"a": {"A": 1}})).load(ctx)
    assert seen == [("decode", 3, 3)]


# ---- options and recipes -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("table", "path", "message"),
    [
        ({"root": "x"}, "data.split", "required with layout = 'pooled'"),
        ({"root": "x", "layout": "tree", "split": {"t": {"A": 1}}}, "data.split", "not used with layout"),
        ({"root": "x", "classes": ["A"], "split": {"t": {"B": 1}}}, "data.split", "t.B: unknown class"),
        ({"root": "x", "layout": "tree", "image_size": 2}, "data.image_size", ""),
        ({"root": "x", "layout": "tree", "resize": "zoom"}, "data.resize", "'crop'"),
        ({"root": "x", "layout": "tree", "channels": 2}, "data.channels", ""),
        ({"root": "x", "layout": "tree", "classes": ["A", "A"]}, "data.classes", "distinct"),
        ({"root": "x", "layout": "tree", "on_error": "ignore"}, "data.on_error", "'skip'"),
    ],
)
def test_bad_options_are_located_recipe_problems(table: dict[str, Any], path: str, message: str) -> None:
    options, problems = structure(make_converter(), table, FolderOptions, "data")
    assert options is None
    assert any(p.path == path and message in p.message for p in problems), problems


class PickStage:
    """A do-nothing stage that selects images, to check recipe names against the data."""

    produces = frozenset({"images"})

    def __init__(self, options: Any) -> None:
        self.options = options


@attrs.frozen
class PickOptions:
    select: ImageSelection = attrs.Factory(ImageSelection)


class PickPlugin:
    @hookimpl
    def register_stages(self, register: Any) -> None:
        register("pick", PickStage, options=PickOptions)


RECIPE = """
[data]
source = "folder"
root = "/nowhere/chest_xray"
{classes}
[data.split]
train = {{ PNEUMONIA = 3265 }}
test = {{ PNEUMONIA = 1000, NORMAL = 1000 }}
holdout = {{ NORMAL = 575 }}

[[stages]]
kind = "pick"
select = {{ split = "train", classes = ["PNEUMONA"] }}
"""


def test_recipe_class_names_are_checked_only_when_the_recipe_lists_classes() -> None:
    host = make_plugin_host(
        builtins=("ganaug_plugins.data.plugin",), entry_points=False, extra=[("pick", PickPlugin())]
    )
    with pytest.raises(RecipeError) as err:
        parse_recipe(RECIPE.format(classes='classes = ["NORMAL", "PNEUMONIA"]'), registry=host.registry)
    (problem,) = err.value.problems
    assert problem.path == "stages[0].select.classes[0]" and "NORMAL, PNEUMONIA" in problem.message
    recipe = parse_recipe(RECIPE.format(classes=""), registry=host.registry)  # classes unknown: no check
    assert recipe.data.options.split["holdout"] == {"NORMAL": 575}
    bad_split = RECIPE.format(classes="").replace('split = "train"', 'split = "validation"')
    with pytest.raises(RecipeError, match=r"stages\[0\]\.select\.split: unknown split 'validation'"):
        parse_recipe(bad_split, registry=host.registry)


def test_a_broken_link_is_an_unreadable_file(tmp_path: Path) -> None:
    root = tree(tmp_path / "data", {"s": {"A": 2}})
    (root / "s" / "A" / "gone.png").symlink_to(tmp_path / "nowhere.png")
    with pytest.raises(DataError, match=r"gone\.png: the file is gone"):
        load(tmp_path, root=root, split={"t": {"A": "rest"}})
    bundle = load(tmp_path, root=root, split={"t": {"A": "rest"}}, on_error="skip")
    assert len(bundle.splits["t"]) == 2 and bundle.skipped[0][0] == "s/A/gone.png"


def _refuse(monkeypatch: pytest.MonkeyPatch, folder: Path) -> None:
    """Make ``folder`` unreadable to os.walk, as chmod 000 does for an ordinary user (we run as root)."""
    real = os.scandir

    def scandir(path: Any = ".") -> Any:
        if Path(path) == folder:
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)


def test_an_unreadable_folder_stops_the_load_or_is_left_out_with_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    root = tree(tmp_path / "data", {"train": {"NORMAL": 3, "PNEUMONIA": 3}, "test": {"NORMAL": 2}})
    _refuse(monkeypatch, root / "train" / "NORMAL")
    with pytest.raises(DataError, match=r"cannot read 1 folder\(s\).*train/NORMAL \(Permission denied\)"):
        load(tmp_path, root=root, split={"all": {"*": "rest"}})
    with caplog.at_level(logging.WARNING):
        bundle = load(tmp_path, root=root, split={"all": {"*": "rest"}}, on_error="skip")
    assert "left out 1 unreadable folder(s)" in caplog.text
    assert sorted(bundle.splits["all"].ids)[0] == "test/NORMAL/NORMAL_test_0.png"
    assert len(bundle.splits["all"]) == 5


def test_a_linked_class_folder_keeps_the_class_of_what_it_links_to(tmp_path: Path) -> None:
    root = tree(tmp_path / "data", {"train": {"NORMAL": 3}, "val": {"PNEUMONIA": 2}})
    (root / "extra").mkdir()
    (root / "extra" / "PNEU_alias").symlink_to(root / "val" / "PNEUMONIA", target_is_directory=True)
    bundle = load(tmp_path, root=root, split={"all": {"*": "rest"}})
    assert bundle.classes == ("NORMAL", "PNEUMONIA")
    assert len(bundle.splits["all"]) == 5  # the linked folder's images counted once
    named = load(tmp_path, root=root, classes=["PNEUMONIA"], split={"all": {"*": "rest"}})
    assert len(named.splits["all"]) == 2


def test_an_edit_that_keeps_size_and_mtime_still_invalidates_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cache is keyed on each file's bytes: a resume can no longer be fooled into old pixels."""
    root = tree(tmp_path / "data", {"s": {"A": 3}})
    options = {"root": root, "split": {"all": {"A": "rest"}}}
    target = root / "s" / "A" / "A_s_0.png"
    before = load(tmp_path, **options)
    stat, size = target.stat(), target.stat().st_size
    data = bytearray(target.read_bytes())
    gray_image(target, 255)  # other pixels ...
    edited = target.read_bytes()
    target.write_bytes(edited[:size] if len(edited) >= size else edited + data[len(edited) : size])
    os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # ... same size, same mtime
    assert target.stat().st_size == size and target.stat().st_mtime_ns == stat.st_mtime_ns
    calls = counting_decoder(monkeypatch)
    after = load(tmp_path, **options, on_error="skip")
    assert calls  # decoded again, not answered from the cache
    assert not torch.equal(after.splits["all"].images, before.splits["all"].images) or len(
        after.splits["all"]
    ) != len(before.splits["all"])
