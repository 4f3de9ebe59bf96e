"""The HubSpot sandbox behaves like HubSpot for contact-driven runs (docs/sandbox-fidelity.md): a contact's
modification dates move with its properties and its primary company, list memberships carry join
timestamps in join order, associations batch read takes 1,000 ids."""

from __future__ import annotations

import time

import pytest
import requests
from hubspot import HubSpot
from hubspot.crm.associations.v4 import ApiException as AssociationsApiException

from include.sandbox.server import HUBSPOT_TOKEN

NO_LIMITS = {"ten_second_limit": None, "search_per_second": None, "daily_limit": None, "auto_associate": False}
AUTH = {"Authorization": f"Bearer {HUBSPOT_TOKEN}"}
STAMPS = ("lastmodifieddate", "hs_lastmodifieddate", "associatedcompanyid")


@pytest.fixture
def hs(clean_sandbox):
    url = clean_sandbox.hubspot_url
    before = requests.get(f"{url}/__sandbox_hs/config", timeout=10).json()
    requests.post(f"{url}/__sandbox_hs/config", json=NO_LIMITS, timeout=10)
    yield HubSpot(access_token=HUBSPOT_TOKEN, host=url)
    requests.post(f"{url}/__sandbox_hs/config", json=before, timeout=10)


def _contact(hs: HubSpot, email: str, **props: str) -> str:
    return hs.crm.contacts.basic_api.create({"properties": {"email": email, **props}}).id


def _company(hs: HubSpot, name: str) -> str:
    return hs.crm.companies.basic_api.create({"properties": {"name": name}}).id


def _read(hs: HubSpot, contact_id: str) -> dict[str, str | None]:
    return hs.crm.contacts.basic_api.get_by_id(contact_id, properties=list(STAMPS)).properties


def _types(hs: HubSpot, contact_id: str) -> dict[str, set[int]]:
    page = hs.crm.associations.v4.basic_api.get_page("contacts", contact_id, "companies")
    return {r.to_object_id: {t.type_id for t in r.association_types} for r in page.results}


def _tick() -> None:
    time.sleep(0.005)  # timestamps have millisecond precision


def _label_primary(hs: HubSpot, contact_id: str, company_id: str) -> None:
    spec = [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 1}]
    hs.crm.associations.v4.basic_api.create("contacts", contact_id, "companies", company_id, spec)


def test_a_property_change_moves_both_modification_dates(hs):
    contact_id = _contact(hs, "ada@example.org")
    before = _read(hs, contact_id)
    assert before["lastmodifieddate"] == before["hs_lastmodifieddate"] and before["associatedcompanyid"] is None
    _tick()
    hs.crm.contacts.basic_api.update(contact_id, {"properties": {"lifecyclestage": "customer"}})
    after = _read(hs, contact_id)
    assert after["lastmodifieddate"] > before["lastmodifieddate"]
    assert after["hs_lastmodifieddate"] == after["lastmodifieddate"]


def test_primary_company_changes_move_the_contact_and_other_associations_do_not(hs):
    contact_id, first, second = _contact(hs, "ada@example.org"), _company(hs, "First"), _company(hs, "Second")
    created = _read(hs, contact_id)
    _tick()
    # no primary yet: the first company associated (unlabelled) becomes the primary
    hs.crm.associations.v4.basic_api.create_default("contacts", contact_id, "companies", first)
    promoted = _read(hs, contact_id)
    assert promoted["associatedcompanyid"] == first
    assert promoted["lastmodifieddate"] > created["lastmodifieddate"]
    assert _types(hs, contact_id) == {first: {1, 279}}
    _tick()
    # a second, unlabelled company: not a property change, the dates stay
    hs.crm.associations.v4.basic_api.create_default("contacts", contact_id, "companies", second)
    assert _read(hs, contact_id) == promoted
    assert _types(hs, contact_id) == {first: {1, 279}, second: {279}}
    _tick()
    # labelling the second primary moves the label and the dates
    _label_primary(hs, contact_id, second)
    moved = _read(hs, contact_id)
    assert moved["associatedcompanyid"] == second and moved["lastmodifieddate"] > promoted["lastmodifieddate"]
    assert _types(hs, contact_id) == {first: {279}, second: {1, 279}}
    company_side = hs.crm.associations.v4.basic_api.get_page("companies", first, "contacts").results
    assert {t.type_id for t in company_side[0].association_types} == {280}
    _tick()
    # removing a non-primary association moves nothing; removing the primary clears it
    hs.crm.associations.v4.basic_api.archive("contacts", contact_id, "companies", first)
    assert _read(hs, contact_id) == moved
    _tick()
    hs.crm.associations.v4.basic_api.archive("contacts", contact_id, "companies", second)
    cleared = _read(hs, contact_id)
    assert cleared["associatedcompanyid"] is None and cleared["lastmodifieddate"] > moved["lastmodifieddate"]


