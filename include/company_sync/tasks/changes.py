"""Change sources: what, besides the window's own companies and accounts, drives records into an incremental sync.

The rules read more than companies and accounts, so a run must also follow what changed around them:

* HubSpot contacts modified in the window (`lastmodifieddate` moves with a lifecycle stage, a Salesforce id or
  the primary company: R5, R6, R7) and inclusion-list joins since the window start (R5c), read from the
  join-ordered memberships (each carries its join time). Only the newest joins are read: from a read position
  the state store keeps (`list_position_key`), the newest one that lies before the window start, checked on use
  (`connectors.hubspot_lists`); a backfill of past dates finds none and reads the list whole. Each drives the
  companies associated with those contacts.
* Salesforce contacts modified in the window: one with an account drives that account (R9's shared-contact
  step reads an account's contacts); one with none is a private contact (R5b) and drives the companies of the
  HubSpot contacts synced to it. Leads modified or converted (R6b) drive the companies of the HubSpot
  contacts synced to them, and a conversion's account.

Records driven this way are marked `changed` (the engine treats them as the window's) and `contact_driven`
(so echo suppression, `echoes.py`, never drops them: their own fields may well be unchanged).

Drivers a successful run already processed are dropped first (`engine.processed`): each source's `(id, version)`
(`lastmodifieddate`, `joined_at`, `SystemModstamp`) read again in the overlap of the next window, unchanged, drives
nothing, before any association, company or contact read. The pairs are kept in `settings_state`
(`processed_key`, JSON) by the report task of a run that succeeded and wrote what it planned
(`keep_processed`), not by a dry run, a failed run, or with company sync off. Each extract stages what its
drivers drove (`DRIVER_FRAMES`), so the report can leave out a driver whose record ended with a write error, a
rejection or a hold: the next run retries it.
"""

from __future__ import annotations

import json
import logging
from typing import NamedTuple

import pandas as pd

from include.company_sync.engine import processed
from include.company_sync.tasks.resources import distinct_ids

log = logging.getLogger(__name__)

PRIVATE_CONTACT, LEAD = "private_contact", "lead"


# The staged frames (`engine.processed.DRIVEN_COLUMNS`) of what each step's drivers drove, read by the report.
HUBSPOT_DRIVEN, SALESFORCE_DRIVEN, PEOPLE_DRIVEN = "drivers_hubspot", "drivers_salesforce", "drivers_people"
DRIVER_FRAMES = (HUBSPOT_DRIVEN, SALESFORCE_DRIVEN, PEOPLE_DRIVEN)
SOURCE_OF_KIND = {PRIVATE_CONTACT: processed.SALESFORCE_CONTACT, LEAD: processed.SALESFORCE_LEAD}


def list_position_key(list_id: str) -> str:
    """The `settings_state` key of an inclusion list's read positions (join-order checkpoints, JSON)."""
    return f"inclusion_list_join_positions:{list_id}"


def processed_key(dag_id: str) -> str:
    """The `settings_state` key of the drivers the last successful runs processed (JSON: `floor`, the oldest
    version kept, and `pairs`, `{source: {id: version}}`, versions as ISO moments)."""
    return f"processed_drivers:{dag_id}"


def stored_pairs(state, dag_id: str) -> tuple[pd.DataFrame, pd.Timestamp | None]:
    """The pairs kept by `keep_processed` (`engine.processed.PAIR_COLUMNS`) and their floor."""
    raw = state.setting_value(processed_key(dag_id))
    data = json.loads(raw) if raw else {}
    rows = [(source, i, v) for source, pairs in (data.get("pairs") or {}).items() for i, v in pairs.items()]
    frame = processed.conform(pd.DataFrame(rows, columns=processed.PAIR_COLUMNS), processed.PAIR_COLUMNS)
    return frame, (pd.Timestamp(data["floor"]) if data.get("floor") else None)


def keep_processed(state, dag_id: str, driven: pd.DataFrame, troubled: set[str], floor: pd.Timestamp) -> int:
    """After a successful run: keep its clean drivers with the stored pairs, none older than `floor` (the run's
    window end minus the overlap, or the stored floor when later). Returns how many pairs are kept."""
    stored, stored_floor = stored_pairs(state, dag_id)
    floor = max(f for f in (pd.Timestamp(floor), stored_floor) if f is not None)
    kept = processed.pairs_to_keep(driven, troubled, stored, floor)
    pairs: dict[str, dict[str, str]] = {}
    for source, i, version in kept.itertuples(index=False):
        pairs.setdefault(str(source), {})[str(i)] = version.isoformat()
    state.put_setting_value(processed_key(dag_id), json.dumps({"floor": floor.isoformat(), "pairs": pairs}))
    log.info(
        "drivers processed: %d (source, id, version) pairs kept for the next run; drivers of %d records that ended "
        "with an error, a rejection or a hold left out",
        len(kept),
        len(troubled),
    )
    return len(kept)


