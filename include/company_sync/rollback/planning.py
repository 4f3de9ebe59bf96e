"""Planning a rollback (issue #16): pure pandas, no I/O. Given the ledger of run X and the records as they are
now, decide what to undo, per record and field.

Per field X wrote (the ledger's `new_value`, with `old_value` what it replaced):

| the record now holds            | decision                                                       |
|---------------------------------|----------------------------------------------------------------|
| the value X wrote               | `restore` the old value (`restored`)                           |
| the old value already           | nothing to do (`already_restored`: a retried rollback)         |
| anything else                   | left alone (`changed_since`)                                   |
| X wrote it, old value unknown   | left alone (`no_previous_value`)                               |
| the record is gone              | left alone (`record_gone`)                                     |

A record X created (a HubSpot batch/upsert or Salesforce upsert that created it after X started) is archived
(HubSpot) or deleted (Salesforce) only if every field X wrote still holds X's value and it was not modified
after X's last write to it (`MODIFIED_TOLERANCE` for clocks), and (an account) has no contact X did not attach
(`has_contacts`: the delete would take them along); otherwise it is kept (`changed_since`), and so
are the id fields and contact attachments pointing at it (`counterpart_kept`). Id fields X set
(`salesforceaccountid`, `HubSpot_Company_ID__c`) are cleared by the same field rule; a contact X attached to a
new account gets its previous `AccountId` back (before that account is deleted: Salesforce would delete the
contact with it).

Every record the rollback writes, and its linked counterpart, is put on hold. The links X made are removed
unless both of their records keep what X wrote.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import pandas as pd

MODIFIED_TOLERANCE = pd.Timedelta(seconds=60)
ID_FIELDS = {"hubspot": "salesforceaccountid", "salesforce": "HubSpot_Company_ID__c"}
KEYS = {"hubspot": "id", "salesforce": "Id"}  # the record key every non-upsert write carries
KINDS = {"hubspot": "company", "salesforce": "account"}
MODIFIED = {"company": "hs_lastmodifieddate", "account": "SystemModstamp"}
CREATED = {"company": "createdate", "account": "CreatedDate"}
HELD_BY_ROLLBACK = "held_by_rollback"  # the decision reason company_sync gives held records


class Reason:
    RESTORED = "restored"
    ALREADY_RESTORED = "already_restored"
    CHANGED_SINCE = "changed_since"
    NO_PREVIOUS_VALUE = "no_previous_value"
    RECORD_GONE = "record_gone"
    CREATED_BY_RUN = "created_by_run"
    NOT_CREATED_BY_RUN = "not_created_by_run"
    COUNTERPART_KEPT = "counterpart_kept"
    HAS_CONTACTS = "has_contacts"  # a created account others attached contacts to since: deleting it would delete them


DECISION_COLUMNS = ["system", "kind", "record_id", "field", "action", "reason"]
WRITE_COLUMNS = ["record_id", "field", "value"]


@dataclass(frozen=True)
class RollbackInputs:
    """`ledger`: run X's successful rows (system, operation, record_id, source_id, old_value, new_value, at);
    `companies` / `accounts` / `contacts`: the records now, by id (`id` / `Id`; companies archived or absent
    and accounts with `IsDeleted` are gone); `links`: the state store's links now; `run_started_at`: X's start."""

    ledger: pd.DataFrame
    companies: pd.DataFrame
    accounts: pd.DataFrame
    contacts: pd.DataFrame
    links: pd.DataFrame
    run_started_at: pd.Timestamp


@dataclass(frozen=True)
class RollbackPlan:
    hubspot_updates: pd.DataFrame  # record_id, field, value ("" clears)
    salesforce_updates: pd.DataFrame  # accounts: record_id, field, value (None clears)
    contact_updates: pd.DataFrame  # Salesforce contacts: record_id, field, value
    hubspot_archives: list[str]
    salesforce_deletes: list[str]
    decisions: pd.DataFrame  # DECISION_COLUMNS, one per (record, field) X wrote, one per created record
    holds: pd.DataFrame  # system, record_id
    unlink_account_ids: list[str]  # links (by account) the state store drops
    restore_synced_account_ids: list[str]  # accounts whose synced values go back to before X

    @property
    def writes(self) -> dict[str, int]:
        return {
            "hubspot_updates": int(self.hubspot_updates["record_id"].nunique()),
            "salesforce_updates": int(self.salesforce_updates["record_id"].nunique()),
            "contact_updates": int(self.contact_updates["record_id"].nunique()),
            "hubspot_archives": len(self.hubspot_archives),
            "salesforce_deletes": len(self.salesforce_deletes),
        }


# -- values ---------------------------------------------------------------------------------------


def _blank(value) -> bool:
    return value is None or (not isinstance(value, str) and pd.isna(value)) or str(value).strip() == ""


def same_value(a, b) -> bool:
    """Equal as the CRMs hold them: blanks alike, text trimmed, numbers by value ("1000" == 1000.0)."""
    if _blank(a) or _blank(b):
        return _blank(a) and _blank(b)
    x, y = str(a).strip(), str(b).strip()
    if x == y:
        return True
    try:
        fx, fy = float(x), float(y)
    except ValueError:
        return False
    return math.isfinite(fx) and fx == fy


def _json(text) -> dict | None:
    if _blank(text):
        return None
    value = json.loads(text)
    return value if isinstance(value, dict) else None


# -- the cells X wrote ----------------------------------------------------------------------------


def written_cells(ledger: pd.DataFrame) -> pd.DataFrame:
    """One row per (system, kind, record, field) X wrote: the first old value (`has_old`: known), the last new
    value, whether X created the record (`created`), and X's last write to the record (`at`)."""
    rows = []
    for r in ledger.itertuples(index=False):
        new, old = _json(r.new_value) or {}, _json(r.old_value)
        created = r.operation == "upsert"
        kind = "contact" if r.operation == "attach" else KINDS[r.system]
        for field, value in new.items():
            if field == KEYS[r.system] and not created:
                continue
            has_old = old is not None and field in old
            if r.operation in ("link", "attach") and not has_old:  # an id set on a record that had none
                has_old, old = True, {}
            rows.append(
                (
                    r.system,
                    kind,
                    str(r.record_id),
                    field,
                    value,
                    has_old,
                    old.get(field) if has_old else None,
                    created,
                    r.at,
                )
            )
    cols = ["system", "kind", "record_id", "field", "new", "has_old", "old", "created", "at"]
    cells = pd.DataFrame(rows, columns=cols)
    if cells.empty:
        return cells
    cells = cells.sort_values("at", kind="stable")
    grouped = cells.groupby(["system", "kind", "record_id", "field"], sort=True)
    out = grouped.agg(
        new=("new", "last"), has_old=("has_old", "first"), old=("old", "first"), created=("created", "max")
    )
    out["at"] = (
        cells.groupby(["system", "kind", "record_id"])["at"].max().reindex(out.index.droplevel("field")).to_numpy()
    )
    return out.reset_index()