def test_archiving_the_primary_company_clears_it_on_the_contact(hs):
    contact_id, company_id = _contact(hs, "ada@example.org"), _company(hs, "Gone")
    hs.crm.associations.v4.basic_api.create_default("companies", company_id, "contacts", contact_id)
    assert _read(hs, contact_id)["associatedcompanyid"] == company_id  # from the company's side too
    before = _read(hs, contact_id)
    _tick()
    hs.crm.companies.basic_api.archive(company_id)
    after = _read(hs, contact_id)
    assert after["associatedcompanyid"] is None and after["lastmodifieddate"] > before["lastmodifieddate"]


def test_associatedcompanyid_is_read_only(hs):
    contact_id, company_id = _contact(hs, "ada@example.org"), _company(hs, "Acme")
    with pytest.raises(Exception) as exc:
        hs.crm.contacts.basic_api.update(contact_id, {"properties": {"associatedcompanyid": company_id}})
    assert exc.value.status == 400


def test_auto_association_makes_the_company_primary(hs, clean_sandbox):
    requests.post(f"{clean_sandbox.hubspot_url}/__sandbox_hs/config", json={"auto_associate": True}, timeout=10)
    contact_id = _contact(hs, "ada@initech.example")
    company_id = _read(hs, contact_id)["associatedcompanyid"]
    assert company_id and _types(hs, contact_id) == {company_id: {1, 279}}


def test_contacts_search_by_modification_window_and_salesforce_ids(hs):
    ids = [_contact(hs, f"p{i}@example.org", salesforcecontactid=f"003{i:015d}") for i in range(5)]
    company_id = _company(hs, "Acme")
    start = _read(hs, ids[-1])["lastmodifieddate"]
    _tick()
    hs.crm.associations.v4.basic_api.create_default("contacts", ids[1], "companies", company_id)
    hs.crm.contacts.basic_api.update(ids[3], {"properties": {"lifecyclestage": "lead"}})
    end = _read(hs, ids[3])["lastmodifieddate"]
    window = {
        "filterGroups": [
            {
                "filters": [
                    {"propertyName": "lastmodifieddate", "operator": "GT", "value": start},
                    {"propertyName": "lastmodifieddate", "operator": "LTE", "value": end},
                ]
            }
        ],
        "sorts": [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}],  # one sort: HubSpot's limit
        "properties": list(STAMPS),
        "limit": 100,
    }
    found = hs.crm.contacts.search_api.do_search(window)
    assert [r.id for r in found.results] == [ids[1], ids[3]] and found.total == 2
    two_sorts = {**window, "sorts": [*window["sorts"], {"propertyName": "hs_object_id", "direction": "ASCENDING"}]}
    with pytest.raises(Exception) as exc:
        hs.crm.contacts.search_api.do_search(two_sorts)
    assert exc.value.status == 400
    wanted = [f"003{i:015d}" for i in range(100)]  # 100 values, the most one filter takes
    by_ids = {
        "filterGroups": [{"filters": [{"propertyName": "salesforcecontactid", "operator": "IN", "values": wanted}]}],
        "limit": 100,
    }
    assert sorted(r.id for r in hs.crm.contacts.search_api.do_search(by_ids).results) == sorted(ids)


