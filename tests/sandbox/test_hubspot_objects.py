"""HubSpot sandbox, driven through hubspot-api-client: auth, objects v3, batches, upserts, validation,
search, rate limits and retries, persistence."""

from __future__ import annotations

import json
import time

import pytest
import requests
import urllib3
import yaml
from hubspot import HubSpot
from hubspot.crm.companies import (
    ApiException,
    BatchInputSimplePublicObjectBatchInput,
    BatchInputSimplePublicObjectBatchInputForCreate,
    BatchInputSimplePublicObjectBatchInputUpsert,
    BatchInputSimplePublicObjectId,
    BatchReadInputSimplePublicObjectId,
    BatchResponseSimplePublicObject,
    BatchResponseSimplePublicObjectWithErrors,
    BatchResponseSimplePublicUpsertObject,
    BatchResponseSimplePublicUpsertObjectWithErrors,
    PublicObjectSearchRequest,
    SimplePublicObjectInput,
    SimplePublicObjectInputForCreate,
)
from hubspot.crm.contacts import ApiException as ContactsApiException

from include.sandbox.hubspot.seeding import FIELD_MAPPINGS
from include.sandbox.server import HUBSPOT_TOKEN, start_sandbox

NO_LIMITS = {"ten_second_limit": None, "search_per_second": None, "daily_limit": None, "auto_associate": True}


