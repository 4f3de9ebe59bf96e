"""SalesforceConnector against the Salesforce sandbox, built from an Airflow connection (the hook path)."""

from __future__ import annotations

import json
import math
import time
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
import requests

from include.company_sync.connectors.http_policy import ConnectorError, RetryPolicy, SetupError
from include.company_sync.connectors.salesforce import EXTERNAL_ID_FIELD, SalesforceConnector
from include.company_sync.connectors.schemas import account_describe
from include.company_sync.settings import parse_field_mappings
from tests.sandbox.conftest import set_connections

FIELDS = [m.salesforce for m in parse_field_mappings(None)]
FAST = RetryPolicy(total=5, backoff_factor=0.01, backoff_max=0.2, backoff_jitter=0.0, retry_after_max=5)
COLLECTION_UPSERT = "/services/data/v59.0/composite/sobjects/Account/HubSpot_Company_ID__c"


def control(sandbox, method: str, path: str, payload: dict | None = None) -> dict:
    response = requests.request(
        method, f"{sandbox.salesforce_url}{path}", json=payload, verify=str(sandbox.ca_path), timeout=60
    )
    response.raise_for_status()
    return response.json()


def seed(sandbox, n: int) -> None:
    control(sandbox, "POST", "/__sandbox/reset", {"seed": n})


def api_requests(sandbox) -> list[dict]:
    return control(sandbox, "GET", "/__sandbox/requests")["requests"]


def clear_requests(sandbox) -> None:
    control(sandbox, "DELETE", "/__sandbox/requests")


def fault(sandbox, **spec) -> None:
    control(sandbox, "POST", "/__sandbox/faults", spec)


@pytest.fixture
def connect(clean_sandbox, monkeypatch):
    """Build a connector from an Airflow connection set through the environment (as Airflow reads it)."""
    set_connections(monkeypatch, clean_sandbox, salesforce="salesforce_test")

    def build(**kwargs) -> SalesforceConnector:
        kwargs.setdefault("policy", FAST)
        kwargs.setdefault("bulk_poll_seconds", 0.05)
        return SalesforceConnector.from_connection("salesforce_test", **kwargs)

    return build


def new_accounts(n: int, prefix: str = "hs") -> list[dict]:
    return [
        {
            EXTERNAL_ID_FIELD: f"{prefix}{i}",
            "Name": f"Company {prefix} {i}",
            "Website": f"https://{prefix}{i}.example",
            "NumberOfEmployees": i,
            "AnnualRevenue": 1000.5 + i,
        }
        for i in range(n)
    ]


