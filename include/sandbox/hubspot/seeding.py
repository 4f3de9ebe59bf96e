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
from include.sandbox.hubspot.lists import list_record
from include.sandbox.hubspot.owners import FIRST_OWNER_ID, make_owner
from include.sandbox.hubspot.properties import LIFECYCLE_STAGES
from include.sandbox.hubspot.store import FIRST_ID, empty_state, type_set
from include.sandbox.seed import iso_strings, salesforce_ids, shared_universe

FIELD_MAPPINGS = Path(__file__).resolve().parents[2] / "company_sync" / "field_mappings.yaml"
INCLUSION_LIST_NAME = "Salesforce inclusion list"
YEAR_MS = 365 * 86_400_000
CHUNK = 100_000


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
    orgs = universe.companies
    company_ids = [str(i) for i in range(FIRST_ID["companies"], FIRST_ID["companies"] + len(orgs))]
    for start in range(0, len(orgs), CHUNK):  # in chunks: the columns of a chunk are all held at once
        _companies(data, orgs, start, min(len(orgs), start + CHUNK), company_ids, owner_ids, stamps, rng)
    data["next_id"]["companies"] = FIRST_ID["companies"] + len(orgs)

    people = universe.people
    in_hubspot = np.flatnonzero(people.columns["in_hubspot"])
    contact_ids = [str(i) for i in range(FIRST_ID["contacts"], FIRST_ID["contacts"] + len(in_hubspot))]
    members: dict[str, str] = {}
    for start in range(0, len(in_hubspot), CHUNK):
        stop = min(len(in_hubspot), start + CHUNK)
        _contacts(
            data, people, in_hubspot[start:stop], contact_ids[start:stop], company_ids, owner_ids, stamps, members
        )
    data["next_id"]["contacts"] = FIRST_ID["contacts"] + len(in_hubspot)

    stamp = iso_from_ms(now - YEAR_MS)
    data["lists"]["1"] = list_record("1", INCLUSION_LIST_NAME, "0-1", "MANUAL", stamp, members=members)
    data["next_list_id"] = 2
    return data


_NUMBERS: dict[int, str] = {}  # revenue and head counts repeat: one string each


def _number(value: int | None) -> str | None:
    return None if value is None else _NUMBERS.setdefault(value, str(value))


def _companies(data, orgs, start: int, stop: int, company_ids, owner_ids, stamps, rng) -> None:
    count = stop - start
    created, modified = stamps(count)
    no_domain = (rng.random(count) < 0.05).tolist()
    stage_draw = rng.integers(0, len(LIFECYCLE_STAGES), count)
    stages = [
        LIFECYCLE_STAGES[s] if keep else None
        for s, keep in zip(stage_draw.tolist(), (rng.random(count) > 0.2).tolist(), strict=True)
    ]
    maps = value_maps()
    industries, types = maps["Industry"], maps["Type"]

    def column(name: str) -> list:
        return orgs.column(name, start, stop)

    columns = zip(
        company_ids[start:stop],
        column("name"),
        column("domain"),
        no_domain,
        column("website"),
        column("phone"),
        column("industry"),
        column("type"),
        column("street"),
        column("city"),
        column("state"),
        column("postal_code"),
        column("country"),
        column("annual_revenue"),
        column("employees"),
        column("description"),
        stages,
        column("owner"),
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
            "annualrevenue": _number(revenue),
            "numberofemployees": _number(employees),
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


def _contacts(data, people, rows: np.ndarray, contact_ids, company_ids, owner_ids, stamps, members) -> None:
    """The HubSpot contacts of the people `rows` (ids `contact_ids`), their primary company association
    and inclusion list membership."""
    count = len(rows)
    kinds = people.columns["kind"][rows]
    contact_rows = np.flatnonzero(kinds <= 1)  # contact, private_contact
    lead_rows = np.flatnonzero(kinds == 2)
    contact_sf = dict(zip(contact_rows.tolist(), salesforce_ids("003", rows[contact_rows]), strict=True))
    lead_sf = dict(zip(lead_rows.tolist(), salesforce_ids("00Q", rows[lead_rows]), strict=True))
    created, modified = stamps(count)
    contacts = data["objects"]["contacts"]
    to_company = data["assoc"]["contacts"]["companies"]
    to_contact = data["assoc"]["companies"]["contacts"]
    primary, primary_back = type_set((1, 279)), type_set((2, 280))
    columns = zip(
        range(count),
        contact_ids,
        people.column("email", take=rows),
        people.column("first", take=rows),
        people.column("last", take=rows),
        people.column("lifecycle_stage", take=rows),
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
