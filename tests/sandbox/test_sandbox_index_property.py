"""The sandboxes' indexes answer exactly what a full scan answers: random records (written, updated and
archived/deleted through the stores, so the indexes follow every write), random HubSpot searches and
SOQL queries, each run once with the indexes and once with them switched off; totals, pages, order,
ties, paging cursors and errors must be identical."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from include.sandbox.http import ApiError, Request
from include.sandbox.hubspot import search as hs_search
from include.sandbox.hubspot.common import iso_from_ms
from include.sandbox.hubspot.index import SearchIndex
from include.sandbox.hubspot.store import Store as HubSpotStore
from include.sandbox.salesforce.index import QueryIndex
from include.sandbox.salesforce.records import Store as SalesforceStore
from include.sandbox.salesforce.schema import OBJECTS
from include.sandbox.salesforce.soql import SoqlError, canonical_datetime, compile_query

BASE_MS = 1_767_225_600_000  # 2026-01-01
STAMPS = [BASE_MS + k * 1000 for k in range(6)]  # few distinct values: many ties
DOMAINS = ["a.com", "A.com", "b.io", "c.net", "B.IO"]
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# --- HubSpot ----------------------------------------------------------------------------------------

hs_record = st.fixed_dictionaries(
    {
        "modified": st.sampled_from(STAMPS),
        "created": st.one_of(st.none(), st.sampled_from(STAMPS)),
        "domain": st.one_of(st.none(), st.sampled_from(DOMAINS)),
        "name": st.one_of(st.none(), st.sampled_from(["Acme", "acme", "Globex"])),
        "sfid": st.one_of(st.none(), st.integers(0, 30)),
        "then": st.sampled_from(["keep", "keep", "update", "archive", "clear_domain"]),
    }
)


def _hs_value(name: str, draw_stamp: int, draw_id: int, domain: str, sfid: int) -> Any:
    return {
        "hs_lastmodifieddate": [str(draw_stamp), iso_from_ms(draw_stamp)][draw_id % 2],
        "createdate": iso_from_ms(draw_stamp),
        "domain": domain,
        "salesforceaccountid": f"001X{sfid}",
        "hs_object_id": str(20_000_000_001 + draw_id),
        "name": ["acme", "Globex", "zzz"][draw_id % 3],
    }[name]


@st.composite
def hs_filter(draw) -> dict[str, Any]:
    name = draw(
        st.sampled_from(
            [
                "hs_lastmodifieddate",
                "hs_lastmodifieddate",
                "createdate",
                "domain",
                "domain",
                "salesforceaccountid",
                "hs_object_id",
                "name",
            ]
        )
    )
    operator = draw(
        st.sampled_from(
            [
                "EQ",
                "EQ",
                "NEQ",
                "IN",
                "IN",
                "NOT_IN",
                "GT",
                "GT",
                "GTE",
                "GTE",
                "LT",
                "LT",
                "LTE",
                "LTE",
                "BETWEEN",
                "HAS_PROPERTY",
                "NOT_HAS_PROPERTY",
            ]
        )
    )
    stamp = draw(st.sampled_from([*STAMPS, STAMPS[0] - 1, STAMPS[-1] + 1]))
    pick = draw(st.integers(0, 12))
    domain, sfid = draw(st.sampled_from(DOMAINS + ["nomatch.org"])), draw(st.integers(0, 30))

    def value() -> Any:
        return _hs_value(name, stamp, pick, domain, sfid)

    flt: dict[str, Any] = {"propertyName": name, "operator": operator}
    if operator in ("IN", "NOT_IN"):
        flt["values"] = [
            _hs_value(name, s, pick + k, d, sfid + k)
            for k, (s, d) in enumerate(
                draw(st.lists(st.tuples(st.sampled_from(STAMPS), st.sampled_from(DOMAINS)), min_size=1, max_size=3))
            )
        ]
    elif operator == "BETWEEN":
        flt["value"], flt["highValue"] = value(), _hs_value(name, stamp + 2000, pick + 3, domain, sfid + 5)
    elif operator not in ("HAS_PROPERTY", "NOT_HAS_PROPERTY"):
        flt["value"] = value()
    return flt


@st.composite
def hs_window_body(draw) -> dict[str, Any]:
    """The shape the connector sends: one group of bounds on a date, sorted ascending on it."""
    name = draw(st.sampled_from(["hs_lastmodifieddate", "createdate"]))
    filters = []
    for _ in range(draw(st.integers(1, 3))):
        operator = draw(st.sampled_from(["GT", "GTE", "LT", "LTE", "EQ", "BETWEEN"]))
        stamp = draw(st.sampled_from([*STAMPS, STAMPS[0] - 1, STAMPS[-1] + 1]))
        flt = {"propertyName": name, "operator": operator, "value": str(stamp)}
        if operator == "BETWEEN":
            flt["highValue"] = iso_from_ms(stamp + draw(st.sampled_from([0, 1000, 2500])))
        filters.append(flt)
    return {
        "filterGroups": [{"filters": filters}],
        "sorts": [{"propertyName": name, "direction": "ASCENDING"}],
        "limit": draw(st.integers(1, 12)),
        "after": draw(st.integers(0, 25)),
        "properties": [name],
    }


hs_any_body = st.fixed_dictionaries(
    {
        "filterGroups": st.lists(
            st.fixed_dictionaries({"filters": st.lists(hs_filter(), min_size=1, max_size=3)}), max_size=3
        ),
        "sorts": st.one_of(
            st.just([]),
            st.lists(
                st.fixed_dictionaries(
                    {
                        "propertyName": st.sampled_from(
                            ["hs_lastmodifieddate", "createdate", "hs_object_id", "domain"]
                        ),
                        "direction": st.sampled_from(["ASCENDING", "DESCENDING"]),
                    }
                ),
                min_size=1,
                max_size=1,
            ),
        ),
        "limit": st.integers(1, 12),
        "after": st.integers(0, 25),
        "properties": st.just(["domain", "hs_lastmodifieddate", "createdate", "salesforceaccountid"]),
    }
)
hs_body = st.one_of(hs_any_body, hs_window_body())


def _hubspot(records: list[dict[str, Any]]) -> SimpleNamespace:
    store = HubSpotStore({})
    for k, spec in enumerate(records):
        values = {"name": spec["name"] or "", "domain": spec["domain"] or ""}
        if spec["created"] is not None:
            values["createdate"] = iso_from_ms(spec["created"])
        if spec["sfid"] is not None and not store.conflicts(
            "companies", {"salesforceaccountid": f"001X{spec['sfid']}"}, None
        ):
            values["salesforceaccountid"] = f"001X{spec['sfid']}"
        record = store.create("companies", values, "INTEGRATION", at=iso_from_ms(spec["modified"]))
        if spec["then"] == "update":
            store.update("companies", record, {"name": f"renamed {k}", "domain": DOMAINS[k % len(DOMAINS)]})
        elif spec["then"] == "archive":
            store.archive("companies", record)
        elif spec["then"] == "clear_domain":
            store.update("companies", record, {"domain": ""})
    return SimpleNamespace(store=store)


def _search(hs: SimpleNamespace, body: dict[str, Any]) -> tuple[int, Any]:
    request = Request("POST", "/crm/v3/objects/companies/search", {}, {"host": "sandbox"}, json.dumps(body).encode())
    try:
        response = hs_search.search(hs, request, "companies")
    except ApiError as exc:
        body = dict(exc.response.body)
        body.pop("correlationId", None)
        return exc.response.status, body
    return response.status, response.body


def _scan_only():
    return (
        mock.patch.object(SearchIndex, "window", return_value=None),
        mock.patch.object(SearchIndex, "candidates", return_value=None),
    )


@FAST
@given(records=st.lists(hs_record, min_size=4, max_size=30), bodies=st.lists(hs_body, min_size=1, max_size=4))
def test_hubspot_search_with_indexes_equals_the_scan(records, bodies):
    hs = _hubspot(records)
    for body in bodies:
        indexed = _search(hs, body)
        window, candidates = _scan_only()
        with window, candidates:
            scanned = _search(hs, body)
        assert indexed == scanned, body


def test_hubspot_window_fast_path_pages_and_ties():
    """A window sorted on the modification date is served from the index alone: same pages as the scan,
    ties in id order, the total of the whole window, and the 10,000-result cap error."""
    specs = [
        {"modified": STAMPS[k % 3], "created": None, "domain": None, "name": None, "sfid": None, "then": "keep"}
        for k in range(40)
    ]
    hs = _hubspot(specs)
    body = {
        "filterGroups": [
            {
                "filters": [
                    {"propertyName": "hs_lastmodifieddate", "operator": "GTE", "value": str(STAMPS[0])},
                    {"propertyName": "hs_lastmodifieddate", "operator": "LT", "value": str(STAMPS[2])},
                ]
            }
        ],
        "sorts": [{"propertyName": "hs_lastmodifieddate", "direction": "ASCENDING"}],
        "limit": 7,
    }
    with mock.patch.object(SearchIndex, "candidates", side_effect=AssertionError("window expected")):
        pages = [_search(hs, {**body, "after": str(a)}) for a in range(0, 30, 7)]
    window, candidates = _scan_only()
    with window, candidates:
        assert pages == [_search(hs, {**body, "after": str(a)}) for a in range(0, 30, 7)]
    assert pages[0][1]["total"] == 27
    assert pages[0][1]["paging"]["next"]["after"] == "7"
    assert _search(hs, {**body, "after": "9999", "limit": 2})[0] == 400


# --- Salesforce -------------------------------------------------------------------------------------

SF_STAMPS = [canonical_datetime(datetime.fromtimestamp(ms / 1000, UTC)) for ms in STAMPS]
SF_LITERALS = [f"2026-01-01T00:00:0{k}Z" for k in range(7)]

sf_account = st.fixed_dictionaries(
    {
        "stamp": st.sampled_from(SF_STAMPS),
        "name": st.sampled_from(["Acme", "acme", "Globex", "Initech"]),
        "ext": st.one_of(st.none(), st.integers(0, 20)),
        "then": st.sampled_from(["keep", "keep", "update", "delete", "clear_ext"]),
        "contacts": st.lists(st.sampled_from(["ada@x.com", "ADA@x.com", "bob@y.io", None]), max_size=2),
    }
)


@st.composite
def soql_condition(draw, ids: list[str]) -> str:
    kind = draw(st.sampled_from(["stamp", "stamp", "id", "ext", "name", "not", "or", "and"]))
    if kind == "stamp":
        op = draw(st.sampled_from(["<", "<=", ">", ">=", "=", "!="]))
        return f"SystemModstamp {op} {draw(st.sampled_from(SF_LITERALS))}"
    if kind == "id":
        chosen = draw(st.lists(st.sampled_from(ids or ["001000000000000AAA"]), min_size=1, max_size=3))
        if draw(st.booleans()):
            return f"Id = '{chosen[0]}'"
        return "Id IN ({})".format(", ".join(f"'{i}'" for i in chosen))
    if kind == "ext":
        values = draw(st.lists(st.integers(0, 20), min_size=1, max_size=3))
        op = draw(st.sampled_from(["=", "IN", "!=", "NOT IN"]))
        if op in ("=", "!="):
            return f"HubSpot_Company_ID__c {op} 'H{values[0]}'"
        return "HubSpot_Company_ID__c {} ({})".format(op, ", ".join(f"'h{v}'" for v in values))
    if kind == "name":
        return draw(st.sampled_from(["Name = 'ACME'", "Name LIKE 'Glo%'", "Name != null"]))
    inner = [draw(soql_condition(ids)) for _ in range(2)]
    if kind == "not":
        return f"NOT ({inner[0]})"
    return f"({inner[0]}) {kind.upper()} ({inner[1]})"


def _salesforce(accounts: list[dict[str, Any]]) -> tuple[SalesforceStore, list[str]]:
    data = SalesforceStore.empty_data()
    index = QueryIndex()
    store = SalesforceStore(data, 10**9, index)
    store.load_seed(None)
    index.rebuild(data["records"])
    account, contact = OBJECTS["Account"], OBJECTS["Contact"]
    ids = []
    for k, spec in enumerate(accounts):
        values = {"Name": spec["name"]}
        if spec["ext"] is not None:
            values["HubSpot_Company_ID__c"] = f"H{spec['ext']}" if k % 2 else f"h{spec['ext']}"
        rid, errors = store.create(account, values, spec["stamp"])
        if errors:
            rid, _ = store.create(account, {"Name": spec["name"]}, spec["stamp"])
        ids.append(rid)
        for email in spec["contacts"]:
            store.create(contact, {"LastName": "X", "Email": email, "AccountId": rid}, spec["stamp"])
        later = SF_STAMPS[(k + 2) % len(SF_STAMPS)]
        if spec["then"] == "update":
            store.update(account, rid, {"Name": f"Renamed {k}"}, later)
        elif spec["then"] == "delete":
            store.delete(account, rid, later)
        elif spec["then"] == "clear_ext":
            store.update(account, rid, {"HubSpot_Company_ID__c": None}, later)
    return store, ids


def _soql(store: SalesforceStore, text: str, include_deleted: bool, indexed: bool) -> Any:
    try:
        bound = compile_query(text)
    except SoqlError as exc:
        return exc.code
    records = store.records(bound.sobject.name)
    if bound.query.count and indexed:
        counted = store.index.count(bound, records, include_deleted)
        if counted is not None:
            return counted
    found = store.index.candidates(bound, records) if indexed else None
    source = records.values() if found is None else found
    if not include_deleted:
        source = [r for r in source if not r.get("IsDeleted")]
    rows = bound.select(source, store.resolve)
    return len(rows) if bound.query.count else [(r["Id"], r["SystemModstamp"]) for r in rows]


@st.composite
def soql_query(draw, ids: list[str]) -> tuple[str, bool]:
    where = draw(soql_condition(ids))
    if draw(st.integers(0, 3)) == 0:
        return f"SELECT COUNT() FROM Account WHERE {where}", draw(st.booleans())
    obj = draw(st.sampled_from(["Account", "Account", "Contact"]))
    if obj == "Contact":
        where = draw(
            st.sampled_from(
                [
                    f"AccountId IN ({', '.join(repr(i) for i in ids[:3]) or repr('x')})",
                    "Email = 'ada@X.com'",
                    "Email IN ('bob@y.io', 'nobody@z.org')",
                    f"AccountId = '{ids[0] if ids else '001'}' OR Email = 'bob@y.io'",
                ]
            )
        )
        where = where.replace('"', "'")
        text = f"SELECT Id, SystemModstamp FROM Contact WHERE {where}"
    else:
        text = f"SELECT Id, SystemModstamp FROM Account WHERE {where}"
    order = draw(
        st.sampled_from(
            ["", " ORDER BY SystemModstamp", " ORDER BY SystemModstamp DESC", " ORDER BY Name DESC NULLS LAST"]
        )
    )
    limit = draw(st.sampled_from(["", " LIMIT 3", " LIMIT 5 OFFSET 2"]))
    return text + (order if obj == "Account" else "") + limit, draw(st.booleans())


@FAST
@given(data=st.data(), accounts=st.lists(sf_account, max_size=25))
def test_soql_with_indexes_equals_the_scan(data, accounts):
    store, ids = _salesforce(accounts)
    for _ in range(4):
        text, include_deleted = data.draw(soql_query(ids))
        assert _soql(store, text, include_deleted, True) == _soql(store, text, include_deleted, False), text


def test_soql_index_follows_rollback_and_hard_delete():
    store, ids = _salesforce(
        [
            {"stamp": SF_STAMPS[0], "name": "Acme", "ext": 1, "then": "keep", "contacts": []},
            {"stamp": SF_STAMPS[1], "name": "Globex", "ext": 2, "then": "keep", "contacts": []},
        ]
    )
    account = OBJECTS["Account"]
    store.begin()
    store.update(account, ids[0], {"HubSpot_Company_ID__c": "H9"}, SF_STAMPS[3])
    store.create(account, {"Name": "Rolled back", "HubSpot_Company_ID__c": "H7"}, SF_STAMPS[3])
    store.rollback()
    store.hard_delete(account, ids[1])
    for text in (
        "SELECT Id, SystemModstamp FROM Account WHERE HubSpot_Company_ID__c IN ('h1', 'h2', 'h7', 'h9')",
        f"SELECT Id, SystemModstamp FROM Account WHERE SystemModstamp >= {SF_LITERALS[0]}",
        f"SELECT COUNT() FROM Account WHERE SystemModstamp > {SF_LITERALS[2]}",
    ):
        assert _soql(store, text, True, True) == _soql(store, text, True, False), text
    assert _soql(store, "SELECT Id, SystemModstamp FROM Account WHERE HubSpot_Company_ID__c = 'H1'", True, True) == [
        (ids[0], SF_STAMPS[0])
    ]


@pytest.mark.parametrize("count", [0, 1, 7])
def test_sorted_keys_positions(count):
    from include.sandbox.sorted_keys import SortedKeys

    keys = SortedKeys((k % 3, k) for k in range(count * 300))
    assert list(keys) == sorted((k % 3, k) for k in range(count * 300))
    for k in range(0, count * 300, 7):
        assert keys.discard((k % 3, k))
    expected = sorted((k % 3, k) for k in range(count * 300) if k % 7)
    assert list(keys) == expected and len(keys) == len(expected)
    assert keys.slice(5, 40) == expected[5:40] == list(keys.irange(5, 40))
    assert keys.bisect_left((1,)) == sum(1 for e in expected if e < (1,))
