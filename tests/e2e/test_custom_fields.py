"""Custom fields through real DAG runs (#15 item 6): an org's custom Account fields and a portal's custom company
properties, mapped in the settings, sync both ways; a mapping the schemas refuse (a missing field, a read-only
field, an incompatible type) fails the run at prepare, naming the field, with no write and no extract."""

from __future__ import annotations

import logging

import pytest

from include.company_sync.settings import catalogue

pytestmark = pytest.mark.e2e

V = "/services/data/v59.0"
CUSTOM_MAPPINGS = [
    {"salesforce": "Region__c", "hubspot": "region", "rule": "two_way"},  # picklist <-> enumeration, by label
    {"salesforce": "Tier__c", "hubspot": "tier", "rule": "two_way"},  # text <-> string
    {"salesforce": "Seats__c", "hubspot": "seats", "rule": "two_way"},  # Number(18, 0) <-> number
    {"salesforce": "Partner__c", "hubspot": "is_partner"},  # checkbox <-> bool (prefer Salesforce unless blank)
]


def sf_field(world, name: str, metadata: dict) -> None:
    body = {"FullName": f"Account.{name}", "Metadata": {"label": name.removesuffix("__c"), **metadata}}
    world.http.post(
        f"{world.sandbox.salesforce_url}{V}/tooling/sobjects/CustomField",
        json=body,
        headers={"Authorization": f"Bearer {world.sf.session_id}"},
        timeout=10,
    ).raise_for_status()


def hs_property(world, name: str, type_: str, field_type: str, options: list[str] = ()) -> None:
    body = {
        "name": name,
        "label": name.title(),
        "type": type_,
        "fieldType": field_type,
        "groupName": "companyinformation",
        "options": [{"label": o.title(), "value": o} for o in options],
    }
    world.http.post(
        f"{world.sandbox.hubspot_url}/crm/v3/properties/companies", json=body, headers=world._hs_auth, timeout=10
    ).raise_for_status()


def custom_schema(world) -> None:
    picklist = {"valueSetDefinition": {"value": [{"fullName": v, "label": v} for v in ("North", "South", "East")]}}
    sf_field(world, "Region__c", {"type": "Picklist", "valueSet": {"restricted": True, **picklist}})
    sf_field(world, "Tier__c", {"type": "Text", "length": 20})
    sf_field(world, "Seats__c", {"type": "Number", "precision": 18, "scale": 0})
    sf_field(world, "Partner__c", {"type": "Checkbox", "defaultValue": "false"})
    hs_property(world, "region", "enumeration", "select", ["north", "south", "east"])
    hs_property(world, "tier", "string", "text")
    hs_property(world, "seats", "number", "number")
    hs_property(world, "is_partner", "bool", "booleancheckbox")


def with_defaults(*extra: dict) -> list[dict]:
    return [*map(dict, catalogue().default_mappings), *extra]


def account_fields(world, account_id: str) -> dict:
    [row] = world.sf.query(f"SELECT Region__c, Tier__c, Seats__c, Partner__c FROM Account WHERE Id = '{account_id}'")[
        "records"
    ]
    return {k: v for k, v in row.items() if k != "attributes"}


