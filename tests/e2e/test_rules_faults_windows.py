"""Field sync rules, refused records and backfill windows, all through real DAG runs against the sandbox.
API faults (429 storms, 5xx, dropped connections, a load killed half-way and retried, ...) are rows of
`test_fault_matrix.py`."""

from __future__ import annotations

import time
from datetime import timedelta

import pandas as pd
import pytest

pytestmark = pytest.mark.e2e

MAPPINGS = [
    {"salesforce": "Name", "hubspot": "name", "rule": "prefer_salesforce_unless_blank"},
    {"salesforce": "Website", "hubspot": "website", "rule": "prefer_salesforce_unless_blank"},
    {"salesforce": "BillingCity", "hubspot": "city", "rule": "prefer_salesforce_unless_blank"},
    {"salesforce": "BillingState", "hubspot": "state", "rule": "prefer_salesforce_unless_blank"},
    {"salesforce": "Phone", "hubspot": "phone", "rule": "two_way"},
    {"salesforce": "Description", "hubspot": "description", "rule": "always_use_salesforce"},
    {"salesforce": "Fax", "hubspot": "fax", "rule": "dont_sync"},
]


def _update_company(world, company_id: str, **properties: str) -> None:
    from hubspot.crm.companies import SimplePublicObjectInput

    world.hs.crm.companies.basic_api.update(company_id, SimplePublicObjectInput(properties=properties))


def test_the_four_field_sync_rules_with_blank_cleared_and_both_changed(world):
    world.settings(field_mappings=MAPPINGS)
    world.watermark()  # a first run's state (over empty systems, what the mappings are makes no difference)
    account = world.account(
        Name="Hooli",
        Website="hooli.xyz",
        Phone="+1 111",
        Description="From Salesforce",
        Fax="+1 999",
        BillingCity="Palo Alto",
    )
    world.run()
    [company] = world.companies_for_account(account)
    cid = company["id"]
    created = world.get_company(cid, "description", "fax", "city")
    assert (created["phone"], created["description"], created["city"]) == ("+1 111", "From Salesforce", "Palo Alto")
    assert created["fax"] is None  # dont_sync: never copied

    # Changes made in HubSpot only.
    _update_company(world, cid, name="Hooli XYZ", phone="+1 222", description="From HubSpot", fax="+1 000", state="CA")
    world.run()
    sf = world.get_account(account)
    hs = world.get_company(cid, "description", "fax", "state")
    assert sf["Phone"] == "+1 222"  # two_way: the side that changed wins
    assert hs["name"] == "Hooli"  # prefer Salesforce unless blank: Salesforce has a value
    assert sf["BillingState"] == "CA"  # ... and blank in Salesforce takes HubSpot's value
    assert hs["description"] == "From Salesforce" and sf["Description"] == "From Salesforce"  # always Salesforce
    assert sf["Fax"] == "+1 999" and hs["fax"] == "+1 000"  # dont_sync: both left alone

    # Cleared in Salesforce: mirrored to HubSpot (prefer Salesforce unless blank).
    world.sf.Account.update(account, {"BillingCity": None})
    world.run()
    assert world.get_company(cid, "city")["city"] in (None, "")

    # Both sides change the two-way field: the more recent change wins, reported as a conflict.
    world.sf.Account.update(account, {"Phone": "+1 333"})
    time.sleep(1.1)
    _update_company(world, cid, phone="+1 444")
    result = world.run()
    assert world.get_account(account)["Phone"] == "+1 444"
    assert world.get_company(cid)["phone"] == "+1 444"
    [conflict] = result.report["conflicts"]
    assert conflict["field"] == "Phone" and conflict["winner"] == "hubspot"


def test_refused_records_are_reported_by_category_while_the_rest_lands(world):
    world.hubspot_config(auto_associate=False)
    world.salesforce_rules(
        validation_rule={"field": "Phone", "pattern": r"^\+", "message": "Phone must start with +"}, duplicate_rule=True
    )
    world.watermark()  # a first run's state
    world.account(Name="Dup Original", Website="dup.example")
    linked = world.account(Name="Dup Twin")  # no website: HubSpot's will be copied, hitting the duplicate rule
    companies = {
        "good": world.company(name="Good Co", domain="good.example", phone="+1 555"),
        "validation": world.company(name="Bad Phone Co", domain="badphone.example", phone="555-no-plus"),
        "too_long": world.company(name="L" * 300, domain="long.example"),
        "picklist": world.company(name="Accounting Co", domain="acct.example", industry="ACCOUNTING"),
    }
    for key, company in companies.items():
        world.hs_contact(company, email=f"someone@{key}.example")
    world.run()
    [twin] = world.companies_for_account(linked)
    _update_company(world, twin["id"], website="https://dup.example")

    result = world.run()

    assert result.state == "success"  # refused records never fail the run
    assert len(world.accounts(f"WHERE HubSpot_Company_ID__c = '{companies['good']}'")) == 1
    for key in ("validation", "too_long", "picklist"):
        assert world.accounts(f"WHERE HubSpot_Company_ID__c = '{companies[key]}'") == [], key
    categories = {group["category"]: group for group in result.report["sync_health"]}
    assert "custom_code" in categories and "duplicates" in categories
    codes = {e["error_code"] for e in result.report["errors"]}
    assert {"FIELD_CUSTOM_VALIDATION_EXCEPTION", "DUPLICATES_DETECTED"} <= codes
    reasons = result.report["reasons"]
    assert any(r.startswith("rejected_STRING_TOO_LONG") for r in reasons)
    assert any(r.startswith("rejected_PICKLIST_VALUE_NOT_MAPPED") for r in reasons)


def test_a_backfill_syncs_exactly_the_changes_inside_its_window(world):
    first = world.run()
    inside = world.account(Name="Inside", Website="inside.example")
    time.sleep(2)
    boundary = pd.Timestamp.now(tz="UTC").floor("s").to_pydatetime()
    time.sleep(2)
    outside = world.account(Name="Outside", Website="outside.example")
    assert first.state == "success"

    backfill = world.run(run_type="backfill", logical_date=boundary - timedelta(days=1))

    assert backfill.state == "success"
    assert backfill.report["window"].startswith("backfill window")
    assert len(world.companies_for_account(inside)) == 1
    assert world.companies_for_account(outside) == []