def driver_frame(source: str, ids: pd.Series, version: pd.Series, record_id: pd.Series | None = None):
    """Drivers of one source (`engine.processed.DRIVEN_COLUMNS`), one row per distinct (id, version)."""
    frame = pd.DataFrame(
        {
            "source": source,
            "id": ids.astype("string").to_numpy(),
            "version": processed.versions(version).to_numpy(),
            "record_id": (record_id if record_id is not None else pd.Series(pd.NA, index=ids.index))
            .astype("string")
            .to_numpy(),
        }
    )
    return frame.dropna(subset=["id"]).drop_duplicates(ignore_index=True)


def _skipped_counts(skipped: dict[str, int], names: dict[str, str]) -> dict[str, int]:
    return {name: int(skipped.get(source, 0)) for source, name in names.items()}


class HubSpotDrivers(NamedTuple):
    """Companies driven into the run by HubSpot contacts, how many contacts of each source drove them, and
    which drivers drove which companies (`engine.processed.DRIVEN_COLUMNS`)."""

    company_ids: list[str]
    counts: dict[str, int]
    driven: pd.DataFrame


def hubspot_drivers(hs, start, end, members: pd.DataFrame, stored: pd.DataFrame) -> HubSpotDrivers:
    """Contacts modified in `[start, end)` and inclusion-list joins in it -> their associated companies; the
    `stored` pairs (drivers processed already, `engine.processed`) are dropped before the associations read."""
    changed = hs.contacts_changed(start, end)
    frames = [driver_frame(processed.HUBSPOT_CONTACT, changed["id"], changed["lastmodifieddate"])]
    if "joined_at" in members and len(members):
        joined_at = pd.to_datetime(members["joined_at"], utc=True)
        in_window = ((joined_at >= pd.Timestamp(start)) & (joined_at < pd.Timestamp(end))).fillna(False)
        joins = members[in_window.to_numpy(dtype=bool)]
        frames.append(driver_frame(processed.LIST_JOIN, joins["contact_id"], joins["joined_at"]))
    drivers = pd.concat(frames, ignore_index=True)
    kept, skipped = processed.unprocessed(drivers, stored)
    contact_ids = distinct_ids(kept["id"])
    associations = hs.associations(contact_ids=contact_ids) if contact_ids else pd.DataFrame(columns=["company_id"])
    company_ids = distinct_ids(associations["company_id"])
    by_contact = associations.rename(columns={"contact_id": "id", "company_id": "record_id"})
    driven = kept.drop(columns="record_id").merge(by_contact, on="id", how="left") if contact_ids else kept
    counts = {
        "contacts_changed": len(distinct_ids(changed["id"])),
        "list_joins": int((drivers["source"] == processed.LIST_JOIN).sum()),
        **_skipped_counts(
            skipped,
            {
                processed.HUBSPOT_CONTACT: "contacts_already_processed",
                processed.LIST_JOIN: "list_joins_already_processed",
            },
        ),
        "companies_driven": len(company_ids),
    }
    log.info(
        "HubSpot change sources: %d contacts modified, %d inclusion-list joins (%d and %d processed already) -> "
        "%d associated companies",
        counts["contacts_changed"],
        counts["list_joins"],
        counts["contacts_already_processed"],
        counts["list_joins_already_processed"],
        len(company_ids),
    )
    return HubSpotDrivers(company_ids, counts, driven.reindex(columns=processed.DRIVEN_COLUMNS))


class SalesforceDrivers(NamedTuple):
    """Accounts driven into the run by Salesforce contacts and leads, the people whose HubSpot side (the
    contacts synced to them) must be looked up by the task that holds both connectors, and which drivers drove
    which accounts (`engine.processed.DRIVEN_COLUMNS`)."""

    account_ids: list[str]
    people: pd.DataFrame  # id, kind (PRIVATE_CONTACT or LEAD)
    counts: dict[str, int]
    driven: pd.DataFrame


