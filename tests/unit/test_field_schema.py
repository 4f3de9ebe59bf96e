"""The field-mapping check against the schemas (`field_schema.py`), table-driven: one row per compatibility rule,
writability by sync rule, picklist values and options, lengths; the settings the run's tasks read afterwards."""

from __future__ import annotations

import json

import pytest

from include.company_sync import field_schema as fs
from include.company_sync.settings import catalogue, parse_settings
from tests.unit.conftest import sandbox_schemas

NAME = {"salesforce": "Name", "hubspot": "name"}


def sf_field(name: str, type_: str, **attrs) -> dict:
    base = {"name": name, "type": type_, "length": 0, "scale": 0, "createable": True, "updateable": True}
    return {**base, "calculated": False, "picklistValues": [], "restrictedPicklist": False, **attrs}


def hs_prop(name: str, type_: str, field_type: str, *, options=(), read_only=False, calculated=False) -> dict:
    return {
        "name": name,
        "type": type_,
        "fieldType": field_type,
        "calculated": calculated,
        "options": [{"value": v, "label": label} for v, label in options],
        "modificationMetadata": {"readOnlyValue": read_only},
    }


DESCRIBE = {"fields": [sf_field("Name", "string", length=255)]}
PROPERTIES = [hs_prop("name", "string", "text")]


def check(mapping: dict, sf: dict | None = None, hs: dict | None = None) -> fs.SchemaCheck:
    entries = [NAME, mapping]
    settings = parse_settings({"company_sync_enabled": True, "field_mappings": entries})
    describe = {"fields": DESCRIBE["fields"] + ([sf] if sf else [])}
    return fs.check_mappings(settings, entries, describe, PROPERTIES + ([hs] if hs else []))


# --- compatibility: (Salesforce type, HubSpot type/fieldType) -> kind, or refused ------------------------------
@pytest.mark.parametrize(
    "sf_type, sf_attrs, hs_type, hs_field_type, kind",
    [
        ("string", {"length": 80}, "string", "text", "text"),
        ("textarea", {"length": 32000}, "string", "textarea", "text"),
        ("phone", {"length": 40}, "phone_number", "phonenumber", "text"),
        ("email", {"length": 80}, "string", "text", "text"),
        ("url", {"length": 255}, "string", "text", "text"),
        ("picklist", {"picklistValues": [{"value": "A", "active": True}]}, "enumeration", "select", "picklist"),
        ("picklist", {"picklistValues": [{"value": "A", "active": True}]}, "enumeration", "radio", "picklist"),
        ("double", {"scale": 2}, "number", "number", "number"),
        ("currency", {"scale": 2}, "number", "number", "number"),
        ("percent", {"scale": 0}, "number", "number", "number"),
        ("int", {}, "number", "number", "number"),
        ("boolean", {}, "bool", "booleancheckbox", "picklist"),
        ("boolean", {}, "enumeration", "booleancheckbox", "picklist"),
        ("date", {}, "date", "date", "text"),
    ],
)
def test_compatible_pairs_sync_as_a_kind(sf_type, sf_attrs, hs_type, hs_field_type, kind):
    options = (("A", "A"),) if hs_type == "enumeration" and hs_field_type != "booleancheckbox" else ()
    result = check(
        {"salesforce": "Custom__c", "hubspot": "custom", "rule": "two_way"},
        sf_field("Custom__c", sf_type, **sf_attrs),
        hs_prop("custom", hs_type, hs_field_type, options=options),
    )
    assert result.errors == []
    assert result.entries[1]["schema"]["kind"] == kind


@pytest.mark.parametrize(
    "sf_type, hs_type, hs_field_type, reason",
    [
        ("string", "number", "number", "these types cannot be mapped"),
        ("double", "string", "text", "these types cannot be mapped"),
        ("picklist", "string", "text", "these types cannot be mapped"),
        ("string", "enumeration", "select", "these types cannot be mapped"),
        ("boolean", "enumeration", "select", "these types cannot be mapped"),
        ("date", "number", "number", "these types cannot be mapped"),
        ("reference", "string", "text", "these types cannot be mapped"),
        ("datetime", "datetime", "date", "date-time fields are not synced yet"),
        ("date", "datetime", "date", "a date cannot map to a date-time property yet"),
        ("datetime", "date", "date", "a date-time field cannot map to a date property yet"),
        ("multipicklist", "enumeration", "checkbox", "multi-select picklists are not synced yet"),
    ],
)
def test_incompatible_pairs_are_errors_naming_both_types(sf_type, hs_type, hs_field_type, reason):
    result = check(
        {"salesforce": "Custom__c", "hubspot": "custom"},
        sf_field("Custom__c", sf_type, length=80),
        hs_prop("custom", hs_type, hs_field_type, options=(("A", "A"),)),
    )
    [error] = result.errors
    assert error.startswith("field_mappings[1] (Salesforce Custom__c ↔ HubSpot custom, prefer_salesforce_unless_blank)")
    assert f"Salesforce Custom__c is {sf_type} and HubSpot custom is {hs_type}/{hs_field_type}: {reason}" in error


