"""The sandbox serves the schemas the field-mapping check reads, and lets tests add custom fields on each side:
Salesforce's Account describe and Tooling API `CustomField` create; HubSpot's `GET/POST /crm/v3/properties/companies`.
Records then accept and return the new fields' values. Plain HTTP (what any client sees), plus the connector reads."""

from __future__ import annotations

import json

import pytest
import requests

from include.company_sync.connectors.schemas import account_describe, company_property_definitions
from tests.sandbox.conftest import set_connections

SF_TOKEN = {"Authorization": "Bearer sandbox-salesforce-token"}
HS_TOKEN = {"Authorization": "Bearer sandbox-hubspot-token"}
V = "/services/data/v59.0"
REGION = {
    "FullName": "Account.Region__c",
    "Metadata": {
        "label": "Region",
        "type": "Picklist",
        "valueSet": {
            "restricted": True,
            "valueSetDefinition": {"value": [{"fullName": v, "label": v} for v in ("North", "South", "East")]},
        },
    },
}


def sf(sandbox, method: str, path: str, payload=None, ok: bool = True) -> requests.Response:
    response = requests.request(
        method,
        f"{sandbox.salesforce_url}{path}",
        json=payload,
        headers=SF_TOKEN,
        verify=str(sandbox.ca_path),
        timeout=30,
    )
    if ok:
        assert response.ok, response.text
    return response


def hs(sandbox, method: str, path: str, payload=None, ok: bool = True) -> requests.Response:
    response = requests.request(method, f"{sandbox.hubspot_url}{path}", json=payload, headers=HS_TOKEN, timeout=30)
    if ok:
        assert response.ok, response.text
    return response


def describe_fields(sandbox) -> dict[str, dict]:
    return {f["name"]: f for f in sf(sandbox, "GET", f"{V}/sobjects/Account/describe").json()["fields"]}


def test_account_describe_has_what_the_check_reads(clean_sandbox):
    fields = describe_fields(clean_sandbox)
    for name in ("Name", "Industry", "CreatedDate", "AnnualRevenue", "NumberOfEmployees"):
        assert {"name", "type", "length", "scale", "createable", "updateable", "calculated", "custom"} <= set(
            fields[name]
        )
        assert {"picklistValues", "restrictedPicklist", "nillable"} <= set(fields[name])
    assert (fields["Name"]["type"], fields["Name"]["length"], fields["Name"]["updateable"]) == ("string", 255, True)
    assert not fields["CreatedDate"]["createable"] and not fields["CreatedDate"]["updateable"]
    assert fields["NumberOfEmployees"]["type"] == "int" and fields["AnnualRevenue"]["scale"] == 2
    assert {"value": "Technology", "label": "Technology", "active": True}.items() <= fields["Industry"][
        "picklistValues"
    ][28].items()
    assert fields["HubSpot_Company_ID__c"]["custom"] and not fields["Name"]["custom"]


def test_a_custom_picklist_field_is_described_written_queried_and_removed_by_reset(clean_sandbox):
    created = sf(clean_sandbox, "POST", f"{V}/tooling/sobjects/CustomField", REGION)
    assert created.status_code == 201
    assert created.json()["success"] is True and created.json()["id"].startswith("00N")
    region = describe_fields(clean_sandbox)["Region__c"]
    assert (region["type"], region["custom"], region["restrictedPicklist"], region["calculated"]) == (
        "picklist",
        True,
        True,
        False,
    )
    assert [v["value"] for v in region["picklistValues"]] == ["North", "South", "East"]

    account = sf(clean_sandbox, "POST", f"{V}/sobjects/Account", {"Name": "Acme", "Region__c": "North"}).json()["id"]
    query = requests.get(
        f"{clean_sandbox.salesforce_url}{V}/query",
        params={"q": "SELECT Id, Region__c FROM Account WHERE Region__c = 'North'"},
        headers=SF_TOKEN,
        verify=str(clean_sandbox.ca_path),
        timeout=30,
    ).json()
    assert [(r["Id"], r["Region__c"]) for r in query["records"]] == [(account, "North")]
    refused = sf(clean_sandbox, "PATCH", f"{V}/sobjects/Account/{account}", {"Region__c": "West"}, ok=False)
    assert refused.status_code == 400 and refused.json()[0]["errorCode"] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    again = sf(clean_sandbox, "POST", f"{V}/tooling/sobjects/CustomField", REGION, ok=False)
    assert again.status_code == 400 and again.json()[0]["errorCode"] == "DUPLICATE_DEVELOPER_NAME"

    requests.post(f"{clean_sandbox.salesforce_url}/__sandbox/reset", json={}, verify=str(clean_sandbox.ca_path))
    assert "Region__c" not in describe_fields(clean_sandbox)


