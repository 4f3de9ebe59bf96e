"""`company_sync_settings`: every key accepted with valid values and refused, naming the key, with bad ones."""

from __future__ import annotations

import json

import pytest

from include.company_sync.settings import (
    SettingsError,
    SyncRule,
    catalogue,
    parse_settings,
)

BASE = {
    "company_sync_enabled": True,
    "default_salesforce_object": "Contact",
    "inclusion_list_id": None,
    "field_mappings": None,
}


def with_(**changes):
    return {**BASE, **changes}


def test_contract_example_gives_the_shipped_defaults():
    settings = parse_settings(json.dumps(BASE))
    assert settings.company_sync_enabled is True
    assert settings.default_salesforce_object == "Contact"
    assert settings.inclusion_list_id is None
    assert settings.max_change_ratio == 0.5
    by_sf = {m.salesforce: m for m in settings.field_mappings}
    assert list(by_sf) == [
        "Name",
        "Website",
        "Phone",
        "Industry",
        "Type",
        "BillingStreet",
        "BillingCity",
        "BillingState",
        "BillingPostalCode",
        "BillingCountry",
        "AnnualRevenue",
        "NumberOfEmployees",
        "Description",
        "OwnerId",
    ]
    assert by_sf["OwnerId"].rule is SyncRule.TWO_WAY and by_sf["OwnerId"].hubspot == "hubspot_owner_id"
    others = [m for m in settings.field_mappings if m.salesforce != "OwnerId"]
    assert {m.rule for m in others} == {SyncRule.PREFER_SALESFORCE_UNLESS_BLANK}
    assert by_sf["Website"].hubspot == "website" and by_sf["Website"].kind == "url"
    assert by_sf["Name"].max_length == 255 and by_sf["NumberOfEmployees"].integer


def test_picklist_value_maps_translate_both_ways():
    industry = parse_settings(BASE).mapping_for_salesforce("Industry")
    assert industry.to_hubspot["Technology"] == "COMPUTER_SOFTWARE"
    assert industry.to_salesforce["COMPUTER_SOFTWARE"] == "Technology"
    kind = parse_settings(BASE).mapping_for_salesforce("Type")
    # several Salesforce values share OTHER; the reverse takes the first pair listed
    assert kind.to_hubspot["Customer - Direct"] == "OTHER"
    assert kind.to_salesforce["OTHER"] == "Other"


@pytest.mark.parametrize(
    "changes, expected",
    [
        pytest.param({"company_sync_enabled": False}, ("company_sync_enabled", False), id="sync-off"),
        pytest.param({"default_salesforce_object": "Lead"}, ("default_salesforce_object", "Lead"), id="lead"),
        pytest.param({"inclusion_list_id": "123"}, ("inclusion_list_id", "123"), id="list-id-string"),
        pytest.param({"inclusion_list_id": 42}, ("inclusion_list_id", "42"), id="list-id-number"),
        pytest.param({"max_change_ratio": 0.25}, ("max_change_ratio", 0.25), id="ratio"),
        pytest.param({"max_change_ratio": 1}, ("max_change_ratio", 1.0), id="ratio-one"),
    ],
)
def test_valid_values_are_accepted(changes, expected):
    key, value = expected
    assert getattr(parse_settings(with_(**changes)), key) == value


def test_optional_keys_default_sensibly():
    settings = parse_settings({"company_sync_enabled": True})
    assert settings.default_salesforce_object == "Contact"
    assert settings.inclusion_list_id is None
    assert settings.max_change_ratio == 0.5
    assert len(settings.field_mappings) == len(catalogue().default_mappings)


def test_a_given_mapping_list_replaces_the_defaults():
    mappings = [
        {"salesforce": "Name", "hubspot": "name", "rule": "always_use_salesforce"},
        {"salesforce": "Phone", "hubspot": "phone", "rule": "two_way"},
        {"salesforce": "Description", "hubspot": "description", "rule": "dont_sync"},
        {"salesforce": "YearStarted", "hubspot": "founded_year"},
    ]
    settings = parse_settings(with_(field_mappings=mappings))
    assert [(m.salesforce, m.rule) for m in settings.field_mappings] == [
        ("Name", SyncRule.ALWAYS_USE_SALESFORCE),
        ("Phone", SyncRule.TWO_WAY),
        ("Description", SyncRule.DONT_SYNC),
        ("YearStarted", SyncRule.PREFER_SALESFORCE_UNLESS_BLANK),
    ]
    assert [m.salesforce for m in settings.synced_mappings] == ["Name", "Phone", "YearStarted"]


NAME = {"salesforce": "Name", "hubspot": "name"}


