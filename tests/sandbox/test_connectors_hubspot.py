"""HubSpotConnector against the HubSpot sandbox, built from an Airflow connection through HubSpotHook."""

from __future__ import annotations

import copy
import json
import math
import threading
import time
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
import requests

from include.company_sync.connectors.http_policy import (
    ConnectorError,
    HubSpotRateLimits,
    RateLimiter,
    RetryPolicy,
    SetupError,
)
from include.company_sync.connectors.hubspot import ID_PROPERTY, HubSpotConnector
from include.company_sync.connectors.hubspot_hook import HubSpotHook
from include.company_sync.settings import parse_field_mappings
from tests.sandbox.conftest import set_connections

PROPERTIES = [m.hubspot for m in parse_field_mappings(None)]
FAST = RetryPolicy(total=5, backoff_factor=0.01, backoff_max=0.2, backoff_jitter=0.0, retry_after_max=5)
BATCH = "/crm/v3/objects/companies/batch"
FAR_FUTURE = datetime.now(UTC) + timedelta(days=1)


def control(sandbox, method: str, path: str, payload: dict | None = None) -> dict:
    response = requests.request(method, f"{sandbox.hubspot_url}{path}", json=payload, timeout=60)
    response.raise_for_status()
    return response.json() if response.content else {}


def seed(sandbox, n: int) -> None:
    control(sandbox, "POST", "/__sandbox/reset", {"seed": n})


def api_requests(sandbox, method: str | None = None, prefix: str = "") -> list[dict]:
    return [
        r
        for r in control(sandbox, "GET", "/__sandbox/requests")["requests"]
        if (method is None or r["method"] == method) and r["path"].startswith(prefix)
    ]


def clear_requests(sandbox) -> None:
    control(sandbox, "DELETE", "/__sandbox/requests")


def fault(sandbox, **spec) -> None:
    control(sandbox, "POST", "/__sandbox/faults", spec)


@pytest.fixture
def connect(clean_sandbox, monkeypatch):
    """Build a connector from an Airflow connection set through the environment (as Airflow reads it)."""
    set_connections(monkeypatch, clean_sandbox, hubspot="hubspot_test")

    def build(policy: RetryPolicy = FAST, **kwargs) -> HubSpotConnector:
        from include.company_sync.connectors.http_policy import hubspot_retry

        kwargs.setdefault("limits", HubSpotRateLimits())  # a fresh limiter per test
        hook = HubSpotHook("hubspot_test", retry=hubspot_retry(policy))
        return HubSpotConnector.from_hook(hook, policy=policy, **kwargs)

    return build


def companies(n: int, prefix: str = "001HS") -> list[dict]:
    return [
        {
            ID_PROPERTY: f"{prefix}{i:013d}",
            "name": f"Company {prefix} {i}",
            "domain": f"{prefix.lower()}{i}.example",
            "numberofemployees": i + 1,
        }
        for i in range(n)
    ]


def test_hook_builds_the_client_from_the_connection(connect, clean_sandbox):
    hook = HubSpotHook("hubspot_test")
    client = hook.get_conn()
    assert client.config["host"] == clean_sandbox.hubspot_url
    assert client.config["retry"].allowed_methods is None  # POST retried too
    assert 429 in client.config["retry"].status_forcelist
    assert hook.test_connection()[0] is True


@pytest.fixture
def edited_sandbox(clean_sandbox):
    """For tests that edit the sandbox's state in-process: emptied again afterwards, so no later test
    (in any file) sees a portal without its properties."""
    yield clean_sandbox
    control(clean_sandbox, "POST", "/__sandbox/reset", {})


def _drop_sandbox_property(sandbox, name: str) -> dict:
    """The sandbox ships `salesforceaccountid` as a HubSpot-defined property that cannot be archived through
    the API, so a portal without it is made by editing the in-process sandbox state."""
    with sandbox.hubspot.state.lock:
        return sandbox.hubspot.store.data["properties"]["companies"].pop(name)


