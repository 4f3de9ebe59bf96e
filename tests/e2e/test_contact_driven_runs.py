"""Incremental runs driven by what the rules read besides companies and accounts (issue #11), and not by
the sync's own writes: real `company_sync` runs against the sandbox with the window overlap at 0 and a
settling run between the set-up and the change, so that only the change itself falls in the next window.

One row per change source: R7 by a contact-only change; R5c by an inclusion-list join only; R6a -> R5c when a
listed contact is associated later; R5b when a Salesforce contact becomes private; R6b -> created when the
lead is converted. Then echo suppression: a nightly followed at once by a no-change run."""

from __future__ import annotations

import time
from datetime import timedelta

import pandas as pd
import pytest

pytestmark = pytest.mark.e2e


@pytest.fixture
def settled(world):
    """No window overlap: a run's window starts where the last one ended."""
    world.monkeypatch.setenv("COMPANY_SYNC_WINDOW_OVERLAP_MINUTES", "0")
    world.hubspot_config(auto_associate=False)
    world.watermark()  # as after a first run over the two empty systems: company sync on
    return world


def _accounts_for(world, company_id: str) -> list[dict]:
    return world.accounts(f"WHERE HubSpot_Company_ID__c = '{company_id}'")


def _contact_update(world, contact_id: str, **properties: str) -> None:
    from hubspot.crm.contacts import SimplePublicObjectInput

    world.hs.crm.contacts.basic_api.update(contact_id, SimplePublicObjectInput(properties=properties))


def _settle(world):
    """A run that takes in the set-up, then one that must find nothing left to do."""
    first = world.run()
    assert first.state == "success"
    return first


def _join(world, list_id: str, contact_id: str) -> None:
    world.http.put(
        f"{world.sandbox.hubspot_url}/crm/v3/lists/{list_id}/memberships/add",
        json=[contact_id],
        headers=world._hs_auth,
        timeout=10,
    ).raise_for_status()


def test_hubspot_sources_R7_by_a_contact_change_R5c_by_a_list_join_R6a_then_R5c_by_an_association(settled):
    """Three companies, one HubSpot change source each, all changed between the same two runs: only the
    contacts changed, never the companies."""
    world = settled
    rollup = world.company(name="Rollup Co", domain="rollup.example")  # R7
    listed = world.hs_contact(rollup, email="ann@rollup.example", lifecyclestage="lead")
    joiner_co = world.company(name="Joiner Co", domain="joiner.example")  # R6c, then R5c by a join
    joiner = world.hs_contact(joiner_co, email="jo@joiner.example")
    lonely = world.company(name="Lonely Then Not", domain="lonely-then-not.example")  # R6a, then R5c
    later = world.hs_contact(email="li@lonely-then-not.example")
    list_id = world.inclusion_list(listed, later)
    world.settings(inclusion_list_id=list_id)
    before = _settle(world)
    [account] = _accounts_for(world, rollup)  # R5c: its contact is listed
    assert _accounts_for(world, joiner_co) == [] and _accounts_for(world, lonely) == []
    assert before.report["reasons"].get("R6c_not_in_inclusion_list") == 1
    assert before.report["reasons"].get("R6a_no_contacts") == 1
    assert world.get_company(rollup)["lifecyclestage"] in (None, "lead")

    _contact_update(world, listed, lifecyclestage="customer")
    _join(world, list_id, joiner)
    world.hs.crm.associations.v4.basic_api.create_default("contacts", later, "companies", lonely)
    result = world.run()

    assert result.state == "success"
    assert world.get_company(rollup)["lifecyclestage"] == "customer"  # R7
    assert _accounts_for(world, rollup) == [account]  # still one account
    assert len(_accounts_for(world, joiner_co)) == 1  # R5c, driven by the join alone
    assert len(_accounts_for(world, lonely)) == 1  # R6a -> R5c
    sources = result.report["inputs"]["change_sources"]["hubspot"]
    assert sources["list_joins"] == 1 and sources["contacts_changed"] >= 2
    # the list is read from the position the settling run kept (one page), not whole; R5c/R6c read the
    # membership of the planned companies' contacts by record
    assert sources["list_read_whole"] == 0 and sources["list_pages_read"] == 1
    paths = [r["path"] for r in result.requests["hubspot"]]
    assert paths.count(f"/crm/v3/lists/{list_id}/memberships/join-order") == 1
    assert "/crm/v3/lists/records/memberships/batch/read" in paths


