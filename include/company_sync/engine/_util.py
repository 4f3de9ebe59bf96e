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


def take_rows(s: pd.Series, idx: np.ndarray) -> pd.Series:
    """``s`` at positions ``idx`` (all valid) in its own dtype, with a fresh RangeIndex."""
    return take(s, idx) if s.dtype == STR else s.take(np.asarray(idx, dtype=np.int64)).reset_index(drop=True)


def choose(mask: np.ndarray, a: pd.Series, b: pd.Series) -> pd.Series:
    """``a`` where ``mask``, else ``b`` (``str``; element-wise in arrow)."""
    return from_arrow(pc.if_else(pa.array(np.asarray(mask, dtype=bool)), _arrow(a), _arrow(b)))


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


def cat_from_codes(codes: np.ndarray, categories, verified: bool = False) -> pd.Series:
    """A ``category`` Series (categories of dtype ``str``) from integer codes (-1 = NA). ``verified``: the
    categories are known to be distinct and not NA."""
    cats = pd.Index(pd.array(categories, dtype=STR)) if not isinstance(categories, pd.Index) else categories
    return pd.Series(pd.Categorical.from_codes(np.asarray(codes), dtype=_categorical_dtype(cats, verified)))


FASTPATH_MIN_CATEGORIES = 10_000


def _categorical_dtype(cats: pd.Index, verified: bool = False) -> pd.CategoricalDtype:
    """pandas checks that categories are unique through a hash table of Python strings that it then keeps (90 MB
    for a million ids); the check is done in arrow here instead, and the dtype built without repeating it."""
    if len(cats) < FASTPATH_MIN_CATEGORIES:
        return pd.CategoricalDtype(cats)
    if not verified:
        arr = _arrow(pd.Series(cats.array))
        if arr.null_count or pc.count_distinct(arr).as_py() != len(arr):
            raise ValueError("Categorical categories must be unique and not null")
    return unchecked_categorical_dtype(cats)


def unchecked_categorical_dtype(cats: pd.Index) -> pd.CategoricalDtype:
    """A dtype over categories already known to be unique, without pandas' uniqueness check.

    The one use of a private pandas API in the engine (``CategoricalDtype._from_fastpath``, pandas 2.x-3.x);
    ``tests/unit/test_engine_util.py`` fails when it disappears, so that the engine does not fall back
    to the public constructor unnoticed (correct, but it keeps a 90 MB hash table per million ids)."""
    fastpath = getattr(pd.CategoricalDtype, "_from_fastpath", None)
    if fastpath is None:
        return pd.CategoricalDtype(cats)
    return fastpath(cats, False)


