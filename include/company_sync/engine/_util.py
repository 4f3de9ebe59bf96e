"""Small vectorised helpers shared by the engine modules (positions instead of string joins)."""

from __future__ import annotations

import numpy as np
import pandas as pd

STR = "str"


def as_str(s: pd.Series | None, n: int | None = None) -> pd.Series:
    """A Series as the ``str`` dtype with a fresh RangeIndex; blank strings stay as they are."""
    if s is None:
        return pd.Series(np.full(n or 0, np.nan, dtype=object), dtype=STR)
    return pd.Series(s.to_numpy(), dtype=STR) if s.dtype != STR else s.reset_index(drop=True)


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
    mapped = pd.Series(np.asarray(uniques, dtype=object), dtype=object).map(mapping).to_numpy(dtype=object)
    out = np.where(codes >= 0, mapped[np.maximum(codes, 0)] if len(mapped) else None, None)
    return pd.Series(out, dtype=STR)


def same(a: pd.Series, b: pd.Series) -> np.ndarray:
    """Element-wise equality where NA equals NA."""
    a_na, b_na = a.isna().to_numpy(), b.isna().to_numpy()
    eq = (a.to_numpy() == b.to_numpy()) if len(a) else np.zeros(0, dtype=bool)
    return np.where(a_na | b_na, a_na & b_na, eq).astype(bool)


def rank_of(keys: list[pd.Series]) -> np.ndarray:
    """Rank (0 = first) of each row when sorted by the given keys (NA last)."""
    n = len(keys[0])
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    df = pd.DataFrame({f"k{i}": k.reset_index(drop=True) for i, k in enumerate(keys)})
    order = df.sort_values(list(df.columns), na_position="last", kind="stable").index.to_numpy()
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
