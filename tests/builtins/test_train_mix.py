"""A fixed share of augmented images per batch (the train stage's ``added_share``)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from ganaug.host.loading import make_plugin_host
from ganaug.kit.training.epochs import Mix
from ganaug.recipe.load import parse_recipe
from ganaug.runner.engine import run_recipe
from ganaug.runtime.errors import DataError
from ganaug.testing import tiny_recipe

BATCH = 8


@given(
    real=st.integers(min_value=8, max_value=60),
    added=st.integers(min_value=1, max_value=40),
    share=st.floats(min_value=0.07, max_value=0.93),
    seed=st.integers(min_value=0, max_value=2**31 - 1),
)
def test_every_batch_holds_the_share_and_every_real_image_comes_once(
    real: int, added: int, share: float, seed: int
) -> None:
    mix = Mix.of("t", real, real + added, share, BATCH)
    steps = mix.steps("t", BATCH, drop_last=True)
    order = mix.order(real + added, steps, BATCH, torch.Generator().manual_seed(seed))
    assert len(order) == steps * BATCH
    for batch in order.view(steps, BATCH):
        assert int((batch >= real).sum()) == mix.added_per_batch == round(share * BATCH)
    seen = order[order < real].tolist()
    assert len(seen) == len(set(seen)) == steps * (BATCH - mix.added_per_batch)  # no real image twice
    assert int(order.max()) < real + added


def test_added_images_are_all_drawn_before_any_repeats() -> None:
    mix = Mix.of("t", 40, 46, 0.5, BATCH)
    order = mix.order(46, mix.steps("t", BATCH, drop_last=True), BATCH, torch.Generator().manual_seed(1))
    added = order[order >= 40].tolist()
    assert sorted(added[:6]) == list(range(40, 46))


def test_a_share_that_leaves_a_batch_without_either_kind_is_refused() -> None:
    with pytest.raises(DataError, match="at least one added and one real"):
        Mix.of("t", 20, 30, 0.02, BATCH)
    with pytest.raises(DataError, match="brings no images"):
        Mix.of("t", 20, 20, 0.5, BATCH)


#: 24 transformed 3s added to 16 real 8s, a quarter of every batch of 8 (16 real images: 2 steps an epoch).
MIXED = tiny_recipe(
    {
        "kind": "transform",
        "name": "aug",
        "label": "8",
        "queries": [{"split": "holdout", "classes": ["3"]}],
        "count": 24,
    },
    {
        "kind": "train",
        "name": "mixed",
        "data": {"split": "train", "classes": ["8"], "add": ["aug"]},
        "generator": {"name": "dcgan", "latent_dim": 8, "width": 8},
        "discriminator": {"name": "dcgan", "width": 8},
        "loss": {"name": "bce"},
        "weighter": {"name": "none"},
        "epochs": 2,
        "batch_size": 8,
        "added_share": 0.25,
        "checkpoint_every": 2,
        "sample_every": 2,
        "samples": 4,
    },
    data={
        "source": "mnist-5k",
        "classes": ["8", "3"],
        "image_size": 16,
        "split": {"train": {"8": 16}, "holdout": {"3": 8}},
    },
    run={"name": "mix", "seed": 3},
)


def test_the_train_stage_takes_an_epoch_over_the_real_images(tmp_path: Path) -> None:
    host = make_plugin_host(entry_points=False)
    result = run_recipe(parse_recipe(MIXED, registry=host.registry), out=tmp_path / "run", host=host)
    rows = (result.run_dir / "mixed" / "losses.csv").read_text().splitlines()[1:]
    # 16 real images at 6 real per batch of 8: 2 steps an epoch (the 24 added would make it 5)
    assert len(rows) == 2 * 2
    assert [row.split(",")[1] for row in rows] == ["1", "2", "3", "4"]  # the step column