def test_check_setup_creates_the_unique_property(connect, edited_sandbox):
    clean_sandbox = edited_sandbox
    hs = connect()
    hs.check_setup()  # already there: nothing created
    assert api_requests(clean_sandbox, "POST", "/crm/v3/properties/companies") == []
    _drop_sandbox_property(clean_sandbox, ID_PROPERTY)
    hs.check_setup()
    created = api_requests(clean_sandbox, "POST", "/crm/v3/properties/companies")
    assert len(created) == 1 and created[0]["status"] == 201
    prop = hs.client.crm.properties.core_api.get_by_name("companies", ID_PROPERTY)
    assert prop.has_unique_value is True and prop.type == "string" and prop.field_type == "text"
    assert prop.group_name == "companyinformation"
    hs.check_setup()  # idempotent
    assert len(api_requests(clean_sandbox, "POST", "/crm/v3/properties/companies")) == 1
    result = hs.upsert_companies(companies(2, "001CS"))  # and it keys upserts
    assert result["success"].all()


def test_check_setup_on_definitions_already_read_costs_no_call(connect, edited_sandbox):
    """prepare reads every company property definition for the mapping check; the setup check uses them."""
    from include.company_sync.connectors.schemas import company_property_definitions

    clean_sandbox = edited_sandbox
    hs = connect()
    definitions = company_property_definitions(hs)
    before = hs.calls.as_dict()
    hs.check_setup(definitions)
    assert hs.calls.as_dict() == before  # found in the definitions: no call
    _drop_sandbox_property(clean_sandbox, ID_PROPERTY)
    hs.check_setup(company_property_definitions(hs))  # missing from them: created, as without definitions
    created = api_requests(clean_sandbox, "POST", "/crm/v3/properties/companies")
    assert len(created) == 1 and created[0]["status"] == 201
    non_unique = [{**d, "hasUniqueValue": False} if d["name"] == ID_PROPERTY else d for d in definitions]
    with pytest.raises(SetupError, match="unique"):
        hs.check_setup(non_unique)


def test_check_setup_refuses_a_non_unique_property(connect, edited_sandbox):
    clean_sandbox = edited_sandbox
    from hubspot.crm.properties import PropertyCreate

    hs = connect()
    _drop_sandbox_property(clean_sandbox, ID_PROPERTY)
    hs.client.crm.properties.core_api.create(
        "companies",
        PropertyCreate(
            name=ID_PROPERTY,
            label="SF id",
            type="string",
            field_type="text",
            group_name="companyinformation",
            has_unique_value=False,
        ),
    )
    with pytest.raises(SetupError, match="unique"):
        hs.check_setup()


def test_batch_reads_run_several_at_once_with_the_same_result(connect, clean_sandbox):
    """Batch reads go out `read_workers` at a time (each waits on the API's latency), in order, same answer."""
    seed(clean_sandbox, 450)
    ids = list(connect().companies_changed(PROPERTIES, None, FAR_FUTURE)["id"])
    one_by_one = connect(read_workers=1).companies_by_ids(ids, PROPERTIES)

    hs = connect(read_workers=8)
    in_flight, peak, lock = [0], [0], threading.Lock()
    call = hs._call

    def counted_call(*args, **kwargs):
        with lock:
            in_flight[0] += 1
            peak[0] = max(peak[0], in_flight[0])
        try:
            return call(*args, **kwargs)
        finally:
            with lock:
                in_flight[0] -= 1

    hs._call = counted_call
    fault(clean_sandbox, count=5, method="POST", path_prefix="/crm/v3/objects/companies/batch/read", latency_ms=300)
    at_once = hs.companies_by_ids(ids, PROPERTIES)
    pd.testing.assert_frame_equal(at_once, one_by_one)
    assert hs.calls.as_dict() == {"companies.batch_read": 5} and peak[0] > 1


