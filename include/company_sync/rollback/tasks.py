"""The tasks of `company_sync_rollback` after prepare: extract the records run X wrote (by id), validate, plan
(`planning.plan_rollback`), validate the plan, load (HubSpot batch update / archive, Salesforce contacts, account
updates, deletes), put the state store back and hold the records, report.

Every write goes through `tasks.writes.LedgeredWriter` under the rollback's own run id: a retried task skips what
an earlier try wrote, and a second rollback of X re-plans against the values now held, so nothing is undone
twice.
"""

from __future__ import annotations

import json
import logging

import pandas as pd

from include.company_sync.rollback import planning
from include.company_sync.rollback.spec import Extracted, RollbackLoaded, RollbackPlanned, RollbackSpec
from include.company_sync.tasks.failures import fail_fast
from include.company_sync.tasks.resources import RunResources

log = logging.getLogger(__name__)

# The fields the key mirror is made of (domains and the other system's id): a restore of one changes the mirror.
MIRROR_KEY_FIELDS = ("domain", "website", "salesforceaccountid", "Website", "HubSpot_Company_ID__c")
PLAN_FRAMES = ("hubspot_updates", "salesforce_updates", "contact_updates", "decisions", "holds")


def _fields(ledger: pd.DataFrame, system: str, skip: tuple[str, ...]) -> list[str]:
    rows = ledger[(ledger["system"] == system) & (ledger["operation"] != "attach")]
    names = {f for text in rows["new_value"].dropna() for f in json.loads(text)}
    return sorted(names - set(skip))


def _ids(ledger: pd.DataFrame, system: str, attach: bool = False) -> list[str]:
    rows = ledger[(ledger["system"] == system) & ((ledger["operation"] == "attach") == attach)]
    return list(dict.fromkeys(str(v) for v in rows["record_id"].dropna() if str(v).strip()))


def _created_accounts(ledger: pd.DataFrame) -> list[str]:
    rows = ledger[(ledger["system"] == "salesforce") & (ledger["operation"] == "upsert")]
    return list(dict.fromkeys(str(v) for v in rows["record_id"].dropna() if str(v).strip()))


@fail_fast()
def extract(spec: RollbackSpec) -> Extracted:
    """The target run's successful ledger rows, and each record they name as it is now (by id)."""
    run = RunResources(spec)
    run.renew_lease()
    ledger = run.state.ledger(spec.target_run_id, dag_id=spec.target_dag_id)
    ledger = ledger[ledger["result"] == "success"].reset_index(drop=True)
    hs, sf = run.hubspot(), run.salesforce()
    company_ids, account_ids = _ids(ledger, "hubspot"), _ids(ledger, "salesforce")
    contact_ids = _ids(ledger, "salesforce", attach=True)
    empty = pd.DataFrame({"id": pd.Series(dtype="string")})
    companies = hs.companies_by_ids(company_ids, _fields(ledger, "hubspot", ("id",))) if company_ids else empty
    empty = pd.DataFrame({"Id": pd.Series(dtype="string")})
    accounts = sf.accounts_by_ids(account_ids, _fields(ledger, "salesforce", ("Id",))) if account_ids else empty
    created = _created_accounts(ledger)  # their contacts too: Salesforce deletes an account's contacts with it
    if contact_ids or created:
        contacts = sf.contacts(account_ids=created or None, ids=contact_ids or None)
    else:
        contacts = empty.assign(AccountId=pd.Series(dtype="string"))
    counts = {"ledger": len(ledger), "companies": len(companies), "accounts": len(accounts), "contacts": len(contacts)}
    log.info("run %s wrote %s", spec.target_run_id, json.dumps(counts))
    return Extracted(
        ledger=run.stage("ledger", ledger),
        companies=run.stage("companies", companies),
        accounts=run.stage("accounts", accounts),
        contacts=run.stage("contacts", contacts),
        counts=counts,
        api_calls={"hubspot": hs.calls.total, "salesforce": sf.calls.total},
    )


