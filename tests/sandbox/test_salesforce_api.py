"""The Salesforce sandbox driven through simple-salesforce (and Airflow's SalesforceHook), as the sync uses it."""

from __future__ import annotations

import json
import re
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests
import yaml
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (
    SalesforceExpiredSession,
    SalesforceGeneralError,
    SalesforceMalformedRequest,
    SalesforceRefusedRequest,
    SalesforceResourceNotFound,
)

from include.sandbox.seed import build_universe, salesforce_id
from include.sandbox.server import SALESFORCE_TOKEN, start_sandbox

ROOT = Path(__file__).resolve().parents[2]


def session_for(ca_path: Path) -> requests.Session:
    session = requests.Session()
    session.verify = str(ca_path)
    session.trust_env = False  # REQUESTS_CA_BUNDLE in the environment would override `verify`
    return session


def client(sandbox, token: str = SALESFORCE_TOKEN) -> Salesforce:
    return Salesforce(
        instance_url=sandbox.salesforce_url, session_id=token, session=session_for(sandbox.ca_path), version="59.0"
    )


def control(sandbox, method: str, path: str, payload: dict | None = None) -> dict:
    response = session_for(sandbox.ca_path).request(method, sandbox.salesforce_url + path, json=payload, timeout=60)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture
def sf(clean_sandbox) -> Salesforce:
    return client(clean_sandbox)


def error_code(exc_info) -> str:
    return exc_info.value.content[0]["errorCode"]


# --- discovery ----------------------------------------------------------------------------------------


def test_versions_sobjects_and_describe(sf, clean_sandbox):
    versions = session_for(clean_sandbox.ca_path).get(clean_sandbox.salesforce_url + "/services/data/").json()
    assert versions[-1]["version"] == "59.0"
    names = {o["name"]: o["keyPrefix"] for o in sf.describe()["sobjects"]}
    assert names == {"Account": "001", "Contact": "003", "Lead": "00Q", "User": "005"}

    fields = {f["name"]: f for f in sf.Account.describe()["fields"]}
    assert {
        "Id",
        "Name",
        "Website",
        "AnnualRevenue",
        "NumberOfEmployees",
        "OwnerId",
        "ParentId",
        "IsDeleted",
        "SystemModstamp",
        "YearStarted",
        "TickerSymbol",
        "AccountNumber",
        "Fax",
    } <= set(fields)
    assert fields["Name"]["length"] == 255 and fields["Name"]["nillable"] is False
    assert fields["Description"]["length"] == 32000
    assert fields["AnnualRevenue"]["type"] == "currency" and fields["NumberOfEmployees"]["type"] == "int"
    ext = fields["HubSpot_Company_ID__c"]
    assert (ext["externalId"], ext["unique"], ext["length"], ext["type"]) == (True, True, 100, "string")
    assert fields["Id"]["createable"] is False and fields["SystemModstamp"]["updateable"] is False
    value_maps = yaml.safe_load((ROOT / "include/company_sync/field_mappings.yaml").read_text())["value_maps"]
    for picklist in ("Industry", "Type"):
        offered = {v["value"] for v in fields[picklist]["picklistValues"]}
        assert {pair[0] for pair in value_maps[picklist]} <= offered
        assert fields[picklist]["restrictedPicklist"] is True
    lead = {f["name"]: f for f in sf.Lead.describe()["fields"]}
    assert lead["Company"]["nillable"] is False and lead["LastName"]["nillable"] is False


def test_wrong_or_missing_token_is_401(clean_sandbox):
    with pytest.raises(SalesforceExpiredSession) as info:
        client(clean_sandbox, token="nope").query("SELECT Id FROM Account")
    assert info.value.content == [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]
    bare = session_for(clean_sandbox.ca_path).get(clean_sandbox.salesforce_url + "/services/data/v59.0/sobjects")
    assert bare.status_code == 401


# --- rows ---------------------------------------------------------------------------------------------


