"""The fault matrix: one real `company_sync` run (`dag.test()`) per row of fault × endpoint × expected outcome.

Faults are injected in the sandbox (`POST /__sandbox/faults`, `include/sandbox/http.py`) or in the
connections; the README's "Faults and what each proves" has the same table with what each row proves.

The rows are `MATRIX` below (fault, endpoint, the run's expected state, the faults, the set-up and the
checks of what else must hold): 429 storm and 5xx, drop before applying, drop after applying (HubSpot and
Salesforce), latency, task killed mid-load and retried, wrong token (HubSpot, Salesforce), missing
inclusion list.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from include.company_sync.connectors.http_policy import RetryPolicy

pytestmark = pytest.mark.e2e

HS_UPSERT = "/crm/v3/objects/companies/batch/upsert"
HS_SEARCH = "/crm/v3/objects/companies/search"
SF_QUERY_ALL = "/services/data/v59.0/queryAll"
SF_COLLECTIONS = "/services/data/v59.0/composite/sobjects"
SF_UPSERT = f"{SF_COLLECTIONS}/Account/HubSpot_Company_ID__c"


# --- data set-up, shared by the rows ----------------------------------------------------------------------
def accounts(world, n: int, prefix: str = "Acct") -> None:
    """`n` new Salesforce accounts (with websites), through sObject Collections, 200 a call."""
    for first in range(0, n, 200):
        world.sf.restful(
            "composite/sobjects",
            method="POST",
            json={
                "allOrNone": True,
                "records": [
                    {
                        "attributes": {"type": "Account"},
                        "Name": f"{prefix} {i}",
                        "Website": f"{prefix.lower()}{i}.example",
                    }
                    for i in range(first, min(first + 200, n))
                ],
            },
        )


def companies_with_contacts(world, n: int) -> list[str]:
    """`n` new HubSpot companies, each with a contact, so each qualifies for a new Salesforce account."""
    ids = []
    for i in range(n):
        company = world.company(name=f"Company {i}", domain=f"company{i}.example")
        world.hs_contact(company, email=f"someone{i}@company{i}.example")
        ids.append(company)
    return ids


def both_sides(world) -> None:
    accounts(world, 30)
    companies_with_contacts(world, 5)


def set_token(world, system: str, token: str) -> None:
    """Point the Airflow connection of `system` at a wrong token (the run uses it; the test's clients do not)."""
    name = f"AIRFLOW_CONN_{system.upper()}_DEFAULT"
    conn = json.loads(os.environ[name])
    world.monkeypatch.setenv(name, json.dumps({**conn, "password": token}))


# --- checks -------------------------------------------------------------------------------------------
def no_duplicates(world) -> tuple[list[dict], list[dict]]:
    companies, accts = world.companies(), world.accounts()
    linked = [c["salesforceaccountid"] for c in companies if c.get("salesforceaccountid")]
    assert len(linked) == len(set(linked)), "two HubSpot companies for one account"
    external = [a["HubSpot_Company_ID__c"] for a in accts if a.get("HubSpot_Company_ID__c")]
    assert len(external) == len(set(external)), "two Salesforce accounts for one company"
    domains = [c.get("domain") for c in companies if c.get("domain")]
    assert len(domains) == len(set(domains)), "two HubSpot companies with one domain"
    return companies, accts


def ledgered_once_as_landed(world, result, system: str, expected: int) -> None:
    """The state store's ledger has every upsert of the run once, as a success."""
    from include.company_sync.state import StateStore

    ledger = StateStore(os.environ["COMPANY_SYNC_STATE_URL"]).ledger(run_id=result.run_id)
    upserts = ledger[(ledger["system"] == system) & (ledger["operation"] == "upsert")]
    assert len(upserts) == expected, upserts[["source_id", "result"]]
    assert upserts["source_id"].is_unique
    assert set(upserts["result"]) == {"success"}


def status_count(result, system: str, status: int, path: str = "") -> int:
    return sum(1 for r in result.requests[system] if r["status"] == status and r["path"].startswith(path))


def check_storm(world, result, _) -> None:
    companies = world.companies()
    assert len(companies) == 150
    assert len({c["salesforceaccountid"] for c in companies}) == 150
    statuses = [r["status"] for r in result.requests["hubspot"] if r["path"].endswith("batch/upsert")]
    assert statuses.count(429) == 4 and statuses.count(200) + statuses.count(201) == 2


def check_drop_before(world, result, _) -> None:
    companies, accts = no_duplicates(world)
    assert len(accts) == 35 and len(companies) == 35  # 30 accounts + 5 companies, each now on both sides
    assert all(a.get("HubSpot_Company_ID__c") for a in accts) and all(c.get("salesforceaccountid") for c in companies)
    dropped = [r for r in result.requests["salesforce"] if r["path"] == SF_UPSERT and r["status"] == 0]
    assert len(dropped) == 2 and not any("applied" in r for r in dropped)  # dropped before: nothing applied


def check_drop_after_hubspot(world, result, _) -> None:
    companies, accts = no_duplicates(world)
    assert len(accts) == 35 and len(companies) == 35  # 30 accounts + 5 companies, each now on both sides
    assert all(a.get("HubSpot_Company_ID__c") for a in accts) and all(c.get("salesforceaccountid") for c in companies)
    [dropped] = [r for r in result.requests["hubspot"] if r["path"] == HS_UPSERT and r["status"] == 0]
    assert dropped["applied"] in (200, 201)  # the write landed; the client never saw the answer
    ledgered_once_as_landed(world, result, "hubspot", 30)
    links = _links(world)
    assert len(links) == 35 and links["account_id"].is_unique and links["company_id"].is_unique


def check_drop_after_salesforce(world, result, companies: list[str]) -> None:
    _companies, accts = no_duplicates(world)
    made = [a for a in accts if a.get("HubSpot_Company_ID__c")]
    assert sorted(a["HubSpot_Company_ID__c"] for a in made) == sorted(companies)
    [dropped] = [r for r in result.requests["salesforce"] if r["path"] == SF_UPSERT and r["status"] == 0]
    assert dropped["applied"] == 200
    ledgered_once_as_landed(world, result, "salesforce", 5)
    for company in companies:  # the write-back that links each company to its new account happened
        assert world.get_company(company)["salesforceaccountid"] in {a["Id"] for a in made}


def check_latency(world, result, _) -> None:
    no_duplicates(world)
    assert len([c for c in world.companies() if c.get("salesforceaccountid")]) == 30


# Enough dropped connections to exhaust the HTTP retries (RetryPolicy.total + 1 attempts) of both chunks a
# 250-record load still has in flight after the first lands, so the task itself fails and Airflow retries it.
KILL_DROPS = 2 * (RetryPolicy().total + 1)


def check_killed(world, result, _) -> None:
    assert result.tries["load_hubspot"] == 2  # the first try died mid-load; Airflow retried the task
    companies = world.companies()
    assert len(companies) == 250
    assert len({c["salesforceaccountid"] for c in companies}) == 250  # no duplicates
    landed = [r for r in result.requests["hubspot"] if r["path"] == HS_UPSERT and r["status"] in (200, 201)]
    assert len(landed) == 3  # 100 before the kill, the other 150 on the retry: ⌈250/100⌉ calls, nothing resent


def check_fails_at_once(system: str, status: int, path: str = "") -> Callable:
    def check(world, result, _) -> None:
        assert status_count(result, system, status, path) == 1  # one call, never retried (nor the task)
        assert result.writes() == []  # nothing written on either side
        assert world.companies() == [] or all(not c.get("salesforceaccountid") for c in world.companies())

    return check


def check_hubspot_token(world, result, ctx) -> None:
    check_fails_at_once("hubspot", 401)(world, result, ctx)
    # the other extract stopped: once HubSpot had failed, Salesforce answered at most the one call after which
    # its connector's sibling watch saw the failure (dag.test runs the two extracts one after the other)
    [failed] = [r for r in result.requests["hubspot"] if r["status"] == 401]
    after = [r for r in result.requests["salesforce"] if r["at"] > failed["at"]]
    assert len(after) <= 1, [r["path"] for r in after]


# --- the matrix -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Row:
    fault: str
    endpoint: str
    outcome: str  # the DAG run's state
    faults: tuple[tuple[str, dict[str, Any]], ...]
    setup: Callable[[Any], Any]
    check: Callable[[Any, Any, Any], None]
    before_run: Callable[[Any], None] | None = None
    seconds: list[float] = field(default_factory=list, compare=False)


MATRIX = [
    Row(
        "429 storm and 5xx",
        "HubSpot batch upsert + search, Salesforce queryAll + collections",
        "success",
        (
            ("hubspot", {"count": 4, "method": "POST", "path_prefix": HS_UPSERT, "status": 429, "retry_after": 1}),
            ("hubspot", {"count": 2, "method": "POST", "path_prefix": HS_SEARCH, "status": 502}),
            ("salesforce", {"count": 2, "method": "GET", "path_prefix": SF_QUERY_ALL, "status": 503}),
            ("salesforce", {"count": 2, "method": "PATCH", "path_prefix": SF_COLLECTIONS, "status": 500}),
        ),
        lambda world: accounts(world, 150, "Storm"),
        check_storm,
    ),
    Row(
        "drop before applying",
        "Salesforce collections upsert",
        "success",
        (("salesforce", {"count": 2, "method": "PATCH", "path_prefix": SF_UPSERT, "drop": True}),),
        both_sides,
        check_drop_before,
    ),
    Row(
        "drop after applying",
        "HubSpot batch upsert",
        "success",
        (("hubspot", {"count": 1, "method": "POST", "path_prefix": HS_UPSERT, "drop_after": True}),),
        both_sides,
        check_drop_after_hubspot,
    ),
    Row(
        "drop after applying",
        "Salesforce collections upsert",
        "success",
        (("salesforce", {"count": 1, "method": "PATCH", "path_prefix": SF_UPSERT, "drop_after": True}),),
        lambda world: companies_with_contacts(world, 5),
        check_drop_after_salesforce,
    ),
    Row(
        "latency",
        "HubSpot search, Salesforce queryAll",
        "success",
        (
            ("hubspot", {"count": 3, "method": "POST", "path_prefix": HS_SEARCH, "latency_ms": 1500}),
            ("salesforce", {"count": 3, "method": "GET", "path_prefix": SF_QUERY_ALL, "latency_ms": 1500}),
        ),
        lambda world: accounts(world, 30),
        check_latency,
    ),
    Row(
        "task killed mid-load and retried",
        "HubSpot batch upsert",
        "success",
        (
            ("hubspot", {"count": 1, "method": "POST", "path_prefix": HS_UPSERT, "latency_ms": 1}),  # the first lands
            # then it dies: both remaining chunks are in flight at once, each gives up after its 7 attempts
            ("hubspot", {"count": KILL_DROPS, "method": "POST", "path_prefix": HS_UPSERT, "drop": True}),
        ),
        lambda world: accounts(world, 250, "Retry"),
        check_killed,
    ),
    Row(
        "wrong token",
        "HubSpot (every call)",
        "failed",
        (),
        both_sides,
        check_hubspot_token,
        before_run=lambda world: set_token(world, "hubspot", "wrong-token"),
    ),
    Row(
        "wrong token",
        "Salesforce (every call)",
        "failed",
        (),
        both_sides,
        check_fails_at_once("salesforce", 401),
        before_run=lambda world: set_token(world, "salesforce", "wrong-token"),
    ),
    Row(
        "missing inclusion list",
        "HubSpot lists memberships",
        "failed",
        (),
        both_sides,
        check_fails_at_once("hubspot", 404, "/crm/v3/lists/"),
        before_run=lambda world: world.settings(inclusion_list_id="987654321"),
    ),
]


def _links(world):
    from include.company_sync.state import StateStore

    return StateStore(os.environ["COMPANY_SYNC_STATE_URL"]).links()


@pytest.mark.parametrize("row", MATRIX, ids=[f"{r.fault} @ {r.endpoint}" for r in MATRIX])
def test_fault_matrix(world, row: Row):
    world.watermark()  # a first run's state: the next run syncs what the row's set-up changes
    context = row.setup(world)
    if row.before_run is not None:
        row.before_run(world)
    for system, fault in row.faults:
        world.fault(system, **fault)

    started = time.monotonic()
    result = world.run()
    elapsed = time.monotonic() - started

    assert result.state == row.outcome, (row.fault, row.endpoint)
    row.check(world, result, context)
    if row.outcome == "failed":
        assert elapsed < 60, f"a fault that cannot heal took {elapsed:.0f} s to fail the run"
