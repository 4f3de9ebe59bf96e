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
"""

from __future__ import annotations

import logging
from typing import NamedTuple

import pandas as pd

from include.company_sync.tasks.resources import distinct_ids

log = logging.getLogger(__name__)

PRIVATE_CONTACT, LEAD = "private_contact", "lead"


def list_position_key(list_id: str) -> str:
    """The `settings_state` key of an inclusion list's read positions (join-order checkpoints, JSON)."""
    return f"inclusion_list_join_positions:{list_id}"


class HubSpotDrivers(NamedTuple):
    """Companies driven into the run by HubSpot contacts, and how many contacts of each source drove them."""

    company_ids: list[str]
    counts: dict[str, int]


def hubspot_drivers(hs, start, end, members: pd.DataFrame) -> HubSpotDrivers:
    """Contacts modified in `[start, end)` and inclusion-list joins in it -> their associated companies."""
    changed = distinct_ids(hs.contacts_changed(start, end)["id"])
    joined = []
    if "joined_at" in members and len(members):
        joined_at = pd.to_datetime(members["joined_at"], utc=True)
        in_window = (joined_at >= pd.Timestamp(start)) & (joined_at < pd.Timestamp(end))
        joined = distinct_ids(members.loc[in_window.fillna(False).to_numpy(dtype=bool), "contact_id"])
    contact_ids = list(dict.fromkeys([*changed, *joined]))
    company_ids = distinct_ids(hs.associations(contact_ids=contact_ids)["company_id"]) if contact_ids else []
    counts = {"contacts_changed": len(changed), "list_joins": len(joined), "companies_driven": len(company_ids)}
    log.info(
        "HubSpot change sources: %d contacts modified, %d inclusion-list joins -> %d associated companies",
        len(changed),
        len(joined),
        len(company_ids),
    )
    return HubSpotDrivers(company_ids, counts)


class SalesforceDrivers(NamedTuple):
    """Accounts driven into the run by Salesforce contacts and leads, and the people whose HubSpot side
    (the contacts synced to them) must be looked up by the task that holds both connectors."""

    account_ids: list[str]
    people: pd.DataFrame  # id, kind (PRIVATE_CONTACT or LEAD)
    counts: dict[str, int]


def salesforce_drivers(sf, start, end) -> SalesforceDrivers:
    """Contacts and leads modified in `[start, end)`."""
    contacts = sf.contacts_changed(start, end)
    leads = sf.leads_changed(start, end)
    with_account = contacts["AccountId"].notna()
    private = distinct_ids(contacts.loc[~with_account.to_numpy(dtype=bool), "Id"])
    account_ids = distinct_ids(
        pd.concat([contacts.loc[with_account.to_numpy(dtype=bool), "AccountId"], leads["ConvertedAccountId"]])
    )
    lead_ids = distinct_ids(leads["Id"])
    people = pd.DataFrame(
        {
            "id": pd.Series([*private, *lead_ids], dtype="string"),
            "kind": pd.Series([PRIVATE_CONTACT] * len(private) + [LEAD] * len(lead_ids), dtype="string"),
        }
    )
    converted = int(leads["IsConverted"].fillna(False).sum()) if len(leads) else 0
    counts = {
        "contacts_changed": len(contacts),
        "private_contacts": len(private),
        "leads_changed": len(lead_ids),
        "leads_converted": converted,
        "accounts_driven": len(account_ids),
    }
    log.info(
        "Salesforce change sources: %d contacts modified (%d private), %d leads modified (%d converted) -> %d accounts",
        len(contacts),
        len(private),
        len(lead_ids),
        converted,
        len(account_ids),
    )
    return SalesforceDrivers(account_ids, people, counts)


def companies_of_people(hs, people: pd.DataFrame) -> list[str]:
    """The companies associated with the HubSpot contacts synced to these Salesforce private contacts and
    leads (R5b, R6b): one search per 100 ids, then one associations read per 1,000 contacts."""
    if people.empty:
        return []
    private = distinct_ids(people.loc[(people["kind"] == PRIVATE_CONTACT).to_numpy(dtype=bool), "id"])
    leads = distinct_ids(people.loc[(people["kind"] == LEAD).to_numpy(dtype=bool), "id"])
    found = pd.concat(
        [
            hs.contacts_by_property("salesforcecontactid", private)["id"] if private else pd.Series(dtype="string"),
            hs.contacts_by_property("salesforceleadid", leads)["id"] if leads else pd.Series(dtype="string"),
        ]
    )
    contact_ids = distinct_ids(found)
    company_ids = distinct_ids(hs.associations(contact_ids=contact_ids)["company_id"]) if contact_ids else []
    log.info(
        "Salesforce people -> HubSpot: %d private contacts and %d leads are synced to %d HubSpot contacts "
        "associated with %d companies",
        len(private),
        len(leads),
        len(contact_ids),
        len(company_ids),
    )
    return company_ids


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