def test_create_get_update_delete_and_query_all(sf, clean_sandbox):
    created = sf.Account.create(
        {
            "Name": "Acme",
            "Website": "acme.example",
            "AnnualRevenue": 1500000,
            "NumberOfEmployees": 12,
            "Industry": "Banking",
        }
    )
    assert created["success"] is True and created["errors"] == []
    account_id = created["id"]
    assert len(account_id) == 18 and account_id.startswith("001")
    row = sf.Account.get(account_id)
    assert row["attributes"]["type"] == "Account" and row["Name"] == "Acme" and row["IsDeleted"] is False
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000", row["CreatedDate"])
    assert row["OwnerId"].startswith("005")
    partial = sf.restful(f"sobjects/Account/{account_id}", params={"fields": "Name,Website"})
    assert set(partial) == {"attributes", "Name", "Website"}

    assert sf.Account.update(account_id, {"Phone": "+1 555", "Industry": None}) == 204
    updated = sf.Account.get(account_id)
    assert updated["Phone"] == "+1 555" and updated["Industry"] is None
    assert updated["SystemModstamp"] > row["SystemModstamp"]

    assert sf.Account.delete(account_id) == 204
    with pytest.raises(SalesforceResourceNotFound) as info:
        sf.Account.get(account_id)
    assert info.value.content == [{"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}]
    assert sf.query("SELECT Id FROM Account")["totalSize"] == 0
    everything = sf.query_all("SELECT Id, IsDeleted, SystemModstamp FROM Account", include_deleted=True)
    assert [(r["Id"], r["IsDeleted"]) for r in everything["records"]] == [(account_id, True)]
    assert everything["records"][0]["SystemModstamp"] > updated["SystemModstamp"]
    with pytest.raises(SalesforceResourceNotFound) as info:
        sf.Account.update(account_id, {"Name": "x"})
    assert error_code(info) == "ENTITY_IS_DELETED"
    assert control(clean_sandbox, "POST", "/__sandbox_sf/purge")["purged"] == 1
    assert sf.query_all("SELECT Id FROM Account", include_deleted=True)["totalSize"] == 0


def test_upsert_by_external_id(sf):
    assert sf.Account.upsert("HubSpot_Company_ID__c/hs-1", {"Name": "First"}) == 201
    first = sf.Account.get_by_custom_id("HubSpot_Company_ID__c", "hs-1")
    assert sf.Account.upsert("HubSpot_Company_ID__c/hs-1", {"Name": "Renamed"}) == 200
    again = sf.Account.get_by_custom_id("HubSpot_Company_ID__c", "hs-1")
    assert (again["Id"], again["Name"]) == (first["Id"], "Renamed")
    raw = sf.restful("sobjects/Account/HubSpot_Company_ID__c/hs-2", method="PATCH", json={"Name": "Second"})
    assert raw["created"] is True and raw["success"] is True and raw["id"].startswith("001")
    with pytest.raises(SalesforceMalformedRequest) as info:
        sf.Account.update(raw["id"], {"HubSpot_Company_ID__c": "hs-1"})
    assert error_code(info) == "DUPLICATE_VALUE"
    assert sf.query("SELECT COUNT() FROM Account")["totalSize"] == 2


@pytest.mark.parametrize(
    ("call", "exception", "code"),
    [
        (lambda sf: sf.Account.create({"Website": "x.example"}), SalesforceMalformedRequest, "REQUIRED_FIELD_MISSING"),
        (lambda sf: sf.Contact.create({"FirstName": "Ada"}), SalesforceMalformedRequest, "REQUIRED_FIELD_MISSING"),
        (lambda sf: sf.Lead.create({"LastName": "Lovelace"}), SalesforceMalformedRequest, "REQUIRED_FIELD_MISSING"),
        (lambda sf: sf.Account.create({"Name": "x" * 256}), SalesforceMalformedRequest, "STRING_TOO_LONG"),
        (
            lambda sf: sf.Account.create({"Name": "x", "Industry": "Wizardry"}),
            SalesforceMalformedRequest,
            "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
        ),
        (
            lambda sf: sf.Account.create({"Name": "x", "Type": "Friend"}),
            SalesforceMalformedRequest,
            "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
        ),
        (lambda sf: sf.Account.create({"Name": "x", "Colour__c": "red"}), SalesforceMalformedRequest, "INVALID_FIELD"),
        (
            lambda sf: sf.Account.create({"Name": "x", "NumberOfEmployees": "many"}),
            SalesforceMalformedRequest,
            "JSON_PARSER_ERROR",
        ),
        (
            lambda sf: sf.Account.create({"Name": "x", "OwnerId": "not-an-id"}),
            SalesforceMalformedRequest,
            "MALFORMED_ID",
        ),
        (lambda sf: sf.Account.update("001xyz", {"Name": "x"}), SalesforceMalformedRequest, "MALFORMED_ID"),
        (
            lambda sf: sf.Account.update(salesforce_id("001", 99), {"Name": "x"}),
            SalesforceResourceNotFound,
            "NOT_FOUND",
        ),
        (lambda sf: sf.Account.get(salesforce_id("001", 99)), SalesforceResourceNotFound, "NOT_FOUND"),
        (
            lambda sf: sf.Account.get_by_custom_id("HubSpot_Company_ID__c", "none"),
            SalesforceResourceNotFound,
            "NOT_FOUND",
        ),
        (
            lambda sf: sf.query("SELECT Id FROM Account WHERE Name = 'x' ORDER"),
            SalesforceMalformedRequest,
            "MALFORMED_QUERY",
        ),
        (lambda sf: sf.query("SELECT Bogus FROM Account"), SalesforceMalformedRequest, "INVALID_FIELD"),
        (lambda sf: sf.query("SELECT Id FROM Widget"), SalesforceMalformedRequest, "INVALID_TYPE"),
    ],
)
def test_errors_surface_as_simple_salesforce_exceptions(sf, call, exception, code):
    with pytest.raises(exception) as info:
        call(sf)
    assert error_code(info) == code


def test_malformed_query_names_the_token(sf):
    with pytest.raises(SalesforceMalformedRequest) as info:
        sf.query("SELECT Id, FROM Account")
    assert "unexpected token: 'FROM'" in info.value.content[0]["message"]


def test_validation_and_duplicate_rules(sf, clean_sandbox):
    rules = control(
        clean_sandbox,
        "POST",
        "/__sandbox_sf/rules",
        {
            "validation_rule": {"field": "Phone", "pattern": "^\\+", "message": "Phone must start with +"},
            "duplicate_rule": True,
        },
    )
    assert rules["duplicate_rule"] is True and rules["validation_rule"]["field"] == "Phone"
    with pytest.raises(SalesforceMalformedRequest) as info:
        sf.Account.create({"Name": "A", "Phone": "555"})
    assert info.value.content[0]["errorCode"] == "FIELD_CUSTOM_VALIDATION_EXCEPTION"
    assert info.value.content[0]["message"] == "Phone must start with +"
    sf.Account.create({"Name": "A", "Phone": "+1 555", "Website": "https://www.Acme.example/about"})
    with pytest.raises(SalesforceMalformedRequest) as info:
        sf.Account.create({"Name": "A again", "Website": "acme.example."})
    assert error_code(info) == "DUPLICATES_DETECTED"
    assert sf.Account.create({"Name": "Other", "Website": "other.example"})["success"]
    # rules are cleared by a reset
    control(clean_sandbox, "POST", "/__sandbox/reset", {})
    assert control(clean_sandbox, "GET", "/__sandbox_sf/rules")["validation_rule"] is None
    assert sf.Account.create({"Name": "A", "Phone": "555", "Website": "acme.example"})["success"]


# --- collections --------------------------------------------------------------------------------------


def test_collections_partial_success_and_all_or_none(sf):
    records = [
        {"attributes": {"type": "Account"}, "Name": "Good 1"},
        {"attributes": {"type": "Account"}, "Website": "no-name.example"},
        {"attributes": {"type": "Account"}, "Name": "Good 2", "Industry": "Nope"},
        {"attributes": {"type": "Account"}, "Name": "Good 3"},
    ]
    results = sf.restful("composite/sobjects", method="POST", json={"allOrNone": False, "records": records})
    assert [r["success"] for r in results] == [True, False, False, True]
    assert results[1]["errors"][0]["statusCode"] == "REQUIRED_FIELD_MISSING"
    assert results[1]["errors"][0]["fields"] == ["Name"]
    assert results[2]["errors"][0]["statusCode"] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    assert sf.query("SELECT COUNT() FROM Account")["totalSize"] == 2

    results = sf.restful("composite/sobjects", method="POST", json={"allOrNone": True, "records": records})
    assert [r["success"] for r in results] == [False] * 4
    assert results[0]["errors"][0]["statusCode"] == "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    assert results[1]["errors"][0]["statusCode"] == "REQUIRED_FIELD_MISSING"
    assert sf.query("SELECT COUNT() FROM Account")["totalSize"] == 2

    ids = [r["Id"] for r in sf.query("SELECT Id FROM Account ORDER BY Name")["records"]]
    updates = [
        {"attributes": {"type": "Account"}, "Id": ids[0], "Phone": "+1"},
        {"attributes": {"type": "Account"}, "Id": ids[1], "Name": None},
    ]
    results = sf.restful("composite/sobjects", method="PATCH", json={"allOrNone": True, "records": updates})
    assert results[0]["errors"][0]["statusCode"] == "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    assert sf.Account.get(ids[0])["Phone"] is None  # rolled back
    results = sf.restful("composite/sobjects", method="PATCH", json={"records": updates})
    assert [r["success"] for r in results] == [True, False] and results[0]["id"] == ids[0]
    assert sf.Account.get(ids[0])["Phone"] == "+1"

    deleted = sf.restful("composite/sobjects", method="DELETE", params={"ids": f"{ids[0]},{ids[0]},001bad"})
    assert [r["success"] for r in deleted] == [True, False, False]
    assert deleted[1]["errors"][0]["statusCode"] == "ENTITY_IS_DELETED"
    assert deleted[2]["errors"][0]["statusCode"] == "MALFORMED_ID"


def test_collection_upsert_and_limits(sf):
    records = [
        {"attributes": {"type": "Account"}, "Name": f"Co {i}", "HubSpot_Company_ID__c": str(i)} for i in range(200)
    ]
    results = sf.restful(
        "composite/sobjects/Account/HubSpot_Company_ID__c",
        method="PATCH",
        json={"allOrNone": False, "records": records},
    )
    assert len(results) == 200 and all(r["success"] and r["created"] for r in results)
    records[0]["Name"] = "Renamed"
    records[1]["Name"] = ""
    records[2]["HubSpot_Company_ID__c"] = "3"  # same external id twice in one call
    results = sf.restful(
        "composite/sobjects/Account/HubSpot_Company_ID__c",
        method="PATCH",
        json={"allOrNone": False, "records": records},
    )
    assert results[0] == {"id": results[0]["id"], "success": True, "errors": [], "created": False}
    assert results[1]["errors"][0]["statusCode"] == "REQUIRED_FIELD_MISSING"
    assert results[2]["errors"][0]["statusCode"] == "DUPLICATE_EXTERNAL_ID"
    assert results[3]["errors"][0]["statusCode"] == "DUPLICATE_EXTERNAL_ID"
    assert sf.Account.get_by_custom_id("HubSpot_Company_ID__c", "0")["Name"] == "Renamed"
    with pytest.raises(SalesforceMalformedRequest) as info:
        sf.restful("composite/sobjects", method="POST", json={"records": records + records[:1]})
    assert error_code(info) == "EXCEEDED_ID_LIMIT"


# --- query paging, seed --------------------------------------------------------------------------------


def test_seeded_org_and_query_paging(sf, clean_sandbox):
    control(clean_sandbox, "POST", "/__sandbox/reset", {"seed": 5200})
    universe = build_universe(5200)
    first = sf.query("SELECT Id, Name, Website, Owner.Email FROM Account")
    assert first["totalSize"] == len(universe.accounts) and first["done"] is False
    assert len(first["records"]) == 2000
    assert re.fullmatch(r"/services/data/v59\.0/query/01g\w+-2000", first["nextRecordsUrl"])
    second = sf.query_more(first["nextRecordsUrl"], identifier_is_url=True)
    assert len(second["records"]) == 2000 and second["nextRecordsUrl"].endswith("-4000")
    everything = sf.query_all("SELECT Id, Name, Website, Owner.Email FROM Account")
    ids = [r["Id"] for r in everything["records"]]
    assert len(ids) == len(set(ids)) == len(universe.accounts) >= 5000
    assert ids[0] == salesforce_id("001", 0)
    record = everything["records"][0]
    assert record["attributes"] == {"type": "Account", "url": f"/services/data/v59.0/sobjects/Account/{ids[0]}"}
    owner = universe.owners[universe.accounts[0].owner]
    assert record["Owner"]["Email"] == owner.email and record["Name"] == universe.accounts[0].name

    contacts = [p for p in universe.people if p.salesforce_kind == "contact"]
    person = contacts[0]
    row = sf.Contact.get(salesforce_id("003", person.key))
    assert row["AccountId"] == salesforce_id("001", person.salesforce_org) and row["Email"] == person.email
    private = sf.query("SELECT COUNT() FROM Contact WHERE AccountId = null")["totalSize"]
    assert private == sum(p.salesforce_kind == "private_contact" for p in universe.people)
    lead = next(p for p in universe.people if p.salesforce_kind == "lead")
    assert sf.Lead.get(salesforce_id("00Q", lead.key))["Company"]
    joined = sf.query(f"SELECT Id, Account.Name, Owner.Email FROM Contact WHERE Id = '{row['Id']}'")["records"][0]
    assert joined["Account"]["Name"] == universe.accounts[person.salesforce_org].name
    users = sf.query("SELECT Id, Email, IsActive FROM User ORDER BY Email")["records"]
    assert len(users) == len(universe.owners)
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000")
    oldest = sf.query("SELECT CreatedDate FROM Account ORDER BY CreatedDate LIMIT 1")["records"][0]["CreatedDate"]
    assert oldest < now
    newest = sf.query("SELECT CreatedDate FROM Account ORDER BY CreatedDate DESC LIMIT 1")["records"][0]
    assert oldest < newest["CreatedDate"] < now
    new_id = sf.Account.create({"Name": "Fresh"})["id"]
    assert new_id not in set(ids)


# --- Bulk API 2.0 ---------------------------------------------------------------------------------------


def test_bulk2_upsert_20000_with_failures_and_query_job(sf):
    rows = []
    for i in range(20_000):
        name = "" if i % 1000 == 7 else f"Bulk {i}"
        industry = "Wizardry" if i % 1000 == 8 else "Banking"
        rows.append({"Name": name, "Industry": industry, "HubSpot_Company_ID__c": f"b{i}"})
    results = sf.bulk2.Account.upsert(records=rows, external_id_field="HubSpot_Company_ID__c", wait=0.05)
    assert sum(r["numberRecordsProcessed"] for r in results) == 20_000
    assert sum(r["numberRecordsFailed"] for r in results) == 40
    job_id = results[0]["job_id"]
    failed = sf.bulk2.Account.get_failed_records(job_id)
    lines = failed.splitlines()
    assert lines[0].startswith('"sf__Id","sf__Error"')
    assert any("REQUIRED_FIELD_MISSING" in line and '"b7"' in line for line in lines)
    assert any("INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST" in line and '"b8"' in line for line in lines)
    successful = sf.bulk2.Account.get_successful_records(job_id).splitlines()
    assert successful[0].startswith('"sf__Id","sf__Created"') and '"true"' in successful[1]
    assert len(sf.bulk2.Account.get_unprocessed_records(job_id).splitlines()) <= 1  # a header, no rows

    again = sf.bulk2.Account.upsert(records=rows[:5], external_id_field="HubSpot_Company_ID__c", wait=0.05)
    assert again[0]["numberRecordsFailed"] == 0
    assert '"false"' in sf.bulk2.Account.get_successful_records(again[0]["job_id"]).splitlines()[1]

    pages = list(
        sf.bulk2.Account.query("SELECT Id, Name, HubSpot_Company_ID__c FROM Account", max_records=8000, wait=0.05)
    )
    assert len(pages) == 3  # 19,960 rows in pages of 8,000: Sforce-Locator until the last page says null
    assert sum(len(p.splitlines()) - 1 for p in pages) == 19_960
    assert pages[0].splitlines()[0] == '"Id","Name","HubSpot_Company_ID__c"'


def test_bulk2_insert_update_delete(sf, clean_sandbox):
    inserted = sf.bulk2.Contact.insert(
        records=[
            {"LastName": "Hopper", "Email": "grace@navy.example"},
            {"LastName": "Turing", "Email": "alan@bletchley.example"},
        ],
        wait=0.05,
    )
    assert inserted[0]["numberRecordsFailed"] == 0
    contacts = sf.query("SELECT Id, LastName FROM Contact ORDER BY LastName")["records"]
    assert [c["LastName"] for c in contacts] == ["Hopper", "Turing"]
    updated = sf.bulk2.Contact.update(
        records=[
            {"Id": contacts[0]["Id"], "FirstName": "Grace"},
            {"Id": salesforce_id("003", 12345), "FirstName": "Nobody"},
        ],
        wait=0.05,
    )
    assert updated[0]["numberRecordsFailed"] == 1
    assert sf.Contact.get(contacts[0]["Id"])["Name"] == "Grace Hopper"
    deleted = sf.bulk2.Contact.delete(records=[{"Id": contacts[1]["Id"]}], wait=0.05)
    assert deleted[0]["numberRecordsFailed"] == 0
    assert sf.query("SELECT COUNT() FROM Contact")["totalSize"] == 1
    assert sf.query("SELECT COUNT() FROM Contact", include_deleted=True)["totalSize"] == 2
    # a job with an unknown column fails as a whole
    from simple_salesforce.exceptions import SalesforceOperationError

    with pytest.raises(SalesforceOperationError, match="Field name not found"):
        sf.bulk2.Contact.insert(records=[{"LastName": "x", "Shoe__c": "9"}], wait=0.05)


# --- limits, faults, concurrency, persistence ----------------------------------------------------------


def test_api_usage_header_and_daily_limit(sf, clean_sandbox):
    sf.query("SELECT Id FROM Account")
    used = sf.api_usage["api-usage"].used
    assert sf.api_usage["api-usage"].total == 100_000 and used >= 1
    sf.query("SELECT Id FROM Account")
    assert sf.api_usage["api-usage"].used == used + 1
    control(clean_sandbox, "POST", "/__sandbox_sf/rules", {"daily_api_limit": used + 2})
    sf.query("SELECT Id FROM Account")
    with pytest.raises(SalesforceRefusedRequest) as info:
        sf.query("SELECT Id FROM Account")
    assert info.value.content[0] == {"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}
    control(clean_sandbox, "POST", "/__sandbox_sf/rules", {"api_usage": 0})
    assert sf.query("SELECT COUNT() FROM Account")["totalSize"] == 0


def test_injected_faults_are_salesforce_shaped_and_logged(sf, clean_sandbox):
    control(clean_sandbox, "POST", "/__sandbox/faults", {"count": 1, "status": 503, "path_prefix": "/services/data"})
    with pytest.raises(SalesforceGeneralError) as info:
        sf.query("SELECT Id FROM Account")
    assert info.value.status == 503 and error_code(info) == "SERVER_UNAVAILABLE"
    control(clean_sandbox, "POST", "/__sandbox/faults", {"count": 1, "status": 429, "retry_after": 2})
    raw = session_for(clean_sandbox.ca_path).get(
        clean_sandbox.salesforce_url + "/services/data/v59.0/limits",
        headers={"Authorization": f"Bearer {SALESFORCE_TOKEN}"},
    )
    assert raw.status_code == 429 and raw.headers["Retry-After"] == "2"
    assert raw.json()[0]["errorCode"] == "REQUEST_LIMIT_EXCEEDED"
    assert sf.query("SELECT COUNT() FROM Account")["totalSize"] == 0
    log = control(clean_sandbox, "GET", "/__sandbox/requests")["requests"]
    statuses = [(e["method"], e["status"]) for e in log if e["path"].startswith("/services/data")]
    assert statuses == [("GET", 503), ("GET", 429), ("GET", 200)]


def test_concurrent_writers(clean_sandbox):
    ids: list[str] = []
    lock = threading.Lock()

    def work(n: int) -> None:
        sf = client(clean_sandbox)
        for i in range(15):
            new = sf.Account.create({"Name": f"T{n}-{i}"})["id"]
            with lock:
                ids.append(new)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(ids) == len(set(ids)) == 60
    assert client(clean_sandbox).query("SELECT COUNT() FROM Account")["totalSize"] == 60


def test_state_persists_across_restart(tmp_path):
    first = start_sandbox(tmp_path, salesforce_port=0, hubspot_port=0)
    try:
        sf = client(first)
        account_id = sf.Account.create({"Name": "Durable", "HubSpot_Company_ID__c": "d-1"})["id"]
        control(first, "POST", "/__sandbox_sf/rules", {"duplicate_rule": True})
    finally:
        first.stop()
    second = start_sandbox(tmp_path, salesforce_port=0, hubspot_port=0)
    try:
        sf = client(second)
        assert sf.Account.get_by_custom_id("HubSpot_Company_ID__c", "d-1")["Id"] == account_id
        assert control(second, "GET", "/__sandbox_sf/rules")["duplicate_rule"] is True
        assert sf.Account.create({"Name": "Next"})["id"] != account_id
    finally:
        second.stop()


# --- Airflow's SalesforceHook -----------------------------------------------------------------------------


def test_airflow_salesforce_hook(clean_sandbox, monkeypatch):
    from airflow.providers.salesforce.hooks.salesforce import SalesforceHook

    monkeypatch.setenv(
        "AIRFLOW_CONN_SF_SANDBOX",
        json.dumps(
            {
                "conn_type": "salesforce",
                "extra": {"instance_url": clean_sandbox.salesforce_url, "version": "59.0"},
            }
        ),
    )
    hook = SalesforceHook(
        salesforce_conn_id="sf_sandbox", session_id=SALESFORCE_TOKEN, session=session_for(clean_sandbox.ca_path)
    )
    conn = hook.get_conn()
    assert conn.sf_version == "59.0"
    created = conn.Account.create({"Name": "Via Airflow", "Industry": "Technology"})
    assert created["success"]
    result = hook.make_query("SELECT Id, Name, Industry FROM Account")
    assert result["totalSize"] == 1 and result["records"][0]["Name"] == "Via Airflow"
    assert "HubSpot_Company_ID__c" in hook.get_available_fields("Account")
    frame = hook.object_to_df(result["records"])
    assert list(frame["name"]) == ["Via Airflow"] or list(frame["Name"]) == ["Via Airflow"]
    assert conn.api_usage["api-usage"].used >= 1