@pytest.mark.parametrize(
    "metadata, described",
    [
        ({"type": "Text", "length": 80}, {"type": "string", "length": 80}),
        ({"type": "Number", "precision": 18, "scale": 0}, {"type": "double", "scale": 0}),
        ({"type": "Checkbox", "defaultValue": "false"}, {"type": "boolean"}),
        ({"type": "Date"}, {"type": "date"}),
        ({"type": "Text", "length": 80, "formula": "UPPER(Name)"}, {"calculated": True, "updateable": False}),
    ],
    ids=["text", "number", "checkbox", "date", "formula"],
)
def test_custom_field_types_show_in_the_describe(clean_sandbox, metadata, described):
    sf(
        clean_sandbox,
        "POST",
        f"{V}/tooling/sobjects/CustomField",
        {"FullName": "Account.Extra__c", "Metadata": metadata},
    )
    field = describe_fields(clean_sandbox)["Extra__c"]
    assert {k: field[k] for k in described} == described


@pytest.mark.parametrize(
    "body, code",
    [
        ({"FullName": "Account.Region", "Metadata": {"type": "Text", "length": 10}}, "FIELD_INTEGRITY_EXCEPTION"),
        ({"FullName": "Account.Region__c", "Metadata": {"type": "Text"}}, "FIELD_INTEGRITY_EXCEPTION"),
        ({"FullName": "Account.Region__c", "Metadata": {"type": "Lookup"}}, "INVALID_TYPE"),
        ({"FullName": "Account.Name__c"}, "JSON_PARSER_ERROR"),
    ],
    ids=["not-custom-name", "text-without-length", "unknown-type", "no-metadata"],
)
def test_bad_custom_field_definitions_are_refused(clean_sandbox, body, code):
    refused = sf(clean_sandbox, "POST", f"{V}/tooling/sobjects/CustomField", body, ok=False)
    assert refused.status_code == 400 and refused.json()[0]["errorCode"] == code


def test_a_formula_field_refuses_writes(clean_sandbox):
    formula = {"FullName": "Account.Shout__c", "Metadata": {"type": "Text", "length": 80, "formula": "UPPER(Name)"}}
    sf(clean_sandbox, "POST", f"{V}/tooling/sobjects/CustomField", formula)
    refused = sf(clean_sandbox, "POST", f"{V}/sobjects/Account", {"Name": "Acme", "Shout__c": "ACME"}, ok=False)
    assert refused.status_code == 400 and refused.json()[0]["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"


def test_company_properties_list_and_a_custom_enumeration_property(clean_sandbox):
    listed = {p["name"]: p for p in hs(clean_sandbox, "GET", "/crm/v3/properties/companies").json()["results"]}
    assert {"name", "label", "type", "fieldType", "options", "calculated", "modificationMetadata"} <= set(
        listed["name"]
    )
    assert listed["hs_object_source"]["modificationMetadata"]["readOnlyValue"] is True
    assert listed["name"]["modificationMetadata"]["readOnlyValue"] is False
    region = {
        "name": "region",
        "label": "Region",
        "type": "enumeration",
        "fieldType": "select",
        "groupName": "companyinformation",
        "options": [{"label": v.title(), "value": v} for v in ("north", "south", "east")],
    }
    created = hs(clean_sandbox, "POST", "/crm/v3/properties/companies", region)
    assert created.status_code == 201 and created.json()["hubspotDefined"] is False
    company = hs(
        clean_sandbox, "POST", "/crm/v3/objects/companies", {"properties": {"name": "Acme", "region": "north"}}
    )
    read = hs(clean_sandbox, "GET", f"/crm/v3/objects/companies/{company.json()['id']}?properties=region").json()
    assert read["properties"]["region"] == "north"
    refused = hs(clean_sandbox, "POST", "/crm/v3/objects/companies", {"properties": {"region": "west"}}, ok=False)
    assert refused.status_code == 400 and "INVALID_OPTION" in json.dumps(refused.json())


def test_the_connector_schema_reads_are_one_call_each(clean_sandbox, monkeypatch):
    from include.company_sync.connectors.hubspot import HubSpotConnector
    from include.company_sync.connectors.salesforce import SalesforceConnector

    set_connections(monkeypatch, clean_sandbox, salesforce="sf_schema", hubspot="hs_schema")
    sf_connector = SalesforceConnector.from_connection("sf_schema")
    hs_connector = HubSpotConnector.from_connection("hs_schema")
    describe = account_describe(sf_connector)
    properties = company_property_definitions(hs_connector)
    assert "Region__c" not in {f["name"] for f in describe["fields"]}
    assert "name" in {p["name"] for p in properties}
    assert sf_connector.calls.total == 1 and hs_connector.calls.total == 1