def test_a_backfill_window_sees_its_list_joins_from_the_whole_list(settled):
    """A backfill of a past day finds no stored list position older than its window start: it reads the
    list whole, and a join inside its window still drives its company (R6c -> R5c)."""
    world = settled
    company = world.company(name="Backfilled Joiner", domain="backfilled-joiner.example")
    joiner = world.hs_contact(company, email="bo@backfilled-joiner.example")
    other = world.hs_contact(email="someone@elsewhere.example")
    list_id = world.inclusion_list(other)
    world.settings(inclusion_list_id=list_id)
    before = _settle(world)
    assert before.report["reasons"].get("R6c_not_in_inclusion_list") == 1
    _join(world, list_id, joiner)
    time.sleep(1.5)
    boundary = pd.Timestamp.now(tz="UTC").ceil("s").to_pydatetime()

    backfill = world.run(run_type="backfill", logical_date=boundary - timedelta(days=1))

    assert backfill.state == "success"
    sources = backfill.report["inputs"]["change_sources"]["hubspot"]
    assert sources["list_read_whole"] == 1
    assert sources["list_joins"] == 2  # the day's joins: the list's first member, then the joiner
    assert len(_accounts_for(world, company)) == 1


def test_salesforce_sources_R5b_private_contact_and_R6b_lead_converted(settled):
    """R5b holds once a Salesforce contact loses its account. Adopted precedence: any R6 rule wins, so with
    an inclusion list the contact is not in, R6c still decides; what the change source guarantees is that the
    company is planned again. A converted lead is no longer a lead (R6b): its company creates its account."""
    world = settled
    other = world.account(Name="Someone Else", Website="someone-else.example")
    _settle(world)  # the account gets its company: linked, so R9 never pairs it with the one below
    sf_contact = world.contact(LastName="Pat", Email="pat@goingprivate.example", AccountId=other)
    private_co = world.company(name="Going Private", domain="goingprivate.example")
    world.hs_contact(private_co, email="pat@goingprivate.example", salesforcecontactid=sf_contact)
    lead = world.lead(LastName="Lee", Email="lee@convertme.example", Company="Convert Me")
    lead_co = world.company(name="Convert Me", domain="convertme.example")
    lee = world.hs_contact(lead_co, email="lee@convertme.example", salesforceleadid=lead)
    world.settings(inclusion_list_id=world.inclusion_list(lee))
    before = _settle(world)
    assert before.report["reasons"].get("R6b_only_leads") == 1
    assert before.report["reasons"].get("R6c_not_in_inclusion_list") == 1
    assert _accounts_for(world, private_co) == [] and _accounts_for(world, lead_co) == []

    world.sf.Contact.update(sf_contact, {"AccountId": None})  # now a private contact
    converted = world.sandbox.convert_lead(lead)
    result = world.run()

    assert result.state == "success"
    sources = result.report["inputs"]["change_sources"]["salesforce"]
    assert sources["private_contacts"] == 1 and sources["leads_converted"] == 1
    assert sources["companies_driven"] == 2
    assert result.report["reasons"].get("R6c_not_in_inclusion_list") == 1  # planned again; R6c wins over R5b
    assert _accounts_for(world, private_co) == []
    # no longer R6b: R9 pairs the company with the conversion's account through their shared contact
    [linked] = _accounts_for(world, lead_co)
    assert linked["Id"] == converted["accountId"]
    assert world.get_company(lead_co)["salesforceaccountid"] == linked["Id"]


def test_a_no_change_run_right_after_a_nightly_costs_almost_nothing(settled):
    world = settled
    for i in range(5):
        world.account(Name=f"Echo {i}", Website=f"echo{i}.example")
    companies = [world.company(name=f"Echo HS {i}", domain=f"echo-hs{i}.example") for i in range(5)]
    for i, company in enumerate(companies):
        world.hs_contact(company, email=f"c{i}@echo-hs{i}.example")
    nightly = _settle(world)
    assert len(nightly.writes()) > 0  # created and linked both ways

    quiet = world.run()

    assert quiet.state == "success"
    assert quiet.writes() == []
    for system in ("salesforce", "hubspot"):
        calls = [r for r in quiet.requests[system] if not r["path"].startswith("/__sandbox")]
        assert len(calls) <= 10, (system, [(r["method"], r["path"]) for r in calls])
    skipped = quiet.report["inputs"]["change_sources"]
    assert skipped["hubspot"]["echoes_skipped"] >= len(companies)
