"""Search in saved groups: a killed search resumes with only the missing groups, same results."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from ganaug.kit.search import resumable_search
from ganaug.runtime.distributed import World
from ganaug.testing.toys import SIZE, ConvDiscriminator, SubspaceGenerator
from ganaug_plugins.searchers.backprop import BackpropOptions, BackpropSearcher


class Counting(BackpropSearcher):
    """Counts searched images; raises (like a kill) once ``fail_after`` calls have been made."""

    def __init__(self, fail_after: int | None = None) -> None:
        super().__init__(BackpropOptions(steps=5, chunk_size=2))
        self.images = 0
        self.calls = 0
        self.fail_after = fail_after

    def search(self, generator, discriminator, queries, *, seed, progress=None, z_init=None):  # type: ignore[no-untyped-def]
        if self.fail_after is not None and self.calls >= self.fail_after:
            raise KeyboardInterrupt
        self.calls += 1
        self.images += int(queries.shape[0])
        return super().search(generator, discriminator, queries, seed=seed, progress=progress, z_init=z_init)


def run(searcher: Counting, store: Path):  # type: ignore[no-untyped-def]
    queries = torch.rand(10, 1, SIZE, SIZE, generator=torch.Generator().manual_seed(3)) * 2 - 1
    return resumable_search(
        searcher, World(), SubspaceGenerator(), ConvDiscriminator(), queries, seed=7, store=store, group=4
    )


def test_interrupted_search_resumes_with_the_missing_groups_only(tmp_path: Path) -> None:
    whole = run(Counting(), tmp_path / "a")
    assert not (tmp_path / "a").exists()  # partial results removed once the search is whole
    with pytest.raises(KeyboardInterrupt):
        run(Counting(fail_after=2), tmp_path / "b")
    assert len(list((tmp_path / "b").glob("*.safetensors"))) == 2
    resumed_searcher = Counting()
    resumed = run(resumed_searcher, tmp_path / "b")
    assert resumed_searcher.images == 2  # only the last group (images 8-9) searched again
    for name in ("z", "generated", "score", "initial_score", "loss_history"):
        assert torch.equal(getattr(resumed, name), getattr(whole, name)), name


def test_foreign_or_corrupt_group_files_are_searched_again(tmp_path: Path) -> None:
    whole = run(Counting(), tmp_path / "a")
    with pytest.raises(KeyboardInterrupt):
        run(Counting(fail_after=2), tmp_path / "b")
    first = sorted((tmp_path / "b").glob("*.safetensors"))[0]
    first.write_bytes(b"not a safetensors file")
    searcher = Counting()
    again = run(searcher, tmp_path / "b")
    assert searcher.images == 6  # the corrupt group and the missing one
    assert torch.equal(again.score, whole.score)


def test_grouped_search_matches_a_plain_search(tmp_path: Path) -> None:
    searcher = Counting()
    grouped = run(searcher, tmp_path / "s")
    queries = torch.rand(10, 1, SIZE, SIZE, generator=torch.Generator().manual_seed(3)) * 2 - 1
    plain = BackpropSearcher(BackpropOptions(steps=5, chunk_size=2)).search(
        SubspaceGenerator(), ConvDiscriminator(), queries, seed=7
    )
    assert searcher.calls == 3
    assert torch.allclose(grouped.score, plain.score, atol=1e-5)
    assert torch.equal(grouped.z_initial, plain.z_initial)
