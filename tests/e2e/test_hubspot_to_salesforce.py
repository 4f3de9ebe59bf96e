"""HubSpot → Salesforce through real DAG runs: creation criteria R5/R6 and their precedence, R8 resync,
private contacts attached to the new account, R7 lifecycle roll-up, and dedupe before creating (R9)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.e2e


def _account_for(world, company_id: str) -> list[dict]:
    return world.accounts(f"WHERE HubSpot_Company_ID__c = '{company_id}'")


def test_R5_R6_creation_criteria_one_row_per_rule(world):
    """One company per rule, all planned in one run; each asserts the account exists or not."""
    world.hubspot_config(auto_associate=False)
    world.run()  # company sync on; both systems empty
    private = world.contact(LastName="Private", Email="pat@privateco.io")  # no AccountId: a private contact
    lead = world.lead(LastName="Lead", Email="lee@leadco.io")
    listed_contact = world.hs_contact(email="lisa@listed.io")
    unlisted_contact = world.hs_contact(email="uma@unlisted.io")

    companies = {
        # R5b: a contact synced to a private Salesforce contact (and no list: R5c too)
        "R5b": world.company(name="PrivateCo", domain="privateco.io"),
        # R6a: no associated contact at all
        "R6a": world.company(name="Lonely Inc", domain="lonely.io"),
        # R6b: every associated contact is synced to a Salesforce lead
        "R6b": world.company(name="LeadCo", domain="leadco.io"),
    }
    world.hs_contact(companies["R5b"], email="pat@privateco.io", salesforcecontactid=private)
    world.hs_contact(companies["R6b"], email="lee@leadco.io", salesforceleadid=lead)

    result = world.run()

    assert result.state == "success"
    [created] = _account_for(world, companies["R5b"])
    assert created["Name"] == "PrivateCo"
    assert world.sf.Contact.get(private)["AccountId"] == created["Id"]  # adopted: attached to the new account
    assert world.get_company(companies["R5b"])["salesforceaccountid"] == created["Id"]
    assert _account_for(world, companies["R6a"]) == []
    assert _account_for(world, companies["R6b"]) == []
    reasons = result.report["reasons"]
    assert reasons["R6a_no_contacts"] == 1 and reasons["R6b_only_leads"] == 1

    # R5c / R6c with an inclusion list: only the company whose contact is a member creates an account.
    listed = world.company(name="Listed", domain="listed.io")
    unlisted = world.company(name="Unlisted", domain="unlisted.io")
    world.hs.crm.associations.v4.basic_api.create_default("contacts", listed_contact, "companies", listed)
    world.hs.crm.associations.v4.basic_api.create_default("contacts", unlisted_contact, "companies", unlisted)
    world.settings(inclusion_list_id=world.inclusion_list(listed_contact))

    listed_run = world.run()

    assert len(_account_for(world, listed)) == 1  # R5c
    assert _account_for(world, unlisted) == []  # R6c
    assert listed_run.report["reasons"]["R6c_not_in_inclusion_list"] == 1


def test_R5a_auto_created_company_creates_an_account_and_R6_wins_over_R5(world):
    world.run()
    world.hs_contact(email="ada@autoco.dev", firstname="Ada")  # the portal auto-creates autoco.dev (R5a)
    [auto] = [c for c in world.companies() if c["domain"] == "autoco.dev"]
    assert world.get_company(auto["id"], "hs_object_source")["hs_object_source"] == "CONTACTS"
    lead = world.lead(Email="bob@leadauto.dev")
    world.hs_contact(email="bob@leadauto.dev", salesforceleadid=lead)  # auto-created too, but only a lead: R6b
    [lead_only] = [c for c in world.companies() if c["domain"] == "leadauto.dev"]

    result = world.run()

    [account] = _account_for(world, auto["id"])
    assert account["Name"]
    reasons = result.report["reasons"]
    assert reasons.get("R5a_auto_created_company") == 1
    assert _account_for(world, lead_only["id"]) == []  # a do-not-create rule wins (adopted precedence)
    assert reasons["R6b_only_leads"] == 1

    world.settings(default_salesforce_object="Lead")  # R5a needs the default object Contact
    world.hs_contact(email="cy@leadobject.dev")
    [other] = [c for c in world.companies() if c["domain"] == "leadobject.dev"]
    later = world.run()
    assert len(_account_for(world, other["id"])) == 1  # still created, by R5c (no list: every contact qualifies)
    assert later.report["reasons"].get("R5a_auto_created_company") is None


def test_R8_manual_resync_creates_the_account_whatever_R6_says(world):
    world.run()
    lonely = world.company(name="Resync Me", domain="resync-me.com")
    world.run()
    assert _account_for(world, lonely) == []  # R6a: no contact

    result = world.run("company_resync", {"hubspot_company_ids": [lonely]})

    assert result.state == "success"
    [account] = _account_for(world, lonely)
    assert account["Name"] == "Resync Me"
    assert result.report["reasons"].get("R8_manual_resync") == 1
    assert world.get_company(lonely)["salesforceaccountid"] == account["Id"]


def test_R9_company_matching_an_existing_account_by_domain_links_instead_of_creating(world):
    account = world.account(Name="Pied Piper", Website="http://piedpiper.com/home")
    world.run()  # existing account (not edited): stays unsynced on its own
    company = world.company(name="Pied Piper HQ", domain="piedpiper.com")
    world.hs_contact(company, email="richard@piedpiper.com")

    result = world.run()

    assert result.state == "success"
    assert len(world.accounts()) == 1  # no duplicate account
    assert world.get_company(company)["salesforceaccountid"] == account
    assert world.get_account(account)["HubSpot_Company_ID__c"] == company


def test_R7_lifecycle_rolls_up_from_contacts_and_never_goes_backwards(world):
    world.hubspot_config(auto_associate=False)
    world.run()
    advancing = world.company(name="Advancing", domain="advancing.io", lifecyclestage="lead")
    world.hs_contact(advancing, email="a@advancing.io", lifecyclestage="customer")
    world.hs_contact(advancing, email="b@advancing.io", lifecyclestage="opportunity")
    steady = world.company(name="Steady", domain="steady.io", lifecyclestage="customer")
    world.hs_contact(steady, email="c@steady.io", lifecyclestage="lead")
    world.account(Name="Advancing", Website="advancing.io")  # link both companies to accounts
    world.account(Name="Steady", Website="steady.io")

    result = world.run()

    assert result.state == "success"
    assert world.get_company(advancing)["lifecyclestage"] == "customer"  # furthest contact stage
    assert world.get_company(steady)["lifecyclestage"] == "customer"  # never backwards