def validate_inputs(spec: RollbackSpec, extracted: Extracted) -> dict[str, int]:
    """Blocking: one row per record id in each extract, the columns planning reads present."""
    from airflow.sdk.exceptions import AirflowFailException

    run = RunResources(spec)
    problems = []
    for name, key in (("companies", "id"), ("accounts", "Id"), ("contacts", "Id")):
        frame = run.read(getattr(extracted, name))
        if key not in frame.columns:
            problems.append(f"{name}: no {key} column")
        elif frame[key].duplicated().any():
            problems.append(f"{name}: {int(frame[key].duplicated().sum())} repeated {key}(s)")
    if problems:
        raise AirflowFailException("rollback inputs failed validation: " + "; ".join(problems))
    return extracted.counts


def plan(spec: RollbackSpec, extracted: Extracted) -> RollbackPlanned:
    run = RunResources(spec)
    run.renew_lease()
    inputs = planning.RollbackInputs(
        ledger=run.read(extracted.ledger),
        companies=run.read(extracted.companies),
        accounts=run.read(extracted.accounts),
        contacts=run.read(extracted.contacts),
        links=run.state.links(),
        run_started_at=pd.Timestamp(spec.target_started_at),
    )
    result = planning.plan_rollback(inputs, run.state.links_of_run(spec.target_run_id))
    frames = {name: getattr(result, name) for name in PLAN_FRAMES}
    for name in ("hubspot_updates", "salesforce_updates", "contact_updates"):  # typed values travel as JSON
        frames[name] = frames[name].assign(value=[json.dumps(v, default=str) for v in frames[name]["value"]])
    urls = {name: run.stage(f"plan_{name}", frame) for name, frame in frames.items()}
    urls["removals"] = run.stage(
        "plan_removals",
        pd.DataFrame(
            {"system": ["hubspot"] * len(result.hubspot_archives) + ["salesforce"] * len(result.salesforce_deletes),
             "record_id": result.hubspot_archives + result.salesforce_deletes}
        ),
    )  # fmt: skip
    reasons = {str(k): int(v) for k, v in result.decisions["reason"].value_counts().sort_index().items()}
    log.info("rollback plan: writes %s; decisions %s", json.dumps(result.writes), json.dumps(reasons))
    return RollbackPlanned(
        frames=urls,
        writes=result.writes,
        decisions=reasons,
        unlink_account_ids=result.unlink_account_ids,
        restore_synced_account_ids=result.restore_synced_account_ids,
    )


def validate_plan(spec: RollbackSpec, planned: RollbackPlanned) -> dict[str, int]:
    """Blocking: no field written twice, nothing both updated and archived/deleted."""
    from airflow.sdk.exceptions import AirflowFailException

    run = RunResources(spec)
    removals = run.read(planned.frames["removals"])
    problems = []
    for name in ("hubspot_updates", "salesforce_updates", "contact_updates"):
        frame = run.read(planned.frames[name])
        if frame.duplicated(["record_id", "field"]).any():
            problems.append(f"{name}: a field written twice")
        if frame["record_id"].isin(removals["record_id"]).any():
            problems.append(f"{name}: a record both updated and removed")
    if problems:
        raise AirflowFailException("rollback plan failed validation: " + "; ".join(problems))
    return planned.writes


def _records(frame: pd.DataFrame, key: str) -> list[dict]:
    out: dict[str, dict] = {}
    for rid, f, value in frame[["record_id", "field", "value"]].itertuples(index=False):
        out.setdefault(str(rid), {key: str(rid)})[str(f)] = json.loads(value)
    return list(out.values())


def _counts(frames: list[pd.DataFrame]) -> dict[str, dict[str, int]]:
    results = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["operation", "success"])
    return {
        str(op): {"succeeded": int(g["success"].sum()), "failed": int((~g["success"].astype(bool)).sum())}
        for op, g in results.groupby("operation")
    }


@fail_fast()
def load_hubspot(spec: RollbackSpec, planned: RollbackPlanned) -> RollbackLoaded:
    """Restore company properties (batch/update), then archive the companies X created (batch/archive)."""
    from include.company_sync.rollback.deletes import archive_companies

    if spec.dry_run:
        log.info("dry run: would write %s; nothing sent", planned.writes)
        return RollbackLoaded(dry_run=True)
    run = RunResources(spec)
    run.renew_lease()
    hs, write = run.hubspot(), run.writer().write
    removals = run.read(planned.frames["removals"])
    archives = [{"id": str(i)} for i in removals.loc[removals["system"] == "hubspot", "record_id"]]
    updates = _records(run.read(planned.frames["hubspot_updates"]), "id")
    frames = [
        write("hubspot", "update", updates, "id", hs.update_companies),
        write("hubspot", "archive", archives, "id", lambda part: archive_companies(hs, part)),
    ]
    return RollbackLoaded(counts=_counts(frames), api_calls=hs.calls.total)


