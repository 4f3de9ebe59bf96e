"""Contact-side drivers a successful run processed are not processed again in the next window's overlap
(issue #11, `engine/processed.py`): real `company_sync` runs against the sandbox with the overlap at its default
(15 minutes), so every run below reads again what the run before it read.

(a) a contact-only change processed by run N: run N+1 right after reads no association, company or contact for
it; (b) the same contact changed again inside the overlap is processed again; (c) a run that failed at load
(and a dry run) keeps nothing, so the next run processes the change."""

from __future__ import annotations

import json
import os

import pytest

pytestmark = pytest.mark.e2e

HS_UPDATE = "/crm/v3/objects/companies/batch/update"
# what driving a company costs: contact -> company associations, the company read, its contacts read
DRIVING_CALLS = ("associations.batch_read", "companies.batch_read", "contacts.batch_read")


@pytest.fixture
def overlapping(world):
    """The default 15-minute overlap; a rolled-up company and its one contact, synced by a first run."""
    world.monkeypatch.delenv("COMPANY_SYNC_WINDOW_OVERLAP_MINUTES", raising=False)
    world.hubspot_config(auto_associate=False)
    world.watermark()
    company = world.company(name="Rollup Co", domain="rollup-overlap.example")
    contact = world.hs_contact(company, email="ann@rollup-overlap.example", lifecyclestage="lead")
    first = world.run()
    assert first.state == "success"
    assert world.get_company(company)["salesforceaccountid"]  # linked: R7 rolls its contacts' stages up
    return world, company, contact


def _stage(world, contact_id: str, stage: str) -> None:
    from hubspot.crm.contacts import SimplePublicObjectInput

    world.hs.crm.contacts.basic_api.update(contact_id, SimplePublicObjectInput(properties={"lifecyclestage": stage}))


def _driving_calls(result) -> dict[str, int]:
    """Calls of the reading tasks (report.json's api_calls) that only a driven record costs."""
    calls = result.report["api_calls"]
    return {
        f"{task}:{op}": n
        for task in ("extract_hubspot", "complete_inputs")
        for op, n in ((calls.get(task) or {}).get("hubspot", calls.get(task) or {}) or {}).items()
        if op in DRIVING_CALLS and n
    }


def _stored():
    from include.company_sync.state import StateStore
    from include.company_sync.tasks.changes import processed_key

    store = StateStore(os.environ["COMPANY_SYNC_STATE_URL"])
    try:
        raw = store.setting_value(processed_key("company_sync"))
    finally:
        store.dispose()
    return json.loads(raw) if raw else {}


def test_a_contact_change_drives_its_company_once_and_again_when_it_changes_again(overlapping):
    world, company, contact = overlapping
    _stage(world, contact, "opportunity")
    changed = world.run()
    assert changed.state == "success"
    assert world.get_company(company)["lifecyclestage"] == "opportunity"  # R7
    assert _driving_calls(changed)  # the contact drove its company: associations, company and contacts read
    assert contact in _stored()["pairs"]["hubspot_contact"]

    # (a) right after: the change is still in the window (the overlap), the same version, processed already
    quiet = world.run()
    assert quiet.state == "success"
    sources = quiet.report["inputs"]["change_sources"]["hubspot"]
    assert sources["contacts_changed"] >= 1 and sources["contacts_already_processed"] == sources["contacts_changed"]
    assert sources["companies_driven"] == 0
    assert quiet.report["inputs"]["change_sources"]["salesforce"]["companies_driven"] == 0
    calls = _driving_calls(quiet)
    # the one company read left is the counterpart of the account the first run created, which echo suppression
    # keeps (its OwnerId, set by Salesforce, has no synced value): not a read for the contact
    assert calls.pop("complete_inputs:companies.batch_read", 0) <= 1
    assert calls == {}
    paths = [r["path"] for r in quiet.requests["hubspot"]]
    assert not [p for p in paths if "/associations/" in p or p.startswith("/crm/v3/objects/contacts/batch")], paths
    assert quiet.writes() == []

    # (b) changed again inside the overlap: a newer version, processed again
    _stage(world, contact, "customer")
    again = world.run()
    assert again.state == "success"
    sources = again.report["inputs"]["change_sources"]["hubspot"]
    assert sources["contacts_already_processed"] == 0 and sources["companies_driven"] == 1
    assert world.get_company(company)["lifecyclestage"] == "customer"


def test_a_dry_run_or_a_run_failed_at_load_keeps_nothing_so_the_next_run_processes_the_change(overlapping):
    world, company, contact = overlapping
    before = _stored()
    _stage(world, contact, "opportunity")

    dry = world.run(conf={"dry_run": True})
    assert dry.state == "success"
    assert _stored() == before

    world.fault("hubspot", count=1, method="POST", path_prefix=HS_UPDATE, status=401)
    failed = world.run()
    assert failed.state == "failed"
    assert "load_hubspot" in failed.report["failed_tasks"]
    assert _stored() == before  # nothing kept: the change was not written
    assert world.get_company(company)["lifecyclestage"] in (None, "lead")

    retried = world.run()
    assert retried.state == "success"
    sources = retried.report["inputs"]["change_sources"]["hubspot"]
    assert sources["contacts_already_processed"] == 0 and sources["companies_driven"] == 1
    assert _driving_calls(retried)
    assert world.get_company(company)["lifecyclestage"] == "opportunity"