def to_cat(s: pd.Series) -> pd.Series:
    """A ``str`` Series -> ``category`` with ``str`` categories, dictionary-encoded in arrow (one hash pass)."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        return s.reset_index(drop=True)
    d = pc.dictionary_encode(_arrow(as_str(s)))
    return cat_from_codes(np.asarray(d.indices.fill_null(-1), dtype=np.int32), d.dictionary)


def const_cat(value: str, n: int) -> pd.Series:
    """``n`` copies of one string as ``category``: one byte a row."""
    return cat_from_codes(np.zeros(n, dtype=np.int8), [value])


def concat_cat(parts: list[pd.Series]) -> pd.Series:
    """Concatenate ``category`` (or ``str``) Series into one ``category`` Series over the union of their values;
    codes are remapped, the rows never become strings."""
    parts = [p if isinstance(p.dtype, pd.CategoricalDtype) else to_cat(p) for p in parts]
    if parts and all(p.cat.categories is parts[0].cat.categories for p in parts):  # same id column: just codes
        codes = np.concatenate([p.cat.codes.to_numpy() for p in parts])
        return cat_from_codes(codes, parts[0].cat.categories, verified=True)
    union = pd.Index(
        pd.unique(
            pd.array(
                np.concatenate(
                    [np.asarray(p.cat.categories, dtype=object) for p in parts] or [np.zeros(0, dtype=object)]
                ),
                dtype=STR,
            )
        )
    )
    codes = []
    for p in parts:
        remap = np.append(union.get_indexer(p.cat.categories), -1).astype(np.int32)
        codes.append(remap[p.cat.codes.to_numpy()])  # code -1 (NA) picks the appended -1
    return cat_from_codes(np.concatenate(codes) if codes else np.zeros(0, np.int32), union)


def take_cat(s: pd.Series, idx: np.ndarray, categories: pd.Index | None = None) -> pd.Series:
    """``s`` at positions ``idx`` (-1 -> NA) as ``category``: the rows are int codes (ids repeated over many rows
    cost 4 bytes a row instead of the whole id). ``categories``: ``pd.Index(s)``, given by a caller that knows
    ``s`` has no duplicate and no NA; the codes are then the positions (no string is copied or hashed), and
    frames built that way concatenate without merging categories."""
    if categories is not None:
        return cat_from_codes(np.asarray(idx, dtype=np.int32), categories, verified=True)
    idx = np.asarray(idx, dtype=np.int64)
    used = np.zeros(len(s) + 1, dtype=bool)  # positions are bounded: mark them instead of hashing
    used[idx] = True  # -1 marks the extra last slot
    used[-1] = False
    kept = np.flatnonzero(used)
    code_of = np.full(len(s) + 1, -1, dtype=np.int32)
    code_of[kept] = np.arange(len(kept), dtype=np.int32)
    try:
        return cat_from_codes(code_of[idx], pd.Index(take(s, kept)))
    except ValueError:  # duplicate values in ``s``: categories must be unique
        return to_cat(take(s, idx))


def _chunks(series) -> pa.ChunkedArray:
    """Several Series as one arrow chunked array of large strings (no copy of the string data)."""
    out = []
    for s in series:
        arr = to_arrow(s)
        for ch in arr.chunks if isinstance(arr, pa.ChunkedArray) else [arr]:
            out.append(ch if ch.type == pa.large_string() else ch.cast(pa.large_string()))
    return pa.chunked_array(out, type=pa.large_string())


def _ints(arr, indices: bool = False) -> np.ndarray:
    """An arrow (chunked) integer array, or the indices of a dictionary-encoded one, as int64 (-1 for null)."""
    chunks = arr.chunks if isinstance(arr, pa.ChunkedArray) else [arr]
    parts = [np.asarray((c.indices if indices else c).fill_null(-1)).astype(np.int64, copy=False) for c in chunks]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


def shared_codes(*series: pd.Series) -> list[np.ndarray]:
    """Factorize several Series together: equal values get equal int codes; NA gets -1. One arrow hash pass."""
    lens = [len(s) for s in series]
    codes = _ints(pc.dictionary_encode(_chunks(series)), indices=True)
    return np.split(codes, np.cumsum(lens)[:-1]) if lens else []


def lookup_many(keys: pd.Series, *queries: pd.Series) -> tuple[bool, list[np.ndarray]]:
    """(whether the keys are distinct and never NA, the position in ``keys`` of each value of each query (first
    occurrence; -1 when absent or NA)). The keys are hashed once for all the queries (one arrow dictionary pass
    over keys + queries)."""
    n = len(keys)
    kc, *qcs = shared_codes(keys, *queries)
    ok = kc >= 0
    distinct = n == 0 or bool(ok.all() and kc.max() == n - 1)  # codes number first appearances, keys first
    pos = np.full((int(kc.max()) + 1 if n and ok.any() else 0) + 1, -1, dtype=np.int64)
    pos[kc[ok][::-1]] = np.arange(n, dtype=np.int64)[ok][::-1]  # reversed: the first occurrence wins
    out = []
    for qc in qcs:
        hit = (qc >= 0) & (qc < len(pos) - 1)
        out.append(np.where(hit, pos[np.where(hit, qc, -1)], -1))
    return distinct, out


def lookup(keys: pd.Series, queries: pd.Series) -> np.ndarray:
    """Position in ``keys`` of each query (first occurrence), -1 when absent or NA. Hash based, O(n)."""
    if len(keys) == 0 or len(queries) == 0:
        return np.full(len(queries), -1, dtype=np.int64)
    return _ints(pc.index_in(to_arrow(queries), value_set=_arrow(keys), skip_nulls=True))


def map_values(s: pd.Series, mapping: dict) -> pd.Series:
    """``s.map(mapping)`` through the distinct values only (fast for low-cardinality columns)."""
    d = pc.dictionary_encode(_arrow(s))
    mapped = pa.array(
        [None if (x := mapping.get(v)) is None or pd.isna(x) else str(x) for v in d.dictionary.to_pylist()],
        pa.large_string(),
    )  # distinct values only
    return from_arrow(mapped.take(d.indices))  # rows expanded in arrow, not as objects


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


def pick_labels(conds: list[np.ndarray], labels: list, default, n: int | None = None) -> np.ndarray:
    """``np.select`` for labels (enum strings), as an object array of references to them: numpy's own select
    would build a new string per row (70 MB for a million rows)."""
    table = np.empty(len(labels) + 1, dtype=object)
    table[:] = [*labels, default]
    if not conds:
        return table[np.full(n, len(labels), dtype=np.int8)]
    return table[np.select(conds, np.arange(len(labels)), len(labels))]


def stack_positions(*parts) -> np.ndarray:
    """Concatenated int32 positions, filled in place; an int ``-k`` stands for ``k`` NA (-1) positions."""
    out = np.empty(sum(-p if isinstance(p, int) else len(p) for p in parts), dtype=np.int32)
    at = 0
    for p in parts:
        k = -p if isinstance(p, int) else len(p)
        out[at : at + k] = -1 if isinstance(p, int) else p
        at += k
    return out


def flags(n: int, positions: np.ndarray) -> np.ndarray:
    """A boolean array of length ``n``, True at ``positions``."""
    out = np.zeros(n, dtype=bool)
    out[positions] = True
    return out