@fail_fast()
def load_salesforce(spec: RollbackSpec, planned: RollbackPlanned) -> RollbackLoaded:
    """Detach the contacts X attached (before their account goes: a deleted account takes its contacts), restore
    account fields, then delete the accounts X created (sObject Collections; Bulk API above its threshold)."""
    from include.company_sync.rollback.deletes import delete_accounts

    if spec.dry_run:
        log.info("dry run: would write %s; nothing sent", planned.writes)
        return RollbackLoaded(dry_run=True)
    run = RunResources(spec)
    run.renew_lease()
    sf, write = run.salesforce(), run.writer().write
    removals = run.read(planned.frames["removals"])
    deletes = [{"Id": str(i)} for i in removals.loc[removals["system"] == "salesforce", "record_id"]]
    contacts = _records(run.read(planned.frames["contact_updates"]), "Id")
    accounts = _records(run.read(planned.frames["salesforce_updates"]), "Id")
    frames = [
        write("salesforce", "attach", contacts, "Id", sf.update_contacts),
        write("salesforce", "update", accounts, "Id", sf.update_accounts),
        write("salesforce", "delete", deletes, "Id", lambda part: delete_accounts(sf, part)),
    ]
    return RollbackLoaded(counts=_counts(frames), api_calls=sf.calls.total)


def _after_rollback(run: RunResources, extracted: Extracted, planned: RollbackPlanned, system: str) -> pd.DataFrame:
    """The records as the rollback leaves them (restored values applied, removed ones deleted): mirror rows."""
    from include.company_sync.tasks.complete import mirror_rows

    name, key, writes = (
        ("companies", "id", "hubspot_updates") if system == "hubspot" else ("accounts", "Id", "salesforce_updates")
    )
    frame = run.read(getattr(extracted, name))
    if frame.empty:
        return frame
    frame = frame.astype({key: "str"}).set_index(key, drop=False)
    keys = [c for c in MIRROR_KEY_FIELDS if c in frame.columns]  # only the matching keys matter to the mirror
    frame = frame.astype({c: object for c in keys})
    for rid, f, value in run.read(planned.frames[writes]).itertuples(index=False):
        if rid in frame.index and f in keys:
            restored = json.loads(value)
            frame.loc[rid, f] = None if restored in ("", None) else str(restored)
    removals = run.read(planned.frames["removals"])
    gone = frame.index.isin(removals.loc[removals["system"] == system, "record_id"].astype(str))
    rows = mirror_rows(frame.reset_index(drop=True), system)
    rows["deleted"] = gone | (rows["deleted"].fillna(False).astype(bool).to_numpy() if "deleted" in rows else False)
    return rows


def restore_state(spec: RollbackSpec, extracted: Extracted, planned: RollbackPlanned) -> dict[str, int]:
    """The state store as before X for the records rolled back: X's links cut where an id field was cleared or a
    record removed, synced values as before X, the mirror as the records now are; then every record held."""
    if spec.dry_run:
        log.info("dry run: state store unchanged, nothing held")
        return {}
    run = RunResources(spec)
    run.renew_lease()
    state = run.state
    unlinked = state.remove_links(planned.unlink_account_ids)
    restored = state.restore_synced_before(spec.target_run_id, planned.restore_synced_account_ids)
    for system in ("hubspot", "salesforce"):
        rows = _after_rollback(run, extracted, planned, system)
        if not rows.empty:
            state.upsert_mirror(system, rows)
    held = state.hold(run.read(planned.frames["holds"]), spec.run_id, spec.target_run_id)
    figures = {"links_removed": unlinked, "synced_values_restored": restored, "records_held": held}
    log.info("state store: %s", json.dumps(figures))
    return figures
