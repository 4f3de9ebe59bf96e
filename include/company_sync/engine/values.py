"""Per-kind value conversion between Salesforce and HubSpot, vectorised.

Every mapped value has a *canonical* string form in its own system (stripped, blank -> NA; numbers as the
shortest decimal, ``"1200000"`` == ``1200000.0``), and a conversion into the other system's space. A
conversion the target would refuse yields a :class:`~.reasons.RejectCode`; an owner that matches nobody is
*unmatched* (the field is then left alone, never rejected).

Comparisons happen in HubSpot space (``to_hubspot(sf) == hs``) so that many-to-one picklist maps
(``Customer - Direct`` and ``Other`` -> ``OTHER``) never cause writes back and forth.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from include.company_sync.settings import FieldMapping

from ._util import STR, as_str, const_str, from_arrow, map_values, to_arrow
from .reasons import RejectCode


@dataclass
class Converted:
    canon: pd.Series  # canonical value in its own system (str, NA = blank)
    other: pd.Series  # the value in the other system's space (str, NA when blank or not convertible)
    error: pd.Series  # RejectCode when the other system would refuse it (str, NA = fine)
    unmatched: np.ndarray  # bool: owner with no counterpart (left alone, not rejected)


def canon_text(s: pd.Series) -> pd.Series:
    t = as_str(s.astype(STR) if s.dtype != STR else s).str.strip()
    return t.where(t.str.len() > 0)


def _format_numbers(x: np.ndarray) -> pd.Series:
    """Shortest decimal text: whole numbers without ``.0`` (formatted in arrow), others as Python prints them."""
    ok = ~np.isnan(x)
    v = np.where(ok, x, 0)
    whole = ok & (np.abs(v) < 1e15) & (v == np.round(v))
    ints = pc.cast(pa.array(v.astype(np.int64)), pa.large_string())
    out = from_arrow(pc.if_else(pa.array(whole), ints, pa.scalar(None, pa.large_string())))
    frac = ok & ~whole
    if frac.any():  # rare: Python's repr keeps them short and exact
        out[frac] = pd.Series(x[frac]).astype(STR).to_numpy()
    return out


def _to_float(text: pd.Series) -> np.ndarray:
    """Canonical text -> floats (NaN where blank or not a number). Arrow parses plain decimals in one pass; a
    column with anything else goes through pandas, which turns the unparseable values into NaN."""
    try:
        return np.asarray(pc.cast(to_arrow(text), pa.float64()).to_numpy(zero_copy_only=False), dtype=float)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return pd.to_numeric(text, errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def parse_number(s: pd.Series) -> tuple[np.ndarray, pd.Series, np.ndarray]:
    """-> (float values, canonical strings (raw text kept when unparseable), unparseable mask)."""
    if pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype):
        x = pd.to_numeric(s, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        return x, _format_numbers(x), np.zeros(len(s), dtype=bool)
    text = canon_text(s)
    x = _to_float(text)
    bad = text.notna().to_numpy() & np.isnan(x)
    canon = _format_numbers(x)
    if bad.any():
        canon[bad] = text[bad].to_numpy()
    return x, canon, bad


def _no_error(n: int) -> pd.Series:
    return const_str(None, n)


def _set_error(err: pd.Series, mask: np.ndarray, code: str) -> pd.Series:
    """``err`` with ``code`` where ``mask`` holds and no error was set yet."""
    m = np.asarray(mask, dtype=bool) & err.isna().to_numpy()
    if not m.any():
        return err
    return from_arrow(pc.if_else(pa.array(m), pa.scalar(str(code), pa.large_string()), to_arrow(err)))


def salesforce_to_hubspot(m: FieldMapping, s: pd.Series, owner_of_user: dict[str, str]) -> Converted:
    """Salesforce field values (SF space) -> canonical SF values and their HubSpot-space equivalents."""
    n = len(s)
    err = _no_error(n)
    unmatched = np.zeros(n, dtype=bool)
    if m.kind == "number":
        _, canon, bad = parse_number(s)
        other = canon.where(~bad)
        err = _set_error(err, bad, RejectCode.INVALID_NUMBER)
    else:
        canon = canon_text(s)
        if m.kind == "picklist":
            other = map_values(canon, dict(m.to_hubspot))
            err = _set_error(err, (canon.notna() & other.isna()).to_numpy(), RejectCode.PICKLIST_VALUE_NOT_MAPPED)
        elif m.kind == "owner":
            other = map_values(canon, owner_of_user)
            unmatched = (canon.notna() & other.isna()).to_numpy()
        else:
            other = canon
    return Converted(canon, other, err, unmatched)


def hubspot_to_salesforce(m: FieldMapping, s: pd.Series, user_of_owner: dict[str, str]) -> Converted:
    """HubSpot property values (strings) -> canonical HS values and their Salesforce-space equivalents."""
    n = len(s)
    err = _no_error(n)
    unmatched = np.zeros(n, dtype=bool)
    if m.kind == "number":
        x, canon, bad = parse_number(s)
        other = canon.where(~bad)
        err = _set_error(err, bad, RejectCode.INVALID_NUMBER)
        if m.integer:
            frac = ~np.isnan(x) & (x != np.round(np.nan_to_num(x)))
            err = _set_error(err, frac, RejectCode.NOT_AN_INTEGER)
            other = other.where(~frac)
    else:
        canon = canon_text(s)
        if m.kind == "picklist":
            other = map_values(canon, dict(m.to_salesforce))
            err = _set_error(err, (canon.notna() & other.isna()).to_numpy(), RejectCode.PICKLIST_VALUE_NOT_MAPPED)
        elif m.kind == "owner":
            other = map_values(canon, user_of_owner)
            unmatched = (canon.notna() & other.isna()).to_numpy()
        else:
            other = canon
        if m.max_length is not None and m.kind in ("text", "url"):
            err = _set_error(
                err, (other.str.len() > m.max_length).fillna(False).to_numpy(dtype=bool), RejectCode.STRING_TOO_LONG
            )
    return Converted(canon, other, err, unmatched)


def salesforce_typed(kind: str, integer: bool, value: str | None):
    """One canonical SF-space string -> the typed value sent to Salesforce (None clears the field)."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return None
    if kind == "number":
        x = float(value)
        return int(x) if integer or x.is_integer() else x
    return str(value)
