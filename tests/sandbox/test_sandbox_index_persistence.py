"""Writes survive a restart through the snapshot + journal, and the indexes rebuilt on start find them."""

from __future__ import annotations

import json
from pathlib import Path

from include.sandbox.http import Request
from include.sandbox.hubspot.api import HubSpotApi
from include.sandbox.salesforce.api import SalesforceApi
from include.sandbox.server import HUBSPOT_TOKEN, SALESFORCE_TOKEN


def _hs(api: HubSpotApi, method: str, path: str, body: dict | None = None):
    request = Request(
        method,
        path,
        {},
        {"authorization": f"Bearer {HUBSPOT_TOKEN}", "host": "sandbox"},
        json.dumps(body).encode() if body is not None else b"",
    )
    return api.dispatch(request)


def _sf(api: SalesforceApi, method: str, path: str, body: dict | None = None, query: dict | None = None):
    request = Request(
        method,
        path,
        query or {},
        {"authorization": f"Bearer {SALESFORCE_TOKEN}"},
        json.dumps(body).encode() if body is not None else b"",
    )
    return api.dispatch(request)


def test_hubspot_writes_are_journaled_and_found_after_a_restart(tmp_path: Path):
    api = HubSpotApi(tmp_path, ten_second_limit=None, search_per_second=None, daily_limit=None)
    api.reset(20)
    api.state.flush()  # the full snapshot of the seed
    created = _hs(
        api,
        "POST",
        "/crm/v3/objects/companies/batch/upsert",
        {
            "inputs": [
                {
                    "id": "001J",
                    "idProperty": "salesforceaccountid",
                    "properties": {"name": "Journal", "domain": "j.example"},
                }
            ]
        },
    )
    assert created.status == 200
    company_id = created.body["results"][0]["id"]
    api.state.flush()
    assert (tmp_path / "hubspot.journal").exists()
    api.close()

    again = HubSpotApi(tmp_path, ten_second_limit=None, search_per_second=None, daily_limit=None)
    try:
        found = _hs(
            again,
            "POST",
            "/crm/v3/objects/companies/search",
            {"filterGroups": [{"filters": [{"propertyName": "domain", "operator": "EQ", "value": "J.EXAMPLE"}]}]},
        )
        assert [r["id"] for r in found.body["results"]] == [company_id]
        again_upsert = _hs(
            again,
            "POST",
            "/crm/v3/objects/companies/batch/upsert",
            {"inputs": [{"id": "001J", "idProperty": "salesforceaccountid", "properties": {"city": "Paris"}}]},
        )
        assert again_upsert.body["results"][0]["id"] == company_id  # the unique-value index was rebuilt
        assert len(again.store.records("companies")) == 21
    finally:
        again.close()


def test_salesforce_writes_are_journaled_and_found_after_a_restart(tmp_path: Path):
    api = SalesforceApi(tmp_path)
    api.reset(10)
    api.state.flush()
    made = _sf(api, "PATCH", "/services/data/v59.0/sobjects/Account/HubSpot_Company_ID__c/777", {"Name": "Journal Inc"})
    assert made.status == 201
    api.state.flush()
    assert (tmp_path / "salesforce.journal").exists()
    api.close()

    again = SalesforceApi(tmp_path)
    try:
        answer = _sf(
            again,
            "GET",
            "/services/data/v59.0/query",
            query={"q": ["SELECT Id, Name FROM Account WHERE HubSpot_Company_ID__c = '777'"]},
        )
        assert [r["Name"] for r in answer.body["records"]] == ["Journal Inc"]
        again_made = _sf(
            again, "PATCH", "/services/data/v59.0/sobjects/Account/HubSpot_Company_ID__c/777", {"Name": "Journal Inc 2"}
        )
        assert again_made.status == 200 and again_made.body["created"] is False  # the ext index was rebuilt
    finally:
        again.close()
