"""Echo suppression (`engine.echoes`, issue #11): a linked record whose mapped values still equal what the last
sync left on both sides, and whose link id names its partner, is an echo of the sync's own write. One row per
case; each builds one linked pair (account 001A <-> company 1) with one synced field per mapping."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from include.company_sync.engine.echoes import echoes
from include.company_sync.engine.fields import OwnerMaps
from include.company_sync.settings import parse_settings

SETTINGS = parse_settings(
    json.dumps(
        {
            "company_sync_enabled": True,
            "field_mappings": [
                {"salesforce": "Name", "hubspot": "name", "rule": "prefer_salesforce_unless_blank"},
                {"salesforce": "NumberOfEmployees", "hubspot": "numberofemployees", "rule": "two_way"},
                {"salesforce": "OwnerId", "hubspot": "hubspot_owner_id", "rule": "two_way"},
            ],
        }
    )
)
OWNERS = OwnerMaps({"005U": "77"}, {"77": "005U"})
SYNCED = {"Name": "Acme", "NumberOfEmployees": "50", "OwnerId": "005U"}


def _frames(account: dict, company: dict, synced: dict | None = None, link: bool = True):
    accounts = pd.DataFrame(
        [
            {
                "Id": "001A",
                "HubSpot_Company_ID__c": "1",
                "IsDeleted": False,
                "Name": "Acme",
                "NumberOfEmployees": 50,
                "OwnerId": "005U",
                "changed": True,
                **account,
            }
        ]
    )
    companies = pd.DataFrame(
        [
            {
                "id": "1",
                "salesforceaccountid": "001A",
                "name": "Acme",
                "numberofemployees": "50",
                "hubspot_owner_id": "77",
                "archived": False,
                "changed": True,
                **company,
            }
        ]
    )
    links = pd.DataFrame({"account_id": ["001A"] if link else [], "company_id": ["1"] if link else []})
    values = SYNCED if synced is None else synced
    synced_values = pd.DataFrame(
        {
            "account_id": "001A",
            "company_id": "1",
            "field": list(values),
            "value": list(values.values()),
            "synced_at": pd.Timestamp("2026-11-30", tz="UTC"),
        }
    )
    return accounts, companies, links, synced_values


@pytest.mark.parametrize(
    "case,account,company,synced,link,expected",
    [
        ("both sides hold what was synced: echoes", {}, {}, None, True, (True, True)),
        (
            "numbers compared as numbers (50 vs 50.0)",
            {"NumberOfEmployees": 50.0},
            {"numberofemployees": "50.0"},
            None,
            True,
            (True, True),
        ),
        ("owner compared through the owner map", {}, {"hubspot_owner_id": "77"}, None, True, (True, True)),
        ("a user changed the account's name", {"Name": "Acme Corp"}, {}, None, True, (False, True)),
        ("a user changed the company's employees", {}, {"numberofemployees": "51"}, None, True, (True, False)),
        ("a user cleared the company's name", {}, {"name": None}, None, True, (True, False)),
        ("no synced value for a field the account holds", {}, {}, {"Name": "Acme"}, True, (False, False)),
        (
            "the link id on the account names another company",
            {"HubSpot_Company_ID__c": "2"},
            {},
            None,
            True,
            (False, True),
        ),
        ("the link id on the company was cleared", {}, {"salesforceaccountid": None}, None, True, (True, False)),
        ("not linked in the state store", {}, {}, None, False, (False, False)),
        (
            "deleted / archived records are never echoes",
            {"IsDeleted": True},
            {"archived": True},
            None,
            True,
            (False, False),
        ),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_echoes(case, account, company, synced, link, expected):
    accounts, companies, links, synced_values = _frames(account, company, synced, link)
    found = echoes(accounts, companies, links, synced_values, SETTINGS, OWNERS)
    assert (bool(found.accounts[0]), bool(found.companies[0])) == expected


def test_only_the_pair_synced_values_count():
    """A synced value recorded for the account with another company (an old link) is no baseline."""
    accounts, companies, links, synced_values = _frames({}, {})
    synced_values["company_id"] = "9"
    found = echoes(accounts, companies, links, synced_values, SETTINGS, OWNERS)
    assert not found.accounts[0] and not found.companies[0]
