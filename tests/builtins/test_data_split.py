"""The split protocol: exact counts, no overlap, seeded and class-independent dealing."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from ganaug.runtime.errors import DataError
from ganaug.runtime.seeds import numpy_rng
from ganaug_plugins.data.split import deal, interleave, split_problems, split_sizes

PAPER_SPLIT = {
    "train": {"PNEUMONIA": 3265},
    "test": {"PNEUMONIA": 1000, "NORMAL": 1000},
    "holdout": {"NORMAL": 575},
}


def members(sizes: dict[str, int]) -> dict[str, list[str]]:
    return {cls: [f"{cls}/{i:04d}.png" for i in range(n)] for cls, n in sizes.items()}


def test_the_papers_chest_xray_protocol_is_expressible() -> None:
    out = deal(members({"NORMAL": 1575, "PNEUMONIA": 4265}), PAPER_SPLIT, seed=0)
    assert {split: {c: len(ids) for c, ids in parts.items()} for split, parts in out.items()} == {
        "train": {"PNEUMONIA": 3265},
        "test": {"PNEUMONIA": 1000, "NORMAL": 1000},
        "holdout": {"NORMAL": 575},
    }
    assert not set(out["test"]["NORMAL"]) & set(out["holdout"]["NORMAL"])  # held-out never in test
    assert not set(out["train"]["PNEUMONIA"]) & set(out["test"]["PNEUMONIA"])


def test_asking_for_more_images_than_exist_names_the_class_and_both_numbers() -> None:
    with pytest.raises(DataError) as err:
        deal(members({"NORMAL": 1500, "PNEUMONIA": 4265}), PAPER_SPLIT, seed=0)
    text = str(err.value)
    assert "'NORMAL'" in text and "1,575" in text and "1,500" in text


def test_a_split_naming_a_class_the_data_lacks_lists_the_classes() -> None:
    with pytest.raises(DataError, match=r"'CAT'.*classes: A, B"):
        deal(members({"A": 3, "B": 3}), {"train": {"CAT": 1}}, seed=0)


def test_rest_takes_what_the_other_splits_leave_wherever_it_stands() -> None:
    out = deal(members({"A": 10}), {"train": {"A": "rest"}, "test": {"A": 3}}, seed=1)
    assert len(out["train"]["A"]) == 7 and len(out["test"]["A"]) == 3


def test_fractions_round_down_and_the_wildcard_covers_unnamed_classes() -> None:
    assert split_sizes({"train": {"*": 0.5}, "test": {"*": "rest"}}, "A", 7) == {"train": 3, "test": 4}
    out = deal(members({"A": 4, "B": 6}), {"train": {"*": 1.0}}, seed=0)
    assert {c: len(v) for c, v in out["train"].items()} == {"A": 4, "B": 6}


def test_classes_no_split_names_are_left_out() -> None:
    out = deal(members({"A": 4, "B": 6}), {"train": {"A": 2}}, seed=0)
    assert list(out["train"]) == ["A"]


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        ({"train": {"A": True}}, "train.A: expected a count"),
        ({"train": {"A": -1}}, "train.A: a count must be >= 0"),
        ({"train": {"A": 0.0}}, "train.A: a fraction must be in (0, 1]"),
        ({"train": {"A": 1.5}}, "train.A: a fraction must be in (0, 1]"),
        ({"train": {"A": "all"}}, "train.A: expected a count (integer)"),
        ({"train": {"A": "rest"}, "test": {"A": "rest"}}, "'rest' in more than one split (train, test)"),
        ({"train": {"A": 0.7}, "test": {"A": 0.5}}, "fractions add up to 1.2"),
        ({"train": {}}, "train: expected a table"),
        ({"train": 5}, "train: expected a table"),
        ({}, "expected a table of split"),
    ],
)
def test_split_tables_are_checked_before_any_data_is_read(table: Any, expected: str) -> None:
    problems = split_problems(table)
    assert any(expected in p for p in problems), problems


def test_known_classes_are_checked_and_listed() -> None:
    problems = split_problems({"train": {"NORMAL": 3, "PNEUMONA": 2, "*": 1}}, ["NORMAL", "PNEUMONIA"])
    assert problems == ["train.PNEUMONA: unknown class; the data has: NORMAL, PNEUMONIA"]


def test_the_class_generator_depends_only_on_seed_and_name() -> None:
    assert numpy_rng(3, "class", "A").random() == numpy_rng(3, "class", "A").random()
    assert numpy_rng(3, "class", "A").random() != numpy_rng(4, "class", "A").random()
    assert numpy_rng(3, "class", "A").random() != numpy_rng(3, "class", "B").random()


def test_interleave_mixes_classes_but_keeps_each_class_order_whatever_else_is_there() -> None:
    a, b = [f"a{i}" for i in range(30)], [f"b{i}" for i in range(30)]
    mixed = interleave({"A": a, "B": b}, seed=5, split="train")
    alone = interleave({"A": a}, seed=5, split="train")
    assert [i for c, i in mixed if c == "A"] == a == [i for _, i in alone]
    assert [c for c, _ in mixed[:30]] != ["A"] * 30  # classes are mixed, not one block after the other
    assert sorted(i for _, i in mixed) == sorted(a + b)


# ---- properties over user-written split tables --------------------------------------------------

CLASSES = ["A", "B", "C", "D"]
SPLITS = ["train", "test", "holdout"]
value = st.one_of(st.integers(0, 12), st.floats(0.05, 1.0), st.just("rest"))


@st.composite
def case(draw: st.DrawFn) -> tuple[dict[str, int], dict[str, dict[str, Any]]]:
    names = draw(st.lists(st.sampled_from(CLASSES), min_size=1, max_size=4, unique=True))
    sizes = {c: draw(st.integers(0, 25)) for c in names}
    splits = draw(st.lists(st.sampled_from(SPLITS), min_size=1, max_size=3, unique=True))
    per_class = st.dictionaries(st.sampled_from(names), value, min_size=1, max_size=len(names))
    table = {s: draw(per_class) for s in splits}
    assume(not split_problems(table))
    return sizes, table


def expected_sizes(table: dict[str, dict[str, Any]], cls: str, n: int) -> dict[str, int] | None:
    """What each split should get, computed from the documented rules (None: too many asked)."""
    fixed = {
        s: (v if isinstance(v, int) else math.floor(v * n + 1e-9))
        for s, t in table.items()
        if (v := t.get(cls)) is not None and v != "rest"
    }
    if sum(fixed.values()) > n:
        return None
    rest = [s for s, t in table.items() if t.get(cls) == "rest"]
    return {**fixed, **{s: n - sum(fixed.values()) for s in rest}}


@settings(max_examples=150, deadline=None)
@given(case(), st.integers(0, 2**40))
def test_dealing_is_exact_disjoint_and_deterministic(drawn: Any, seed: int) -> None:
    sizes, table = drawn
    data = members(sizes)
    wanted = {c: expected_sizes(table, c, n) for c, n in sizes.items()}
    if any(w is None for w in wanted.values()):
        with pytest.raises(DataError, match="only"):
            deal(data, table, seed)
        return
    out = deal(data, table, seed)
    assert out == deal(data, table, seed)  # same seed, same answer
    dealt = [i for parts in out.values() for ids in parts.values() for i in ids]
    assert len(dealt) == len(set(dealt))  # no image in two splits
    for cls, per_split in wanted.items():
        assert per_split is not None
        for split, n in per_split.items():
            got = out[split][cls]
            assert len(got) == n
            assert all(i.startswith(f"{cls}/") for i in got)


@settings(max_examples=100, deadline=None)
@given(case(), st.integers(0, 2**40))
def test_adding_a_class_never_reshuffles_another(drawn: Any, seed: int) -> None:
    sizes, table = drawn
    assume(all(expected_sizes(table, c, n) is not None for c, n in sizes.items()))
    extra = next(c for c in [*CLASSES, "E"] if c not in sizes)
    bigger_table = {s: {**t, extra: 1} for s, t in table.items()}
    before = deal(members(sizes), table, seed)
    after = deal(members({**sizes, extra: 5}), bigger_table, seed)
    for split, parts in before.items():
        for cls, ids in parts.items():
            assert after[split][cls] == ids


@settings(max_examples=50, deadline=None)
@given(st.integers(20, 60), st.integers(0, 2**40))
def test_the_seed_changes_the_shuffle(n: int, seed: int) -> None:
    data = members({"A": n})  # 20! orders: two seeds agreeing by chance is out of reach
    table = {"train": {"A": "rest"}}
    assert deal(data, table, seed)["train"]["A"] != deal(data, table, seed + 1)["train"]["A"]