def salesforce_drivers(sf, start, end, stored: pd.DataFrame) -> SalesforceDrivers:
    """Contacts and leads modified in `[start, end)`, less the `stored` pairs (processed already)."""
    contacts = sf.contacts_changed(start, end)
    leads = sf.leads_changed(start, end)
    drivers = pd.concat(
        [
            driver_frame(
                processed.SALESFORCE_CONTACT, contacts["Id"], contacts["SystemModstamp"], contacts["AccountId"]
            ),
            driver_frame(processed.SALESFORCE_LEAD, leads["Id"], leads["SystemModstamp"], leads["ConvertedAccountId"]),
        ],
        ignore_index=True,
    )
    kept, skipped = processed.unprocessed(drivers, stored)
    is_contact = (kept["source"] == processed.SALESFORCE_CONTACT).to_numpy(dtype=bool)
    with_account = kept["record_id"].notna().to_numpy(dtype=bool)
    private = distinct_ids(kept.loc[is_contact & ~with_account, "id"])
    account_ids = distinct_ids(kept.loc[with_account, "record_id"])
    lead_ids = distinct_ids(kept.loc[~is_contact, "id"])
    people = pd.DataFrame(
        {
            "id": pd.Series([*private, *lead_ids], dtype="string"),
            "kind": pd.Series([PRIVATE_CONTACT] * len(private) + [LEAD] * len(lead_ids), dtype="string"),
        }
    )
    converted = leads[leads["Id"].astype("string").isin(lead_ids)] if len(leads) else leads
    n_converted = int(converted["IsConverted"].fillna(False).sum()) if len(converted) else 0
    counts = {
        "contacts_changed": len(distinct_ids(contacts["Id"])),
        "leads_changed": len(distinct_ids(leads["Id"])),
        **_skipped_counts(
            skipped,
            {
                processed.SALESFORCE_CONTACT: "contacts_already_processed",
                processed.SALESFORCE_LEAD: "leads_already_processed",
            },
        ),
        "private_contacts": len(private),
        "leads_converted": n_converted,
        "accounts_driven": len(account_ids),
    }
    log.info(
        "Salesforce change sources: %d contacts modified (%d private), %d leads modified (%d converted), %d and %d "
        "processed already -> %d accounts",
        counts["contacts_changed"],
        len(private),
        counts["leads_changed"],
        n_converted,
        counts["contacts_already_processed"],
        counts["leads_already_processed"],
        len(account_ids),
    )
    return SalesforceDrivers(account_ids, people, counts, kept.reset_index(drop=True))


class PeopleCompanies(NamedTuple):
    """The companies Salesforce private contacts and leads drive, and which person drove which
    (`engine.processed.DRIVEN_COLUMNS`, version NA: the person's version is in the extract's frame)."""

    company_ids: list[str]
    driven: pd.DataFrame


def companies_of_people(hs, people: pd.DataFrame) -> PeopleCompanies:
    """The companies associated with the HubSpot contacts synced to these Salesforce private contacts and
    leads (R5b, R6b): one search per 100 ids, then one associations read per 1,000 contacts."""
    if people.empty:
        return PeopleCompanies([], processed.conform(None))
    synced_to = []
    for kind, prop in ((PRIVATE_CONTACT, "salesforcecontactid"), (LEAD, "salesforceleadid")):
        ids = distinct_ids(people.loc[(people["kind"] == kind).to_numpy(dtype=bool), "id"])
        found = hs.contacts_by_property(prop, ids) if ids else pd.DataFrame(columns=["id", prop])
        synced_to.append(
            pd.DataFrame({"source": SOURCE_OF_KIND[kind], "id": found[prop].to_numpy(), "contact_id": found["id"]})
        )
    found = pd.concat(synced_to, ignore_index=True).astype("string")
    contact_ids = distinct_ids(found["contact_id"])
    associations = hs.associations(contact_ids=contact_ids) if contact_ids else pd.DataFrame(columns=["contact_id"])
    company_ids = distinct_ids(associations.get("company_id"))
    driven = found.merge(associations.astype("string"), on="contact_id", how="inner")
    log.info(
        "Salesforce people -> HubSpot: %d private contacts and %d leads are synced to %d HubSpot contacts "
        "associated with %d companies",
        int((people["kind"] == PRIVATE_CONTACT).sum()),
        int((people["kind"] == LEAD).sum()),
        len(contact_ids),
        len(company_ids),
    )
    return PeopleCompanies(company_ids, processed.conform(driven.rename(columns={"company_id": "record_id"})))


def add_driven(
    frame: pd.DataFrame, driven_ids: list[str], fetch, key: str, warnings: dict[str, list[str]], missing_code: str
) -> pd.DataFrame:
    """The window's records with the driven ones, every driven record marked `changed` and `contact_driven`.
    Those not in the window yet are read with `fetch(ids)`; ids it does not find go to `warnings[missing_code]`
    (the run goes on without them)."""
    present = set(distinct_ids(frame[key]))
    wanted = [i for i in driven_ids if i not in present]
    fetched = fetch(wanted)
    missing = sorted(set(wanted) - set(distinct_ids(fetched[key])))
    if missing:
        log.warning("%d driven record(s) not found (%s): %s", len(missing), missing_code, missing[:20])
        warnings.setdefault(missing_code, []).extend(missing)
    frame = frame.assign(contact_driven=frame.get("contact_driven", False))
    frame.loc[frame[key].isin(driven_ids).to_numpy(dtype=bool), "contact_driven"] = True
    extra = fetched[~fetched[key].isin(frame[key])].assign(changed=True, contact_driven=True)
    if extra.empty:
        return frame
    return pd.concat([frame, extra], ignore_index=True) if not frame.empty else extra.reset_index(drop=True)
