"""Drivers already processed: a contact-side change a successful run acted on drives nothing again (#11).

An incremental window starts `overlap` before the last successful window end, so the change sources
(`tasks/changes.py`) find again, one run later, the changes the last run already acted on: HubSpot contacts by
`lastmodifieddate`, inclusion-list joins by `joined_at`, Salesforce contacts and leads by `SystemModstamp`.
Companies and accounts in the overlap are caught by echo suppression (`echoes.py`); drivers are caught here.

A driver is `(source, id, version)`: the record that changed and the version (modification or join time) the run
read. When a successful run acted on a driver, the same `(source, id, version)` read again means nothing changed
on that record since: it is dropped before any association, company or contact is read for it. A newer version
is a new change and is kept; a driver with no version is always kept.

A driver counts as processed only when the records it drove came through: a driver is left out of the pairs
kept when one of its records (or the driver itself) is among the run's *troubled* records (a write the target
refused, a value the plan rejected, a record held after a rollback, and their linked partners), so the next run
retries it. What is kept is bounded: per `(source, id)` the newest version, and only versions at or after
`floor` (the last successful window end minus the overlap: older ones cannot reappear in a window).

Which runs: the argument ("this very version was processed by a successful run") holds for any run, so every
incremental window drops processed drivers: scheduled, catch-up, "sync now", backfills, dry runs. Only an
incremental sync that succeeded, and is not a dry run, keeps pairs (`tasks/report.py`); a backfill's own pairs
are older than the floor, which never moves back, so they are not kept. Full scans (`full_refresh`, the first
run), imports and resyncs read no change sources and plan their records whole: a full refresh still re-plans
everything, and none of them reads or writes pairs.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

import pandas as pd

from ._util import STR

HUBSPOT_CONTACT = "hubspot_contact"  # `lastmodifieddate`
LIST_JOIN = "list_join"  # `joined_at` (the contact id is the driver's id)
SALESFORCE_CONTACT = "salesforce_contact"  # `SystemModstamp`
SALESFORCE_LEAD = "salesforce_lead"  # `SystemModstamp`
SOURCES = (HUBSPOT_CONTACT, LIST_JOIN, SALESFORCE_CONTACT, SALESFORCE_LEAD)

PAIR_COLUMNS = ["source", "id", "version"]
# one row per driver and record it drove: `record_id` NA when it drove none; `version` NA on rows that only add
# a record to a driver read elsewhere (the companies of a Salesforce person, found after the extract)
DRIVEN_COLUMNS = [*PAIR_COLUMNS, "record_id"]
VERSION = "datetime64[us, UTC]"


def versions(values) -> pd.Series:
    """Moments (datetimes, ISO strings) as tz-aware UTC, microseconds: the form versions are compared in."""
    series = pd.Series(values) if not isinstance(values, pd.Series) else values
    if series.empty:
        return pd.Series([], dtype=VERSION, index=series.index)
    if pd.api.types.is_datetime64_any_dtype(series):
        return pd.to_datetime(series, utc=True).astype(VERSION)
    return pd.to_datetime(series.astype(object), utc=True, format="ISO8601").astype(VERSION)


def conform(frame: pd.DataFrame | None, columns: list[str] = DRIVEN_COLUMNS) -> pd.DataFrame:
    """`columns` of `frame` (absent ones NA), ids as strings, `version` as UTC moments."""
    frame = pd.DataFrame() if frame is None else frame
    out = pd.DataFrame(index=frame.index)
    for column in columns:
        values = frame[column] if column in frame else pd.Series(pd.NA, index=frame.index, dtype=object)
        out[column] = versions(values) if column == "version" else values.astype(STR)
    return out.reset_index(drop=True)


def _keys(frame: pd.DataFrame, columns: list[str]) -> pd.Series:
    parts = [frame[c].astype(STR) if c != "version" else frame[c].astype(object).astype(STR) for c in columns]
    key = parts[0].fillna("")
    for part in parts[1:]:
        key = key + "\x1f" + part.fillna("")
    return key


class Unprocessed(NamedTuple):
    """The drivers to act on (input rows, input order) and, per source, how many were dropped as processed."""

    kept: pd.DataFrame
    skipped: dict[str, int]


def unprocessed(drivers: pd.DataFrame, stored: pd.DataFrame) -> Unprocessed:
    """`drivers` (PAIR_COLUMNS, other columns carried along) without those whose `(source, id, version)` equals
    a stored pair: a successful run processed that very version already."""
    d, s = conform(drivers, PAIR_COLUMNS), conform(stored, PAIR_COLUMNS).dropna()
    done = _keys(d, PAIR_COLUMNS).isin(set(_keys(s, PAIR_COLUMNS))).to_numpy() & d["version"].notna().to_numpy()
    counts = d.loc[done, "source"].value_counts()
    kept = drivers[~done] if len(drivers) else drivers
    return Unprocessed(kept, {str(k): int(v) for k, v in counts.items()})


def troubled_records(
    decisions: pd.DataFrame, write_results: Iterable[pd.DataFrame], links: pd.DataFrame, hold_reason: str
) -> set[str]:
    """The records a run did not finish with: a write refused (each result's `key` and `id`), a value rejected
    (decision action `rejected`) or a hold (decision reason `hold_reason`), with their linked partners."""
    ids: list[pd.Series] = []
    for results in write_results:
        if results is not None and not results.empty:
            failed = results[~results["success"].astype("boolean").fillna(False).to_numpy(dtype=bool)]
            ids += [failed["key"], failed["id"]]
    if decisions is not None and not decisions.empty:
        undone = (decisions["action"].astype(STR) == "rejected") | (decisions["reason"].astype(STR) == hold_reason)
        ids.append(decisions.loc[undone.fillna(False).to_numpy(dtype=bool), "record_id"])
    found = {str(v) for series in ids for v in series.dropna() if str(v).strip()}
    if found and links is not None and not links.empty:
        accounts, companies = links["account_id"].astype(STR), links["company_id"].astype(STR)
        found |= set(companies[accounts.isin(found)].dropna()) | set(accounts[companies.isin(found)].dropna())
    return found


def pairs_to_keep(
    driven: pd.DataFrame, troubled: set[str], stored: pd.DataFrame, floor: pd.Timestamp | None
) -> pd.DataFrame:
    """The pairs to keep after a successful run: the stored ones and this run's drivers (`driven`,
    DRIVEN_COLUMNS) except those with a troubled record (or themselves troubled); per `(source, id)` the newest
    version, none before `floor`. Sorted by source and id."""
    d = conform(driven)
    hit = d["record_id"].isin(troubled) | d["id"].isin(troubled)
    pair = _keys(d, ["source", "id"])
    clean = ~pair.isin(set(pair[hit.fillna(False).to_numpy(dtype=bool)]))
    done = d.loc[(clean & d["version"].notna()).to_numpy(dtype=bool), PAIR_COLUMNS]
    kept = pd.concat([conform(stored, PAIR_COLUMNS).dropna(), done], ignore_index=True)
    if floor is not None:
        kept = kept[(kept["version"] >= versions(pd.Series([floor])).iloc[0]).to_numpy(dtype=bool)]
    kept = kept.sort_values("version", kind="stable").drop_duplicates(["source", "id"], keep="last")
    return kept.sort_values(["source", "id"], kind="stable").reset_index(drop=True)
