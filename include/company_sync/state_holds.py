"""The state store's part in undoing a run (issue #16), a mixin of `state.StateStore`:

- holds: the records a rollback touched, skipped by `company_sync` (reason `held_by_rollback`) until released
  (by `company_resync` on their ids, or the Sync reports page's "Release held records");
- `synced_before`: what `synced_values` held for an (account, field) before a run replaced it, kept by
  `link_ids` as it records the run's values, so a rollback puts the merge base back as it was;
- the links a run made (`links.run_id`).
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd
import sqlalchemy as sa

from include.company_sync.state_schema import (
    HOLD_COLUMNS,
    SYNCED_BEFORE_COLUMNS,
    _chunks,
    _frame,
    _id_list,
    _now,
    _records,
    _require,
    _utc,
    holds_t,
    insert_ignore_statement,
    links_t,
    synced_before_t,
    synced_t,
    upsert_statement,
)

IN_CHUNK = 5_000
CHUNK = 10_000


class HoldMethods:
    """Holds, the synced-values before-image and a run's links (needs `engine`, `_write`, `_select`)."""

    # -- holds ---------------------------------------------------------------------------------

    def hold(self, df: pd.DataFrame, run_id: str, rolled_back_run_id: str | None = None, at=None) -> int:
        """Put `system`, `record_id` rows on hold for the rollback `run_id`; a record already held stays held by
        the first rollback that held it. Returns how many rows were given."""
        df = _require(df, ["system", "record_id"], "holds").drop_duplicates(["system", "record_id"])
        if df.empty:
            return 0
        full = df.assign(run_id=run_id, rolled_back_run_id=rolled_back_run_id, held_at=_utc(at) or _now())
        records = _records(full, HOLD_COLUMNS, holds_t)
        stmt = insert_ignore_statement(self.engine.dialect.name, holds_t)
        with self._write() as conn:
            for chunk in _chunks(records, CHUNK):
                if stmt is None:  # pragma: no cover - SQLite and PostgreSQL have ON CONFLICT
                    for r in chunk:
                        exists = holds_t.c.system == r["system"], holds_t.c.record_id == r["record_id"]
                        if conn.execute(sa.select(holds_t.c.run_id).where(*exists)).first() is None:
                            conn.execute(holds_t.insert(), r)
                else:
                    conn.execute(stmt, chunk)
        return len(records)

    def holds(self, system: str | None = None, run_id: str | None = None) -> pd.DataFrame:
        """Held records (all, of one system, or of one rollback run), oldest first."""
        stmt = sa.select(*(holds_t.c[c] for c in HOLD_COLUMNS))
        if system is not None:
            stmt = stmt.where(holds_t.c.system == system)
        if run_id is not None:
            stmt = stmt.where(holds_t.c.run_id == run_id)
        return self._select(stmt.order_by(holds_t.c.held_at, holds_t.c.record_id), HOLD_COLUMNS, holds_t)

    def held_ids(self, system: str, ids: Iterable[str]) -> set[str]:
        """Which of `ids` (of `system`) are on hold."""
        out: set[str] = set()
        with self.engine.connect() as conn:
            for chunk in _chunks(_id_list(ids), IN_CHUNK):
                stmt = sa.select(holds_t.c.record_id).where(holds_t.c.system == system, holds_t.c.record_id.in_(chunk))
                out |= set(conn.scalars(stmt))
        return out

    def release_holds(self, system: str, ids: Iterable[str]) -> int:
        """Release these records of `system`; returns how many were held."""
        released = 0
        with self._write() as conn:
            for chunk in _chunks(_id_list(ids), IN_CHUNK):
                stmt = holds_t.delete().where(holds_t.c.system == system, holds_t.c.record_id.in_(chunk))
                released += conn.execute(stmt).rowcount
        return released

    def release_run_holds(self, run_id: str) -> int:
        """Release every record the rollback `run_id` put on hold."""
        with self._write() as conn:
            return conn.execute(holds_t.delete().where(holds_t.c.run_id == run_id)).rowcount

    # -- synced values before a run --------------------------------------------------------------

    def keep_synced_before(self, run_id: str, df: pd.DataFrame) -> int:
        """Before `run_id` records `df` (`account_id`, `field`, `value`) as synced values: keep what the store holds
        for the rows whose value changes (or that do not exist yet). A retried task keeps the first image."""
        df = _require(df, ["account_id", "field", "value"], "synced values")
        if df.empty:
            return 0
        new = df[["account_id", "field", "value"]].astype({"account_id": "str", "field": "str"})
        new = new.drop_duplicates(["account_id", "field"], keep="last")
        held = self.synced_values(new["account_id"].unique())  # type: ignore[attr-defined]
        both = new.merge(held, on=["account_id", "field"], how="left", suffixes=("_new", ""), indicator=True)
        existed = both["_merge"] == "both"
        blank = "\x00"  # NA compares equal to NA
        same = existed & (
            both["value"].astype("string").fillna(blank) == both["value_new"].astype("string").fillna(blank)
        )
        changed = both[~same]
        if changed.empty:
            return 0
        rows = changed.assign(run_id=run_id, existed=(changed["_merge"] == "both").to_numpy())
        records = _records(rows, SYNCED_BEFORE_COLUMNS, synced_before_t)
        stmt = insert_ignore_statement(self.engine.dialect.name, synced_before_t)
        with self._write() as conn:
            for chunk in _chunks(records, CHUNK):
                conn.execute(stmt if stmt is not None else synced_before_t.insert(), chunk)
        return len(records)

    def synced_before(self, run_id: str, account_ids: Iterable[str] | None = None) -> pd.DataFrame:
        """The before-image `keep_synced_before` kept for `run_id` (of some accounts, or all)."""
        base = sa.select(*(synced_before_t.c[c] for c in SYNCED_BEFORE_COLUMNS)).where(
            synced_before_t.c.run_id == run_id
        )
        if account_ids is None:
            return self._select(base, SYNCED_BEFORE_COLUMNS, synced_before_t)
        rows = []
        with self.engine.connect() as conn:
            for chunk in _chunks(_id_list(account_ids), IN_CHUNK):
                rows.extend(conn.execute(base.where(synced_before_t.c.account_id.in_(chunk))).all())
        return _frame(rows, SYNCED_BEFORE_COLUMNS, synced_before_t)

    def restore_synced_before(self, run_id: str, account_ids: Iterable[str]) -> int:
        """Put the synced values of these accounts back as they were before `run_id` (rows that did not exist
        are deleted). Returns how many (account, field) rows were restored."""
        before = self.synced_before(run_id, account_ids)
        if before.empty:
            return 0
        existed = before[before["existed"]]
        gone = before[~before["existed"]]
        with self._write() as conn:
            for a, f in zip(gone["account_id"], gone["field"], strict=True):
                conn.execute(synced_t.delete().where(synced_t.c.account_id == a, synced_t.c.field == f))
            if not existed.empty:
                rows = existed.assign(synced_at=existed["synced_at"].fillna(_now()))
                records = _records(rows, ["account_id", "field", "company_id", "value", "synced_at"], synced_t)
                stmt = upsert_statement(self.engine.dialect.name, synced_t, ["company_id", "value", "synced_at"])
                for chunk in _chunks(records, CHUNK):
                    conn.execute(stmt, chunk)
        return len(before)

    # -- links of a run ----------------------------------------------------------------------------

    def links_of_run(self, run_id: str) -> pd.DataFrame:
        """The links `run_id` made (and no later run re-made): `account_id`, `company_id`."""
        stmt = sa.select(links_t.c.account_id, links_t.c.company_id).where(links_t.c.run_id == run_id)
        return self._select(stmt.order_by(links_t.c.account_id), ["account_id", "company_id"], links_t)

    # -- runs ----------------------------------------------------------------------------------------

    def runs_with_id(self, run_id: str) -> pd.DataFrame:
        """The runs rows (any DAG) with this run id: what a rollback checks before it starts."""
        from include.company_sync.state_schema import RUN_COLUMNS, runs_t

        stmt = sa.select(*(runs_t.c[c] for c in RUN_COLUMNS)).where(runs_t.c.run_id == run_id)
        return self._select(stmt, RUN_COLUMNS, runs_t)