def test_check_setup_and_typed_window_extract(connect, clean_sandbox):
    seed(clean_sandbox, 60)
    sf = connect()
    sf.check_setup()
    described = sf.calls.as_dict()
    sf.check_setup(account_describe(sf))  # prepare's describe serves: no second read
    assert sum(sf.calls.as_dict().values()) == sum(described.values()) + 1
    end = datetime.now(UTC) + timedelta(minutes=5)
    everything = sf.accounts_changed(FIELDS, None, end)
    assert len(everything) == everything["Id"].nunique() > 0
    assert list(everything.columns[:5]) == ["Id", "CreatedDate", "SystemModstamp", "IsDeleted", EXTERNAL_ID_FIELD]
    assert str(everything["SystemModstamp"].dt.tz) == "UTC"
    assert everything["Id"].str.startswith("001").all()
    assert str(everything["NumberOfEmployees"].dtype) == "Int64"
    assert str(everything["AnnualRevenue"].dtype) == "Float64"
    assert str(everything["Name"].dtype).startswith("str") or everything["Name"].dtype == "string"

    stamps = everything["SystemModstamp"].sort_values().reset_index(drop=True)
    start, stop = stamps.iloc[len(stamps) // 4], stamps.iloc[3 * len(stamps) // 4]
    window = sf.accounts_changed(FIELDS, start.to_pydatetime(), stop.to_pydatetime())
    stamp = everything["SystemModstamp"]
    # SOQL datetimes have whole seconds: the start is truncated and the end rounded up (windows overlap by
    # under a second, which idempotent loads absorb; nothing written just before the end is left out)
    expected = everything[(stamp >= start.floor("s")) & (stamp < stop.ceil("s"))]
    assert set(window["Id"]) == set(expected["Id"])
    assert len(window) > 0


def test_deleted_accounts_come_back_from_query_all(connect, clean_sandbox):
    sf = connect()
    before = datetime.now(UTC) - timedelta(seconds=2)
    result = sf.upsert_accounts(new_accounts(3, "del"))
    assert result["success"].all() and result["created"].all()
    sf.sf.Account.delete(result["id"].iloc[0])
    changed = sf.accounts_changed(["Name"], before, datetime.now(UTC) + timedelta(seconds=5))
    deleted = changed.set_index("Id")["IsDeleted"]
    assert bool(deleted[result["id"].iloc[0]]) is True
    assert int(deleted.sum()) == 1


def test_bulk_query_above_threshold_matches_rest(connect, clean_sandbox):
    seed(clean_sandbox, 120)
    end = datetime.now(UTC) + timedelta(minutes=5)
    rest = connect().accounts_changed(FIELDS, None, end)
    clear_requests(clean_sandbox)
    bulk = connect(bulk_query_threshold=50).accounts_changed(FIELDS, None, end)
    paths = [r["path"] for r in api_requests(clean_sandbox)]
    assert any("/jobs/query" in p for p in paths)
    pd.testing.assert_frame_equal(
        bulk.sort_values("Id", ignore_index=True), rest.sort_values("Id", ignore_index=True), check_dtype=True
    )


def test_reads_by_ids_chunk_the_in_lists(connect, clean_sandbox):
    seed(clean_sandbox, 80)
    sf = connect(ids_per_query=25)
    accounts = sf.accounts_changed(["Name"], None, datetime.now(UTC) + timedelta(minutes=5))
    ids = list(accounts["Id"])
    clear_requests(clean_sandbox)
    by_ids = sf.accounts_by_ids(ids, ["Name", "Website"])
    assert set(by_ids["Id"]) == set(ids)
    queries = [r for r in api_requests(clean_sandbox) if "/query" in r["path"]]
    assert len(queries) == math.ceil(len(ids) / 25)

    contacts = sf.contacts(account_ids=ids)
    assert list(contacts.columns) == ["Id", "AccountId", "Email"]
    assert set(contacts["AccountId"].dropna()) <= set(ids)
    users = sf.users()
    assert list(users.columns) == ["Id", "Email", "FirstName", "LastName", "IsActive"] and len(users) > 0
    lead_ids = list(sf.sf.query("SELECT Id FROM Lead LIMIT 5")["records"])
    leads = sf.leads([r["Id"] for r in lead_ids])
    assert list(leads.columns) == ["Id", "Email", "IsConverted"] and len(leads) == len(lead_ids)


def test_collection_upsert_call_count_and_idempotence(connect, clean_sandbox):
    sf = connect()
    records = new_accounts(450)
    clear_requests(clean_sandbox)
    first = sf.upsert_accounts(records)
    assert first["success"].all() and first["created"].all()
    assert list(first["key"]) == [r[EXTERNAL_ID_FIELD] for r in records]
    writes = [r for r in api_requests(clean_sandbox) if r["method"] == "PATCH"]
    assert len(writes) == math.ceil(450 / 200)
    assert all(r["path"] == COLLECTION_UPSERT for r in writes)

    again = sf.upsert_accounts(records)
    assert again["success"].all() and not again["created"].any()
    assert list(again["id"]) == list(first["id"])
    found = sf.accounts_by_external_ids([r[EXTERNAL_ID_FIELD] for r in records], ["Name"])
    assert len(found) == 450


def test_partial_failures_are_categorised_and_the_rest_lands(connect, clean_sandbox):
    control(
        clean_sandbox,
        "POST",
        "/__sandbox_sf/rules",
        {
            "validation_rule": {
                "field": "Phone",
                "pattern": "^\\+",
                "message": "Phone must start with +",
                "object": "Account",
            }
        },
    )
    sf = connect()
    records = new_accounts(6, "pf")
    records[1]["Name"] = None  # REQUIRED_FIELD_MISSING
    records[2]["Name"] = "x" * 300  # STRING_TOO_LONG
    records[3]["Industry"] = "Not A Real Industry"  # restricted picklist
    records[4]["Phone"] = "555 1234"  # validation rule
    result = sf.upsert_accounts(records).set_index("key")
    assert result.loc[["pf0", "pf5"], "success"].all()
    expected = {"pf1": "property_values", "pf2": "property_values", "pf3": "property_values", "pf4": "custom_code"}
    for key, category in expected.items():
        row = result.loc[key]
        assert not row["success"], key
        assert row["category"] == category, (key, row["error_code"], row["message"])
        assert row["error_code"] and row["message"]
    assert result.loc["pf1", "error_code"] == "REQUIRED_FIELD_MISSING"
    assert result.loc["pf2", "error_code"] == "STRING_TOO_LONG"
    landed = sf.accounts_by_external_ids(list(result.index), ["Name"])
    assert set(landed[EXTERNAL_ID_FIELD]) == {"pf0", "pf5"}


def test_update_accounts_and_contacts(connect, clean_sandbox):
    seed(clean_sandbox, 20)
    sf = connect()
    accounts = sf.accounts_changed(["Name"], None, datetime.now(UTC) + timedelta(minutes=5))
    accounts = accounts[~accounts["IsDeleted"]]
    updates = [{"Id": i, "Description": f"synced {i}"} for i in accounts["Id"][:5]]
    updates.append({"Id": "001000000000000AAA", "Description": "nope"})
    result = sf.update_accounts(updates)
    assert result["success"].iloc[:5].all()
    assert not result["success"].iloc[5] and result["category"].iloc[5] in ("not_found", "property_values")
    contacts = sf.contacts(ids=None, account_ids=list(accounts["Id"]))
    target = accounts["Id"].iloc[0]
    moved = sf.update_contacts([{"Id": c, "AccountId": target} for c in contacts["Id"][:3]])
    assert moved["success"].all()
    assert set(sf.contacts(ids=list(contacts["Id"][:3]))["AccountId"]) == {target}


def test_faults_are_retried_on_reads_and_writes(connect, clean_sandbox):
    seed(clean_sandbox, 10)
    sf = connect()
    fault(clean_sandbox, count=2, method="GET", path_prefix="/services/data/v59.0/query", status=503)
    fault(clean_sandbox, count=1, method="GET", path_prefix="/services/data/v59.0/queryAll", status=502)
    accounts = sf.accounts_changed(["Name"], None, datetime.now(UTC) + timedelta(minutes=5))
    assert len(accounts) > 0
    fault(clean_sandbox, count=3, method="PATCH", path_prefix=COLLECTION_UPSERT, status=429, retry_after=0)
    fault(clean_sandbox, count=1, method="PATCH", path_prefix=COLLECTION_UPSERT, drop=True)
    result = sf.upsert_accounts(new_accounts(5, "rt"))
    assert result["success"].all()
    statuses = [r["status"] for r in api_requests(clean_sandbox) if r["method"] == "PATCH"]
    assert statuses == [429, 429, 429, 0, 200]


def test_whole_request_refusal_is_split_and_lock_errors_retried(connect, clean_sandbox):
    sf = connect()
    fault(clean_sandbox, count=1, method="PATCH", path_prefix=COLLECTION_UPSERT, status=400)  # UNABLE_TO_LOCK_ROW
    result = sf.upsert_accounts(new_accounts(8, "lk"))
    assert result["success"].all()
    patches = [r for r in api_requests(clean_sandbox) if r["method"] == "PATCH"]
    assert [r["status"] for r in patches] == [400, 200, 200]


def test_exhausted_retries_name_the_api_endpoint_and_status(connect, clean_sandbox):
    sf = connect(policy=RetryPolicy(total=2, backoff_factor=0.01, backoff_max=0.05))
    fault(clean_sandbox, count=10, method="GET", status=503)
    with pytest.raises(ConnectorError) as raised:
        sf.users()
    message = str(raised.value)
    assert "Salesforce" in message and "/services/data/v59.0/query" in message and "503" in message
    assert raised.value.status == 503


def test_bulk_upsert_above_threshold_reports_per_record(connect, clean_sandbox):
    sf = connect(bulk_write_threshold=50)
    records = new_accounts(120, "bk")
    records[7]["Name"] = "y" * 300
    clear_requests(clean_sandbox)
    started = time.monotonic()
    result = sf.upsert_accounts(records)
    assert time.monotonic() - started < 30
    assert len(result) == 120 and list(result["key"]) == [r[EXTERNAL_ID_FIELD] for r in records]
    assert int(result["success"].sum()) == 119
    bad = result.set_index("key").loc["bk7"]
    assert bad["error_code"] == "STRING_TOO_LONG" and bad["category"] == "property_values"
    assert result.loc[result["success"], "created"].all()
    paths = [r["path"] for r in api_requests(clean_sandbox)]
    assert any(p.endswith("/jobs/ingest") or p.endswith("/jobs/ingest/") for p in paths)
    assert not any(p == COLLECTION_UPSERT for p in paths)
    again = sf.upsert_accounts([r for i, r in enumerate(records) if i != 7])
    assert again["success"].all() and not again["created"].any()


def test_check_setup_names_a_missing_field():
    class Describe:
        def describe(self):
            return {"fields": [{"name": "Id"}, {"name": "Name"}]}

    class FakeSession:
        hooks: dict = {}

    class FakeSalesforce:
        Account = Describe()
        session = FakeSession()
        sf_version = "59.0"

    with pytest.raises(SetupError, match=EXTERNAL_ID_FIELD):
        SalesforceConnector.from_client(FakeSalesforce()).check_setup()


class _FakeSession:
    def __init__(self):
        self.hooks: dict = {}


class _LockingSalesforce:
    """A client whose first collection call fails one record with UNABLE_TO_LOCK_ROW."""

    sf_version = "59.0"

    def __init__(self):
        self.session = _FakeSession()
        self.calls: list[list[dict]] = []

    def restful(self, path, method="GET", json=None, **kwargs):  # noqa: A002 - simple-salesforce's signature
        records = json["records"]
        self.calls.append(records)
        out = []
        for record in records:
            if len(self.calls) == 1 and record[EXTERNAL_ID_FIELD] == "k1":
                out.append(
                    {
                        "id": None,
                        "success": False,
                        "errors": [{"statusCode": "UNABLE_TO_LOCK_ROW", "message": "unable to lock", "fields": []}],
                    }
                )
            else:
                out.append({"id": "001" + record[EXTERNAL_ID_FIELD].rjust(15, "0"), "success": True, "created": True})
        return out


def test_transient_record_errors_are_retried_once():
    fake = _LockingSalesforce()
    result = SalesforceConnector.from_client(fake).upsert_accounts(new_accounts(3, "k"))
    assert result["success"].all()
    assert [len(c) for c in fake.calls] == [3, 1]  # only the locked record went again
    assert fake.calls[1][0][EXTERNAL_ID_FIELD] == "k1"
    assert fake.calls[0][0]["attributes"] == {"type": "Account"}


def test_error_codes_map_to_sync_health_categories():
    from include.company_sync.connectors.results import salesforce_category
    from include.company_sync.connectors.salesforce_values import parse_bulk_error

    assert salesforce_category("REQUIRED_FIELD_MISSING") == "property_values"
    assert salesforce_category("INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST") == "property_values"
    assert salesforce_category("FIELD_CUSTOM_VALIDATION_EXCEPTION") == "custom_code"
    assert salesforce_category("DUPLICATES_DETECTED") == "duplicates"
    assert salesforce_category("DUPLICATE_VALUE") == "duplicates"
    assert salesforce_category("INSUFFICIENT_ACCESS_OR_READONLY") == "permissions"
    assert salesforce_category("INVALID_FIELD_FOR_INSERT_UPDATE") == "permissions"
    assert salesforce_category("INVALID_CROSS_REFERENCE_KEY") == "associations"
    assert salesforce_category("REQUEST_LIMIT_EXCEEDED") == "rate_limits"
    assert salesforce_category("UNABLE_TO_LOCK_ROW") == "transient"
    assert salesforce_category(None, 503) == "transient"
    assert parse_bulk_error("STRING_TOO_LONG:Account Name: data value too large:Name --") == (
        "STRING_TOO_LONG",
        "Account Name: data value too large",
        ["Name"],
    )
    assert parse_bulk_error("REQUIRED_FIELD_MISSING:Required fields are missing: [Name]:--")[0] == (
        "REQUIRED_FIELD_MISSING"
    )


def test_a_wrong_token_fails_at_once_naming_the_connection(clean_sandbox, monkeypatch):
    from include.company_sync.connectors.http_policy import AuthenticationFailed

    monkeypatch.setenv(
        "AIRFLOW_CONN_SALESFORCE_WRONG",
        json.dumps(
            {
                "conn_type": "salesforce",
                "password": "not-the-token",
                "extra": {
                    "instance_url": clean_sandbox.salesforce_url,
                    "version": "59.0",
                    "ca_bundle": str(clean_sandbox.ca_path),
                },
            }
        ),
    )
    sf = SalesforceConnector.from_connection("salesforce_wrong", policy=FAST)
    clear_requests(clean_sandbox)
    with pytest.raises(AuthenticationFailed) as raised:
        sf.users()
    message = str(raised.value)
    assert raised.value.status == 401 and "'salesforce_wrong'" in message and "not-the-token" not in message
    assert len(api_requests(clean_sandbox)) == 1  # never retried


def test_a_mapped_field_that_does_not_exist_fails_at_once(connect, clean_sandbox):
    from include.company_sync.connectors.http_policy import ConfiguredObjectMissing

    sf = connect()
    with pytest.raises(ConfiguredObjectMissing, match="field_mappings") as raised:
        sf.accounts_changed(["Name", "No_Such_Field__c"], None, datetime.now(UTC))
    assert "INVALID_FIELD" in str(raised.value)


def test_an_abort_check_stops_the_connector_at_its_next_exchange(connect, clean_sandbox):
    from include.company_sync.connectors.http_policy import RunAborted

    sf = connect()
    calls = []

    def abort() -> None:
        calls.append(1)
        raise RunAborted("the sibling failed", operation="abort_check")

    sf.abort_check = abort
    with pytest.raises(RunAborted):
        sf.users()
    assert calls == [1]


def test_an_upsert_applied_then_dropped_is_retried_without_duplicates(connect, clean_sandbox):
    """`drop_after`: the collection lands, the answer is lost; the retried upsert on the external id updates."""
    sf = connect()
    records = new_accounts(4, "ad")
    clear_requests(clean_sandbox)
    fault(clean_sandbox, count=1, method="PATCH", path_prefix=COLLECTION_UPSERT, drop_after=True)
    result = sf.upsert_accounts(records)
    assert result["success"].all() and len(result) == 4
    assert not result["created"].any()  # the retry found them: they had been created by the dropped call
    patches = [r for r in api_requests(clean_sandbox) if r["method"] == "PATCH"]
    assert [(r["status"], r.get("applied")) for r in patches] == [(0, 200), (200, None)]
    found = sf.accounts_by_ids(list(result["id"]), ["Name"])
    assert sorted(found[EXTERNAL_ID_FIELD]) == sorted(r[EXTERNAL_ID_FIELD] for r in records)


def test_contacts_and_leads_changed_in_a_window_one_call_each(connect, clean_sandbox):
    """The Salesforce change sources of contact-driven runs (#11): contacts whose AccountId was set or cleared
    and leads modified in the window, each one REST call when small (no COUNT() first)."""
    seed(clean_sandbox, 30)
    sf = connect()
    account = sf.sf.Account.create({"Name": "Window Co"})["id"]
    kept = sf.sf.Contact.create({"LastName": "Kept", "AccountId": account})["id"]
    leaving = sf.sf.Contact.create({"LastName": "Leaving", "AccountId": account})["id"]
    lead = sf.sf.Lead.create({"LastName": "Lee", "Company": "Lee Co"})["id"]
    time.sleep(1.1)  # SOQL windows have whole seconds
    start = datetime.now(UTC)
    sf.sf.Contact.update(leaving, {"AccountId": None})
    sf.sf.Lead.update(lead, {"Company": "Lee Company"})
    end = datetime.now(UTC)

    clear_requests(clean_sandbox)
    contacts = sf.contacts_changed(start, end)
    leads = sf.leads_changed(start, end)
    assert list(contacts["Id"]) == [leaving] and contacts["AccountId"].isna().all()
    assert kept not in set(contacts["Id"])
    assert list(leads["Id"]) == [lead] and list(leads.columns) == [
        "Id",
        "IsConverted",
        "ConvertedAccountId",
        "SystemModstamp",
    ]
    assert len(api_requests(clean_sandbox)) == 2
