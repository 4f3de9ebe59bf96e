"""Builders for engine tests and ``apply_plan``: a pure simulation of the loads (incl. the link step)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from include.company_sync.engine import Plan, PlanContext, SyncInputs
from include.company_sync.settings import parse_settings

T0 = pd.Timestamp("2024-01-01", tz="UTC")  # sync enabled
BEFORE = pd.Timestamp("2023-06-01", tz="UTC")
AFTER = pd.Timestamp("2024-02-01", tz="UTC")
NOW = pd.Timestamp("2024-03-01", tz="UTC")
INTEGRATION_USER = "005INTEGRATION"

SF_FIELDS = [
    "Name",
    "Website",
    "Phone",
    "Industry",
    "Type",
    "BillingStreet",
    "BillingCity",
    "BillingState",
    "BillingPostalCode",
    "BillingCountry",
    "AnnualRevenue",
    "NumberOfEmployees",
    "Description",
    "OwnerId",
]
HS_FIELDS = [
    "name",
    "website",
    "phone",
    "industry",
    "type",
    "address",
    "city",
    "state",
    "zip",
    "country",
    "annualrevenue",
    "numberofemployees",
    "description",
    "hubspot_owner_id",
]


def settings(**kw):
    return parse_settings({"company_sync_enabled": True, **kw})


def ctx(st=None, **kw) -> PlanContext:
    return PlanContext(
        settings=st or settings(), now=NOW, sync_enabled_at=T0, integration_user_id=INTEGRATION_USER, **kw
    )


def account(id, **kw) -> dict:
    base = {
        "Id": id,
        "CreatedDate": AFTER,
        "SystemModstamp": AFTER,
        "IsDeleted": False,
        "HubSpot_Company_ID__c": None,
        "changed": True,
        "Name": f"Acct {id}",
    }
    return {**base, **kw}


def company(id, **kw) -> dict:
    base = {
        "id": id,
        "createdate": AFTER,
        "hs_lastmodifieddate": AFTER,
        "domain": None,
        "salesforceaccountid": None,
        "hs_object_source": "CRM_UI",
        "lifecyclestage": None,
        "changed": True,
        "name": f"Co {id}",
    }
    return {**base, **kw}


def frame(rows: list[dict], columns: list[str]) -> pd.DataFrame:
    df = pd.DataFrame(
        rows,
        columns=sorted(
            {*columns, *(k for r in rows for k in r)}, key=lambda c: (columns.index(c) if c in columns else 999, c)
        ),
    )
    for c in df.columns:
        if c in ("changed", "IsDeleted", "IsActive", "IsConverted"):
            df[c] = df[c].fillna(False).astype(bool)
        elif c in (
            "CreatedDate",
            "SystemModstamp",
            "createdate",
            "hs_lastmodifieddate",
            "synced_at",
            "lastmodifieddate",
        ):
            df[c] = pd.to_datetime(df[c], utc=True)
        elif c not in ("AnnualRevenue", "NumberOfEmployees"):
            df[c] = df[c].astype("str")
    return df


def inputs(
    accounts=(),
    companies=(),
    contacts=(),
    hs_contacts=(),
    assoc=(),
    links=(),
    synced=(),
    users=(),
    owners=(),
    list_members=(),
    stages=None,
) -> SyncInputs:
    kw = {}
    if stages is not None:
        kw["lifecycle_stages"] = tuple(stages)
    return SyncInputs(
        sf_accounts=frame(
            list(accounts),
            ["Id", "CreatedDate", "SystemModstamp", "IsDeleted", "HubSpot_Company_ID__c", "changed", *SF_FIELDS],
        ),
        hs_companies=frame(
            list(companies),
            [
                "id",
                "createdate",
                "hs_lastmodifieddate",
                "domain",
                "salesforceaccountid",
                "hs_object_source",
                "lifecyclestage",
                "changed",
                *HS_FIELDS,
            ],
        ),
        sf_contacts=frame(list(contacts), ["Id", "AccountId", "Email"]),
        hs_contacts=frame(
            list(hs_contacts),
            ["id", "email", "lifecyclestage", "salesforcecontactid", "salesforceleadid", "lastmodifieddate"],
        ),
        hs_associations=frame(list(assoc), ["company_id", "contact_id"]),
        hs_list_members=frame(list(list_members), ["contact_id"]),
        sf_users=frame(list(users), ["Id", "Email", "FirstName", "LastName", "IsActive"]),
        hs_owners=frame(list(owners), ["id", "email", "firstName", "lastName"]),
        links=frame(list(links), ["account_id", "company_id"]),
        synced_values=frame(list(synced), ["account_id", "company_id", "field", "value", "synced_at"]),
        **kw,
    )


def _set_cells(df: pd.DataFrame, key: str, writes: pd.DataFrame, stamp_col: str, now) -> pd.DataFrame:
    df = df.copy()
    if len(writes) == 0:
        return df
    pos = pd.Index(df[key].astype(str)).get_indexer(writes["record_id"].astype(str))
    assert (pos >= 0).all(), "write for an unknown record"
    for f in writes["field"].unique():
        if f not in df.columns:
            df[f] = pd.Series([None] * len(df), dtype="str")
        if df[f].dtype != "str":
            df[f] = df[f].astype(object)
        m = (writes["field"] == f).to_numpy()
        df.loc[pos[m], f] = writes["value"].to_numpy()[m]
    df.loc[np.unique(pos), stamp_col] = now
    return df


def apply_plan(inp: SyncInputs, plan: Plan, now=NOW) -> SyncInputs:
    """Simulate the loads, the link step and the state store update; touched records become 'changed'."""
    A, C = inp.sf_accounts.copy(), inp.hs_companies.copy()
    A = _set_cells(A, "Id", plan.salesforce_updates, "SystemModstamp", now)
    C = _set_cells(C, "id", plan.hubspot_updates, "hs_lastmodifieddate", now)
    links = inp.links.copy()
    new_links = [plan.new_links[["account_id", "company_id"]]]
    # HubSpot creates (upsert on salesforceaccountid), then link back
    acc_of_new_company = {}
    for k, (rid, g) in enumerate(plan.hubspot_creates.groupby("record_id", sort=True)):
        cid = f"9{len(C) + k:06d}"
        acc_of_new_company[rid] = cid
        row = {
            "id": cid,
            "createdate": now,
            "hs_lastmodifieddate": now,
            "changed": True,
            **dict(zip(g["field"], g["value"], strict=True)),
        }
        C = pd.concat([C, frame([row], list(C.columns))], ignore_index=True)
    if acc_of_new_company:
        m = A["Id"].isin(list(acc_of_new_company))
        A.loc[m, "HubSpot_Company_ID__c"] = A.loc[m, "Id"].map(acc_of_new_company)
        new_links.append(
            pd.DataFrame({"account_id": list(acc_of_new_company), "company_id": list(acc_of_new_company.values())})
        )
    new_acc_of_company = {}
    for k, (rid, g) in enumerate(plan.salesforce_creates.groupby("record_id", sort=True)):
        aid = f"001NEW{len(A) + k:09d}"
        new_acc_of_company[rid] = aid
        row = {
            "Id": aid,
            "CreatedDate": now,
            "SystemModstamp": now,
            "IsDeleted": False,
            "changed": True,
            **dict(zip(g["field"], g["value"], strict=True)),
        }
        A = pd.concat([A, frame([row], list(A.columns))], ignore_index=True)
    if new_acc_of_company:
        m = C["id"].isin(list(new_acc_of_company))
        C.loc[m, "salesforceaccountid"] = C.loc[m, "id"].map(new_acc_of_company)
        new_links.append(
            pd.DataFrame({"company_id": list(new_acc_of_company), "account_id": list(new_acc_of_company.values())})
        )
    SC = inp.sf_contacts.copy()
    if len(plan.contact_attachments):
        att = dict(zip(plan.contact_attachments["contact_id"], plan.contact_attachments["company_id"], strict=True))
        m = SC["Id"].isin(list(att))
        SC.loc[m, "AccountId"] = SC.loc[m, "Id"].map(att).map(new_acc_of_company)
    links = pd.concat([links, *new_links], ignore_index=True).astype("str")
    if len(plan.removed_links):
        gone = set(plan.removed_links["account_id"])
        links = links[~links["account_id"].isin(gone)]
    sv = plan.synced_values.astype({"account_id": "str", "company_id": "str"})  # category ids -> strings
    sv["company_id"] = sv["company_id"].fillna(sv["account_id"].map(acc_of_new_company))
    sv["account_id"] = sv["account_id"].fillna(sv["company_id"].map(new_acc_of_company))
    synced = pd.concat([inp.synced_values, sv], ignore_index=True)
    synced = synced.drop_duplicates(["account_id", "company_id", "field"], keep="last")
    # the next window holds what it held before plus everything the loads touched
    A["changed"] = A["changed"].fillna(True).astype(bool) | A["Id"].isin(
        set(plan.salesforce_updates["record_id"]) | set(acc_of_new_company)
    )
    C["changed"] = C["changed"].fillna(True).astype(bool) | C["id"].isin(
        set(plan.hubspot_updates["record_id"]) | set(new_acc_of_company)
    )
    return replace(
        inp,
        sf_accounts=A.reset_index(drop=True),
        hs_companies=C.reset_index(drop=True),
        sf_contacts=SC,
        links=links.reset_index(drop=True),
        synced_values=synced.reset_index(drop=True),
    )


def decision(plan: Plan, system: str, record_id: str) -> dict:
    d = plan.decisions
    rows = d[(d["system"] == system) & (d["record_id"] == record_id)]
    assert len(rows) == 1, rows
    return rows.iloc[0].to_dict()


def writes_of(frame: pd.DataFrame, record_id: str) -> dict:
    f = frame[frame["record_id"] == record_id]
    return {k: (None if pd.isna(v) else v) for k, v in zip(f["field"], f["value"], strict=True)}