def test_windowed_extract_and_archived_companies(connect, clean_sandbox):
    seed(clean_sandbox, 80)
    hs = connect()
    everything = hs.companies_changed(PROPERTIES, None, FAR_FUTURE)
    assert len(everything) == everything["id"].nunique() > 0
    for column in (
        "id",
        "createdate",
        "hs_lastmodifieddate",
        "domain",
        ID_PROPERTY,
        "hs_object_source",
        "lifecyclestage",
        *PROPERTIES,
    ):
        assert column in everything.columns
    assert str(everything["hs_lastmodifieddate"].dt.tz) == "UTC"

    stamps = everything["hs_lastmodifieddate"].sort_values().reset_index(drop=True)
    start, stop = stamps.iloc[len(stamps) // 4], stamps.iloc[3 * len(stamps) // 4]
    window = hs.companies_changed(PROPERTIES, start.to_pydatetime(), stop.to_pydatetime())
    stamp = everything["hs_lastmodifieddate"]
    assert set(window["id"]) == set(everything.loc[(stamp >= start) & (stamp < stop), "id"])
    assert not window["archived"].any()

    before = datetime.now(UTC) - timedelta(seconds=1)
    victim = str(everything["id"].iloc[0])
    hs.client.crm.companies.basic_api.archive(victim)
    recent = hs.companies_changed(PROPERTIES, before, datetime.now(UTC) + timedelta(seconds=5))
    archived = recent[recent["archived"]]
    assert list(archived["id"]) == [victim]


def test_search_window_is_split_below_the_result_cap(connect, clean_sandbox, caplog):
    caplog.set_level("INFO", logger="include.company_sync.connectors.hubspot")
    seed(clean_sandbox, 150)
    full = connect().companies_changed([], None, FAR_FUTURE)
    clear_requests(clean_sandbox)
    hs = connect(search_cap=40, search_page_size=15)
    start = full["hs_lastmodifieddate"].min().to_pydatetime()
    split = hs.companies_changed([], start, FAR_FUTURE)
    assert sorted(split["id"]) == sorted(full["id"])
    searches = api_requests(clean_sandbox, "POST", "/crm/v3/objects/companies/search")
    assert len(searches) > math.ceil(len(full) / 15)  # windows were split and re-queried
    assert all(r["status"] == 200 for r in searches)
    assert hs.calls["companies.search"] == len(searches)
    splits = [r for r in caplog.records if "exceed search's 40-result cap" in r.getMessage()]
    assert len(splits) >= len(full) // 40 - 1


def test_reads_by_ids_property_contacts_associations_lists_owners(connect, clean_sandbox):
    seed(clean_sandbox, 40)
    hs = connect()
    everything = hs.companies_changed(["name"], None, FAR_FUTURE)
    ids = list(everything["id"])
    clear_requests(clean_sandbox)
    by_ids = hs.companies_by_ids(ids + ["999999999"], ["name"])
    assert set(by_ids["id"]) == set(ids)
    assert len(api_requests(clean_sandbox, "POST", f"{BATCH}/read")) == math.ceil((len(ids) + 1) / 100)

    domains = list(everything["domain"].dropna()[:5])
    by_domain = hs.companies_by_property("domain", domains)
    assert set(domains) <= set(by_domain["domain"])

    pairs = hs.associations(ids)
    assert list(pairs.columns) == ["company_id", "contact_id"] and len(pairs) > 0
    assert set(pairs["company_id"]) <= set(ids)
    contacts = hs.contacts_by_ids(list(pairs["contact_id"].unique()))
    assert list(contacts.columns) == [
        "id",
        "email",
        "lifecyclestage",
        "salesforcecontactid",
        "salesforceleadid",
        "lastmodifieddate",
    ]
    assert set(contacts["id"]) == set(pairs["contact_id"])

    members = hs.list_members("1")
    assert list(members.columns) == ["contact_id", "joined_at"] and len(members) > 0
    assert str(members["joined_at"].dt.tz) == "UTC" and members["joined_at"].notna().all()
    owners = hs.owners()
    assert list(owners.columns) == ["id", "email", "firstName", "lastName"] and len(owners) > 0
    stages = hs.lifecycle_stages()
    assert stages[:3] == ["subscriber", "lead", "marketingqualifiedlead"] and "customer" in stages

    with_sf = hs.upsert_companies(companies(3, "001LK"))
    linked = hs.companies_by_property(ID_PROPERTY, [c[ID_PROPERTY] for c in companies(3, "001LK")])
    assert set(linked["id"]) == set(with_sf["id"])


def test_upsert_call_count_created_then_updated(connect, clean_sandbox):
    hs = connect()
    records = companies(250)
    first = hs.upsert_companies(records)
    assert len(first) == 250 and first["success"].all() and first["created"].all()
    assert list(first["key"]) == [r[ID_PROPERTY] for r in records]
    assert len(api_requests(clean_sandbox, "POST", f"{BATCH}/upsert")) == math.ceil(250 / 100)
    assert hs.calls["companies.batch_upsert"] == 3

    again = hs.upsert_companies([{**r, "name": r["name"] + " v2"} for r in records])
    assert again["success"].all() and not again["created"].any()
    assert list(again["id"]) == list(first["id"])

    clear_requests(clean_sandbox)
    updates = [{"id": i, "phone": "+1 555 0100"} for i in first["id"][:150]]
    updated = hs.update_companies(updates)
    assert updated["success"].all() and list(updated["key"]) == list(first["id"][:150])
    assert len(api_requests(clean_sandbox, "POST", f"{BATCH}/update")) == 2


def test_partial_failures_are_mapped_per_record(connect, clean_sandbox):
    hs = connect()
    existing = hs.upsert_companies(companies(2, "001EX"))
    records = companies(6, "001PF")
    records[1]["industry"] = "NOT_AN_INDUSTRY"
    records[3]["numberofemployees"] = "many"
    result = hs.upsert_companies(records).set_index("key")
    good = [records[i][ID_PROPERTY] for i in (0, 2, 4, 5)]
    assert result.loc[good, "success"].all() and result.loc[good, "created"].all()
    for i in (1, 3):
        row = result.loc[records[i][ID_PROPERTY]]
        assert not row["success"] and row["category"] == "property_values", row.to_dict()
        assert row["message"]
    assert "industry" in result.loc[records[1][ID_PROPERTY], "fields"]

    # a duplicate: give one company the salesforceaccountid another already holds
    clash = hs.update_companies(
        [
            {"id": existing["id"].iloc[0], ID_PROPERTY: existing["key"].iloc[1]},
            {"id": existing["id"].iloc[1], "name": "still fine"},
            {"id": "123456789012", "name": "gone"},
        ]
    ).set_index("key")
    assert clash.loc[existing["id"].iloc[0], "category"] == "duplicates"
    assert bool(clash.loc[existing["id"].iloc[1], "success"]) is True
    assert clash.loc["123456789012", "category"] == "not_found"


def test_429_storm_and_5xx_are_retried_on_reads_and_writes(connect, clean_sandbox):
    seed(clean_sandbox, 10)
    hs = connect()
    fault(clean_sandbox, count=2, method="GET", path_prefix="/crm/v3/objects/companies", status=503)
    assert len(hs.companies_changed([], None, FAR_FUTURE)) > 0
    fault(clean_sandbox, count=2, method="POST", path_prefix="/crm/v3/objects/companies/search", status=502)
    assert len(hs.companies_changed([], datetime.now(UTC) - timedelta(days=3650), FAR_FUTURE)) > 0

    clear_requests(clean_sandbox)
    fault(clean_sandbox, count=2, method="POST", path_prefix=f"{BATCH}/upsert", status=429, retry_after=1)
    fault(clean_sandbox, count=1, method="POST", path_prefix=f"{BATCH}/upsert", status=500)
    fault(clean_sandbox, count=1, method="POST", path_prefix=f"{BATCH}/upsert", drop=True)
    started = time.monotonic()
    result = hs.upsert_companies(companies(120, "001RT"))
    assert time.monotonic() - started >= 2.0  # Retry-After honoured
    assert result["success"].all()
    statuses = [r["status"] for r in api_requests(clean_sandbox, "POST", f"{BATCH}/upsert")]
    assert statuses == [429, 429, 500, 0, 200, 200]
    assert hs.calls["companies.batch_upsert"] == 2  # retries are the policy's, not extra calls


def test_a_retry_takes_a_rate_limiter_slot_like_any_call(connect, clean_sandbox):
    limits = HubSpotRateLimits()
    hs = connect(limits=limits)
    fault(clean_sandbox, count=2, method="POST", path_prefix=f"{BATCH}/upsert", status=429, retry_after=0)
    fault(clean_sandbox, count=1, method="POST", path_prefix=f"{BATCH}/upsert", status=503)
    assert hs.upsert_companies(companies(10, "001SL"))["success"].all()
    assert len(limits.general._calls) == 4  # the call and its three retries: none may exceed the window
    configuration = hs._api("companies.batch_api").api_client.configuration
    assert copy.deepcopy(configuration).retries.before_retry.__self__ is limits.general  # copies share the limiter


def test_whole_batch_refusal_is_bisected(connect, clean_sandbox):
    hs = connect()
    fault(clean_sandbox, count=1, method="POST", path_prefix=f"{BATCH}/upsert", status=400)
    result = hs.upsert_companies(companies(10, "001BS"))
    assert result["success"].all()
    assert [r["status"] for r in api_requests(clean_sandbox, "POST", f"{BATCH}/upsert")] == [400, 200, 200]

    # a record the API refuses as a whole, alone among good ones, gets its own error
    fault(clean_sandbox, count=3, method="POST", path_prefix=f"{BATCH}/upsert", status=400)
    result = hs.upsert_companies(companies(2, "001BT"))
    assert not result["success"].any() and set(result["category"]) == {"property_values"}


def test_exhausted_retries_raise_a_clear_error(connect, clean_sandbox):
    hs = connect(policy=RetryPolicy(total=2, backoff_factor=0.01, backoff_max=0.05))
    fault(clean_sandbox, count=10, method="POST", path_prefix=f"{BATCH}/upsert", status=503)
    with pytest.raises(ConnectorError) as raised:
        hs.upsert_companies(companies(1, "001EE"))
    message = str(raised.value)
    assert "HubSpot" in message and f"{BATCH}/upsert" in message and "503" in message
    assert raised.value.status == 503


def test_rate_limiter_keeps_the_sliding_window():
    limiter = RateLimiter(5, 0.5, "test limiter")
    started = time.monotonic()
    for _ in range(12):
        limiter.acquire()
    elapsed = time.monotonic() - started
    assert elapsed >= 1.0  # 12 calls at 5 per 0.5 s need two full waits
    assert limiter.total_waits >= 2


def test_client_limiter_keeps_search_under_the_server_limit(connect, clean_sandbox):
    """The sandbox enforces ~5 searches / s like HubSpot; the connector's limiter never lets one 429."""
    seed(clean_sandbox, 5)
    hs = connect()
    started = time.monotonic()
    for i in range(10):
        hs.companies_by_property("domain", [f"nothing{i}.example"])
    assert time.monotonic() - started >= 2.0  # 4 searches per (1 s + margin)
    searches = api_requests(clean_sandbox, "POST", "/crm/v3/objects/companies/search")
    assert len(searches) == 10 and all(r["status"] == 200 for r in searches)


def test_batches_never_repeat_a_key_and_keep_its_order():
    from include.company_sync.connectors.hubspot_writes import batches_without_repeats

    records = [{"k": k, "n": n} for n, k in enumerate(["a", "b", "a", "c", "a", "d"])]
    batches = batches_without_repeats(records, lambda r: r["k"], 3)
    assert all(len({r["k"] for r in b}) == len(b) <= 3 for b in batches)
    order_of_a = [r["n"] for b in batches for r in b if r["k"] == "a"]
    assert order_of_a == [0, 2, 4]
    assert len(batches) == 3
    assert len(batches_without_repeats([{"k": str(i)} for i in range(250)], lambda r: r["k"], 100)) == 3


def test_207_errors_map_by_ids_and_input_indexes():
    keys = ["x1", "x2", "x3", "x4"]
    batch = [{ID_PROPERTY: k} for k in keys]
    response = {
        "status": "COMPLETE",
        "results": [
            {"id": "11", "new": True, "properties": {ID_PROPERTY: "x1"}},
            {"id": "14", "new": False, "properties": {ID_PROPERTY: "x4"}},
        ],
        "numErrors": 2,
        "errors": [
            {
                "status": "error",
                "category": "VALIDATION_ERROR",
                "message": "bad option",
                "context": {"ids": ["x2"]},
                "errors": [{"code": "INVALID_OPTION", "message": "bad", "context": {"propertyName": ["industry"]}}],
            },
            {"status": "error", "category": "RATE_LIMITS", "message": "slow down", "context": {"inputIndexes": ["2"]}},
        ],
    }
    results = HubSpotConnector._map_batch_response(batch, lambda r: r[ID_PROPERTY], response, upsert=True)
    by_key = {r.key: r for r in results}
    assert [r.key for r in results] == keys
    assert by_key["x1"].success and by_key["x1"].created and by_key["x1"].id == "11"
    assert by_key["x4"].success and by_key["x4"].created is False
    assert (by_key["x2"].error_code, by_key["x2"].category, by_key["x2"].fields) == (
        "INVALID_OPTION",
        "property_values",
        "industry",
    )
    assert by_key["x3"].category == "rate_limits"


@pytest.mark.parametrize("cap", [40, 10_000])
def test_companies_modified_in_one_millisecond_are_all_extracted(connect, edited_sandbox, cap):
    """More results than a page (or than the cap) sharing one hs_lastmodifieddate: paged by id instead."""
    clean_sandbox = edited_sandbox
    seed(clean_sandbox, 60)
    with clean_sandbox.hubspot.state.lock:  # the API cannot set a read-only timestamp: edit the state
        for record in clean_sandbox.hubspot.store.records("companies").values():
            record["properties"]["hs_lastmodifieddate"] = "2026-01-02T03:04:05.678Z"
    hs = connect(search_cap=cap, search_page_size=15)
    found = hs.companies_changed([], datetime(2026, 1, 1, tzinfo=UTC), FAR_FUTURE)
    assert len(found) == found["id"].nunique() == len(clean_sandbox.hubspot.store.records("companies"))


def test_paginate_follows_the_cursor_to_the_last_page():
    from include.company_sync.connectors.hubspot_common import next_after, paginate

    pages = {None: {"results": [1], "paging": {"next": {"after": "a"}}}, "a": {"results": [2], "paging": {}}}
    asked: list[str | None] = []

    def fetch(after):
        asked.append(after)
        return pages[after]

    assert [p["results"] for p in paginate(fetch)] == [[1], [2]] and asked == [None, "a"]
    assert list(paginate(lambda after: None)) == [{}]  # an empty answer is one empty page
    assert next_after({"paging": {"next": {"after": ""}}}) is None and next_after(None) is None


def test_the_plugin_module_re_exports_the_include_hook():
    from plugins import hubspot_hook as plugin_module

    assert plugin_module.HubSpotHook is HubSpotHook
    assert HubSpotHook.conn_type == "http" and HubSpotHook.default_conn_name == "hubspot_default"


def test_a_wrong_token_fails_at_once_naming_the_connection(clean_sandbox, monkeypatch):
    from include.company_sync.connectors.http_policy import AuthenticationFailed, Unrecoverable

    monkeypatch.setenv(
        "AIRFLOW_CONN_HUBSPOT_WRONG",
        json.dumps({"conn_type": "http", "host": clean_sandbox.hubspot_url, "password": "not-the-token"}),
    )
    hs = HubSpotConnector.from_connection("hubspot_wrong", policy=FAST, limits=HubSpotRateLimits())
    clear_requests(clean_sandbox)
    with pytest.raises(AuthenticationFailed) as raised:
        hs.owners()
    assert isinstance(raised.value, Unrecoverable) and raised.value.status == 401
    message = str(raised.value)
    assert "'hubspot_wrong'" in message and "not-the-token" not in message
    assert len(api_requests(clean_sandbox)) == 1  # never retried


def test_a_missing_inclusion_list_fails_at_once_naming_the_setting(connect, clean_sandbox):
    from include.company_sync.connectors.http_policy import ConfiguredObjectMissing

    hs = connect()
    clear_requests(clean_sandbox)
    with pytest.raises(ConfiguredObjectMissing, match="inclusion_list_id") as raised:
        hs.list_members("987654321")
    assert "987654321" in str(raised.value) and raised.value.status == 404
    assert len(api_requests(clean_sandbox)) == 1


def test_a_search_on_a_missing_property_fails_at_once_naming_the_mappings(connect, clean_sandbox):
    from include.company_sync.connectors.http_policy import ConfiguredObjectMissing

    hs = connect()
    search = hs._api("companies.search_api").do_search
    body = {"filterGroups": [{"filters": [{"propertyName": "no_such_property", "operator": "HAS_PROPERTY"}]}]}
    with pytest.raises(ConfiguredObjectMissing, match="field_mappings"):
        hs._call("companies.search", search, body, search=True)


def test_an_abort_check_stops_the_connector_before_its_next_call(connect, clean_sandbox):
    from include.company_sync.connectors.http_policy import RunAborted

    hs = connect()

    def abort() -> None:
        raise RunAborted("the sibling failed", operation="abort_check")

    hs.abort_check = abort
    clear_requests(clean_sandbox)
    with pytest.raises(RunAborted):
        hs.owners()
    assert api_requests(clean_sandbox) == []


def test_an_upsert_applied_then_dropped_is_retried_without_duplicates(connect, clean_sandbox):
    """`drop_after`: the batch lands, the answer is lost; the retried upsert on the unique id updates."""
    hs = connect()
    records = companies(3, "001AD")
    clear_requests(clean_sandbox)
    fault(clean_sandbox, count=1, method="POST", path_prefix=f"{BATCH}/upsert", drop_after=True)
    result = hs.upsert_companies(records)
    assert result["success"].all() and len(result) == 3
    first, again = api_requests(clean_sandbox, "POST", f"{BATCH}/upsert")
    assert first["status"] == 0 and first["applied"] in (200, 201) and again["status"] == 200  # it had landed
    found = hs.companies_by_ids(list(result["id"]), ["name"])
    assert len(found) == 3 and set(found[ID_PROPERTY]) == {r[ID_PROPERTY] for r in records}


def test_change_source_reads_contacts_window_sf_ids_list_joins_and_big_association_batches(connect, clean_sandbox):
    """The reads behind contact-driven runs (#11): contacts modified in a window, contacts by their Salesforce
    ids, the join time of list members, and associations read 1,000 contacts a call."""
    from hubspot.crm.contacts import SimplePublicObjectInput

    seed(clean_sandbox, 300)
    hs = connect()
    api = hs.client.crm.contacts.basic_api
    all_ids = [c.id for c in hs.client.crm.contacts.get_all()]
    before = set(hs.list_members("1")["contact_id"])
    joiner = next(i for i in all_ids[3:] if i not in before)
    time.sleep(0.01)
    start = datetime.now(UTC)
    time.sleep(0.01)
    touched = all_ids[:2]
    for contact_id in touched:
        api.update(contact_id, SimplePublicObjectInput(properties={"lifecyclestage": "customer"}))
    api.update(all_ids[2], SimplePublicObjectInput(properties={"salesforcecontactid": "003SF0000000001AAA"}))
    requests.put(
        f"{clean_sandbox.hubspot_url}/crm/v3/lists/1/memberships/add",
        json=[joiner],
        headers={"Authorization": "Bearer sandbox-hubspot-token"},
        timeout=10,
    ).raise_for_status()
    end = datetime.now(UTC) + timedelta(seconds=1)

    changed = hs.contacts_changed(start, end)
    assert set(changed["id"]) >= {*touched, all_ids[2]}
    assert (changed["lastmodifieddate"] >= start).all()

    by_sf_id = hs.contacts_by_property("salesforcecontactid", ["003SF0000000001AAA", "003SF0000000404AAA"])
    assert list(by_sf_id["id"]) == [all_ids[2]]

    members = hs.list_members("1")
    joined = members[members["joined_at"] >= start]
    assert list(joined["contact_id"]) == [joiner]

    clear_requests(clean_sandbox)
    pairs = hs.associations(contact_ids=all_ids[:250])
    assert set(pairs["contact_id"]) <= set(all_ids[:250]) and len(pairs) > 0
    reads = api_requests(clean_sandbox, "POST", "/crm/v4/associations/contacts/companies/batch/read")
    assert len(reads) == 1  # 250 contacts in one call (the endpoint takes 1,000)


def _list_put(sandbox, action: str, ids: list[str]) -> None:
    requests.put(
        f"{sandbox.hubspot_url}/crm/v3/lists/1/memberships/{action}",
        json=ids,
        headers={"Authorization": "Bearer sandbox-hubspot-token"},
        timeout=10,
    ).raise_for_status()


def test_list_joins_resume_from_a_checked_position_and_fall_back_to_the_whole_list(connect, clean_sandbox):
    """An incremental run reads the inclusion list from the newest stored position before its window start (one
    page when nothing joined), checks that position on use, and reads the whole list when it no longer holds
    or when the window starts before every position (a backfill)."""
    seed(clean_sandbox, 600)
    hs = connect()
    whole = hs.list_joins("1")
    size = len(whole.members)
    assert whole.complete and whole.total == size > 250 and whole.pages == math.ceil(size / 250)
    assert len(whole.checkpoints) == whole.pages and whole.checkpoints[0]["after"] is None
    all_ids = [c.id for c in hs.client.crm.contacts.get_all()]
    outside = [i for i in all_ids if i not in set(whole.members["contact_id"])]

    time.sleep(0.01)
    start = datetime.now(UTC)
    time.sleep(0.01)
    _list_put(clean_sandbox, "add", outside[:2])
    clear_requests(clean_sandbox)
    resumed = hs.list_joins("1", since=start, checkpoints=whole.checkpoints)
    assert not resumed.complete and resumed.pages == 1
    assert len(api_requests(clean_sandbox, "GET", "/crm/v3/lists/1/memberships/join-order")) == 1
    assert list(resumed.members["contact_id"]) == outside[:2]
    assert (resumed.members["joined_at"] >= start).all()

    # the stored position's member left the list: the position no longer holds, the list is read whole
    last = resumed.checkpoints[-1]
    _list_put(clean_sandbox, "remove", [last["record_id"]])
    again = hs.list_joins("1", since=datetime.now(UTC) + timedelta(seconds=1), checkpoints=resumed.checkpoints)
    assert again.complete and len(again.members) == size + 1

    # members leaving before the position shift the (offset) cursor: the check catches it, nothing is missed
    time.sleep(0.01)
    later = datetime.now(UTC)
    time.sleep(0.01)
    _list_put(clean_sandbox, "remove", list(whole.members["contact_id"][:3]))
    _list_put(clean_sandbox, "add", outside[2:3])
    shifted = hs.list_joins("1", since=later, checkpoints=again.checkpoints)
    assert outside[2] in set(shifted.members["contact_id"])

    # a window starting before every stored position (a backfill of past dates) reads the whole list
    past = hs.list_joins("1", since=datetime(2000, 1, 1, tzinfo=UTC), checkpoints=shifted.checkpoints)
    assert past.complete


def test_list_memberships_of_chosen_contacts_in_one_batch_call(connect, clean_sandbox):
    seed(clean_sandbox, 300)
    hs = connect()
    members = set(hs.list_members("1")["contact_id"])
    all_ids = [c.id for c in hs.client.crm.contacts.get_all()]
    inside = [i for i in all_ids if i in members][:3]
    outside = [i for i in all_ids if i not in members][:2]
    clear_requests(clean_sandbox)
    found = hs.list_memberships("1", [*inside, *outside, "999999999"])
    assert sorted(found["contact_id"]) == sorted(inside)
    assert str(found["joined_at"].dt.tz) == "UTC" and found["joined_at"].notna().all()
    assert len(api_requests(clean_sandbox, "POST", "/crm/v3/lists/records/memberships/batch/read")) == 1
    assert hs.list_memberships("2", inside).empty


def test_a_full_extract_searches_200_companies_a_page(connect, clean_sandbox):
    """A full extract reads companies by search (200 a page, split under the cap like a window), where the
    list endpoint serves 100; archived ones still come from the list endpoint (search never returns them)."""
    seed(clean_sandbox, 450)
    hs = connect()
    clear_requests(clean_sandbox)
    everything = hs.companies_changed(PROPERTIES, None, FAR_FUTURE)
    searches = api_requests(clean_sandbox, "POST", "/crm/v3/objects/companies/search")
    pages = [r for r in api_requests(clean_sandbox, "GET") if r["path"].rstrip("/") == "/crm/v3/objects/companies"]
    assert len(pages) == 1  # the archived listing only
    listed = [c.id for c in hs.client.crm.companies.get_all()]
    assert sorted(everything["id"]) == sorted(listed) and len(listed) > 400
    assert math.ceil(len(listed) / 200) <= len(searches) <= math.ceil(len(listed) / 200) + 1
