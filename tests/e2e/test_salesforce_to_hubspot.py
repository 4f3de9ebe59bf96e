"""Salesforce → HubSpot through real DAG runs: R1–R4, R9 (dedupe), idempotence, dry run."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.e2e


def test_R2_R4_new_account_creates_company_and_links_both_ways(world):
    world.run()  # company sync seen on from here: later accounts are new (R2)
    account = world.account(
        Name="Initech",
        Website="https://www.initech.io/about",
        Phone="+1 555 0100",
        Industry="Technology",
        NumberOfEmployees=120,
    )  # no contact at all (R4)

    result = world.run()

    assert result.state == "success"
    [company] = world.companies_for_account(account)
    props = world.get_company(company["id"], "numberofemployees")
    assert props["name"] == "Initech"
    assert props["domain"] == "initech.io"  # derived from the website (the matching key)
    assert props["phone"] == "+1 555 0100"
    assert props["industry"] == "COMPUTER_SOFTWARE"  # picklist value map
    assert props["numberofemployees"] == "120"
    assert world.get_account(account)["HubSpot_Company_ID__c"] == company["id"]  # link written back
    assert result.decisions("salesforce")["created"] == 1


def test_second_run_over_the_same_window_writes_nothing_and_dry_run_writes_nothing(world):
    world.run()
    world.account(Name="Globex", Website="globex.com")
    assert world.run().writes()  # the create and the link

    again = world.run()
    assert again.state == "success"
    assert again.writes() == []

    world.account(Name="Hooli", Website="hooli.xyz")
    dry = world.run(conf={"dry_run": True})
    assert dry.state == "success" and dry.report["dry_run"] is True
    assert dry.writes() == []
    assert dry.report["summary"]["planned_writes"]["hubspot_creates"] == 1
    assert world.companies() == [c for c in world.companies() if c["name"] != "Hooli"]


def test_R1_company_sync_off_syncs_nothing_and_import_refuses(world):
    world.settings(company_sync_enabled=False)
    world.account(Name="Umbrella", Website="umbrella.com")

    off = world.run()
    assert off.state == "success"
    assert off.report["status"].startswith("skipped") and off.report["company_sync_enabled"] is False
    assert off.writes() == []
    assert world.companies() == []

    refused = world.run("salesforce_account_import")
    assert refused.state == "failed"
    assert refused.writes() == []
    assert world.companies() == []


def test_R3_existing_accounts_sync_when_edited_R3b_or_imported_R3a(world):
    edited = world.account(Name="Stark", Website="stark.com")
    untouched = world.account(Name="Wayne", Website="wayne.com")
    imported = world.account(Name="Wonka", Website="wonka.com")
    first = world.run()  # company sync first seen on now: the three accounts are existing
    assert first.decisions("salesforce").get("created", 0) == 0
    assert world.companies() == []

    world.sf.Account.update(edited, {"Phone": "+1 555 0199"})  # R3b
    world.run()
    assert [c["name"] for c in world.companies()] == ["Stark"]

    world.run("salesforce_account_import", {"account_ids": [imported]})  # R3a
    assert sorted(c["name"] for c in world.companies()) == ["Stark", "Wonka"]
    assert world.companies_for_account(untouched) == []


def test_R9_account_matching_a_company_by_domain_is_linked_not_duplicated(world):
    company = world.company(name="Acme Corp", domain="acme.com", phone="+1 555 0000")
    world.run()
    account = world.account(Name="ACME", Website="HTTPS://WWW.ACME.COM/contact?x=1")

    result = world.run()

    assert result.state == "success"
    assert len(world.companies()) == 1  # no duplicate company
    props = world.get_company(company)
    assert props["salesforceaccountid"] == account
    assert props["name"] == "ACME"  # prefer Salesforce unless blank: Salesforce's value wins
    assert world.get_account(account)["HubSpot_Company_ID__c"] == company
    assert result.report["reasons"].get("R9_linked_by_domain") == 2  # one decision on each side


def test_R9_account_matching_a_company_by_shared_contacts_is_linked(world):
    world.hubspot_config(auto_associate=False)  # else the contact's domain would make a second company
    company = world.company(name="Vandelay Industries")  # no domain: only contacts can match it
    world.hs_contact(company, email="art@vandelay-imports.net", firstname="Art", lastname="Vandelay")
    world.settings(inclusion_list_id=world.inclusion_list())  # empty list: the company creates no account (R6c)
    assert world.run().report["reasons"].get("R6c_not_in_inclusion_list") == 1
    account = world.account(Name="Vandelay")
    world.contact(AccountId=account, Email="Art@Vandelay-Imports.net", LastName="Vandelay")

    result = world.run()  # incremental: the company is found through the contact's email, not a scan

    assert result.state == "success"
    assert len(world.companies()) == 1
    assert world.get_company(company)["salesforceaccountid"] == account
    assert world.get_account(account)["HubSpot_Company_ID__c"] == company
    assert result.report["reasons"].get("R9_linked_by_contacts") == 2


def test_import_checks_the_inclusion_list_with_one_call_and_reads_none_of_it(world):
    """R5/R6 decide only a window's unlinked companies, and an import's window holds none: the import checks
    the configured list exists (one call) instead of reading its members; a list that does not exist still
    stops it before any write."""
    members = [world.hs_contact(email=f"m{i}@listed.example", lifecyclestage="lead") for i in range(3)]
    world.settings(inclusion_list_id=world.inclusion_list(*members))
    world.account(Name="Listed Co", Website="listed-co.example")
    world.run()  # company sync first seen on now
    world.account(Name="Imported Co", Website="imported-co.example")

    imported = world.run("salesforce_account_import")
    assert imported.state == "success"
    lists = [r for r in imported.requests["hubspot"] if r["path"].startswith("/crm/v3/lists/")]
    assert [r["path"].rsplit("/", 1)[-1] for r in lists] == ["join-order"]  # one page (limit 1), no member read
    assert {"Imported Co", "Listed Co"} <= {c["name"] for c in world.companies()}  # (and the contacts' domain's)

    world.settings(inclusion_list_id="987654321")
    missing = world.run("salesforce_account_import")
    assert missing.state == "failed" and missing.writes() == []