def test_pair_kind_table_is_the_one_the_check_uses():
    assert fs.pair_kind("text", "text") == "text" and fs.pair_kind("owner", "owner") == "owner"
    assert fs.pair_kind("text", "number") is None


# --- existence and writability -----------------------------------------------------------------------------
def test_missing_fields_are_errors_naming_them_and_salesforce_names_ignore_case():
    result = check({"salesforce": "Region__c", "hubspot": "region"})
    assert len(result.errors) == 2
    assert "Salesforce Account has no field Region__c visible to the integration user" in result.errors[0]
    assert "HubSpot has no company property region" in result.errors[1]
    found = check(
        {"salesforce": "region__C", "hubspot": "region"},
        sf_field("Region__c", "string", length=40),
        hs_prop("region", "string", "text"),
    )
    assert found.errors == [] and found.entries[1]["salesforce"] == "Region__c"  # the run reads it as spelled


@pytest.mark.parametrize(
    "rule, sf_attrs, hs_attrs, expected",
    [
        ("prefer_salesforce_unless_blank", {"calculated": True}, {}, "Salesforce Custom__c is a formula or roll-up"),
        ("two_way", {"createable": False, "updateable": False}, {}, "read-only for the integration user"),
        ("always_use_salesforce", {"calculated": True}, {}, None),  # never writes Salesforce
        ("always_use_salesforce", {}, {"read_only": True}, "HubSpot custom is read-only"),
        ("two_way", {}, {"calculated": True}, "HubSpot custom is read-only"),
        ("dont_sync", {"calculated": True}, {"read_only": True}, None),  # writes neither side
    ],
)
def test_the_side_a_rule_writes_must_be_writable(rule, sf_attrs, hs_attrs, expected):
    result = check(
        {"salesforce": "Custom__c", "hubspot": "custom", "rule": rule},
        sf_field("Custom__c", "string", length=80, **sf_attrs),
        hs_prop("custom", "string", "text", **hs_attrs),
    )
    if expected is None:
        assert result.errors == []
    else:
        [error] = result.errors
        assert expected in error and rule in error


def test_a_field_set_on_create_only_is_a_warning():
    result = check(
        {"salesforce": "Custom__c", "hubspot": "custom", "rule": "two_way"},
        sf_field("Custom__c", "string", length=80, updateable=False),
        hs_prop("custom", "string", "text"),
    )
    assert result.errors == []
    assert any("can be set on create only" in w for w in result.warnings)


# --- picklists ---------------------------------------------------------------------------------------------
REGION_SF = sf_field(
    "Region__c",
    "picklist",
    length=255,
    restrictedPicklist=True,
    picklistValues=[{"value": v, "active": True} for v in ("North", "South", "West")]
    + [{"value": "Old", "active": False}],
)
REGION_HS = hs_prop(
    "region", "enumeration", "select", options=(("north", "North"), ("south_1", "South"), ("east", "East"))
)


def test_a_custom_picklist_without_a_value_map_pairs_values_by_value_or_label():
    result = check({"salesforce": "Region__c", "hubspot": "region", "rule": "two_way"}, REGION_SF, REGION_HS)
    assert result.errors == []
    entry = result.entries[1]
    assert entry["values"] == [["North", "north"], ["South", "south_1"]]  # West has no option; Old is inactive
    warnings = "\n".join(result.warnings)
    assert "1 of 3 Salesforce Region__c value(s) have no HubSpot counterpart (West)" in warnings
    assert "1 of 3 HubSpot region option(s) have no Salesforce counterpart (east)" in warnings
    settings = parse_settings({"company_sync_enabled": True, "field_mappings": result.entries})
    region = settings.field_mappings[1]
    assert (region.kind, dict(region.to_hubspot), dict(region.to_salesforce)) == (
        "picklist",
        {"North": "north", "South": "south_1"},
        {"north": "North", "south_1": "South"},
    )


