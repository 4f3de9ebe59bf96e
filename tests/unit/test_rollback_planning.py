"""Rollback planning (issue #16), table-driven: one row per rule of `rollback/planning.py`."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from include.company_sync.rollback.planning import (
    Reason,
    RollbackInputs,
    plan_rollback,
    same_value,
)
from include.company_sync.tasks.writes import previous_values

STARTED = pd.Timestamp("2026-06-01T10:00:00Z")
WROTE = pd.Timestamp("2026-06-01T10:01:00Z")
LATER = pd.Timestamp("2026-06-01T12:00:00Z")
LONG_AGO = pd.Timestamp("2025-01-01T00:00:00Z")


def ledger_row(system, operation, record_id, new, old=None, source_id=None, at=WROTE):
    return {
        "system": system,
        "operation": operation,
        "record_id": record_id,
        "source_id": source_id or record_id,
        "new_value": json.dumps(new),
        "old_value": None if old is None else json.dumps(old),
        "at": at,
    }


def company(cid, modified=WROTE, created=LONG_AGO, archived=False, **props):
    return {"id": cid, "hs_lastmodifieddate": modified, "createdate": created, "archived": archived, **props}


def account(aid, modified=WROTE, created=LONG_AGO, deleted=False, **fields):
    return {"Id": aid, "SystemModstamp": modified, "CreatedDate": created, "IsDeleted": deleted, **fields}


def plan(ledger, companies=(), accounts=(), contacts=(), links=(), run_links=()):
    link_cols = ["account_id", "company_id"]
    return plan_rollback(
        RollbackInputs(
            ledger=pd.DataFrame(ledger),
            companies=pd.DataFrame(list(companies)),
            accounts=pd.DataFrame(list(accounts)),
            contacts=pd.DataFrame(list(contacts)),
            links=pd.DataFrame(list(links), columns=link_cols),
            run_started_at=STARTED,
        ),
        pd.DataFrame(list(run_links), columns=link_cols),
    )


def reasons(result) -> dict:
    d = result.decisions
    return {(r.record_id, r.field): (r.action, r.reason) for r in d.itertuples(index=False)}


# (name, current phone on the company, expected (action, reason))
FIELD_CASES = [
    ("still X's value: restored", "+1 555", ("restore", Reason.RESTORED)),
    ("edited since: left alone", "+1 999", (None, Reason.CHANGED_SINCE)),
    ("already back: nothing to do", "+1 000", (None, Reason.ALREADY_RESTORED)),
]


@pytest.mark.parametrize(("name", "now", "expected"), FIELD_CASES, ids=[c[0] for c in FIELD_CASES])
def test_a_field_X_updated(name, now, expected):
    led = [ledger_row("hubspot", "update", "c1", {"id": "c1", "phone": "+1 555"}, {"phone": "+1 000"})]
    result = plan(led, companies=[company("c1", phone=now)], links=[("a1", "c1")])
    assert reasons(result)[("c1", "phone")] == expected
    if expected[0] == "restore":
        assert result.hubspot_updates.values.tolist() == [["c1", "phone", "+1 000"]]
        assert set(map(tuple, result.holds.values.tolist())) == {("hubspot", "c1"), ("salesforce", "a1")}
        assert result.restore_synced_account_ids == ["a1"] and result.unlink_account_ids == []
    else:
        assert result.hubspot_updates.empty and result.holds.empty


def test_unknown_previous_value_and_gone_records_are_left_alone():
    led = [
        ledger_row("salesforce", "update", "a1", {"Id": "a1", "Phone": "1"}),  # no old_value recorded
        ledger_row("salesforce", "update", "a2", {"Id": "a2", "Phone": "1"}, {"Phone": "0"}),
    ]
    result = plan(led, accounts=[account("a1", Phone="1"), account("a2", deleted=True, Phone="1")])
    assert reasons(result)[("a1", "Phone")] == (None, Reason.NO_PREVIOUS_VALUE)
    assert reasons(result)[("a2", "Phone")] == (None, Reason.RECORD_GONE)


# (name, company now, expected action, reason)
CREATED_CASES = [
    ("unchanged: archived", dict(name="Acme"), "archive", Reason.CREATED_BY_RUN),
    ("a field X wrote edited", dict(name="Acme 2"), None, Reason.CHANGED_SINCE),
    ("another field edited later", dict(name="Acme", modified=LATER), None, Reason.CHANGED_SINCE),
    ("existed before X (an upsert matched it)", dict(name="Acme", created=pd.Timestamp("2020-01-01T00:00Z")),
     None, Reason.NOT_CREATED_BY_RUN),
    ("already archived", dict(name="Acme", archived=True), None, Reason.RECORD_GONE),
]  # fmt: skip


@pytest.mark.parametrize(("name", "now", "action", "reason"), CREATED_CASES, ids=[c[0] for c in CREATED_CASES])
def test_a_company_X_created_and_the_id_written_back(name, now, action, reason):
    led = [
        ledger_row("hubspot", "upsert", "c9", {"name": "Acme", "salesforceaccountid": "a1"}, source_id="a1"),
        ledger_row("salesforce", "link", "a1", {"Id": "a1", "HubSpot_Company_ID__c": "c9"}, {}),
    ]
    now = {"created": STARTED + pd.Timedelta(seconds=30), **now}
    result = plan(
        led,
        companies=[company("c9", salesforceaccountid="a1", **now)],
        accounts=[account("a1", HubSpot_Company_ID__c="c9")],
        links=[("a1", "c9")],
        run_links=[("a1", "c9")],
    )
    assert reasons(result)[("c9", None)] == (action, reason)
    if action:
        assert result.hubspot_archives == ["c9"]
        assert result.salesforce_updates.values.tolist() == [["a1", "HubSpot_Company_ID__c", None]]
        assert result.unlink_account_ids == ["a1"]
    else:
        assert result.hubspot_archives == []
        assert reasons(result)[("a1", "HubSpot_Company_ID__c")] == (None, Reason.COUNTERPART_KEPT)
        assert result.unlink_account_ids == []


def test_an_account_X_created_is_deleted_after_its_attached_contact_is_detached():
    led = [
        ledger_row(
            "salesforce", "upsert", "a9", {"HubSpot_Company_ID__c": "c1", "Name": "Acme", "NumberOfEmployees": 10}
        ),
        ledger_row("hubspot", "link", "c1", {"id": "c1", "salesforceaccountid": "a9"}, {"salesforceaccountid": None}),
        ledger_row("salesforce", "attach", "k1", {"Id": "k1", "AccountId": "a9"}, {"AccountId": None}),
    ]
    result = plan(
        led,
        companies=[company("c1", salesforceaccountid="a9")],
        accounts=[account("a9", created=WROTE, HubSpot_Company_ID__c="c1", Name="Acme", NumberOfEmployees=10.0)],
        contacts=[{"Id": "k1", "AccountId": "a9"}],
        links=[("a9", "c1")],
        run_links=[("a9", "c1")],
    )
    assert result.salesforce_deletes == ["a9"]
    assert result.contact_updates.values.tolist() == [["k1", "AccountId", None]]
    assert result.hubspot_updates.values.tolist() == [["c1", "salesforceaccountid", ""]]
    assert result.unlink_account_ids == ["a9"]


def test_a_second_rollback_finds_nothing_left_to_do():
    led = [ledger_row("hubspot", "update", "c1", {"id": "c1", "phone": "+1 555"}, {"phone": "+1 000"})]
    result = plan(led, companies=[company("c1", phone="+1 000")])
    assert result.writes == dict.fromkeys(result.writes, 0)


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        (None, "", True),
        ("  x ", "x", True),
        ("1000", 1000.0, True),
        (5, "5.0", True),
        ("a", "b", False),
        ("1", None, False),
    ],
)
def test_same_value(a, b, same):
    assert same_value(a, b) is same


def test_previous_values_takes_what_the_extract_held_for_the_written_fields():
    frame = pd.DataFrame({"Id": ["a1", "a2"], "Phone": ["0", None], "NumberOfEmployees": pd.array([3, None], "Int64")})
    records = [
        {"Id": "a1", "Phone": "1", "NumberOfEmployees": 4},
        {"Id": "a2", "Phone": "2"},
        {"Id": "a3", "Phone": "3"},
    ]
    assert previous_values(frame, "Id", records, "Id") == {
        "a1": {"Phone": "0", "NumberOfEmployees": 3},
        "a2": {"Phone": None},
    }


def test_a_created_account_someone_attached_a_contact_to_is_kept():
    led = [
        ledger_row("salesforce", "upsert", "a9", {"HubSpot_Company_ID__c": "c1", "Name": "Acme"}),
        ledger_row("hubspot", "link", "c1", {"id": "c1", "salesforceaccountid": "a9"}, {"salesforceaccountid": None}),
    ]
    result = plan(
        led,
        companies=[company("c1", salesforceaccountid="a9")],
        accounts=[account("a9", created=WROTE, HubSpot_Company_ID__c="c1", Name="Acme")],
        contacts=[{"Id": "k7", "AccountId": "a9"}],  # attached by someone after the run
        links=[("a9", "c1")],
        run_links=[("a9", "c1")],
    )
    assert reasons(result)[("a9", None)] == (None, Reason.HAS_CONTACTS)
    assert result.salesforce_deletes == [] and result.hubspot_updates.empty
    assert reasons(result)[("c1", "salesforceaccountid")] == (None, Reason.COUNTERPART_KEPT)