@pytest.mark.parametrize(
    "raw, message",
    [
        pytest.param("{not json", "not valid JSON", id="not-json"),
        pytest.param("[1, 2]", "expected a JSON object", id="not-an-object"),
        pytest.param(with_(company_sync=True), "unknown key(s) 'company_sync'", id="unknown-key"),
        pytest.param({"default_salesforce_object": "Contact"}, "company_sync_enabled: required", id="enabled-missing"),
        pytest.param(
            with_(company_sync_enabled="yes"), "company_sync_enabled: must be true or false", id="enabled-str"
        ),
        pytest.param(with_(company_sync_enabled=1), "company_sync_enabled: must be true or false", id="enabled-int"),
        pytest.param(with_(max_change_ratio=0), "max_change_ratio: must be a number in (0, 1]", id="ratio-zero"),
        pytest.param(with_(max_change_ratio=1.5), "max_change_ratio: must be a number in (0, 1]", id="ratio-big"),
        pytest.param(with_(max_change_ratio="0.5"), "max_change_ratio: must be a number in (0, 1]", id="ratio-str"),
        pytest.param(with_(max_change_ratio=True), "max_change_ratio: must be a number in (0, 1]", id="ratio-bool"),
        pytest.param(
            with_(default_salesforce_object="Account"),
            "default_salesforce_object: must be one of Contact, Lead",
            id="default-object",
        ),
        pytest.param(
            with_(default_salesforce_object="contact"),
            "default_salesforce_object: must be one of",
            id="default-object-case",
        ),
        pytest.param(
            with_(inclusion_list_id="my list"), "inclusion_list_id: must be a HubSpot list id", id="list-name"
        ),
        pytest.param(with_(inclusion_list_id=True), "inclusion_list_id: must be a HubSpot list id", id="list-bool"),
        pytest.param(with_(inclusion_list_id=[1]), "inclusion_list_id: must be a HubSpot list id", id="list-list"),
        pytest.param(with_(field_mappings={"Name": "name"}), "field_mappings: must be a list", id="mappings-dict"),
        pytest.param(with_(field_mappings=["Name"]), "field_mappings[0]: must be an object", id="mapping-str"),
        pytest.param(
            with_(field_mappings=[{**NAME, "direction": "both"}]),
            "field_mappings[0]: unknown key(s) 'direction'",
            id="mapping-unknown-key",
        ),
        pytest.param(
            with_(field_mappings=[{"hubspot": "name"}]),
            "field_mappings[0].salesforce: required",
            id="mapping-no-salesforce",
        ),
        pytest.param(
            with_(field_mappings=[{"salesforce": "Name"}]),
            "field_mappings[0].hubspot: required",
            id="mapping-no-hubspot",
        ),
        pytest.param(
            with_(field_mappings=[NAME, {"salesforce": "Slogan__c", "hubspot": "name"}]),
            "field_mappings[1].salesforce: unknown Account field 'Slogan__c'",
            id="unknown-sf-field",
        ),
        pytest.param(
            with_(field_mappings=[NAME, {"salesforce": "Phone", "hubspot": "phone_number"}]),
            "field_mappings[1].hubspot: unknown company property 'phone_number'",
            id="unknown-hs-property",
        ),
        pytest.param(
            with_(field_mappings=[{**NAME, "rule": "newest_wins"}]),
            "field_mappings[0].rule: unknown sync rule 'newest_wins'; allowed rules: prefer_salesforce_unless_blank",
            id="unknown-rule",
        ),
        pytest.param(
            with_(field_mappings=[NAME, {"salesforce": "AnnualRevenue", "hubspot": "city"}]),
            "field_mappings[1]: Salesforce AnnualRevenue (number) cannot map to HubSpot city (text)",
            id="incompatible-kinds",
        ),
        pytest.param(
            with_(
                field_mappings=[
                    NAME,
                    {"salesforce": "OwnerId", "hubspot": "hubspot_owner_id", "rule": "always_use_salesforce"},
                ]
            ),
            "field_mappings[1].rule: the owner mapping is always two_way",
            id="owner-one-way",
        ),
        pytest.param(
            with_(field_mappings=[NAME, {"salesforce": "Name", "hubspot": "description"}]),
            "field_mappings[1].salesforce: Name is mapped twice",
            id="sf-field-twice",
        ),
        pytest.param(
            with_(field_mappings=[NAME, {"salesforce": "Description", "hubspot": "name"}]),
            "field_mappings[1].hubspot: name is mapped twice",
            id="hs-property-twice",
        ),
        pytest.param(
            with_(field_mappings=[{"salesforce": "Phone", "hubspot": "phone"}]),
            "field_mappings: must map the required Account field Name",
            id="name-not-mapped",
        ),
    ],
)
def test_bad_values_are_refused_naming_the_key(raw, message):
    with pytest.raises(SettingsError) as excinfo:
        parse_settings(raw)
    assert message in str(excinfo.value)


def test_refusal_lists_the_allowed_keys():
    with pytest.raises(SettingsError, match="allowed keys: company_sync_enabled, default_salesforce_object"):
        parse_settings(with_(typo=1))
