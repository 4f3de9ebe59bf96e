"""Field mappings checked against the org and the portal at `prepare` (issue #15 item 6; `docs/field-mappings.md`).

Settings accept any syntactically valid Account field and company property (`settings.py`). Before anything is
extracted or written, `prepare` reads the Account describe and the company property definitions (one call each:
`connectors/schemas.py`) and checks every mapping:

* both fields exist (Salesforce names are case-insensitive, HubSpot internal names are not);
* the side a mapping's rule writes is writable: Salesforce createable / updateable and not calculated, HubSpot
  not `readOnlyValue` and not calculated;
* the types are compatible (`COMPATIBLE`, one row per pair); each pair moves values as one of the engine's kinds;
* picklist values and enumeration options: a value map given in the settings whose values the target does not
  accept is an error; a shipped one is a warning; a custom picklist without a value map pairs each Salesforce
  value with the HubSpot option of the same value (or label), and the values left without a partner are a warning;
* lengths: a Salesforce text field shorter than HubSpot's 65,536 characters, where HubSpot values flow into it,
  is a warning (a longer value is rejected for its record, the rest sync).

Errors fail the run (`FieldSchemaError`, a `SettingsError`: no retry) naming each mapping, its fields and what
to fix. Messages name fields, types, option values and counts, never record values. What the check found is
written into each mapping entry (`schema`, and a derived `values`) of the settings the run's tasks read.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from include.company_sync.settings import FieldMapping, Settings, SettingsError, SyncRule, catalogue

log = logging.getLogger(__name__)

HUBSPOT_TEXT_LIMIT = 65_536  # characters a HubSpot text property holds when set through the CRM or the API

# Salesforce describe `type` -> family (`OwnerId`, a reference, is the owner family).
SALESFORCE_FAMILIES = {
    "string": "text",
    "textarea": "text",
    "phone": "text",
    "email": "text",
    "url": "text",
    "encryptedstring": "text",
    "combobox": "text",
    "picklist": "picklist",
    "multipicklist": "multipicklist",
    "double": "number",
    "currency": "number",
    "percent": "number",
    "int": "number",
    "long": "number",
    "boolean": "boolean",
    "date": "date",
    "datetime": "datetime",
}
# HubSpot `type` -> family; `enumeration` depends on its fieldType (`_hubspot_family`).
HUBSPOT_FAMILIES = {
    "string": "text",
    "phone_number": "text",
    "number": "number",
    "bool": "boolean",
    "date": "date",
    "datetime": "datetime",
}
# (Salesforce family, HubSpot family) -> the kind the sync moves values as (`settings.KINDS`).
COMPATIBLE = {
    ("text", "text"): "text",
    ("picklist", "picklist"): "picklist",
    ("number", "number"): "number",
    ("boolean", "boolean"): "picklist",  # through BOOLEAN_VALUES
    ("date", "date"): "text",  # both APIs read and write a date as YYYY-MM-DD
    ("owner", "owner"): "owner",
}
# Pairs HubSpot's own integration maps that this sync does not move yet: refused with this reason.
NOT_YET = {
    ("datetime", "datetime"): "date-time fields are not synced yet (the two APIs format them differently)",
    ("date", "datetime"): "a date cannot map to a date-time property yet; map a HubSpot date property",
    ("datetime", "date"): "a date-time field cannot map to a date property yet",
    ("multipicklist", "multipicklist"): "multi-select picklists are not synced yet",
}
COMPATIBLE_TEXT = (
    "text (string, textarea, phone, email, url) ↔ string; picklist ↔ enumeration (select or radio); "
    "number (double, currency, percent, int) ↔ number; checkbox (boolean) ↔ bool; date ↔ date; "
    "OwnerId ↔ hubspot_owner_id"
)
# A Salesforce checkbox reads as True/False (REST) or true/false (Bulk CSV); HubSpot's bool as true/false.
BOOLEAN_VALUES = (("true", "true"), ("false", "false"), ("True", "true"), ("False", "false"))
WRITES_HUBSPOT = frozenset({SyncRule.PREFER_SALESFORCE_UNLESS_BLANK, SyncRule.ALWAYS_USE_SALESFORCE, SyncRule.TWO_WAY})
WRITES_SALESFORCE = frozenset({SyncRule.PREFER_SALESFORCE_UNLESS_BLANK, SyncRule.TWO_WAY})


class FieldSchemaError(SettingsError):
    """A mapping cannot sync against this org or portal; the message names every such mapping and the fix."""


@dataclass(frozen=True)
class SalesforceField:
    name: str
    type: str
    length: int = 0
    scale: int = 0
    createable: bool = True
    updateable: bool = True
    calculated: bool = False
    picklist: tuple[str, ...] = ()  # active values
    restricted: bool = False

    @classmethod
    def from_describe(cls, raw: Mapping[str, Any]) -> SalesforceField:
        return cls(
            name=str(raw["name"]),
            type=str(raw.get("type") or ""),
            length=int(raw.get("length") or 0),
            scale=int(raw.get("scale") or 0),
            createable=bool(raw.get("createable")),
            updateable=bool(raw.get("updateable")),
            calculated=bool(raw.get("calculated")),
            picklist=tuple(str(v["value"]) for v in raw.get("picklistValues") or () if v.get("active", True)),
            restricted=bool(raw.get("restrictedPicklist")),
        )

    @property
    def family(self) -> str:
        if self.name == "OwnerId":
            return "owner"
        return SALESFORCE_FAMILIES.get(self.type, self.type)

    @property
    def integer(self) -> bool:
        return self.type in ("int", "long") or (self.family == "number" and self.scale == 0)


@dataclass(frozen=True)
class HubSpotProperty:
    name: str
    type: str
    field_type: str = "text"
    read_only: bool = False
    calculated: bool = False
    options: tuple[tuple[str, str], ...] = ()  # (value, label)

    @classmethod
    def from_definition(cls, raw: Mapping[str, Any]) -> HubSpotProperty:
        meta = raw.get("modificationMetadata") or {}
        return cls(
            name=str(raw["name"]),
            type=str(raw.get("type") or ""),
            field_type=str(raw.get("fieldType") or ""),
            read_only=bool(meta.get("readOnlyValue")),
            calculated=bool(raw.get("calculated")),
            options=tuple((str(o["value"]), str(o.get("label") or o["value"])) for o in raw.get("options") or ()),
        )

    @property
    def family(self) -> str:
        if self.name == "hubspot_owner_id":
            return "owner"
        if self.type == "enumeration":
            return {"checkbox": "multipicklist", "booleancheckbox": "boolean"}.get(self.field_type, "picklist")
        return HUBSPOT_FAMILIES.get(self.type, self.type)

    def describe(self) -> str:
        return f"{self.type}/{self.field_type}" if self.field_type else self.type


def pair_kind(sf_family: str, hs_family: str) -> str | None:
    """The kind a Salesforce family and a HubSpot family sync as, or None when they cannot be mapped."""
    return COMPATIBLE.get((sf_family, hs_family))


@dataclass
class SchemaCheck:
    """What `check_mappings` found: the mapping entries with `schema` (and derived `values`) filled in."""

    entries: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # (Salesforce field, its length) where HubSpot text flows into a shorter field, and SF fields over the limit
    short: list[tuple[str, int]] = field(default_factory=list)
    long: list[tuple[str, int]] = field(default_factory=list)

    def raise_errors(self) -> None:
        if self.errors:
            lines = "\n".join(f"- {e}" for e in self.errors)
            raise FieldSchemaError(
                f"company_sync_settings.field_mappings: {len(self.errors)} problem(s) with the org's Account fields "
                f"or the portal's company properties; nothing was extracted or written. Fix them and re-run:\n{lines}"
            )


def _label(index: int, m: FieldMapping) -> str:
    return f"field_mappings[{index}] (Salesforce {m.salesforce} ↔ HubSpot {m.hubspot}, {m.rule.value})"


def check_mappings(
    settings: Settings,
    entries: Sequence[Mapping[str, Any]],
    describe: Mapping[str, Any],
    properties: Sequence[Mapping[str, Any]],
) -> SchemaCheck:
    """Check every mapping of `settings` (whose raw entries are `entries`, same order) against the Account
    `describe` and the company property definitions; pure (no I/O)."""
    fields = {str(f["name"]).lower(): SalesforceField.from_describe(f) for f in describe.get("fields") or ()}
    props = {str(p["name"]): HubSpotProperty.from_definition(p) for p in properties}
    check = SchemaCheck()
    for index, (m, entry) in enumerate(zip(settings.field_mappings, entries, strict=True)):
        where = _label(index, m)
        sf, hs = fields.get(m.salesforce.lower()), props.get(m.hubspot)
        if sf is None:
            check.errors.append(
                f"{where}: Salesforce Account has no field {m.salesforce} visible to the integration user: fix the "
                "name (the field's API name, e.g. Region__c), or create the field (Setup > Object Manager > Account "
                "> Fields & Relationships) and grant the integration user access in its field-level security"
            )
        if hs is None:
            check.errors.append(
                f"{where}: HubSpot has no company property {m.hubspot}: fix the name (the property's internal "
                "name), or create it (Settings > Properties > Company properties, or POST /crm/v3/properties/companies)"
            )
        if sf is None or hs is None:
            check.entries.append(dict(entry))
            continue
        check.entries.append(_check_pair(check, where, m, entry, sf, hs))
    _length_warnings(check)
    return check


def _check_pair(
    check: SchemaCheck, where: str, m: FieldMapping, entry: Mapping[str, Any], sf: SalesforceField, hs: HubSpotProperty
) -> dict[str, Any]:
    # the field's own spelling: Salesforce names are case-insensitive, but records come back keyed by it
    out = {k: v for k, v in entry.items() if k != "schema"} | {"salesforce": sf.name}
    kind = pair_kind(sf.family, hs.family)
    if kind is None:
        reason = NOT_YET.get((sf.family, hs.family)) or f"these types cannot be mapped; compatible: {COMPATIBLE_TEXT}"
        check.errors.append(
            f"{where}: Salesforce {sf.name} is {sf.type} and HubSpot {hs.name} is {hs.describe()}: {reason}. "
            "Map fields of compatible types, or set the rule to dont_sync"
        )
        return out
    cat = catalogue()
    if m.salesforce in cat.salesforce_fields and m.hubspot in cat.hubspot_properties and m.kind == "url":
        kind = "url"  # Website <-> website: the company domain is derived from it
    _check_writable(check, where, m, sf, hs)
    if kind == "picklist":
        values = _check_picklist(check, where, m, entry, sf, hs)
        if values is not None:
            out["values"] = [list(p) for p in values]
    length = sf.length if kind in ("text", "url") and sf.length else None
    if length is not None and m.rule in WRITES_SALESFORCE and length < HUBSPOT_TEXT_LIMIT:
        check.short.append((sf.name, length))
    if length is not None and m.rule in WRITES_HUBSPOT and length > HUBSPOT_TEXT_LIMIT:
        check.long.append((sf.name, length))
    out["schema"] = {"kind": kind, "max_length": length, "integer": kind == "number" and sf.integer}
    return out


def _check_writable(check: SchemaCheck, where: str, m: FieldMapping, sf: SalesforceField, hs: HubSpotProperty) -> None:
    if m.rule in WRITES_HUBSPOT and (hs.read_only or hs.calculated):
        check.errors.append(
            f"{where}: HubSpot {hs.name} is read-only (a calculated or HubSpot-set property) and rule {m.rule.value} "
            "writes it: map a writable property, or set the rule to dont_sync"
        )
    if m.rule not in WRITES_SALESFORCE:
        return
    if sf.calculated or not (sf.createable or sf.updateable):
        what, fix = (
            ("a formula or roll-up field", "map a writable field")
            if sf.calculated
            else ("read-only for the integration user", "grant edit access in its field-level security")
        )
        check.errors.append(
            f"{where}: Salesforce {sf.name} is {what} and rule {m.rule.value} writes it: {fix}, or set the rule to "
            "always_use_salesforce (Salesforce → HubSpot only)"
        )
    elif not (sf.createable and sf.updateable):
        when = "on create only" if sf.createable else "on update only"
        check.warnings.append(
            f"{where}: Salesforce {sf.name} can be set {when}: HubSpot values for it are rejected per record otherwise"
        )


def _check_picklist(
    check: SchemaCheck, where: str, m: FieldMapping, entry: Mapping[str, Any], sf: SalesforceField, hs: HubSpotProperty
) -> tuple[tuple[str, str], ...] | None:
    """Value map against the picklist values and the options; a derived map when the settings give none (returned
    to be written into the entry), else None. Option and picklist values are schema, not record data: named."""
    if sf.family == "boolean":
        return BOOLEAN_VALUES
    options = [value for value, _ in hs.options]
    given = entry.get("values") is not None
    if given or m.to_hubspot:  # the settings' own map, or the shipped one (Industry, Type)
        report = check.errors if given else check.warnings
        source = "its values" if given else "the shipped value map (field_mappings.yaml)"
        if m.rule in WRITES_HUBSPOT:
            _name_missing(report, where, source, f"options of HubSpot {hs.name}", set(m.to_hubspot.values()), options)
        if m.rule in WRITES_SALESFORCE and sf.restricted:
            _name_missing(
                report, where, source, f"values of Salesforce {sf.name}", set(m.to_salesforce.values()), sf.picklist
            )
        pairs, derived = tuple(m.to_hubspot.items()), None
    else:
        by_key = {v.casefold(): v for v in options} | {label.casefold(): v for v, label in hs.options}
        pairs = tuple((v, v if v in options else by_key[v.casefold()]) for v in sf.picklist if v.casefold() in by_key)
        derived = pairs
        if not pairs:
            check.errors.append(
                f"{where}: no value of Salesforce {sf.name} matches an option of HubSpot {hs.name} (by value or "
                'label): give the mapping a value map, "values": [["Salesforce value", "hubspot_option"], ...]'
            )
            return None
    if m.rule in WRITES_HUBSPOT:
        _warn_unpaired(check, where, f"Salesforce {sf.name} value(s)", sf.picklist, {a for a, _ in pairs}, "HubSpot")
    if m.rule in WRITES_SALESFORCE:
        _warn_unpaired(check, where, f"HubSpot {hs.name} option(s)", options, {b for _, b in pairs}, "Salesforce")
    return derived


def _some(values: Sequence[str], limit: int = 10) -> str:
    """Up to `limit` schema values (picklist values, option values: never record data), and how many more."""
    more = f" and {len(values) - limit} more" if len(values) > limit else ""
    return ", ".join(values[:limit]) + more


def _name_missing(
    report: list[str], where: str, source: str, what: str, mapped: set[str], allowed: Sequence[str]
) -> None:
    missing = sorted(mapped - set(allowed))
    if missing:
        report.append(
            f"{where}: {len(missing)} value(s) of {source} are not {what}: {_some(missing)}"
            " — add them there or correct the value map"
        )


def _warn_unpaired(check: SchemaCheck, where: str, what: str, values: Sequence[str], paired: set[str], to: str) -> None:
    alone = [v for v in values if v not in paired]
    if alone:
        check.warnings.append(
            f"{where}: {len(alone)} of {len(values)} {what} have no {to} counterpart ({_some(alone)}): "
            "records holding them are rejected for this field (PICKLIST_VALUE_NOT_MAPPED), the rest sync"
        )


def _length_warnings(check: SchemaCheck) -> None:
    if check.short:
        names = ", ".join(f"{name} {length:,}" for name, length in check.short)
        check.warnings.append(
            f"HubSpot → Salesforce: {len(check.short)} mapped Salesforce text field(s) hold fewer characters than a "
            f"HubSpot text property ({HUBSPOT_TEXT_LIMIT:,}): {names}; a longer HubSpot value is rejected for its "
            "record (STRING_TOO_LONG), the rest sync"
        )
    if check.long:
        names = ", ".join(f"{name} {length:,}" for name, length in check.long)
        check.warnings.append(
            f"Salesforce → HubSpot: {len(check.long)} mapped Salesforce field(s) hold more characters than HubSpot "
            f"accepts ({HUBSPOT_TEXT_LIMIT:,}): {names}; a longer value is rejected by HubSpot for its record"
        )


def mapping_entries(raw_settings: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The settings' mapping entries as given (the shipped defaults when `field_mappings` is null)."""
    given = raw_settings.get("field_mappings")
    return [dict(e) for e in (given if given is not None else catalogue().default_mappings)]


