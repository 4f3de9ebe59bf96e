"""HubSpot sandbox through hubspot-api-client: properties, associations v4, lists, owners,
auto-association and the seed."""

from __future__ import annotations

import json

import pytest
import requests
import yaml
from hubspot import HubSpot
from hubspot.crm.associations.v4 import ApiException as AssociationsApiException
from hubspot.crm.lists import ApiException as ListsApiException
from hubspot.crm.properties import ApiException as PropertiesApiException

from include.sandbox.hubspot.seeding import FIELD_MAPPINGS, INCLUSION_LIST_NAME
from include.sandbox.seed import build_universe, salesforce_id
from include.sandbox.server import HUBSPOT_TOKEN

NO_LIMITS = {"ten_second_limit": None, "search_per_second": None, "daily_limit": None, "auto_associate": True}


@pytest.fixture
def hs(clean_sandbox):
    url = clean_sandbox.hubspot_url
    before = requests.get(f"{url}/__sandbox_hs/config", timeout=10).json()
    requests.post(f"{url}/__sandbox_hs/config", json=NO_LIMITS, timeout=10)
    yield HubSpot(access_token=HUBSPOT_TOKEN, host=url)
    requests.post(f"{url}/__sandbox_hs/config", json=before, timeout=10)


def contact(hs, email: str, **props):
    return hs.crm.contacts.basic_api.create({"properties": {"email": email, **props}})


def company(hs, **props):
    return hs.crm.companies.basic_api.create({"properties": props})


def associated_companies(hs, contact_id: str) -> list[str]:
    page = hs.crm.associations.v4.basic_api.get_page("contacts", contact_id, "companies")
    return [r.to_object_id for r in page.results]


def test_property_definitions(hs):
    props = {p.name: p for p in hs.crm.properties.core_api.get_all("companies").results}
    for name in (
        "name",
        "domain",
        "website",
        "phone",
        "fax",
        "address",
        "city",
        "state",
        "zip",
        "country",
        "industry",
        "type",
        "annualrevenue",
        "numberofemployees",
        "description",
        "account_number",
        "tickersymbol",
        "founded_year",
        "lifecyclestage",
        "hubspot_owner_id",
        "salesforceaccountid",
        "hs_object_source",
        "createdate",
        "hs_lastmodifieddate",
        "hs_object_id",
    ):
        assert name in props, name
    assert props["salesforceaccountid"].has_unique_value is True and props["salesforceaccountid"].type == "string"
    assert props["hs_object_source"].modification_metadata.read_only_value is True
    assert [(o.value, o.display_order) for o in props["lifecyclestage"].options][:3] == [
        ("subscriber", 0),
        ("lead", 1),
        ("marketingqualifiedlead", 2),
    ]
    assert [o.value for o in props["type"].options] == ["PROSPECT", "PARTNER", "RESELLER", "VENDOR", "OTHER"]
    with FIELD_MAPPINGS.open() as fh:
        mapped = {hs_value for _, hs_value in yaml.safe_load(fh)["value_maps"]["Industry"]}
    assert mapped <= {o.value for o in props["industry"].options}
    assert props["createdate"].type == "datetime" and props["annualrevenue"].type == "number"
    contact_props = {p.name: p for p in hs.crm.properties.core_api.get_all("contacts").results}
    assert contact_props["email"].has_unique_value is True
    assert {"salesforcecontactid", "salesforceleadid", "lastmodifieddate"} <= set(contact_props)


def test_custom_lifecycle_stage_and_custom_unique_property(hs):
    stage = hs.crm.properties.core_api.get_by_name("companies", "lifecyclestage")
    options = [o.to_dict() for o in stage.options] + [
        {"label": "Churned", "value": "churned", "displayOrder": 8, "hidden": False}
    ]
    updated = hs.crm.properties.core_api.update("companies", "lifecyclestage", {"options": options})
    assert updated.options[-1].value == "churned"
    assert company(hs, name="Gone", lifecyclestage="churned").properties["name"] == "Gone"
    created = hs.crm.properties.core_api.create(
        "companies",
        {
            "name": "erp_id",
            "label": "ERP id",
            "type": "string",
            "fieldType": "text",
            "groupName": "companyinformation",
            "hasUniqueValue": True,
        },
    )
    assert created.has_unique_value is True and created.hubspot_defined is False
    with pytest.raises(PropertiesApiException) as exc:
        hs.crm.properties.core_api.create(
            "companies",
            {
                "name": "salesforceaccountid",
                "label": "again",
                "type": "string",
                "fieldType": "text",
                "groupName": "companyinformation",
            },
        )
    assert exc.value.status == 409 and json.loads(exc.value.body)["category"] == "CONFLICT"
    with pytest.raises(PropertiesApiException) as exc:
        hs.crm.properties.core_api.get_by_name("companies", "nope")
    assert exc.value.status == 404
    upsert = hs.crm.companies.batch_api.upsert(
        {"inputs": [{"id": "E-1", "idProperty": "erp_id", "properties": {"name": "By ERP"}}]}
    )
    assert upsert.results[0].new is True and upsert.results[0].properties["erp_id"] == "E-1"


