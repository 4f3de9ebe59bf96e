"""Build the HubSpot half of the seed universe (`reset(seed)`): owners, companies, contacts with their
company associations, and the manual "Salesforce inclusion list". Written straight into the state
(no validation, no auto-association), column by column, so N = 1,000,000 takes about a minute."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from include.sandbox.hubspot.common import iso_from_ms, now_ms
from include.sandbox.hubspot.owners import FIRST_OWNER_ID, make_owner
from include.sandbox.hubspot.properties import LIFECYCLE_STAGES
from include.sandbox.hubspot.store import FIRST_ID, empty_state, type_set
from include.sandbox.seed import iso_strings, salesforce_ids, shared_universe

FIELD_MAPPINGS = Path(__file__).resolve().parents[2] / "company_sync" / "field_mappings.yaml"
INCLUSION_LIST_NAME = "Salesforce inclusion list"
YEAR_MS = 365 * 86_400_000


@lru_cache(maxsize=1)
def value_maps() -> dict[str, dict[str, str]]:
    """Salesforce picklist value -> HubSpot option, per picklist (`Industry`, `Type`)."""
    with FIELD_MAPPINGS.open() as fh:
        raw = yaml.safe_load(fh)["value_maps"]
    return {picklist: {sf: hs for sf, hs in pairs} for picklist, pairs in raw.items()}


def build_state(n: int) -> dict[str, Any]:
    """Column by column (numpy draws, one list per property), then one dict per record: strings that
    repeat (owner ids, options, the record's id in `id` / `hs_object_id` / associations) are shared."""
    universe = shared_universe(n)
    maps = value_maps()
    rng = np.random.default_rng([n, 17])
    data = empty_state()
    now = now_ms()

    def stamps(count: int) -> tuple[list[str], list[str]]:
        created = now - rng.integers(1, YEAR_MS, count)
        modified = created + rng.integers(0, now - created)
        return iso_strings(created, "Z"), iso_strings(modified, "Z")

    owners_at = iso_from_ms(now - YEAR_MS)
    for index, owner in enumerate(universe.owners):
        if owner.in_hubspot:
            made = make_owner(index, owner.first, owner.last, owner.email, owners_at)
            data["owners"][made["id"]] = made
    owner_ids = [str(FIRST_OWNER_ID + i) for i in range(len(universe.owners))]
    numbers: dict[int, str] = {}

    def number(value: int | None) -> str | None:
        return None if value is None else numbers.setdefault(value, str(value))

    orgs = universe.companies
    count = len(orgs)
    company_ids = [str(i) for i in range(FIRST_ID["companies"], FIRST_ID["companies"] + count)]
    created, modified = stamps(count)
    no_domain = (rng.random(count) < 0.05).tolist()
    stage_draw = rng.integers(0, len(LIFECYCLE_STAGES), count)
    stages = [
        LIFECYCLE_STAGES[s] if keep else None
        for s, keep in zip(stage_draw.tolist(), (rng.random(count) > 0.2).tolist(), strict=True)
    ]
    industries, types = maps["Industry"], maps["Type"]
    columns = zip(
        company_ids,
        orgs.column("name"),
        orgs.column("domain"),
        no_domain,
        orgs.column("website"),
        orgs.column("phone"),
        orgs.column("industry"),
        orgs.column("type"),
        orgs.column("street"),
        orgs.column("city"),
        orgs.column("state"),
        orgs.column("postal_code"),
        orgs.column("country"),
        orgs.column("annual_revenue"),
        orgs.column("employees"),
        orgs.column("description"),
        stages,
        orgs.column("owner"),
        created,
        modified,
        strict=True,
    )
    companies = data["objects"]["companies"]
    for (
        record_id,
        name,
        domain,
        blank_domain,
        website,
        phone,
        industry,
        type_,
        street,
        city,
        state,
        postal,
        country,
        revenue,
        employees,
        description,
        stage,
        owner,
        made,
        changed,
    ) in columns:
        props = {
            "name": name,
            "domain": "" if blank_domain else domain,
            "website": website,
            "phone": phone,
            "industry": industries.get(industry or ""),
            "type": types.get(type_ or ""),
            "address": street,
            "city": city,
            "state": state,
            "zip": postal,
            "country": country,
            "annualrevenue": number(revenue),
            "numberofemployees": number(employees),
            "description": description,
            "lifecyclestage": stage,
            "hubspot_owner_id": owner_ids[owner],
            "hs_object_source": "CRM_UI",
            "createdate": made,
            "hs_lastmodifieddate": changed,
            "hs_object_id": record_id,
        }
        companies[record_id] = {
            "id": record_id,
            "properties": {k: v for k, v in props.items() if v},
            "createdAt": made,
            "updatedAt": changed,
            "archived": False,
        }
    data["next_id"]["companies"] = FIRST_ID["companies"] + count

    people = universe.people
    rows = np.flatnonzero(people.columns["in_hubspot"])
    count = len(rows)
    contact_ids = [str(i) for i in range(FIRST_ID["contacts"], FIRST_ID["contacts"] + count)]
    kinds = people.columns["kind"][rows]
    contact_rows = np.flatnonzero(kinds <= 1)  # contact, private_contact
    lead_rows = np.flatnonzero(kinds == 2)
    contact_sf = dict(zip(contact_rows.tolist(), salesforce_ids("003", rows[contact_rows]), strict=True))
    lead_sf = dict(zip(lead_rows.tolist(), salesforce_ids("00Q", rows[lead_rows]), strict=True))
    created, modified = stamps(count)

    def column(name: str) -> list:
        values = people.column(name)
        return [values[i] for i in rows.tolist()]

    contacts = data["objects"]["contacts"]
    to_company = data["assoc"]["contacts"]["companies"]
    to_contact = data["assoc"]["companies"]["contacts"]
    members: dict[str, str] = {}
    primary, primary_back = type_set((1, 279)), type_set((2, 280))
    columns = zip(
        range(count),
        contact_ids,
        column("email"),
        column("first"),
        column("last"),
        column("lifecycle_stage"),
        people.columns["owner"][rows].tolist(),
        people.columns["hubspot_company"][rows].tolist(),
        people.columns["in_inclusion_list"][rows].tolist(),
        created,
        modified,
        strict=True,
    )
    for i, record_id, email, first, last, stage, owner, company, listed, made, changed in columns:
        props = {
            "email": email,
            "firstname": first,
            "lastname": last,
            "lifecyclestage": stage,
            "hubspot_owner_id": owner_ids[owner],
            "hs_object_source": "CRM_UI",
            "createdate": made,
            "lastmodifieddate": changed,
            "hs_lastmodifieddate": changed,
            "hs_object_id": record_id,
        }
        if i in contact_sf:
            props["salesforcecontactid"] = contact_sf[i]
        elif i in lead_sf:
            props["salesforceleadid"] = lead_sf[i]
        contacts[record_id] = {
            "id": record_id,
            "properties": props,
            "createdAt": made,
            "updatedAt": changed,
            "archived": False,
        }
        if company >= 0:
            company_id = company_ids[company]
            to_company[record_id] = {company_id: primary}
            props["associatedcompanyid"] = company_id
            to_contact.setdefault(company_id, {})[record_id] = primary_back
        if listed:
            members[record_id] = made
    data["next_id"]["contacts"] = FIRST_ID["contacts"] + count

    stamp = iso_from_ms(now - YEAR_MS)
    data["lists"]["1"] = {
        "listId": "1",
        "name": INCLUSION_LIST_NAME,
        "objectTypeId": "0-1",
        "processingType": "MANUAL",
        "processingStatus": "COMPLETE",
        "listVersion": 1,
        "createdAt": stamp,
        "updatedAt": stamp,
        "createdById": "1",
        "updatedById": "1",
        "filtersUpdatedAt": stamp,
        "deletedAt": None,
        "filterBranch": None,
        "members": members,
    }
    data["next_list_id"] = 2
    return data
