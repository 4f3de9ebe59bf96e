"""complete_inputs' contact read when a run holds every account (an import of all accounts, a full scan): one
query for every contact instead of account-id IN chunks, the same frames, read beside HubSpot's contacts."""

from __future__ import annotations

import pandas as pd
import pytest
import requests

from include.company_sync.connectors.http_policy import HubSpotRateLimits, RetryPolicy, hubspot_retry
from include.company_sync.connectors.hubspot import HubSpotConnector
from include.company_sync.connectors.hubspot_hook import HubSpotHook
from include.company_sync.connectors.salesforce import SalesforceConnector
from include.company_sync.tasks.complete import _contacts_and_leads
from include.company_sync.tasks.resources import distinct_ids
from tests.sandbox.conftest import set_connections

FAST = RetryPolicy(total=5, backoff_factor=0.01, backoff_max=0.2, backoff_jitter=0.0, retry_after_max=5)
FAR_FUTURE = pd.Timestamp("2100-01-01", tz="UTC")


@pytest.fixture
def connectors(clean_sandbox, monkeypatch):
    for url, verify in ((clean_sandbox.salesforce_url, str(clean_sandbox.ca_path)), (clean_sandbox.hubspot_url, None)):
        response = requests.post(f"{url}/__sandbox/reset", json={"seed": 150}, verify=verify or True, timeout=60)
        response.raise_for_status()
    set_connections(monkeypatch, clean_sandbox, salesforce="salesforce_every", hubspot="hubspot_every")

    def build() -> tuple[SalesforceConnector, HubSpotConnector]:
        sf = SalesforceConnector.from_connection(
            "salesforce_every", policy=FAST, bulk_poll_seconds=0.05, ids_per_query=50
        )
        hook = HubSpotHook("hubspot_every", retry=hubspot_retry(FAST))
        return sf, HubSpotConnector.from_hook(hook, policy=FAST, limits=HubSpotRateLimits())

    return build


def _sorted(frame: pd.DataFrame, key: str) -> pd.DataFrame:
    return frame.sort_values(key).reset_index(drop=True)


def test_every_account_reads_every_contact_once_with_the_same_result(connectors):
    sf, hs = connectors()
    account_ids = distinct_ids(sf.accounts_changed([], None, FAR_FUTURE)["Id"])
    company_ids = distinct_ids(hs.companies_changed([], None, FAR_FUTURE)["id"])
    sf, hs = connectors()  # fresh call counters
    by_chunks = _contacts_and_leads(sf, hs, account_ids, company_ids, every_account=False)
    chunked_calls = sf.calls.as_dict()
    sf, hs = connectors()
    whole = _contacts_and_leads(sf, hs, account_ids, company_ids, every_account=True)

    private = by_chunks["sf_contacts"]["AccountId"].isna()
    assert len(by_chunks["sf_contacts"]) > 100 and private.any()  # the seed has private contacts synced to HubSpot
    for name, key in (("sf_contacts", "Id"), ("sf_leads", "Id"), ("hs_contacts", "id")):
        pd.testing.assert_frame_equal(_sorted(whole[name], key), _sorted(by_chunks[name], key), check_dtype=False)
    # chunks: 3 IN queries of 50 account ids, 1 for the private contacts HubSpot knows, 1 for leads
    assert chunked_calls == {"GET query": 5}
    assert sf.calls.as_dict() == {"GET query": 2}  # every contact at once, the leads
