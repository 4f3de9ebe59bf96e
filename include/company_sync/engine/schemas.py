"""Input and output frame schemas of the sync engine (a contract with the extract and load tasks).

Conventions: ids are strings (``str`` dtype); output columns with few distinct values (field names, systems,
actions, reasons, rules, messages, kinds), and the ids of the write frames and ``synced_values`` (each repeats
once per field), are ``category`` with ``str`` categories, so that a million rows cost a few bytes each
(``.astype(str)`` gives the strings back; Parquet keeps them dictionary-encoded); timestamps are tz-aware UTC
``datetime64``; missing values are NA; HubSpot values are strings as HubSpot returns them.
Extra columns are ignored; missing optional columns are treated as all-NA. Mapped fields are those of
``settings.field_mappings`` (Salesforce field names on ``sf_accounts``, HubSpot property names on
``hs_companies``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._util import CAT, STR, const_str

TS = "datetime64[ns, UTC]"

# name -> {column: (dtype, description)}
INPUTS: dict[str, dict[str, tuple[str, str]]] = {
    "sf_accounts": {
        "Id": (STR, "Account Id"),
        "CreatedDate": (TS, "creation time; >= sync_enabled_at makes it a *new* account (R2)"),
        "SystemModstamp": (TS, "last modification; > sync_enabled_at + changed makes an existing account sync (R3b)"),
        "IsDeleted": ("bool", "deleted (queryAll); never creates, its link is removed"),
        "HubSpot_Company_ID__c": (STR, "external id: the linked company id"),
        "changed": ("bool", "True: changed in this run's window (drives the plan); False: counterpart only"),
        # + every mapped Salesforce field (numbers may be numeric or strings)
    },
    "sf_contacts": {"Id": (STR, ""), "AccountId": (STR, "NA = private contact (R5b)"), "Email": (STR, "")},
    "sf_leads": {"Id": (STR, ""), "Email": (STR, ""), "IsConverted": ("bool", "")},
    "sf_users": {
        "Id": (STR, ""),
        "Email": (STR, ""),
        "FirstName": (STR, ""),
        "LastName": (STR, ""),
        "IsActive": ("bool", ""),
    },
    "hs_companies": {
        "id": (STR, "company id"),
        "createdate": (TS, "creation time (oldest wins among match candidates, R9)"),
        "hs_lastmodifieddate": (TS, "last modification (two-way: most recent wins)"),
        "domain": (STR, "matching key (normalised by the engine; falls back to website)"),
        "salesforceaccountid": (STR, "the linked Account Id (HubSpot's own link property)"),
        "hs_object_source": (STR, "'CONTACTS' = auto-created through contact association (R5a)"),
        "lifecyclestage": (STR, "stage id (R7)"),
        "changed": ("bool", "as for sf_accounts"),
        # + every mapped HubSpot property (strings)
    },
    "hs_contacts": {
        "id": (STR, ""),
        "email": (STR, ""),
        "lifecyclestage": (STR, ""),
        "salesforcecontactid": (STR, "synced Salesforce Contact Id"),
        "salesforceleadid": (STR, "synced Lead Id"),
        "lastmodifieddate": (TS, ""),
    },
    "hs_associations": {"company_id": (STR, ""), "contact_id": (STR, "")},
    "hs_list_members": {"contact_id": (STR, "members of settings.inclusion_list_id")},
    "hs_owners": {"id": (STR, ""), "email": (STR, ""), "firstName": (STR, ""), "lastName": (STR, "")},
    "links": {"account_id": (STR, ""), "company_id": (STR, "")},
    "synced_values": {
        "account_id": (STR, ""),
        "company_id": (STR, ""),
        "field": (STR, "Salesforce field name of the mapping"),
        "value": (STR, "last agreed value, canonical, in Salesforce space (picklist: SF value; owner: User Id)"),
        "synced_at": (TS, ""),
    },
}

WRITE_COLUMNS = {
    "record_id": (
        CAT,
        "target record: company id / Account Id for updates; the upsert key for creates "
        "(salesforceaccountid = Account Id for hubspot_creates, HubSpot_Company_ID__c = company id "
        "for salesforce_creates); category codes, usually over every input id (unused ones included)",
    ),
    "field": (CAT, "HubSpot property name / Salesforce field name"),
    "value": (STR, "canonical string in the target's space; NA = clear the field (never NA in creates)"),
}

OUTPUTS: dict[str, dict[str, tuple[str, str]]] = {
    "hubspot_creates": WRITE_COLUMNS,
    "hubspot_updates": WRITE_COLUMNS,
    "salesforce_creates": WRITE_COLUMNS,
    "salesforce_updates": WRITE_COLUMNS,
    "contact_attachments": {
        "contact_id": (STR, "Salesforce Contact Id (a private contact, R5b)"),
        "company_id": (STR, "the company whose new account (upserted on HubSpot_Company_ID__c) it gets as AccountId"),
    },
    "new_links": {
        "account_id": (STR, ""),
        "company_id": (STR, ""),
        "reason": (STR, "R9_linked_by_id|domain|contacts"),
    },
    "removed_links": {"account_id": (STR, ""), "company_id": (STR, ""), "reason": (STR, "deleted")},
    "decisions": {
        "system": (CAT, "salesforce | hubspot"),
        "record_id": (STR, ""),
        "action": (CAT, "see reasons.Action"),
        "reason": (CAT, "see reasons.Reason / rejected_<RejectCode>"),
        "rule": (CAT, "R1..R9, '+'-joined when several held"),
        "message": (
            CAT,
            "human-readable detail, templated (the ids are in record_id; a rejection names the refused value)",
        ),
        "warning": (
            CAT,
            "NA, or the record's '+'-joined warning codes: invalid_<field>_<domains.HostProblem> for a website or "
            "domain with no valid host (never a matching key nor written; the run goes on)",
        ),
    },
    "conflicts": {
        "account_id": (CAT, "category codes over the input ids, like the write frames'"),
        "company_id": (CAT, ""),
        "field": (CAT, "Salesforce field"),
        "salesforce_value": (STR, ""),
        "hubspot_value": (STR, ""),
        "base_value": (STR, "last synced (SF space)"),
        "winner": (CAT, "salesforce | hubspot (more recent modification; tie -> salesforce)"),
        "kind": (CAT, "both_changed | no_baseline"),
    },
    "duplicate_candidates": {
        "system": (CAT, "system of the source record"),
        "record_id": (STR, "source"),
        "matched_id": (STR, "the target it was linked to (NA if none)"),
        "candidate_id": (
            STR,
            "another target it could have matched, or the taken target, or the other side's record holding the "
            "domain (NA: the winner creates it in this run)",
        ),
        "winner_id": (STR, "the record of the source's side that got candidate_id / that R9 picked (NA: none)"),
        "step": (CAT, "R9_linked_by_id|domain|contacts, or R9_duplicate_candidate: not created (duplicates.py)"),
        "kind": (CAT, "several_candidates | target_taken | same_key_in_run"),
    },
    "synced_values": {
        "account_id": (
            CAT,
            "NA for a company created from it in this plan: fill from the upsert result "
            "(category: an id repeats once per field; cast to str before filling)",
        ),
        "company_id": (CAT, "NA likewise for hubspot_creates"),
        "field": (CAT, "Salesforce field name"),
        "value": (STR, "NA = agreed blank"),
        # no synced_at: the state store stamps the values when the loads have landed (one timestamp for
        # millions of rows would cost 8 bytes each here)
    },
}


def empty(columns: dict[str, tuple[str, str]]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            c: pd.Series(np.array([], dtype=object), dtype=d)
            if d != CAT
            else pd.Series(pd.Categorical([], categories=pd.Index([], dtype=STR)))
            for c, (d, _) in columns.items()
        }
    )


def conform(df: pd.DataFrame | None, name: str, extra: tuple[str, ...] = ()) -> pd.DataFrame:
    """Input frame with every schema column present (NA-filled), a RangeIndex, ids as ``str``."""
    cols = INPUTS[name]
    df = pd.DataFrame() if df is None else df.reset_index(drop=True)
    n = len(df)
    out = {}
    for c, (dtype, _) in cols.items():
        if c in df.columns:
            s = df[c]
            if dtype == STR and s.dtype != STR:
                s = s.astype(STR)
            elif dtype == "bool":
                s = s.fillna(False).astype(bool)
            elif dtype == TS and not isinstance(s.dtype, pd.DatetimeTZDtype):
                s = pd.to_datetime(s, utc=True)
            out[c] = s
        elif dtype == "bool":
            out[c] = pd.Series(np.zeros(n, dtype=bool))
        elif dtype == TS:
            out[c] = pd.Series(pd.NaT, index=range(n), dtype=TS)
        else:
            out[c] = const_str(None, n)  # arrow nulls: no million-object array to convert
    for c in extra:
        if c not in out:
            out[c] = df[c] if c in df.columns else const_str(None, n)
    return pd.DataFrame(out, index=pd.RangeIndex(n), copy=False)  # the inputs are not copied
