"""R9 inside one run through a real DAG run (issue #13 items 4 and 5): three Salesforce accounts sharing a domain
make one HubSpot company, three HubSpot companies sharing a domain make one Salesforce account; the others are
reported in `duplicate_candidates` naming the winner. A website with no valid host is a warning, never a domain."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.e2e


def test_R9_same_domain_accounts_and_companies_in_one_run_create_one_record_each_way(world):
    world.hubspot_config(auto_associate=False)  # the contacts below must not make companies of their own
    world.run()  # company sync seen on from here: the accounts below are new (R2)
    accounts = [world.account(Name=f"Same SF {i}", Website="www.samedomain-sf.com") for i in range(3)]
    companies = []
    for i in range(3):
        company = world.company(name=f"Same HS {i}", domain="samedomain-hs.com")
        world.hs_contact(company, email=f"buyer{i}@elsewhere.example", firstname="Pat", lastname=f"Buyer{i}")
        companies.append(company)  # R5c: no inclusion list, so the contact qualifies each company
    junk = world.account(Name="Junk Website", Website="not a domain")

    result = world.run()

    assert result.state == "success"
    made = [c for c in world.companies() if c.get("salesforceaccountid") in accounts]
    assert [c["domain"] for c in made] == ["samedomain-sf.com"]  # one company, not three
    [winner_account] = [c["salesforceaccountid"] for c in made]
    linked = [a for a in world.accounts() if a["HubSpot_Company_ID__c"] in companies]
    assert len(linked) == 1  # one account, not three
    winner_company = linked[0]["HubSpot_Company_ID__c"]

    rows = result.report["duplicate_candidates"]
    by_side = {
        side: {r["record_id"]: r for r in rows if r["system"] == side and r["kind"] == "same_key_in_run"}
        for side in ("salesforce", "hubspot")
    }
    assert set(by_side["salesforce"]) == set(accounts) - {winner_account}
    assert set(by_side["hubspot"]) == set(companies) - {winner_company}
    assert {r["winner_id"] for r in by_side["salesforce"].values()} == {winner_account}
    assert {r["winner_id"] for r in by_side["hubspot"].values()} == {winner_company}
    assert result.report["reasons"]["R9_duplicate_candidate"] == 4
    assert result.report["summary"]["duplicate_candidates"] == len(rows)

    [junk_company] = world.companies_for_account(junk)  # item 5: created, but no junk domain nor website
    props = world.get_company(junk_company["id"])
    assert not props.get("domain") and not props.get("website")
    assert {"system": "salesforce", "record_id": junk, "warning": "invalid_website_not_a_hostname"} in (
        result.report["record_warnings"]
    )
    html = (world.tmp / "reports" / "company_sync").glob("*/report.html")
    page = max(html, key=lambda p: p.stat().st_mtime).read_text()
    assert winner_account in page and "same_key_in_run" in page and "not a domain" not in page

    again = world.run()  # the losers did not change: nothing more is created
    assert again.state == "success" and again.writes() == []