def test_custom_fields_on_each_side_sync_both_ways(world):
    custom_schema(world)
    world.settings(field_mappings=with_defaults(*CUSTOM_MAPPINGS))
    world.run()  # company sync seen on from here: later accounts are new (R2)
    account = world.account(
        Name="Initech", Website="initech.io", Region__c="North", Tier__c="Gold", Seats__c=12, Partner__c=True
    )

    created = world.run()

    assert created.state == "success"
    [company] = world.companies_for_account(account)
    props = world.get_company(company["id"], "region", "tier", "seats", "is_partner")
    assert (props["region"], props["tier"], props["seats"], props["is_partner"]) == ("north", "Gold", "12", "true")

    # HubSpot -> Salesforce: two-way fields edited in HubSpot reach the account
    world.hs.crm.companies.basic_api.update(
        company["id"], {"properties": {"region": "south", "tier": "Platinum", "seats": "40"}}
    )
    updated = world.run()
    assert updated.state == "success"
    assert account_fields(world, account) == {
        "Region__c": "South",
        "Tier__c": "Platinum",
        "Seats__c": 40.0,
        "Partner__c": True,
    }

    # ... and a company created in HubSpot creates its account with them (R5c: no inclusion list)
    east = world.company(name="Eastwind", domain="eastwind.io", region="east", tier="Bronze", seats="7")
    world.hs_contact(east, email="ed@eastwind.io")
    world.run()
    [new_account] = world.accounts(f"WHERE HubSpot_Company_ID__c = '{east}'")
    assert account_fields(world, new_account["Id"]) == {
        "Region__c": "East",
        "Tier__c": "Bronze",
        "Seats__c": 7.0,
        "Partner__c": None,  # HubSpot held no value (the sandbox applies no checkbox default)
    }

    quiet = world.run()  # the custom values read back exactly as written: nothing moves again
    assert quiet.state == "success" and quiet.writes() == []
    # prepare's schema reads are in the report's API calls, one a side, beside the other tasks'
    prepare_calls = quiet.report["api_calls"]["prepare"]
    assert {system: sum(counts.values()) for system, counts in prepare_calls.items()} == {
        "salesforce": 1,
        "hubspot": 1,
    }


def _log_text(caplog) -> str:
    formatter = logging.Formatter("%(message)s")
    return "\n".join(formatter.format(r) for r in caplog.records)


def _schema_calls_only(result) -> None:
    """The run stopped at prepare: the two schema reads, no extract and no write."""
    assert result.state == "failed"
    assert result.writes() == []
    calls = {
        system: [(r["method"], r["path"]) for r in reqs if not r["path"].startswith("/__sandbox")]
        for system, reqs in result.requests.items()
    }
    assert calls == {
        "salesforce": [("GET", f"{V}/sobjects/Account/describe")],
        "hubspot": [("GET", "/crm/v3/properties/companies")],
    }


@pytest.mark.parametrize(
    "mapping, sf_metadata, hs_spec, expected",
    [
        pytest.param(
            {"salesforce": "Region__c", "hubspot": "region"},
            None,
            ("string", "text"),
            "field_mappings[14] (Salesforce Region__c ↔ HubSpot region, prefer_salesforce_unless_blank): Salesforce"
            " Account has no field Region__c visible to the integration user",
            id="missing-field",
        ),
        pytest.param(
            {"salesforce": "Shout__c", "hubspot": "shout"},
            {"type": "Text", "length": 80, "formula": "UPPER(Name)"},
            ("string", "text"),
            "Salesforce Shout__c is a formula or roll-up field and rule prefer_salesforce_unless_blank writes it",
            id="read-only-field",
        ),
        pytest.param(
            {"salesforce": "Seats__c", "hubspot": "region"},
            {"type": "Number", "precision": 18, "scale": 0},
            ("enumeration", "select"),
            "Salesforce Seats__c is double and HubSpot region is enumeration/select: these types cannot be mapped",
            id="incompatible-type",
        ),
    ],
)
def test_a_mapping_the_schemas_refuse_fails_at_prepare_naming_the_field(
    world, caplog, capfd, mapping, sf_metadata, hs_spec, expected
):
    if sf_metadata is not None:
        sf_field(world, mapping["salesforce"], sf_metadata)
    hs_property(world, mapping["hubspot"], *hs_spec, options=["north"] if hs_spec[0] == "enumeration" else [])
    world.settings(field_mappings=with_defaults(mapping))
    world.watermark()
    world.account(Name="Would Sync", Website="would-sync.io")  # new: a run that got past prepare would write

    capfd.readouterr()
    with caplog.at_level(logging.INFO):
        result = world.run()
    printed = capfd.readouterr()

    _schema_calls_only(result)
    text = "\n".join((_log_text(caplog), printed.out, printed.err))  # the task's failure is printed by Airflow
    assert expected in text
    assert "nothing was extracted or written" in text
    assert world.companies() == []