def test_list_memberships_in_join_order_with_their_timestamps(hs, clean_sandbox):
    url = clean_sandbox.hubspot_url
    ids = [_contact(hs, f"p{i}@example.org") for i in range(4)]
    created = requests.post(
        f"{url}/crm/v3/lists",
        json={"name": "Inclusion", "objectTypeId": "0-1", "processingType": "MANUAL"},
        headers=AUTH,
        timeout=10,
    ).json()
    list_id = created["list"]["listId"]

    def add(*members: str) -> None:
        _tick()
        response = requests.put(
            f"{url}/crm/v3/lists/{list_id}/memberships/add", json=list(members), headers=AUTH, timeout=10
        )
        assert response.status_code == 200

    add(ids[2])
    add(ids[0], ids[3])  # joined in the same call: one timestamp, then record id order
    add(ids[1])
    first = hs.crm.lists.memberships_api.get_page_ordered_by_added_to_list_date(list_id, limit=100).results
    assert [m.record_id for m in first] == [ids[2], ids[0], ids[3], ids[1]]
    stamps = [m.membership_timestamp for m in first]
    assert stamps == sorted(stamps) and stamps[1] == stamps[2] and stamps[0] < stamps[1] < stamps[3]
    # removed and added again: a new timestamp, at the end of the join order
    requests.put(f"{url}/crm/v3/lists/{list_id}/memberships/remove", json=[ids[2]], headers=AUTH, timeout=10)
    add(ids[2])
    page1 = hs.crm.lists.memberships_api.get_page_ordered_by_added_to_list_date(list_id, limit=2)
    page2 = hs.crm.lists.memberships_api.get_page_ordered_by_added_to_list_date(
        list_id, after=page1.paging.next.after, limit=2
    )
    again = page1.results + page2.results
    assert [m.record_id for m in again] == [ids[0], ids[3], ids[1], ids[2]]
    assert again[-1].membership_timestamp > stamps[-1]
    by_id = hs.crm.lists.memberships_api.get_page(list_id, limit=100).results
    assert [m.record_id for m in by_id] == sorted(ids, key=int)


def test_associations_batch_read_takes_1000_ids_and_refuses_more(hs, clean_sandbox):
    company_id = _company(hs, "Acme")
    contact_id = _contact(hs, "ada@example.org")
    hs.crm.associations.v4.basic_api.create_default("contacts", contact_id, "companies", company_id)
    inputs = [{"id": contact_id}] + [{"id": str(40_000_000_000 + i)} for i in range(999)]
    page = hs.crm.associations.v4.batch_api.get_page("contacts", "companies", {"inputs": inputs})
    assert [r._from.id for r in page.results] == [contact_id] and page.num_errors == 999
    with pytest.raises(AssociationsApiException) as exc:
        hs.crm.associations.v4.batch_api.get_page("contacts", "companies", {"inputs": [*inputs, {"id": "1"}]})
    assert exc.value.status == 400
    body = requests.post(
        f"{clean_sandbox.hubspot_url}/crm/v4/associations/contacts/companies/batch/read",
        json={"inputs": [*inputs, {"id": "1"}]},
        headers=AUTH,
        timeout=10,
    ).json()
    assert body["category"] == "VALIDATION_ERROR" and "1000" in body["message"]
    # the other batch endpoints keep their 100
    create = [{"from": {"id": contact_id}, "to": {"id": company_id}}] * 101
    with pytest.raises(AssociationsApiException) as exc:
        hs.crm.associations.v4.batch_api.create_default("contacts", "companies", {"inputs": create})
    assert exc.value.status == 400


def test_salesforce_id_searches_use_the_index_and_match_the_scan(hs, clean_sandbox):
    """`salesforcecontactid` / `salesforceleadid` are hashed (not unique: shared values, case, updates,
    archives): the indexed answer equals the full scan's."""
    from unittest import mock

    from include.sandbox.hubspot.index import SearchIndex

    ids = [
        _contact(hs, f"p{i}@example.org", salesforcecontactid=f"003X{i % 3}", salesforceleadid=f"00Qa{i % 2}")
        for i in range(9)
    ]
    hs.crm.contacts.basic_api.update(ids[0], {"properties": {"salesforcecontactid": "003X9"}})
    hs.crm.contacts.basic_api.update(ids[1], {"properties": {"salesforceleadid": ""}})
    hs.crm.contacts.basic_api.archive(ids[2])
    bodies = [
        {"propertyName": "salesforcecontactid", "operator": "IN", "values": ["003x0", "003X2", "003X9", "none"]},
        {"propertyName": "salesforcecontactid", "operator": "EQ", "value": "003X1"},
        {"propertyName": "salesforceleadid", "operator": "IN", "values": ["00QA1"]},
    ]
    for flt in bodies:
        body = {"filterGroups": [{"filters": [flt]}], "properties": ["salesforcecontactid"], "limit": 100}
        indexed = hs.crm.contacts.search_api.do_search(body)
        with mock.patch.object(SearchIndex, "candidates", return_value=None):
            scanned = hs.crm.contacts.search_api.do_search(body)
        assert [r.id for r in indexed.results] == [r.id for r in scanned.results] and indexed.total == scanned.total
        assert indexed.total > 0
    api = clean_sandbox.hubspot
    with api.state.guard:  # answered from the hash index: exactly the three contacts with that value
        found = api.store.search_index.candidates("contacts", [{"filters": [bodies[1]]}], api.store.order["contacts"])
    assert sorted(r["id"] for r in found) == sorted([ids[1], ids[4], ids[7]])