def _by_id(frame: pd.DataFrame, key: str) -> dict[str, dict]:
    if frame is None or frame.empty or key not in frame.columns:
        return {}
    return {str(r[key]): r for r in frame.astype(object).where(frame.notna(), None).to_dict("records")}


def _gone(kind: str, row: dict | None) -> bool:
    if row is None:
        return True
    return (
        bool(row.get("archived")) if kind == "company" else bool(row.get("IsDeleted")) if kind == "account" else False
    )


def _moment(value) -> pd.Timestamp | None:
    if _blank(value):
        return None
    ts = pd.Timestamp(value)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


# -- decisions ------------------------------------------------------------------------------------


def _foreign_contacts(cells: pd.DataFrame, contacts: dict[str, dict]) -> set[str]:
    """Accounts with a contact now that X did not attach to them (a delete would take those contacts along)."""
    attached = cells[cells["kind"] == "contact"]
    ours = {(rid, str(new)) for rid, new in zip(attached["record_id"], attached["new"], strict=True)}
    return {
        str(c["AccountId"])
        for cid, c in contacts.items()
        if not _blank(c.get("AccountId")) and (cid, str(c["AccountId"])) not in ours
    }


def _created_records(cells: pd.DataFrame, current: dict[str, dict], started_at: pd.Timestamp) -> dict[tuple, tuple]:
    """(system, kind, record_id) of each record X created -> (action or None, reason)."""
    out: dict[tuple, tuple] = {}
    foreign = _foreign_contacts(cells, current["contact"])
    for (system, kind, record_id), group in cells[cells["created"]].groupby(["system", "kind", "record_id"]):
        row = current[kind].get(record_id)
        if _gone(kind, row):
            out[(system, kind, record_id)] = (None, Reason.RECORD_GONE)
            continue
        created_at = _moment(row.get(CREATED[kind]))
        if created_at is not None and created_at < started_at - MODIFIED_TOLERANCE:
            out[(system, kind, record_id)] = (None, Reason.NOT_CREATED_BY_RUN)
            continue
        modified, last_write = _moment(row.get(MODIFIED[kind])), _moment(group["at"].max())
        unchanged = all(same_value(row.get(f), v) for f, v in zip(group["field"], group["new"], strict=True))
        untouched = modified is None or last_write is None or modified <= last_write + MODIFIED_TOLERANCE
        if kind == "account" and record_id in foreign and unchanged and untouched:
            out[(system, kind, record_id)] = (None, Reason.HAS_CONTACTS)
            continue
        action = ("archive" if system == "hubspot" else "delete") if unchanged and untouched else None
        out[(system, kind, record_id)] = (action, Reason.CREATED_BY_RUN if action else Reason.CHANGED_SINCE)
    return out


