"""The engine's vectorised helpers: lookups by hashing, category codes over id columns, label picking."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from include.company_sync.engine._util import (
    concat_cat,
    const_cat,
    lookup,
    lookup_many,
    map_values,
    shared_codes,
    take_cat,
)
from include.company_sync.engine._util import pick_labels as _pick
from include.company_sync.engine._util import stack_positions as _stack_positions
from include.company_sync.runtime import lean_memory_for_planning


def S(*values) -> pd.Series:
    return pd.Series(list(values), dtype="str")


@pytest.mark.parametrize(
    "keys, queries, expected",
    [
        (S("a", "b", "c"), S("c", "a", "z"), [2, 0, -1]),
        (S("a", "b", "a"), S("a"), [0]),  # duplicate keys: the first occurrence
        (S("a", None), S(None, "a"), [-1, 0]),  # NA never matches
        (S(), S("a"), [-1]),
        (S("a"), S(), []),
        (pd.Series([1, 2, 3]), S("2", "3"), [1, 2]),  # non-string keys compare as strings
    ],
)
def test_lookup_and_lookup_many_agree(keys, queries, expected):
    assert lookup(keys, queries).tolist() == expected
    _, (many,) = lookup_many(keys, queries)
    assert many.tolist() == expected


@pytest.mark.parametrize(
    "keys, distinct",
    [(S("a", "b", "c"), True), (S("a", "b", "a"), False), (S("a", None), False), (S(), True)],
)
def test_lookup_many_tells_whether_keys_are_distinct(keys, distinct):
    got, positions = lookup_many(keys, S("a"), S("b"))
    assert got is distinct and len(positions) == 2


def test_shared_codes_equal_values_equal_codes():
    a, b = shared_codes(S("x", None, "y"), S("y", "x", "w"))
    assert a[0] == b[1] and a[2] == b[0] and a[1] == -1 and len({a[0], a[2], b[2]}) == 3


def test_take_cat_over_the_id_column_copies_no_string():
    ids = S("001", "002", "003")
    cats = pd.Index(ids)
    got = take_cat(ids, np.array([2, -1, 0, 2]), cats)
    assert got.tolist()[0] == "003" and pd.isna(got.tolist()[1]) and got.tolist()[2:] == ["001", "003"]
    assert got.cat.categories is cats  # the input column itself
    both = concat_cat([got, take_cat(ids, np.array([1]), cats)])
    assert both.cat.categories is cats and both.astype(str).tolist()[-1] == "002"


def test_take_cat_without_categories_and_with_duplicate_ids():
    assert take_cat(S("a", "b"), np.array([1, 1])).cat.categories.tolist() == ["b"]
    assert take_cat(S("a", "a"), np.array([0, 1])).tolist() == ["a", "a"]


def test_concat_cat_merges_different_categories():
    got = concat_cat([const_cat("Name", 2), S("Phone", None), const_cat("Name", 1)])
    assert got.astype(str).tolist()[:2] == ["Name", "Name"] and got.tolist()[2] == "Phone"
    assert pd.isna(got.tolist()[3]) and sorted(got.cat.categories) == ["Name", "Phone"]


def test_map_values_maps_distinct_values_and_keeps_na():
    got = map_values(S("x", "y", None, "x"), {"x": "X", "y": None})
    assert got.tolist()[0] == "X" and got.tolist()[3] == "X" and got.isna().tolist() == [False, True, True, False]


def test_pick_returns_references_to_the_labels():
    labels = ["R5a_auto_created_company", "R6a_no_contacts"]
    got = _pick([np.array([True, False, False]), np.array([True, True, False])], labels, "none")
    assert got.tolist() == ["R5a_auto_created_company", "R6a_no_contacts", "none"]
    assert got[0] is labels[0]  # one object for every row, not a string each
    assert _pick([], [], "x", 3).tolist() == ["x", "x", "x"]


def test_stack_positions_fills_na_runs():
    assert _stack_positions(np.array([4, 5]), -2, np.array([7])).tolist() == [4, 5, -1, -1, 7]


def test_lean_memory_for_planning_says_what_it_applied():
    applied = lean_memory_for_planning()
    assert applied.startswith("arrow pool ")
    import pyarrow as pa

    assert pa.default_memory_pool().backend_name in applied


def test_private_pandas_fastpath_is_still_there_and_used(monkeypatch):
    """``CategoricalDtype._from_fastpath`` is private pandas API, used in one place
    (``unchecked_categorical_dtype``): this fails when a pandas upgrade removes it, instead of the engine
    quietly falling back to the public constructor (correct, but 90 MB more per million ids)."""
    from include.company_sync.engine import _util

    assert callable(getattr(pd.CategoricalDtype, "_from_fastpath", None)), "pandas removed _from_fastpath"
    real, calls = pd.CategoricalDtype._from_fastpath, []

    def spy(categories, ordered):
        calls.append(len(categories))
        return real(categories, ordered)

    monkeypatch.setattr(pd.CategoricalDtype, "_from_fastpath", spy)
    n = _util.FASTPATH_MIN_CATEGORIES
    ids = S(*(f"id{i}" for i in range(n)))
    got = take_cat(ids, np.array([n - 1, 0]), pd.Index(ids))
    assert calls == [n] and got.tolist() == [f"id{n - 1}", "id0"]
    with pytest.raises(ValueError, match="unique"):  # unverified categories are still checked (in arrow)
        _util.cat_from_codes(np.array([0]), pd.Index(S(*(["dup"] * n))))