def test_associations_round_trip_and_are_symmetric(hs):
    hs_api = hs.crm.associations.v4
    requests.post(
        f"{hs.crm.companies.basic_api.api_client.configuration.host}/__sandbox_hs/config",
        json={"auto_associate": False},
        timeout=10,
    )
    c1, c2 = company(hs, name="One").id, company(hs, name="Two").id
    people = [contact(hs, f"p{i}@one.example").id for i in range(3)]
    created = hs_api.batch_api.create(
        "contacts",
        "companies",
        {
            "inputs": [
                {
                    "from": {"id": p},
                    "to": {"id": c1},
                    "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 279}],
                }
                for p in people
            ]
        },
    )
    assert len(created.results) == 3 and created.results[0].from_object_type_id == "0-1"
    read = hs_api.batch_api.get_page("companies", "contacts", {"inputs": [{"id": c1}, {"id": c2}]})
    assert sorted(t.to_object_id for t in read.results[0].to) == sorted(people)
    assert {t.type_id for t in read.results[0].to[0].association_types} == {2, 280}  # the first company: primary
    assert read.errors[0].context == {"fromObjectId": [c2]} and read.num_errors == 1
    page = hs_api.basic_api.get_page("companies", c1, "contacts", limit=2)
    assert len(page.results) == 2 and page.paging.next.after
    rest = hs_api.basic_api.get_page("companies", c1, "contacts", limit=2, after=page.paging.next.after)
    assert [r.to_object_id for r in page.results + rest.results] == sorted(people, key=int)
    hs_api.batch_api.archive("companies", "contacts", {"inputs": [{"from": {"id": c1}, "to": [{"id": people[0]}]}]})
    assert associated_companies(hs, people[0]) == []
    default = hs_api.batch_api.create_default(
        "contacts", "companies", {"inputs": [{"from": {"id": people[0]}, "to": {"id": c2}}]}
    )
    assert default.results[0].association_spec.association_type_id == 279
    single = hs_api.basic_api.create_default("contacts", people[1], "companies", c2)
    assert single.results[0].to.id == c2
    assert sorted(associated_companies(hs, people[1])) == sorted([c1, c2])
    with pytest.raises(AssociationsApiException) as exc:
        hs_api.batch_api.create(
            "contacts",
            "companies",
            {
                "inputs": [
                    {
                        "from": {"id": people[0]},
                        "to": {"id": c1},
                        "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 280}],
                    }
                ]
            },
        )
    assert exc.value.status == 400
    mixed = hs_api.batch_api.create(
        "contacts",
        "companies",
        {
            "inputs": [
                {
                    "from": {"id": "1"},
                    "to": {"id": c1},
                    "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 1}],
                }
            ]
        },
    )
    assert mixed.num_errors == 1 and mixed.results == []


def test_auto_association_on_and_off(hs, clean_sandbox):
    existing = company(hs, name="Initech", domain="initech.example")
    assert existing.properties["hs_object_source"] == "INTEGRATION"
    first = contact(hs, "bob@INITECH.example")
    assert associated_companies(hs, first.id) == [existing.id]
    fresh = contact(hs, "amy@newco.example")
    [made] = associated_companies(hs, fresh.id)
    made_company = hs.crm.companies.basic_api.get_by_id(made, properties=["domain", "hs_object_source", "name"])
    assert made_company.properties["domain"] == "newco.example"
    assert made_company.properties["hs_object_source"] == "CONTACTS" and made_company.properties["name"]
    batch = hs.crm.contacts.batch_api.create(
        {"inputs": [{"properties": {"email": "cy@newco.example"}}, {"properties": {"email": "dee@gmail.com"}}]}
    )
    by_email = {r.properties["email"]: r.id for r in batch.results}
    assert associated_companies(hs, by_email["cy@newco.example"]) == [made]
    assert associated_companies(hs, by_email["dee@gmail.com"]) == []
    requests.post(f"{clean_sandbox.hubspot_url}/__sandbox_hs/config", json={"auto_associate": False}, timeout=10)
    before = len(hs.crm.companies.get_all())
    lone = contact(hs, "eve@other.example")
    assert associated_companies(hs, lone.id) == [] and len(hs.crm.companies.get_all()) == before