def checked_settings_json(
    raw_json: str, settings: Settings, describe: Mapping[str, Any], properties: Sequence[Mapping[str, Any]]
) -> str:
    """The settings JSON the run's tasks read: every mapping entry with what the schemas say filled in. Raises
    `FieldSchemaError` naming every mapping that cannot sync; logs the warnings."""
    raw = json.loads(raw_json)
    check = check_mappings(settings, mapping_entries(raw), describe, properties)
    for warning in check.warnings:
        log.warning("field mappings: %s", warning)
    check.raise_errors()
    return json.dumps({**raw, "field_mappings": check.entries})


def read_schemas(runtime: Any) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, dict[str, int]]]:
    """The Account describe and the company property definitions (one call each), with the calls made, and the
    setup checks on them (`check_setup`: the Account external id field, the unique `salesforceaccountid`
    property, created if missing), so the extracts need not read either again."""
    from include.company_sync.connectors.hubspot import HubSpotConnector
    from include.company_sync.connectors.salesforce import SalesforceConnector
    from include.company_sync.connectors.schemas import account_describe, company_property_definitions

    sf = SalesforceConnector.from_connection(runtime.salesforce_conn_id, policy=runtime.retry_policy())
    hs = HubSpotConnector.from_connection(runtime.hubspot_conn_id, policy=runtime.retry_policy())
    describe, properties = account_describe(sf), company_property_definitions(hs)
    sf.check_setup(describe)
    hs.check_setup(properties)
    return describe, properties, {"salesforce": sf.calls.as_dict(), "hubspot": hs.calls.as_dict()}
