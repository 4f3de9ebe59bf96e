"""Small vectorised helpers shared by the engine modules (positions instead of string joins)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

STR = "str"
CAT = "category"  # dictionary-encoded output columns with few distinct values (fields, reasons, messages)


def from_arrow(arr) -> pd.Series:
    """An arrow string array -> a ``str`` Series (no Python string objects on the way)."""
    return pd.Series(pd.array(arr, dtype=STR))


def const_str(value: str | None, n: int) -> pd.Series:
    """``n`` copies of one string (or NA) as ``str``, built in arrow: far cheaper than an object array."""
    if value is None:
        return from_arrow(pa.nulls(n, pa.large_string()))
    return from_arrow(pa.array([value], pa.large_string()).take(np.zeros(n, dtype=np.int32)))


def to_arrow(s: pd.Series):
    """The arrow (large_)string array behind a ``str`` Series (zero-copy when already arrow-backed)."""
    return pa.array(s.array) if s.dtype == STR else pa.array(as_str(s).array)


def take(s: pd.Series, idx: np.ndarray) -> pd.Series:
    """``s`` at positions ``idx`` (-1 -> NA) as ``str``, through arrow (no Python string objects)."""
    idx = np.asarray(idx, dtype=np.int64)
    return from_arrow(to_arrow(s).take(pa.array(idx, mask=idx < 0)))


def as_str(s: pd.Series | None, n: int | None = None) -> pd.Series:
    """A Series as the ``str`` dtype with a fresh RangeIndex; blank strings stay as they are."""
    if s is None:
        return const_str(None, n or 0)
    if s.dtype == STR:
        return s.reset_index(drop=True)
    if isinstance(s.dtype, pd.CategoricalDtype):  # decode through the (small) categories, not per row
        return pd.Series(s.astype(STR).to_numpy(), dtype=STR)
    return pd.Series(s.to_numpy(), dtype=STR)


def _arrow(s: pd.Series) -> pa.Array:
    arr = to_arrow(s)
    return arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr


def cat_from_codes(codes: np.ndarray, categories) -> pd.Series:
    """A ``category`` Series (categories of dtype ``str``) from integer codes (-1 = NA)."""
    cats = pd.Index(pd.array(categories, dtype=STR)) if not isinstance(categories, pd.Index) else categories
    return pd.Series(pd.Categorical.from_codes(np.asarray(codes), dtype=pd.CategoricalDtype(cats)))


def to_cat(s: pd.Series) -> pd.Series:
    """A ``str`` Series -> ``category`` with ``str`` categories, dictionary-encoded in arrow (one hash pass)."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        return s.reset_index(drop=True)
    d = pc.dictionary_encode(_arrow(as_str(s)))
    return cat_from_codes(np.asarray(d.indices.fill_null(-1), dtype=np.int32), d.dictionary)


def lookup(keys: pd.Series, queries: pd.Series) -> np.ndarray:
    """Position in ``keys`` of each query (first occurrence), -1 when absent or NA. Hash based, O(n)."""
    n = len(keys)
    both = pd.concat([as_str(keys), as_str(queries)], ignore_index=True)
    codes, uniques = pd.factorize(both, use_na_sentinel=True)
    pos = np.full(len(uniques) + 1, -1, dtype=np.int64)
    kc = codes[:n]
    ok = kc >= 0
    pos[kc[ok][::-1]] = np.arange(n, dtype=np.int64)[ok][::-1]
    qc = codes[n:]
    return np.where(qc >= 0, pos[qc], -1)


def shared_codes(*series: pd.Series) -> list[np.ndarray]:
    """Factorize several Series together: equal values get equal int codes; NA gets -1."""
    lens = [len(s) for s in series]
    codes, _ = pd.factorize(pd.concat([as_str(s) for s in series], ignore_index=True), use_na_sentinel=True)
    out, start = [], 0
    for n in lens:
        out.append(codes[start : start + n])
        start += n
    return out


def map_values(s: pd.Series, mapping: dict) -> pd.Series:
    """``s.map(mapping)`` through the distinct values only (fast for low-cardinality columns)."""
    codes, uniques = pd.factorize(as_str(s), use_na_sentinel=True)
    mapped = pd.Series(np.asarray(uniques, dtype=object), dtype=object).map(mapping)
    mapped = pa.array([None if pd.isna(v) else str(v) for v in mapped], pa.large_string())  # distinct only
    return from_arrow(mapped.take(pa.array(codes, mask=codes < 0)))  # rows expanded in arrow, not as objects


def same(a: pd.Series, b: pd.Series) -> np.ndarray:
    """Element-wise equality where NA equals NA."""
    if a.dtype == STR and b.dtype == STR:  # compare in arrow: no Python string objects
        x, y = to_arrow(a), to_arrow(b)
        eq = pc.or_(pc.fill_null(pc.equal(x, y), False), pc.and_(pc.is_null(x), pc.is_null(y)))
        return np.asarray(eq, dtype=bool)
    a_na, b_na = a.isna().to_numpy(), b.isna().to_numpy()
    eq = (a.to_numpy() == b.to_numpy()) if len(a) else np.zeros(0, dtype=bool)
    return np.where(a_na | b_na, a_na & b_na, eq).astype(bool)


def rank_of(keys: list[pd.Series]) -> np.ndarray:
    """Rank (0 = first) of each row when sorted by the given keys (NA last)."""
    n = len(keys[0])
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    # arrow's multi-key sort is stable and C++-only (pandas would factorize the string key first)
    t = pa.table({f"k{i}": pa.array(k.reset_index(drop=True)) for i, k in enumerate(keys)})
    order = np.asarray(pc.sort_indices(t, sort_keys=[(c, "ascending", "at_end") for c in t.column_names]))
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)
    return rank


def first_per_group(groups: np.ndarray, order_key: np.ndarray) -> np.ndarray:
    """Boolean mask selecting, for each group value, the row with the smallest order_key."""
    if len(groups) == 0:
        return np.zeros(0, dtype=bool)
    order = np.lexsort((order_key, groups))
    g = groups[order]
    first = np.r_[True, g[1:] != g[:-1]]
    mask = np.zeros(len(groups), dtype=bool)
    mask[order[first]] = True
    return mask