def test_manual_list_memberships_round_trip(hs):
    lists = hs.crm.lists
    people = [contact(hs, f"m{i}@gmail.com").id for i in range(5)]
    created = lists.lists_api.create({"name": "Sync me", "objectTypeId": "0-1", "processingType": "MANUAL"})
    list_id = created.list.list_id
    assert created.list.processing_type == "MANUAL" and created.list.object_type_id == "0-1"
    added = lists.memberships_api.add(list_id, people + ["404"])
    assert added.records_ids_added == people and added.record_ids_missing == ["404"]
    again = lists.memberships_api.add(list_id, people[:1])
    assert again.records_ids_added == []
    first = lists.memberships_api.get_page(list_id, limit=2)
    assert len(first.results) == 2 and first.paging.next.after
    seen = [r.record_id for r in first.results]
    after = first.paging.next.after
    while after:
        nxt = lists.memberships_api.get_page(list_id, limit=2, after=after)
        seen += [r.record_id for r in nxt.results]
        after = nxt.paging.next.after if nxt.paging and nxt.paging.next else None
    assert seen == sorted(people, key=int)
    removed = lists.memberships_api.remove(list_id, people[:2])
    assert removed.record_ids_removed == people[:2]
    assert lists.lists_api.get_by_id(list_id).list.size == 3
    found = lists.lists_api.do_search({"query": "sync", "processingTypes": ["MANUAL"]})
    assert [x.list_id for x in found.lists] == [list_id] and found.total == 1
    assert lists.lists_api.get_by_name("Sync me", "0-1").list.list_id == list_id
    assert [x.list_id for x in lists.lists_api.get_all(list_ids=[list_id]).lists] == [list_id]
    lists.lists_api.remove(list_id)
    with pytest.raises(ListsApiException) as exc:
        lists.lists_api.get_by_id(list_id)
    assert exc.value.status == 404
    lists.lists_api.restore(list_id)
    assert lists.lists_api.get_by_id(list_id).list.size == 3
    dynamic = lists.lists_api.create(
        {
            "name": "Dyn",
            "objectTypeId": "0-1",
            "processingType": "DYNAMIC",
            "filterBranch": {"filterBranchType": "OR", "filterBranches": [], "filters": []},
        }
    )
    with pytest.raises(ListsApiException) as exc:
        lists.memberships_api.add(dynamic.list.list_id, people[:1])
    assert exc.value.status == 400


def test_seed_owners_contacts_and_inclusion_list(hs, clean_sandbox):
    requests.post(f"{clean_sandbox.hubspot_url}/__sandbox/reset", json={"seed": 200}, timeout=60)
    requests.post(f"{clean_sandbox.hubspot_url}/__sandbox_hs/config", json=NO_LIMITS, timeout=10)
    universe = build_universe(200)
    owners = hs.crm.owners.owners_api.get_page(limit=3)
    assert len(owners.results) == 3 and owners.paging.next.after
    all_owners = hs.crm.owners.owners_api.get_page(limit=100).results
    assert len(all_owners) == sum(o.in_hubspot for o in universe.owners)
    ada = hs.crm.owners.owners_api.get_page(email=universe.owners[0].email).results
    assert len(ada) == 1 and ada[0].first_name == universe.owners[0].first
    assert hs.crm.owners.owners_api.get_by_id(ada[0].id).email == universe.owners[0].email
    contacts = hs.crm.contacts.get_all(
        properties=["email", "salesforcecontactid", "salesforceleadid", "hubspot_owner_id"]
    )
    in_hubspot = [p for p in universe.people if p.in_hubspot]
    assert len(contacts) == len(in_hubspot)
    by_email = {c.properties["email"]: c for c in contacts}
    for person in in_hubspot:
        record = by_email[person.email]
        if person.salesforce_kind in ("contact", "private_contact"):
            assert record.properties["salesforcecontactid"] == salesforce_id("003", person.key)
        elif person.salesforce_kind == "lead":
            assert record.properties["salesforceleadid"] == salesforce_id("00Q", person.key)
    person = next(p for p in in_hubspot if p.hubspot_company is not None)
    [company_id] = associated_companies(hs, by_email[person.email].id)
    domain = hs.crm.companies.basic_api.get_by_id(company_id, properties=["name"]).properties["name"]
    assert domain.strip().upper().startswith(universe.companies[person.hubspot_company].name.strip().upper()[:5])
    [inclusion] = hs.crm.lists.lists_api.do_search({"query": INCLUSION_LIST_NAME}).lists
    expected = sorted(by_email[p.email].id for p in in_hubspot if p.in_inclusion_list)
    assert hs.crm.lists.lists_api.get_by_id(inclusion.list_id).list.size == len(expected)
    members = hs.crm.lists.memberships_api.get_page(inclusion.list_id, limit=250).results
    assert [m.record_id for m in members] == expected[:250]
