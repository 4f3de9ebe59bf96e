"""Long-form writes being assembled by the stages: (position, field, value) cells, and the output frames.

A stage works on positions (rows of the conformed inputs, or of the pairs); the cells it produces become a
write frame (``record_id, field, value``, schema ``schemas.WRITE_COLUMNS``) only at the end, with the ids as
category codes over the input id columns. No rule is decided here.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd

from . import schemas
from ._util import CAT, STR, as_str, cat_from_codes, concat_cat, const_cat, const_str, take, to_cat
from .reasons import rejected


def strings(values, n: int | None = None) -> pd.Series:
    """A ``str`` Series from a Series, an array, or one value repeated ``n`` times (None: NA)."""
    if np.isscalar(values) or values is None:
        return const_str(None if values is None else str(values), n)
    if isinstance(values, pd.Series):
        return as_str(values)
    return pd.Series(np.asarray(values, dtype=object), dtype=STR)


def string_frame(**cols) -> pd.DataFrame:
    """A frame of ``str`` columns; a scalar column is repeated to the length of the others."""
    n = max((len(v) for v in cols.values() if not np.isscalar(v) and v is not None), default=0)
    return pd.DataFrame({k: strings(v, n) for k, v in cols.items()})


def conform_output(df: pd.DataFrame | None, name: str) -> pd.DataFrame:
    """``df`` with the columns and dtypes of ``schemas.OUTPUTS[name]`` (empty when ``df`` is None or empty)."""
    cols = schemas.OUTPUTS[name]
    if df is None or len(df) == 0:
        return schemas.empty(cols)
    conv = {STR: as_str, CAT: to_cat}
    return pd.DataFrame({c: conv.get(d, lambda s: s)(df[c]) for c, (d, _) in cols.items()})


def write_frame(record_id, fld, value) -> pd.DataFrame:
    """A write frame: record_id, field (``category``; one name or a Series), value."""
    n = len(record_id)
    return pd.DataFrame(
        {
            "record_id": to_cat(record_id),
            "field": const_cat(fld, n) if isinstance(fld, str) else to_cat(fld),
            "value": strings(value, n),
        }
    )


def concat_writes(parts: list[pd.DataFrame], name: str) -> pd.DataFrame:
    return conform_output(
        pd.DataFrame(
            {
                "record_id": concat_cat([p["record_id"] for p in parts]),
                "field": concat_cat([p["field"] for p in parts]),
                "value": as_str(pd.concat([p["value"] for p in parts], ignore_index=True)),
            }
        ),
        name,
    )


def pos_frame(pos: np.ndarray, fld: str, values: pd.Series, aligned: bool = False) -> pd.DataFrame:
    """(pos, field, value) rows for one field: ``values`` read at ``pos``, or already ``aligned`` with it."""
    return pd.DataFrame(
        {"pos": pos, "field": const_cat(fld, len(pos)), "value": as_str(values) if aligned else take(values, pos)}
    )


def concat_pos(parts: list[pd.DataFrame]) -> pd.DataFrame:
    if not parts:
        return pd.DataFrame({"pos": np.zeros(0, np.int64), "field": const_cat("", 0), "value": strings([])})
    return pd.DataFrame(
        {
            "pos": np.concatenate([p["pos"].to_numpy() for p in parts]),
            "field": concat_cat([p["field"] for p in parts]),
            "value": as_str(pd.concat([p["value"] for p in parts], ignore_index=True)),
        }
    )


def kept(cells: pd.DataFrame, rejected_pos: np.ndarray) -> pd.DataFrame:
    """The cells of records not rejected (no copy when none is)."""
    return cells[~rejected_pos[cells["pos"].to_numpy()]] if rejected_pos.any() else cells


def leading_cells(cells: pd.DataFrame, rejected_pos: np.ndarray, blocks: list[np.ndarray], names: list[str]):
    """The (pos, field, value) rows of the first ``blocks`` of kept ``cells`` (their positions, in order), as a
    slice (no copy); the field codes are renamed through ``names``."""
    k = sum(int((~rejected_pos[put]).sum()) for put in blocks)
    head = cells.iloc[:k]
    return pd.DataFrame(
        {
            "pos": head["pos"].to_numpy(),
            "field": cat_from_codes(head["field"].cat.codes.to_numpy(), names),
            "value": head["value"].reset_index(drop=True),
        },
        copy=False,
    )


class Rejections(NamedTuple):
    """Per position: rejected?, the error code and message of its first refused cell (NA where not rejected)."""

    rejected: np.ndarray
    code: pd.Series
    message: pd.Series

    @classmethod
    def of(cls, refused: pd.DataFrame, n: int) -> Rejections:
        """From the refused cells of ``Cells.frame`` (pos, err, msg), over ``n`` positions."""
        out = cls(np.zeros(n, dtype=bool), strings(None, n), strings(None, n))
        if len(refused):
            first = refused.drop_duplicates("pos")
            p = first["pos"].to_numpy()
            out.rejected[p] = True
            out.code[p] = first["err"].to_numpy()
            out.message[p] = first["msg"].to_numpy()
        return out

    def either(self, other: Rejections) -> Rejections:
        """Rejected by either target: this one's code first, both messages."""
        return Rejections(
            self.rejected | other.rejected,
            self.code.fillna(other.code),
            self.message.fillna("").str.cat(other.message.fillna(""), sep=" ").str.strip(),
        )

    @property
    def reason(self) -> pd.Series:
        """The decision reason ``rejected_<CODE>`` (NA where not rejected)."""
        return rejected(self.code).where(self.rejected)

    @property
    def reason_message(self) -> pd.Series:
        return self.message.where(self.rejected)


