"""Build the HubSpot half of the seed universe (`reset(seed)`): owners, companies, contacts with their
company associations, and the manual "Salesforce inclusion list". Written straight into the state
(no validation, no auto-association) so N = 100,000 takes seconds."""

from __future__ import annotations

import random
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from include.sandbox.hubspot.common import iso_from_ms, now_ms
from include.sandbox.hubspot.owners import FIRST_OWNER_ID, make_owner
from include.sandbox.hubspot.properties import LIFECYCLE_STAGES
from include.sandbox.hubspot.store import FIRST_ID, empty_state
from include.sandbox.seed import salesforce_id, shared_universe

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
    universe = shared_universe(n)
    maps = value_maps()
    rng = random.Random(f"hubspot-seed-{n}")
    data = empty_state()
    now = now_ms()

    def stamps() -> tuple[str, str]:
        created = now - rng.randrange(1, YEAR_MS)
        return iso_from_ms(created), iso_from_ms(created + rng.randrange(0, now - created))

    owners_at = iso_from_ms(now - YEAR_MS)
    for index, owner in enumerate(universe.owners):
        if owner.in_hubspot:
            made = make_owner(index, owner.first, owner.last, owner.email, owners_at)
            data["owners"][made["id"]] = made

    companies = data["objects"]["companies"]
    for index, org in enumerate(universe.companies):
        record_id = str(FIRST_ID["companies"] + index)
        created, modified = stamps()
        props = {
            "name": org.name,
            "domain": "" if rng.random() < 0.05 else org.domain,
            "website": org.website,
            "phone": org.phone,
            "industry": maps["Industry"].get(org.industry or ""),
            "type": maps["Type"].get(org.type or ""),
            "address": org.street,
            "city": org.city,
            "state": org.state,
            "zip": org.postal_code,
            "country": org.country,
            "annualrevenue": None if org.annual_revenue is None else str(org.annual_revenue),
            "numberofemployees": None if org.employees is None else str(org.employees),
            "description": org.description,
            "lifecyclestage": rng.choice(LIFECYCLE_STAGES) if rng.random() > 0.2 else None,
            "hubspot_owner_id": str(FIRST_OWNER_ID + org.owner),
            "hs_object_source": "CRM_UI",
            "createdate": created,
            "hs_lastmodifieddate": modified,
            "hs_object_id": record_id,
        }
        companies[record_id] = {
            "id": record_id,
            "properties": {k: v for k, v in props.items() if v},
            "createdAt": created,
            "updatedAt": modified,
            "archived": False,
        }
    data["next_id"]["companies"] = FIRST_ID["companies"] + len(universe.companies)

    contacts = data["objects"]["contacts"]
    to_company = data["assoc"]["contacts"]["companies"]
    to_contact = data["assoc"]["companies"]["contacts"]
    members: dict[str, str] = {}
    next_contact = FIRST_ID["contacts"]
    for person in universe.people:
        if not person.in_hubspot:
            continue
        record_id = str(next_contact)
        next_contact += 1
        created, modified = stamps()
        props = {
            "email": person.email,
            "firstname": person.first,
            "lastname": person.last,
            "lifecyclestage": person.lifecycle_stage,
            "hubspot_owner_id": str(FIRST_OWNER_ID + person.owner),
            "hs_object_source": "CRM_UI",
            "createdate": created,
            "lastmodifieddate": modified,
            "hs_lastmodifieddate": modified,
            "hs_object_id": record_id,
        }
        if person.salesforce_kind in ("contact", "private_contact"):
            props["salesforcecontactid"] = salesforce_id("003", person.key)
        elif person.salesforce_kind == "lead":
            props["salesforceleadid"] = salesforce_id("00Q", person.key)
        contacts[record_id] = {
            "id": record_id,
            "properties": props,
            "createdAt": created,
            "updatedAt": modified,
            "archived": False,
        }
        if person.hubspot_company is not None:
            company_id = str(FIRST_ID["companies"] + person.hubspot_company)
            to_company[record_id] = {company_id: {1, 279}}
            props["associatedcompanyid"] = company_id
            to_contact.setdefault(company_id, {})[record_id] = {2, 280}
        if person.in_inclusion_list:
            members[record_id] = created
    data["next_id"]["contacts"] = next_contact

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
