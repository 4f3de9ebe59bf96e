"""Incremental runs driven by what the rules read besides companies and accounts (issue #11), and not by
the sync's own writes: real `company_sync` runs against the sandbox with the window overlap at 0 and a
settling run between the set-up and the change, so that only the change itself falls in the next window.

One row per change source: R7 by a contact-only change; R5c by an inclusion-list join only; R6a -> R5c when a
listed contact is associated later; R5b when a Salesforce contact becomes private; R6b -> created when the
lead is converted. Then echo suppression: a nightly followed at once by a no-change run."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.e2e


@pytest.fixture
def settled(world):
    """No window overlap: a run's window starts where the last one ended."""
    world.monkeypatch.setenv("COMPANY_SYNC_WINDOW_OVERLAP_MINUTES", "0")
    world.hubspot_config(auto_associate=False)
    assert world.run().state == "success"  # company sync on; both systems empty
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


def test_R7_contact_lifecycle_change_alone_rolls_up_to_the_linked_company(settled):
    world = settled
    company = world.company(name="Rollup Co", domain="rollup.example")
    contact = world.hs_contact(company, email="ann@rollup.example", lifecyclestage="lead")
    _settle(world)
    [account] = _accounts_for(world, company)  # R5c (no list: every contact qualifies)
    assert world.get_company(company)["lifecyclestage"] in (None, "lead")

    _contact_update(world, contact, lifecyclestage="customer")  # nothing else changes
    result = world.run()

    assert result.state == "success"
    assert world.get_company(company)["lifecyclestage"] == "customer"  # R7
    assert result.report["inputs"]["change_sources"]["hubspot"]["contacts_changed"] == 1
    assert _accounts_for(world, company) == [account]  # still one account


def test_R5c_inclusion_list_join_alone_creates_the_account(settled):
    world = settled
    company = world.company(name="Joiner Co", domain="joiner.example")
    contact = world.hs_contact(company, email="jo@joiner.example")
    outsider = world.hs_contact(email="out@elsewhere.example")
    list_id = world.inclusion_list(outsider)
    world.settings(inclusion_list_id=list_id)
    skipped = _settle(world)
    assert _accounts_for(world, company) == []  # R6c: the only contact is outside the list
    assert skipped.report["reasons"].get("R6c_not_in_inclusion_list") == 1

    world.http.put(
        f"{world.sandbox.hubspot_url}/crm/v3/lists/{list_id}/memberships/add",
        json=[contact],
        headers=world._hs_auth,
        timeout=10,
    ).raise_for_status()
    result = world.run()

    assert result.state == "success"
    assert len(_accounts_for(world, company)) == 1  # R5c, driven by the join alone
    assert result.report["inputs"]["change_sources"]["hubspot"]["list_joins"] == 1


def test_R6a_then_R5c_when_a_listed_contact_is_associated_later(settled):
    world = settled
    company = world.company(name="Lonely Then Not", domain="lonely-then-not.example")
    contact = world.hs_contact(email="li@lonely-then-not.example")
    world.settings(inclusion_list_id=world.inclusion_list(contact))
    skipped = _settle(world)
    assert _accounts_for(world, company) == []  # R6a: no contact yet
    assert skipped.report["reasons"].get("R6a_no_contacts") == 1

    world.hs.crm.associations.v4.basic_api.create_default("contacts", contact, "companies", company)
    result = world.run()

    assert result.state == "success"
    assert len(_accounts_for(world, company)) == 1  # R5c


def test_R5b_a_salesforce_contact_becoming_private_drives_its_company_into_the_run(settled):
    """R5b holds once the Salesforce contact loses its account. Adopted precedence: any R6 rule wins, so with
    an inclusion list the contact is not in, R6c still decides; what this change source guarantees is that the
    company is planned again (before, nothing about it changed in the window)."""
    world = settled
    world.settings(inclusion_list_id=world.inclusion_list(world.hs_contact(email="nobody@else.example")))
    other = world.account(Name="Someone Else", Website="someone-else.example")
    _settle(world)  # the account gets its company: linked, so R9 never pairs it with the one below
    sf_contact = world.contact(LastName="Pat", Email="pat@goingprivate.example", AccountId=other)
    company = world.company(name="Going Private", domain="goingprivate.example")
    world.hs_contact(company, email="pat@goingprivate.example", salesforcecontactid=sf_contact)
    _settle(world)
    quiet = world.run()
    assert quiet.report["reasons"].get("R6c_not_in_inclusion_list", 0) == 0  # not in the window any more

    world.sf.Contact.update(sf_contact, {"AccountId": None})  # now a private contact
    result = world.run()

    assert result.state == "success"
    sources = result.report["inputs"]["change_sources"]["salesforce"]
    assert sources["private_contacts"] == 1 and sources["companies_driven"] == 1
    assert result.report["reasons"].get("R6c_not_in_inclusion_list") == 1  # planned again; R6c wins over R5b
    assert _accounts_for(world, company) == []


def test_R6b_then_created_when_the_lead_is_converted(settled):
    world = settled
    lead = world.lead(LastName="Lee", Email="lee@convertme.example", Company="Convert Me")
    company = world.company(name="Convert Me", domain="convertme.example")
    world.hs_contact(company, email="lee@convertme.example", salesforceleadid=lead)
    skipped = _settle(world)
    assert _accounts_for(world, company) == []
    assert skipped.report["reasons"].get("R6b_only_leads") == 1

    converted = world.http.post(
        f"{world.sandbox.salesforce_url}/__sandbox/convert-lead",
        json={"leadId": lead},
        timeout=10,
    )
    converted.raise_for_status()
    account_id = converted.json()["accountId"]
    result = world.run()

    assert result.state == "success"
    assert result.report["inputs"]["change_sources"]["salesforce"]["leads_converted"] == 1
    # The conversion's account and the company share a domain only if the account has a website; without
    # one the company is no longer R6b and creates its account (R5c), or links to the converted one.
    linked = _accounts_for(world, company)
    assert len(linked) == 1
    assert world.get_company(company)["salesforceaccountid"] in (account_id, linked[0]["Id"])


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