class Cells:
    """Cells being assembled: (position, field, value), and apart the few cells the target would refuse
    (position, error code, message). Field names stay small codes until the frame is built."""

    def __init__(self):
        self.fields: list[str] = []
        self.pos: list[np.ndarray] = []
        self.fld: list[np.ndarray] = []
        self.val: list[pd.Series] = []
        self.bad: list[pd.DataFrame] = []

    def add(
        self,
        pos,
        fld: str,
        values,
        err=None,
        refused: pd.Series | None = None,
        target: str = "",
        msg: str | None = None,
    ) -> None:
        """Cells ``pos`` of ``fld``. ``values`` / ``err`` / ``refused`` are full-length Series read at ``pos`` (or
        one value for every cell); ``err`` NA = fine. The message of a refused cell quotes ``refused``."""
        pos = np.asarray(pos, dtype=np.int64)
        n = len(pos)
        if n == 0:
            return
        if fld not in self.fields:
            self.fields.append(fld)
        self.pos.append(pos)
        self.fld.append(np.full(n, self.fields.index(fld), dtype=np.int16))
        self.val.append(take(values, pos) if isinstance(values, pd.Series) else const_str(values, n))
        if err is None:
            return
        if isinstance(err, str):
            bad_pos, codes = pos, const_str(err, n)
        else:
            bad_pos = pos[err.notna().to_numpy()[pos]]
            if len(bad_pos) == 0:
                return
            codes = take(err, bad_pos)
        text = (
            const_str(msg, len(bad_pos))
            if msg is not None
            else (codes + ": " + target + " refuses '" + take(refused, bad_pos).fillna("").str.slice(0, 60) + "'")
        )
        self.bad.append(pd.DataFrame({"pos": bad_pos, "err": codes, "msg": text}))

    def frame(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """-> (cells: pos, field (category), value; refused cells: pos, err, msg)."""
        cells = pd.DataFrame(
            {
                "pos": np.concatenate(self.pos) if self.pos else np.zeros(0, np.int64),
                "field": cat_from_codes(np.concatenate(self.fld) if self.fld else np.zeros(0, np.int16), self.fields),
                "value": pd.concat(self.val, ignore_index=True) if self.val else strings([]),
            }
        )
        bad = (
            pd.concat(self.bad, ignore_index=True)
            if self.bad
            else pd.DataFrame({"pos": np.zeros(0, np.int64), "err": strings([]), "msg": strings([])})
        )
        return cells, bad
