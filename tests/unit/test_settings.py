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
            with_(field_mappings=[NAME, {"salesforce": "Slogan c", "hubspot": "slogan"}]),
            "field_mappings[1].salesforce: 'Slogan c' is not a Salesforce field API name",
            id="bad-sf-name",
        ),
        pytest.param(
            with_(field_mappings=[NAME, {"salesforce": "Slogan___c", "hubspot": "slogan"}]),
            "field_mappings[1].salesforce: 'Slogan___c' is not a Salesforce field API name",
            id="bad-sf-name-underscores",
        ),
        pytest.param(
            with_(field_mappings=[NAME, {"salesforce": "Phone", "hubspot": "Phone-Number"}]),
            "field_mappings[1].hubspot: 'Phone-Number' is not a HubSpot property internal name",
            id="bad-hs-name",
        ),
        pytest.param(
            with_(field_mappings=[NAME, {"salesforce": "Region__c", "hubspot": "region", "values": ["North"]}]),
            "field_mappings[1].values: must map Salesforce picklist values to HubSpot option values",
            id="bad-values",
        ),
        pytest.param(
            with_(field_mappings=[NAME, {"salesforce": "Phone", "hubspot": "phone", "values": {"a": "b"}}]),
            "field_mappings[1].values: only a picklist mapping takes a value map (Phone is text)",
            id="values-on-text",
        ),
        pytest.param(
            with_(field_mappings=[NAME, {"salesforce": "Region__c", "hubspot": "region", "schema": {"kind": "date"}}]),
            "field_mappings[1].schema.kind: must be one of text, number, picklist, owner, url",
            id="bad-schema-kind",
        ),
        pytest.param(
            with_(
                field_mappings=[
                    NAME,
                    {"salesforce": "Region__c", "hubspot": "region"},
                    {"salesforce": "region__c", "hubspot": "area"},
                ]
            ),
            "field_mappings[2].salesforce: region__c is mapped twice",
            id="sf-field-twice-any-case",
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


@pytest.mark.parametrize(
    "sf_name, hs_name",
    [
        ("Region__c", "region"),
        ("acme__Tier__c", "tier_2"),
        ("Customer_Priority__c", "customer_priority"),
        ("SLA__c", "sla"),
        ("Sic", "sic_code"),  # a standard Account field outside the shipped catalogue
    ],
)
def test_any_syntactically_valid_field_or_property_may_be_mapped(sf_name, hs_name):
    """Custom fields and properties are accepted at parse time; prepare checks them against the schemas."""
    settings = parse_settings(with_(field_mappings=[NAME, {"salesforce": sf_name, "hubspot": hs_name}]))
    mapping = settings.field_mappings[1]
    assert (mapping.salesforce, mapping.hubspot, mapping.checked) == (sf_name, hs_name, False)
    assert settings.field_mappings[0].checked  # two catalogue fields are checked here


def test_a_mapping_with_its_schema_filled_in_carries_kind_length_and_value_map():
    entry = {
        "salesforce": "Region__c",
        "hubspot": "region",
        "rule": "two_way",
        "values": [["North", "north"], ["South", "south"]],
        "schema": {"kind": "picklist", "max_length": None, "integer": False},
    }
    count = {"salesforce": "Seats__c", "hubspot": "seats", "schema": {"kind": "number", "integer": True}}
    region, seats = parse_settings(with_(field_mappings=[NAME, entry, count])).field_mappings[1:]
    assert (region.kind, region.checked, region.rule) == ("picklist", True, SyncRule.TWO_WAY)
    assert region.to_hubspot == {"North": "north", "South": "south"}
    assert region.to_salesforce == {"north": "North", "south": "South"}
    assert (seats.kind, seats.integer, seats.max_length) == ("number", True, None)
    values_as_object = {**entry, "values": {"North": "north"}}
    assert parse_settings(with_(field_mappings=[NAME, values_as_object])).field_mappings[1].to_hubspot == {
        "North": "north"
    }