def configure(url: str, **settings) -> dict:
    response = requests.post(f"{url}/__sandbox_hs/config", json=settings, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture
def hs(clean_sandbox):
    """A client on the emptied sandbox, rate limits off (restored afterwards)."""
    url = clean_sandbox.hubspot_url
    before = requests.get(f"{url}/__sandbox_hs/config", timeout=10).json()
    configure(url, **NO_LIMITS)
    yield HubSpot(access_token=HUBSPOT_TOKEN, host=url)
    configure(url, **before)


def error_of(exc: pytest.ExceptionInfo) -> dict:
    return json.loads(exc.value.body)


def create_companies(client: HubSpot, rows: list[dict]) -> list[str]:
    ids = []
    for start in range(0, len(rows), 100):
        batch = BatchInputSimplePublicObjectBatchInputForCreate(
            inputs=[{"properties": p} for p in rows[start : start + 100]]
        )
        ids += [r.id for r in client.crm.companies.batch_api.create(batch).results]
    return ids


def test_wrong_or_missing_token_gets_hubspots_401(sandbox):
    client = HubSpot(access_token="not-the-token", host=sandbox.hubspot_url)
    with pytest.raises(ApiException) as exc:
        client.crm.companies.basic_api.get_page()
    assert exc.value.status == 401
    body = error_of(exc)
    assert body["category"] == "INVALID_AUTHENTICATION"
    assert body["status"] == "error" and body["message"].startswith("Authentication credentials not found")
    assert len(body["correlationId"]) == 36
    assert requests.get(f"{sandbox.hubspot_url}/crm/v3/owners", timeout=10).status_code == 401


def test_create_read_update_archive_round_trip(hs):
    created = hs.crm.companies.basic_api.create(
        SimplePublicObjectInputForCreate(
            properties={
                "name": "Acme",
                "domain": "acme.example",
                "numberofemployees": "12",
                "annualrevenue": "1000.50",
                "industry": "COMPUTER_SOFTWARE",
                "createdate": "1700000000000",
            }
        )
    )
    assert created.properties["hs_object_source"] == "INTEGRATION"
    assert created.properties["annualrevenue"] == "1000.5"
    assert created.properties["createdate"] == "2023-11-14T22:13:20.000Z"
    got = hs.crm.companies.basic_api.get_by_id(created.id, properties=["name", "industry", "phone"])
    assert got.properties["industry"] == "COMPUTER_SOFTWARE" and got.properties["phone"] is None
    assert set(got.properties) >= {"name", "industry", "phone", "createdate", "hs_lastmodifieddate", "hs_object_id"}
    default = hs.crm.companies.basic_api.get_by_id(created.id)
    assert set(default.properties) == {"name", "domain", "createdate", "hs_lastmodifieddate", "hs_object_id"}
    time.sleep(0.005)
    updated = hs.crm.companies.basic_api.update(created.id, SimplePublicObjectInput(properties={"industry": ""}))
    assert updated.updated_at > created.updated_at
    assert updated.properties["hs_lastmodifieddate"] > created.properties["hs_lastmodifieddate"]
    again = hs.crm.companies.basic_api.get_by_id(
        created.id, properties=["industry"], properties_with_history=["industry"]
    )
    assert again.properties["industry"] is None
    assert [h.value for h in again.properties_with_history["industry"]] == ["", "COMPUTER_SOFTWARE"]
    hs.crm.companies.basic_api.archive(created.id)
    with pytest.raises(ApiException) as exc:
        hs.crm.companies.basic_api.get_by_id(created.id)
    assert exc.value.status == 404 and error_of(exc)["category"] == "OBJECT_NOT_FOUND"
    archived = hs.crm.companies.basic_api.get_by_id(created.id, archived=True)
    assert archived.archived is True and archived.archived_at is not None
    assert [c.id for c in hs.crm.companies.basic_api.get_page(archived=True).results] == [created.id]


def test_seeded_companies_page_with_get_all(hs, clean_sandbox):
    requests.post(f"{clean_sandbox.hubspot_url}/__sandbox/reset", json={"seed": 1100}, timeout=60)
    configure(clean_sandbox.hubspot_url, **NO_LIMITS)
    companies = hs.crm.companies.get_all(properties=["domain", "industry", "type", "hs_object_source", "website"])
    assert len(companies) == 1100 and len({c.id for c in companies}) == 1100
    assert [int(c.id) for c in companies] == sorted(int(c.id) for c in companies)
    assert {c.properties["hs_object_source"] for c in companies} == {"CRM_UI"}
    blank_domains = sum(1 for c in companies if not c.properties["domain"])
    assert 20 <= blank_domains <= 90  # about 5 %
    with FIELD_MAPPINGS.open() as fh:
        maps = yaml.safe_load(fh)["value_maps"]
    assert {c.properties["industry"] for c in companies} - {None} <= {hs_value for _, hs_value in maps["Industry"]}
    assert {c.properties["type"] for c in companies} - {None} <= {hs_value for _, hs_value in maps["Type"]}
    page = requests.get(
        f"{clean_sandbox.hubspot_url}/crm/v3/objects/companies",
        params={"limit": 100},
        headers={"Authorization": f"Bearer {HUBSPOT_TOKEN}"},
        timeout=10,
    ).json()
    assert page["paging"]["next"]["after"] == companies[100].id
    assert "after=" in page["paging"]["next"]["link"]
    comma = requests.get(
        f"{clean_sandbox.hubspot_url}/crm/v3/objects/companies",
        params={"limit": 1, "properties": "name,city"},
        headers={"Authorization": f"Bearer {HUBSPOT_TOKEN}"},
        timeout=10,
    ).json()
    assert {"name", "city"} <= set(comma["results"][0]["properties"])
    with pytest.raises(ApiException) as exc:
        hs.crm.companies.basic_api.get_page(limit=101)
    assert exc.value.status == 400 and error_of(exc)["category"] == "VALIDATION_ERROR"


def test_batch_with_mixed_results_answers_207(hs):
    batch = BatchInputSimplePublicObjectBatchInputForCreate(
        inputs=[
            {"properties": {"name": "Good", "industry": "BANKING"}},
            {"properties": {"name": "Bad", "industry": "Banking"}},
            {"properties": {"name": "Unknown", "no_such_property": "x"}},
        ]
    )
    result = hs.crm.companies.batch_api.create(batch)
    assert isinstance(result, BatchResponseSimplePublicObjectWithErrors)
    assert result.status == "COMPLETE" and result.num_errors == 2
    assert [r.properties["name"] for r in result.results] == ["Good"]
    codes = {e.errors[0].code for e in result.errors}
    assert codes == {"INVALID_OPTION", "PROPERTY_DOESNT_EXIST"}
    assert all(e.category == "VALIDATION_ERROR" and e.status == "error" for e in result.errors)
    good_id = result.results[0].id
    read = hs.crm.companies.batch_api.read(
        BatchReadInputSimplePublicObjectId(
            inputs=[{"id": good_id}, {"id": "999"}], properties=["name"], properties_with_history=[]
        )
    )
    assert isinstance(read, BatchResponseSimplePublicObjectWithErrors)
    assert read.errors[0].category == "OBJECT_NOT_FOUND" and read.errors[0].context == {"ids": ["999"]}
    update = hs.crm.companies.batch_api.update(
        BatchInputSimplePublicObjectBatchInput(
            inputs=[{"id": good_id, "properties": {"city": "Paris"}}, {"id": "12345", "properties": {"city": "Rome"}}]
        )
    )
    assert isinstance(update, BatchResponseSimplePublicObjectWithErrors)
    assert update.results[0].properties["city"] == "Paris" and update.errors[0].context["ids"] == ["12345"]
    clean = hs.crm.companies.batch_api.read(
        BatchReadInputSimplePublicObjectId(inputs=[{"id": good_id}], properties=["city"], properties_with_history=[])
    )
    assert isinstance(clean, BatchResponseSimplePublicObject) and clean.results[0].properties["city"] == "Paris"
    hs.crm.companies.batch_api.archive(BatchInputSimplePublicObjectId(inputs=[{"id": good_id}]))
    assert hs.crm.companies.basic_api.get_page().results == []
    with pytest.raises(ApiException) as exc:
        hs.crm.companies.batch_api.create(
            BatchInputSimplePublicObjectBatchInputForCreate(
                inputs=[{"properties": {"name": str(i)}} for i in range(101)]
            )
        )
    assert exc.value.status == 400 and error_of(exc)["category"] == "VALIDATION_ERROR"


def test_upsert_by_salesforceaccountid_creates_then_updates(hs):
    def upsert(name: str, id_property: str = "salesforceaccountid"):
        return hs.crm.companies.batch_api.upsert(
            BatchInputSimplePublicObjectBatchInputUpsert(
                inputs=[{"id": "0015g00000ABCDEAAA", "idProperty": id_property, "properties": {"name": name}}]
            )
        )

    first = upsert("First")
    assert isinstance(first, BatchResponseSimplePublicUpsertObject)
    assert first.results[0].new is True and first.results[0].properties["salesforceaccountid"] == "0015g00000ABCDEAAA"
    second = upsert("Second")
    assert second.results[0].new is False and second.results[0].id == first.results[0].id
    assert (
        hs.crm.companies.basic_api.get_by_id(
            "0015g00000ABCDEAAA", id_property="salesforceaccountid", properties=["name"]
        ).properties["name"]
        == "Second"
    )
    with pytest.raises(ApiException) as exc:
        upsert("Third", id_property="name")
    assert exc.value.status == 400 and "unique" in error_of(exc)["message"]
    mixed = hs.crm.companies.batch_api.upsert(
        BatchInputSimplePublicObjectBatchInputUpsert(
            inputs=[
                {"id": "0015g00000NEWAAAAA", "idProperty": "salesforceaccountid", "properties": {"name": "New"}},
                {"id": "0015g00000BADAAAAA", "idProperty": "salesforceaccountid", "properties": {"type": "nope"}},
            ]
        )
    )
    assert isinstance(mixed, BatchResponseSimplePublicUpsertObjectWithErrors)
    assert mixed.num_errors == 1 and mixed.errors[0].context == {"ids": ["0015g00000BADAAAAA"]}
    assert mixed.results[0].new is True


@pytest.mark.parametrize(
    ("properties", "status", "category", "code"),
    [
        ({"nonexistent": "x"}, 400, "VALIDATION_ERROR", "PROPERTY_DOESNT_EXIST"),
        ({"lifecyclestage": "bogus"}, 400, "VALIDATION_ERROR", "INVALID_OPTION"),
        ({"numberofemployees": "1.5"}, 400, "VALIDATION_ERROR", "INVALID_INTEGER"),
        ({"annualrevenue": "lots"}, 400, "VALIDATION_ERROR", "INVALID_DECIMAL"),
        ({"hs_object_source": "CRM_UI"}, 400, "VALIDATION_ERROR", "READ_ONLY_VALUE"),
        ({"hubspot_owner_id": "42"}, 400, "VALIDATION_ERROR", "INVALID_OWNER_ID"),
        ({"salesforceaccountid": "taken"}, 409, "CONFLICT", "UNIQUE_VALUE_CONFLICT"),
    ],
)
def test_validation_errors_surface_as_api_exceptions(hs, properties, status, category, code):
    hs.crm.companies.basic_api.create(SimplePublicObjectInputForCreate(properties={"salesforceaccountid": "taken"}))
    with pytest.raises(ApiException) as exc:
        hs.crm.companies.basic_api.create(SimplePublicObjectInputForCreate(properties={"name": "x", **properties}))
    body = error_of(exc)
    assert exc.value.status == status and body["category"] == category
    assert body["errors"][0]["code"] == code and body["correlationId"]
    if category == "VALIDATION_ERROR":
        assert code in body["message"]


def test_contacts_email_is_unique_and_lastmodifieddate_moves(hs):
    contact = hs.crm.contacts.basic_api.create({"properties": {"email": "ann@free.example", "firstname": "Ann"}})
    assert contact.properties["lastmodifieddate"] and contact.properties["hs_object_id"] == contact.id
    with pytest.raises(ContactsApiException) as exc:
        hs.crm.contacts.basic_api.create({"properties": {"email": "ANN@free.example"}})
    assert exc.value.status == 409 and f"Existing ID: {contact.id}" in error_of(exc)["message"]
    found = hs.crm.contacts.basic_api.get_by_id("ann@free.example", id_property="email", properties=["firstname"])
    assert found.id == contact.id and found.properties["firstname"] == "Ann"


def _search(hs, **kwargs):
    return hs.crm.companies.search_api.do_search(PublicObjectSearchRequest(**kwargs))


def test_search_operators_sorts_and_paging(hs):
    ids = create_companies(
        hs,
        [
            {"name": "Alpha Widgets", "domain": "alpha.com", "numberofemployees": "10", "city": "Paris"},
            {"name": "Beta Tools", "domain": "beta.io", "numberofemployees": "20", "city": "Berlin"},
            {"name": "Gamma", "domain": "gamma.com", "numberofemployees": "30"},
            {"name": "Delta Widgets", "domain": "delta.de", "numberofemployees": "40", "city": "Paris"},
        ],
    )

    def names(*filters, groups=None, **kwargs):
        filter_groups = groups if groups is not None else [{"filters": list(filters)}]
        result = _search(
            hs, filter_groups=filter_groups, sorts=kwargs.pop("sorts", ["name"]), properties=["name"], **kwargs
        )
        return [r.properties["name"] for r in result.results]

    f = lambda name, op, **kw: {"propertyName": name, "operator": op, **kw}  # noqa: E731
    assert names(f("city", "EQ", value="paris")) == ["Alpha Widgets", "Delta Widgets"]
    assert names(f("city", "NEQ", value="Paris")) == ["Beta Tools", "Gamma"]
    assert names(f("numberofemployees", "LT", value="20")) == ["Alpha Widgets"]
    assert names(f("numberofemployees", "LTE", value="20")) == ["Alpha Widgets", "Beta Tools"]
    assert names(f("numberofemployees", "GT", value="30")) == ["Delta Widgets"]
    assert names(f("numberofemployees", "GTE", value="30")) == ["Delta Widgets", "Gamma"]
    assert names(f("numberofemployees", "BETWEEN", value="15", highValue="35")) == ["Beta Tools", "Gamma"]
    assert names(f("domain", "IN", values=["beta.io", "gamma.com"])) == ["Beta Tools", "Gamma"]
    assert names(f("domain", "NOT_IN", values=["beta.io", "gamma.com"])) == ["Alpha Widgets", "Delta Widgets"]
    assert names(f("city", "HAS_PROPERTY")) == ["Alpha Widgets", "Beta Tools", "Delta Widgets"]
    assert names(f("city", "NOT_HAS_PROPERTY")) == ["Gamma"]
    assert names(f("name", "CONTAINS_TOKEN", value="widgets")) == ["Alpha Widgets", "Delta Widgets"]
    assert names(f("name", "CONTAINS_TOKEN", value="wid*")) == ["Alpha Widgets", "Delta Widgets"]
    assert names(f("name", "NOT_CONTAINS_TOKEN", value="widgets")) == ["Beta Tools", "Gamma"]
    assert names(
        groups=[{"filters": [f("city", "EQ", value="Berlin")]}, {"filters": [f("domain", "EQ", value="gamma.com")]}]
    ) == ["Beta Tools", "Gamma"]
    assert names(groups=[], sorts=[{"propertyName": "numberofemployees", "direction": "DESCENDING"}]) == [
        "Delta Widgets",
        "Gamma",
        "Beta Tools",
        "Alpha Widgets",
    ]
    assert names(groups=[], sorts=["-numberofemployees"])[0] == "Delta Widgets"
    created = hs.crm.companies.basic_api.get_by_id(ids[0]).properties["createdate"]
    epoch = str(int(time.mktime(time.strptime(created[:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone) * 1000)
    assert len(names(f("createdate", "GTE", value=epoch))) == 4
    assert len(names(f("createdate", "GTE", value=created))) == 4
    assert names(f("hs_lastmodifieddate", "LT", value="2000-01-01T00:00:00Z")) == []
    hs.crm.companies.basic_api.archive(ids[2])
    first = _search(hs, filter_groups=[], sorts=["hs_object_id"], limit=2, properties=["name"])
    assert first.total == 3 and first.paging.next.after == "2"
    second = _search(hs, filter_groups=[], sorts=["hs_object_id"], limit=2, after=first.paging.next.after)
    assert [r.id for r in first.results + second.results] == [ids[0], ids[1], ids[3]] and second.paging is None
    assert set(first.results[0].properties) >= {"name", "createdate", "hs_lastmodifieddate", "hs_object_id"}


def test_search_refuses_paging_past_10000_and_too_many_filters(hs):
    with pytest.raises(ApiException) as exc:
        _search(hs, filter_groups=[], limit=100, after="9950")
    assert exc.value.status == 400 and error_of(exc)["category"] == "VALIDATION_ERROR"
    assert "10000" in error_of(exc)["message"]
    assert _search(hs, filter_groups=[], limit=100, after="9900").total == 0
    too_many = [{"filters": [{"propertyName": "name", "operator": "HAS_PROPERTY"}] * 6}] * 4
    with pytest.raises(ApiException) as exc:
        _search(hs, filter_groups=too_many)
    assert exc.value.status == 400
    with pytest.raises(ApiException) as exc:
        _search(hs, filter_groups=[], limit=201)
    assert exc.value.status == 400


def _retrying_client(url: str) -> HubSpot:
    retry = urllib3.Retry(
        total=3, status_forcelist=[429], allowed_methods=None, respect_retry_after_header=True, backoff_factor=0
    )
    return HubSpot(access_token=HUBSPOT_TOKEN, host=url, retry=retry)


def _statuses(url: str, path: str) -> list[int]:
    log = requests.get(f"{url}/__sandbox/requests", timeout=10).json()["requests"]
    return [r["status"] for r in log if r["path"] == path]


def test_injected_429_is_hubspot_shaped_and_retried_including_post(hs, clean_sandbox):
    url = clean_sandbox.hubspot_url
    requests.post(
        f"{url}/__sandbox/faults",
        json={
            "count": 2,
            "method": "POST",
            "status": 429,
            "retry_after": 0,
            "path_prefix": "/crm/v3/objects/companies/batch",
        },
        timeout=10,
    )
    result = _retrying_client(url).crm.companies.batch_api.create(
        BatchInputSimplePublicObjectBatchInputForCreate(inputs=[{"properties": {"name": "Retried"}}])
    )
    assert result.results[0].properties["name"] == "Retried"
    assert _statuses(url, "/crm/v3/objects/companies/batch/create") == [429, 429, 201]
    requests.post(f"{url}/__sandbox/faults", json={"count": 1, "status": 429}, timeout=10)
    raw = requests.get(f"{url}/crm/v3/owners", headers={"Authorization": f"Bearer {HUBSPOT_TOKEN}"}, timeout=10)
    assert raw.status_code == 429 and raw.json()["policyName"] == "TEN_SECONDLY_ROLLING"
    assert raw.json()["category"] == "RATE_LIMITS" and raw.json()["errorType"] == "RATE_LIMIT"


def test_real_rate_limits_answer_429_and_are_retried(hs, clean_sandbox):
    url = clean_sandbox.hubspot_url
    auth = {"Authorization": f"Bearer {HUBSPOT_TOKEN}"}
    configure(url, ten_second_limit=3)
    answers = [requests.get(f"{url}/crm/v3/owners", headers=auth, timeout=10) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert answers[0].headers["X-HubSpot-RateLimit-Max"] == "3"
    assert answers[0].headers["X-HubSpot-RateLimit-Remaining"] == "2"
    assert answers[0].headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"
    assert 1 <= int(answers[3].headers["Retry-After"]) <= 10
    limited = answers[3].json()
    assert (limited["status"], limited["policyName"], limited["category"]) == (
        "error",
        "TEN_SECONDLY_ROLLING",
        "RATE_LIMITS",
    )
    assert limited["message"] == "You have reached your ten_secondly_rolling limit."
    configure(url, ten_second_limit=None, daily_limit=2)
    daily = [requests.get(f"{url}/crm/v3/owners", headers=auth, timeout=10) for _ in range(3)]
    assert [d.status_code for d in daily] == [200, 200, 429] and daily[2].json()["policyName"] == "DAILY"
    assert daily[1].headers["X-HubSpot-RateLimit-Daily-Remaining"] == "0"
    configure(url, daily_limit=None, search_per_second=1)
    client = _retrying_client(url)
    started = time.monotonic()
    for _ in range(2):
        assert client.crm.companies.search_api.do_search(PublicObjectSearchRequest(filter_groups=[])).total == 0
    assert time.monotonic() - started >= 0.5
    assert _statuses(url, "/crm/v3/objects/companies/search") == [200, 429, 200]


def test_state_persists_across_restart(tmp_path):
    first = start_sandbox(tmp_path, salesforce_port=0, hubspot_port=0)
    try:
        client = HubSpot(access_token=HUBSPOT_TOKEN, host=first.hubspot_url)
        created = client.crm.companies.basic_api.create(
            SimplePublicObjectInputForCreate(properties={"name": "Durable", "salesforceaccountid": "001DURABLE"})
        )
    finally:
        first.stop()
    second = start_sandbox(tmp_path, salesforce_port=0, hubspot_port=0)
    try:
        client = HubSpot(access_token=HUBSPOT_TOKEN, host=second.hubspot_url)
        found = client.crm.companies.basic_api.get_by_id("001DURABLE", id_property="salesforceaccountid")
        assert found.id == created.id and found.properties["name"] == "Durable"
        nxt = client.crm.companies.basic_api.create(SimplePublicObjectInputForCreate(properties={"name": "Next"}))
        assert int(nxt.id) > int(created.id)
    finally:
        second.stop()
