"""Undo a run (issue #16) through real DAG runs: `company_sync_rollback` restores what a run updated, archives /
deletes what it created, removes the links it made, leaves records edited since alone, holds what it touched until
a resync releases it; a second rollback undoes nothing twice; a dry run writes nothing; bad run ids are refused
at prepare with no API call."""

from __future__ import annotations

import pytest

from include.company_sync.state import StateStore

pytestmark = pytest.mark.e2e

ROLLBACK = "company_sync_rollback"


def _state(world) -> StateStore:
    return StateStore(f"sqlite:///{world.tmp / 'state.db'}")


def _rollback(world, run_id: str, dry_run: bool = False):
    return world.run(ROLLBACK, {"run_id": run_id, "dry_run": dry_run})


def _company_of(world, account_id: str) -> str:
    [company] = world.companies_for_account(account_id)
    return company["id"]


def _set_up_run_x(world):
    """Two linked pairs before X; then X updates both companies' phone, creates a company and links a pair."""
    world.watermark()
    kept = world.account(Name="Kept", Website="kept.io", Phone="+1 000")
    edited = world.account(Name="Edited", Website="edited.io", Phone="+1 000")
    assert world.run().state == "success"
    kept_company, edited_company = _company_of(world, kept), _company_of(world, edited)
    world.sf.Account.update(kept, {"Phone": "+1 555"})
    world.sf.Account.update(edited, {"Phone": "+1 555"})
    created_from = world.account(Name="Fresh", Website="fresh.io")
    matched_company = world.company(name="Matched", domain="matched.io")
    world.hs_contact(matched_company, email="m@matched.io")
    matched = world.account(Name="Matched", Website="matched.io")
    x = world.run()
    assert x.state == "success"
    assert world.get_company(kept_company)["phone"] == "+1 555"
    assert world.get_company(matched_company)["salesforceaccountid"] == matched
    ids = dict(kept=kept, edited=edited, kept_company=kept_company, edited_company=edited_company,
               created_from=created_from, created=_company_of(world, created_from), matched=matched,
               matched_company=matched_company)  # fmt: skip
    return x, ids


def test_rollback_restores_archives_unlinks_holds_and_is_released_by_a_resync(world):
    x, ids = _set_up_run_x(world)
    world.hs.crm.companies.basic_api.update(ids["edited_company"], {"properties": {"phone": "+1 777"}})

    preview = _rollback(world, x.run_id, dry_run=True)
    assert preview.state == "success"
    assert preview.writes() == []  # a dry run writes nothing
    assert preview.report["summary"]["writes"]["hubspot_archives"] == 1
    assert _state(world).holds().empty

    undo = _rollback(world, x.run_id)

    assert undo.state == "success", undo.report
    assert world.get_company(ids["kept_company"])["phone"] == "+1 000"  # restored
    assert world.get_company(ids["edited_company"])["phone"] == "+1 777"  # edited since: left alone
    assert undo.report["summary"]["reasons"]["changed_since"] >= 1
    assert world.companies_for_account(ids["created_from"]) == []  # the created company is archived
    assert not world.get_account(ids["created_from"])["HubSpot_Company_ID__c"]
    assert not world.get_company(ids["matched_company"])["salesforceaccountid"]  # the link X made is undone
    assert not world.get_account(ids["matched"])["HubSpot_Company_ID__c"]
    state = _state(world)
    links = state.links()
    assert set(links["account_id"]) == {ids["kept"], ids["edited"]}  # the state store as before X
    held = set(state.holds()["record_id"])
    assert {ids["kept"], ids["kept_company"], ids["created_from"], ids["matched"]} <= held

    again = _rollback(world, x.run_id)  # a retried rollback re-plans against current values: nothing left
    assert again.state == "success"
    assert again.writes() == []

    world.sf.Account.update(ids["kept"], {"Name": "Kept Renamed"})
    nightly = world.run()
    assert nightly.state == "success"
    assert nightly.report["reasons"].get("held_by_rollback", 0) >= 1
    assert world.get_company(ids["kept_company"])["name"] == "Kept"  # held: not synced
    assert world.get_company(ids["kept_company"])["phone"] == "+1 000"

    resync = world.run("company_resync", {"salesforce_account_ids": [ids["kept"]]})
    assert resync.state == "success"
    assert ids["kept"] not in set(_state(world).holds()["record_id"])  # released
    assert world.get_company(ids["kept_company"])["name"] == "Kept Renamed"  # synced again after release
    assert world.get_company(ids["kept_company"])["phone"] == "+1 555"  # planned as if X never happened

    again = world.run("company_resync", {"salesforce_account_ids": [ids["created_from"]]})
    assert again.state == "success"
    [recreated] = world.companies_for_account(ids["created_from"])  # a new company, not the archived one
    assert recreated["id"] != ids["created"]


def test_refusals_at_prepare_make_no_api_call(world):
    world.watermark()
    dry = world.run(conf={"dry_run": True})
    plain = world.run()
    undone = _rollback(world, plain.run_id)  # a run that wrote nothing: a rollback with nothing to do
    assert undone.state == "success" and undone.writes() == []
    state = _state(world)
    state.start_run(run_id="other__1", dag_id="some_other_dag")
    state.finish_run("other__1", "success", dag_id="some_other_dag")
    state.start_run(run_id="still__running", dag_id="company_sync")
    state.start_run(run_id="too__old", dag_id="company_sync", started_at="2020-01-01T00:00:00Z")
    state.finish_run("too__old", "success", dag_id="company_sync")
    refused = {
        "nope": "unknown run id",
        dry.run_id: "dry run",
        "other__1": "some_other_dag",
        undone.run_id: "a rollback cannot be rolled back",
        "still__running": "still running",
        "too__old": "retention",
        "": "run_id is empty",
    }
    for run_id in refused:
        result = _rollback(world, run_id)
        assert result.state == "failed", run_id
        assert result.requests == {"salesforce": [], "hubspot": []}, run_id


HS_ARCHIVE = "/crm/v3/objects/companies/batch/archive"


def test_a_rollback_killed_mid_load_and_retried_undoes_nothing_twice(world):
    from tests.e2e.test_fault_matrix import KILL_DROPS, accounts

    world.watermark()
    accounts(world, 250, "Undo")
    x = world.run()
    assert x.state == "success" and len(world.companies()) == 250
    world.fault("hubspot", count=1, method="POST", path_prefix=HS_ARCHIVE, latency_ms=1)  # the first lands
    world.fault("hubspot", count=KILL_DROPS, method="POST", path_prefix=HS_ARCHIVE, drop=True)  # the task dies

    undo = _rollback(world, x.run_id)

    assert undo.state == "success", undo.report
    assert undo.tries["load_hubspot"] == 2  # the first try died mid-archive; Airflow retried the task
    assert world.companies() == []  # all 250 archived
    landed = [r for r in undo.requests["hubspot"] if r["path"] == HS_ARCHIVE and r["status"] in (200, 204)]
    assert len(landed) == 3  # 100 before the kill, the other 150 on the retry: nothing archived twice
    cleared = [a for a in world.accounts() if a.get("HubSpot_Company_ID__c")]
    assert cleared == []
    again = _rollback(world, x.run_id)
    assert again.state == "success" and again.writes() == []