def _field_decision(cell, row: dict | None, kept: set[str]) -> tuple[str | None, str]:
    """(action or None, reason) for one field X wrote on a record it did not create."""
    if _gone(cell.kind, row):
        return None, Reason.RECORD_GONE
    pointer = cell.field in ID_FIELDS.values() or cell.kind == "contact"
    if pointer and not _blank(cell.new) and str(cell.new) in kept:
        return None, Reason.COUNTERPART_KEPT
    now = row.get(cell.field)
    if same_value(now, cell.new):
        return ("restore", Reason.RESTORED) if cell.has_old else (None, Reason.NO_PREVIOUS_VALUE)
    if cell.has_old and same_value(now, cell.old):
        return None, Reason.ALREADY_RESTORED
    return None, Reason.CHANGED_SINCE


def _restore_value(system: str, old):
    if system == "hubspot":
        return "" if _blank(old) else str(old)
    return None if _blank(old) else old


def plan_rollback(inputs: RollbackInputs, run_links: pd.DataFrame | None = None) -> RollbackPlan:
    """What to undo of run X (`inputs.ledger`), decided against the records as they are now; `run_links` are the
    links X made (state store)."""
    cells = written_cells(inputs.ledger)
    current = {
        "company": _by_id(inputs.companies, "id"),
        "account": _by_id(inputs.accounts, "Id"),
        "contact": _by_id(inputs.contacts, "Id"),
    }
    created = _created_records(cells, current, _moment(inputs.run_started_at)) if not cells.empty else {}
    kept = {rid for (_, _, rid), (action, _) in created.items() if action is None}
    decisions = [(s, k, rid, None, action, reason) for (s, k, rid), (action, reason) in created.items()]
    writes = {"hubspot": [], "salesforce": [], "contact": []}
    for cell in cells[~cells["created"]].itertuples(index=False) if not cells.empty else ():
        action, reason = _field_decision(cell, current[cell.kind].get(cell.record_id), kept)
        decisions.append((cell.system, cell.kind, cell.record_id, cell.field, action, reason))
        if action == "restore":
            target = "contact" if cell.kind == "contact" else cell.system
            writes[target].append((cell.record_id, cell.field, _restore_value(cell.system, cell.old)))
    frame = pd.DataFrame(decisions, columns=DECISION_COLUMNS).astype(object)
    frame = frame.where(frame.notna(), None)
    archives = sorted(rid for (s, _, rid), (a, _) in created.items() if a == "archive")
    deletes = sorted(rid for (s, _, rid), (a, _) in created.items() if a == "delete")
    holds, unlink, restore_synced = _state_changes(frame, inputs.links, run_links)
    return RollbackPlan(
        hubspot_updates=pd.DataFrame(writes["hubspot"], columns=WRITE_COLUMNS),
        salesforce_updates=pd.DataFrame(writes["salesforce"], columns=WRITE_COLUMNS),
        contact_updates=pd.DataFrame(writes["contact"], columns=WRITE_COLUMNS),
        hubspot_archives=archives,
        salesforce_deletes=deletes,
        decisions=frame,
        holds=holds,
        unlink_account_ids=unlink,
        restore_synced_account_ids=restore_synced,
    )


def _state_changes(decisions: pd.DataFrame, links: pd.DataFrame, run_links: pd.DataFrame | None):
    """-> (holds, accounts whose X-made link goes, accounts whose synced values go back to before X)."""
    acted = decisions[decisions["action"].notna() & decisions["kind"].isin(["company", "account"])]
    companies = set(acted.loc[acted["system"] == "hubspot", "record_id"])
    accounts = set(acted.loc[acted["system"] == "salesforce", "record_id"])
    links = links if links is not None and not links.empty else pd.DataFrame(columns=["account_id", "company_id"])
    pairs = links[links["account_id"].isin(accounts) | links["company_id"].isin(companies)]
    held_companies = companies | set(pairs["company_id"].astype(str))
    held_accounts = accounts | set(pairs["account_id"].astype(str))
    holds = pd.DataFrame(
        [("hubspot", c) for c in sorted(held_companies)] + [("salesforce", a) for a in sorted(held_accounts)],
        columns=["system", "record_id"],
    )
    unlinking = acted[acted["field"].isin(ID_FIELDS.values()) | acted["action"].isin(["archive", "delete"])]
    cut_companies = set(unlinking.loc[unlinking["system"] == "hubspot", "record_id"])
    cut_accounts = set(unlinking.loc[unlinking["system"] == "salesforce", "record_id"])
    made = run_links if run_links is not None and not run_links.empty else links.iloc[0:0]
    cut = made[made["account_id"].isin(cut_accounts) | made["company_id"].isin(cut_companies)]
    unlink = sorted(set(cut["account_id"].astype(str)))
    restore = sorted(held_accounts - set(unlink))
    return holds, unlink, restore