def test_a_value_map_in_the_settings_naming_what_the_target_refuses_is_an_error():
    mapping = {"salesforce": "Region__c", "hubspot": "region", "rule": "two_way", "values": [["North", "nord"]]}
    result = check(mapping, REGION_SF, REGION_HS)
    [error] = result.errors
    assert "1 value(s) of its values are not options of HubSpot region: nord" in error
    mapping["values"] = [["Norte", "north"]]
    [error] = check(mapping, REGION_SF, REGION_HS).errors
    assert "are not values of Salesforce Region__c: Norte" in error


def test_no_matching_value_at_all_asks_for_a_value_map():
    hs = hs_prop("region", "enumeration", "select", options=(("n", "N"),))
    [error] = check({"salesforce": "Region__c", "hubspot": "region"}, REGION_SF, hs).errors
    assert 'give the mapping a value map, "values"' in error


def test_a_checkbox_maps_to_a_bool_through_fixed_values():
    result = check(
        {"salesforce": "Partner__c", "hubspot": "is_partner"},
        sf_field("Partner__c", "boolean"),
        hs_prop("is_partner", "bool", "booleancheckbox"),
    )
    mapping = parse_settings({"company_sync_enabled": True, "field_mappings": result.entries}).field_mappings[1]
    assert mapping.to_hubspot == {"true": "true", "false": "false", "True": "true", "False": "false"}
    assert mapping.to_salesforce == {"true": "true", "false": "false"}


# --- lengths, integers, the shipped defaults ---------------------------------------------------------------
def test_lengths_and_integers():
    short = check(
        {"salesforce": "Tier__c", "hubspot": "tier", "rule": "two_way"},
        sf_field("Tier__c", "string", length=20),
        hs_prop("tier", "string", "text"),
    )
    assert short.entries[1]["schema"] == {"kind": "text", "max_length": 20, "integer": False}
    assert any("Tier__c 20" in w and "STRING_TOO_LONG" in w for w in short.warnings)
    one_way = check(
        {"salesforce": "Tier__c", "hubspot": "tier", "rule": "always_use_salesforce"},
        sf_field("Tier__c", "string", length=20),
        hs_prop("tier", "string", "text"),
    )
    assert not any("Tier__c" in w for w in one_way.warnings)  # HubSpot values never flow into it
    long = check(
        {"salesforce": "Notes__c", "hubspot": "notes"},
        sf_field("Notes__c", "textarea", length=131_072),
        hs_prop("notes", "string", "textarea"),
    )
    assert any("Notes__c 131,072" in w and "rejected by HubSpot" in w for w in long.warnings)
    seats = check(
        {"salesforce": "Seats__c", "hubspot": "seats"},
        sf_field("Seats__c", "double", scale=0),
        hs_prop("seats", "number", "number"),
    )
    assert seats.entries[1]["schema"] == {"kind": "number", "max_length": None, "integer": True}


def test_the_shipped_defaults_pass_against_the_sandbox_schemas_and_read_back_unchanged():
    describe, properties, _ = sandbox_schemas()
    raw = json.dumps({"company_sync_enabled": True})
    settings = parse_settings(raw)
    checked = parse_settings(fs.checked_settings_json(raw, settings, describe, properties))
    assert [(m.salesforce, m.hubspot, m.kind, m.max_length, m.integer) for m in checked.field_mappings] == [
        (m.salesforce, m.hubspot, m.kind, m.max_length, m.integer) for m in settings.field_mappings
    ]
    assert all(m.checked for m in checked.field_mappings)
    industry = checked.mapping_for_salesforce("Industry")
    assert dict(industry.to_hubspot) == dict(catalogue().value_maps["Industry"])


def test_errors_raise_one_settings_error_listing_every_mapping():
    raw = json.dumps({"company_sync_enabled": True, "field_mappings": [NAME, {"salesforce": "X__c", "hubspot": "x"}]})
    with pytest.raises(fs.FieldSchemaError) as raised:
        fs.checked_settings_json(raw, parse_settings(raw), DESCRIBE, PROPERTIES)
    message = str(raised.value)
    assert message.startswith("company_sync_settings.field_mappings: 2 problem(s)")
    assert "nothing was extracted or written" in message
    assert "- field_mappings[1] (Salesforce X__c ↔ HubSpot x" in message
