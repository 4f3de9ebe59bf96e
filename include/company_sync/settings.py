"""Integration settings: the `company_sync_settings` Airflow Variable, validated.

Parsing is pure (a dict or JSON text in, a frozen `Settings` out) so that a bad setting is refused before
a run touches either system, with a message naming the key and what it accepts.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Any

import yaml

MAPPINGS_FILE = Path(__file__).with_name("field_mappings.yaml")
VARIABLE_KEY = "company_sync_settings"


class SettingsError(ValueError):
    """A setting was refused; the message names the key and the values it accepts."""


class SyncRule(StrEnum):
    PREFER_SALESFORCE_UNLESS_BLANK = "prefer_salesforce_unless_blank"
    ALWAYS_USE_SALESFORCE = "always_use_salesforce"
    TWO_WAY = "two_way"
    DONT_SYNC = "dont_sync"


DEFAULT_OBJECTS = ("Contact", "Lead")


@dataclass(frozen=True)
class FieldSpec:
    """One field of the catalogue: its kind and what the target accepts."""

    name: str
    kind: str  # text | number | picklist | owner | url
    max_length: int | None = None
    integer: bool = False
    required: bool = False


@dataclass(frozen=True)
class FieldMapping:
    salesforce: str
    hubspot: str
    rule: SyncRule
    kind: str
    max_length: int | None = None
    integer: bool = False
    # Salesforce value -> HubSpot option, and the reverse (first pair listed wins).
    to_hubspot: Mapping[str, str] = field(default_factory=dict)
    to_salesforce: Mapping[str, str] = field(default_factory=dict)
    # False while a custom field's kind is provisional: `prepare` checks it against the schemas and hands the
    # run's tasks the settings with every mapping's `schema` filled in (`field_schema.py`).
    checked: bool = True


@dataclass(frozen=True)
class Alerts:
    """Who hears about a failed run, or one whose write errors pass `write_errors_over` (`alerts.py`)."""

    emails: tuple[str, ...] = ()
    smtp_conn_id: str = "smtp_default"
    # An Airflow connection holding a Slack-compatible incoming-webhook URL (JSON `{"text": ...}` is posted).
    webhook_conn_id: str | None = None
    write_errors_over: int = 50

    @property
    def enabled(self) -> bool:
        return bool(self.emails or self.webhook_conn_id)


@dataclass(frozen=True)
class Settings:
    company_sync_enabled: bool
    default_salesforce_object: str
    inclusion_list_id: str | None
    field_mappings: tuple[FieldMapping, ...]
    # Circuit breaker: an incremental run that would write to more than this share of the records it
    # considered stops before writing (see validation.plan_suites).
    max_change_ratio: float = 0.5
    alerts: Alerts = Alerts()

    def mapping_for_salesforce(self, sf_field: str) -> FieldMapping | None:
        return next((m for m in self.field_mappings if m.salesforce == sf_field), None)

    @property
    def synced_mappings(self) -> tuple[FieldMapping, ...]:
        """Mappings whose rule moves values in at least one direction."""
        return tuple(m for m in self.field_mappings if m.rule is not SyncRule.DONT_SYNC)


@dataclass(frozen=True)
class Catalogue:
    salesforce_fields: Mapping[str, FieldSpec]
    hubspot_properties: Mapping[str, FieldSpec]
    value_maps: Mapping[str, tuple[tuple[str, str], ...]]
    default_mappings: tuple[Mapping[str, str], ...]


@cache
def catalogue() -> Catalogue:
    """The shipped field catalogue and default mappings (`field_mappings.yaml`)."""
    raw = yaml.safe_load(MAPPINGS_FILE.read_text())
    specs = lambda section: {  # noqa: E731
        name: FieldSpec(name=name, **attrs) for name, attrs in raw[section].items()
    }
    return Catalogue(
        salesforce_fields=specs("salesforce_fields"),
        hubspot_properties=specs("hubspot_properties"),
        value_maps={k: tuple((str(a), str(b)) for a, b in v) for k, v in raw["value_maps"].items()},
        default_mappings=tuple(raw["default_mappings"]),
    )


_KEYS = (
    "company_sync_enabled",
    "default_salesforce_object",
    "inclusion_list_id",
    "field_mappings",
    "max_change_ratio",
    "alerts",
)
DEFAULT_MAX_CHANGE_RATIO = 0.5
_MAPPING_KEYS = ("salesforce", "hubspot", "rule")
# `values`: a picklist's value map (optional); `schema`: what prepare read of the two fields (written by prepare).
_ALL_MAPPING_KEYS = (*_MAPPING_KEYS, "values", "schema")


def _refuse_unknown_keys(where: str, raw: Mapping[str, Any], allowed: Sequence[str]) -> None:
    unknown = sorted(set(raw) - set(allowed))
    if unknown:
        raise SettingsError(
            f"{where}: unknown key(s) {', '.join(map(repr, unknown))}; allowed keys: {', '.join(allowed)}"
        )


def parse_settings(raw: Mapping[str, Any] | str | bytes) -> Settings:
    """Validate the Variable's value (JSON text or an already decoded dict)."""
    if isinstance(raw, (str, bytes)):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise SettingsError(f"{VARIABLE_KEY}: not valid JSON ({exc})") from exc
    if not isinstance(raw, Mapping):
        raise SettingsError(f"{VARIABLE_KEY}: expected a JSON object, got {type(raw).__name__}")

    _refuse_unknown_keys(VARIABLE_KEY, raw, _KEYS)
    missing = [k for k in ("company_sync_enabled",) if k not in raw]
    if missing:
        raise SettingsError("company_sync_enabled: required (true or false)")

    enabled = raw["company_sync_enabled"]
    if not isinstance(enabled, bool):
        raise SettingsError(f"company_sync_enabled: must be true or false, got {enabled!r}")

    default_object = raw.get("default_salesforce_object", "Contact")
    if default_object not in DEFAULT_OBJECTS:
        raise SettingsError(
            f"default_salesforce_object: must be one of {', '.join(DEFAULT_OBJECTS)}, got {default_object!r}"
        )

    list_id = raw.get("inclusion_list_id")
    if list_id is not None:
        if isinstance(list_id, bool) or not isinstance(list_id, (str, int)) or not str(list_id).strip().isdigit():
            raise SettingsError(f"inclusion_list_id: must be a HubSpot list id (digits) or null, got {list_id!r}")
        list_id = str(list_id).strip()

    ratio = raw.get("max_change_ratio", DEFAULT_MAX_CHANGE_RATIO)
    if isinstance(ratio, bool) or not isinstance(ratio, (int, float)) or not 0 < ratio <= 1:
        raise SettingsError(
            f"max_change_ratio: must be a number in (0, 1] (the largest share of considered records one run may"
            f" change), got {ratio!r}"
        )

    return Settings(
        company_sync_enabled=enabled,
        default_salesforce_object=default_object,
        inclusion_list_id=list_id,
        field_mappings=parse_field_mappings(raw.get("field_mappings")),
        max_change_ratio=float(ratio),
        alerts=parse_alerts(raw.get("alerts")),
    )


_ALERT_KEYS = ("emails", "smtp_conn_id", "webhook_conn_id", "write_errors_over")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_CONN_ID = re.compile(r"[A-Za-z0-9_.-]{1,250}")


def parse_alerts(raw: Any) -> Alerts:
    """Null → no alerts. Addresses are personal data: a bad one is named by position, never echoed."""
    if raw is None:
        return Alerts()
    if not isinstance(raw, Mapping):
        raise SettingsError(f"alerts: must be an object with keys {', '.join(_ALERT_KEYS)}, or null")
    _refuse_unknown_keys("alerts", raw, _ALERT_KEYS)
    emails = raw.get("emails") or []
    if not isinstance(emails, list):
        raise SettingsError("alerts.emails: must be a list of email addresses")
    for i, address in enumerate(emails):
        if not isinstance(address, str) or not _EMAIL.fullmatch(address.strip()):
            raise SettingsError(f"alerts.emails[{i}]: not an email address (name@domain.tld)")
    conn_ids = {}
    for key in ("smtp_conn_id", "webhook_conn_id"):
        value = raw.get(key)
        if value is not None and (not isinstance(value, str) or not _CONN_ID.fullmatch(value)):
            raise SettingsError(
                f"{'alerts.' + key}: must be an Airflow connection id (letters, digits, _ . -), got {value!r}"
            )
        conn_ids[key] = value
    over = raw.get("write_errors_over", Alerts.write_errors_over)
    if isinstance(over, bool) or not isinstance(over, int) or over < 0:
        raise SettingsError(
            "alerts.write_errors_over: must be a whole number >= 0 (alert when a run's failed writes exceed it),"
            f" got {over!r}"
        )
    return Alerts(
        emails=tuple(a.strip() for a in emails),
        smtp_conn_id=conn_ids["smtp_conn_id"] or Alerts.smtp_conn_id,
        webhook_conn_id=conn_ids["webhook_conn_id"],
        write_errors_over=over,
    )


# Salesforce API names: a letter, then letters, digits and single underscores; custom fields end in `__c`, optionally
# behind a managed package's namespace (`ns__Field__c`). HubSpot internal names: lower-case letters, digits, `_`.
_SF_NAME = re.compile(r"(?:[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)*__)?[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)*(?:__c)?")
_HS_NAME = re.compile(r"[a-z][a-z0-9_]*")
_NAME_MAX = 100
KINDS = ("text", "number", "picklist", "owner", "url")
_SCHEMA_KEYS = ("kind", "max_length", "integer")


def _check_names(where: str, sf_name: Any, hs_name: Any) -> None:
    if not isinstance(sf_name, str) or len(sf_name) > _NAME_MAX or not _SF_NAME.fullmatch(sf_name):
        raise SettingsError(
            f"{where}.salesforce: {sf_name!r} is not a Salesforce field API name (a letter, then letters, digits and"
            " single underscores; custom fields end in __c, e.g. Region__c)"
        )
    if not isinstance(hs_name, str) or len(hs_name) > _NAME_MAX or not _HS_NAME.fullmatch(hs_name):
        raise SettingsError(
            f"{where}.hubspot: {hs_name!r} is not a HubSpot property internal name (lower-case letters, digits and"
            " underscores, starting with a letter, e.g. region)"
        )


def _value_pairs(where: str, raw: Any) -> tuple[tuple[str, str], ...] | None:
    """A mapping's `values`: Salesforce value -> HubSpot option, as a list of pairs or an object (None: not given)."""
    if raw is None:
        return None
    pairs = list(raw.items()) if isinstance(raw, Mapping) else raw
    if not isinstance(pairs, list) or not all(
        isinstance(p, (list, tuple)) and len(p) == 2 and all(isinstance(v, str) and v.strip() for v in p) for p in pairs
    ):
        raise SettingsError(
            f"{where}.values: must map Salesforce picklist values to HubSpot option values, as"
            ' [["North", "north"], ...] or {"North": "north", ...}'
        )
    return tuple((str(a), str(b)) for a, b in pairs)


def _schema(where: str, raw: Any) -> dict[str, Any] | None:
    """A mapping's `schema`: what `prepare` read of both fields (kind, Salesforce length, integer); None: not given."""
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise SettingsError(f"{where}.schema: must be an object with keys {', '.join(_SCHEMA_KEYS)}")
    _refuse_unknown_keys(f"{where}.schema", raw, _SCHEMA_KEYS)
    kind, length, integer = raw.get("kind"), raw.get("max_length"), raw.get("integer", False)
    if kind not in KINDS:
        raise SettingsError(f"{where}.schema.kind: must be one of {', '.join(KINDS)}, got {kind!r}")
    if length is not None and (isinstance(length, bool) or not isinstance(length, int) or length < 1):
        raise SettingsError(f"{where}.schema.max_length: must be a whole number >= 1 or null, got {length!r}")
    if not isinstance(integer, bool):
        raise SettingsError(f"{where}.schema.integer: must be true or false, got {integer!r}")
    return {"kind": kind, "max_length": length, "integer": integer}


def parse_field_mappings(raw: Any) -> tuple[FieldMapping, ...]:
    """Null → the shipped defaults; a list replaces them.

    A name may be any syntactically valid Salesforce Account field or HubSpot company property: custom ones
    (`Region__c`, `region`) included. Two catalogue fields are checked against each other here; anything else is
    checked at `prepare` against the org's describe and the portal's properties (`field_schema.py`), which writes
    what it found into each entry's `schema` (and a picklist's `values`) for the run's later tasks.
    """
    cat = catalogue()
    if raw is None:
        raw = cat.default_mappings
    elif not isinstance(raw, list):
        raise SettingsError(f"field_mappings: must be a list of mappings or null, got {type(raw).__name__}")
    mappings: list[FieldMapping] = []
    for i, entry in enumerate(raw):
        where = f"field_mappings[{i}]"
        if not isinstance(entry, Mapping):
            raise SettingsError(f"{where}: must be an object with keys {', '.join(_MAPPING_KEYS)}")
        mapping = _parse_mapping(where, entry, cat)
        for other in mappings:
            if other.salesforce.lower() == mapping.salesforce.lower():
                raise SettingsError(f"{where}.salesforce: {mapping.salesforce} is mapped twice")
            if other.hubspot == mapping.hubspot:
                raise SettingsError(f"{where}.hubspot: {mapping.hubspot} is mapped twice")
        mappings.append(mapping)
    if not any(m.salesforce == "Name" for m in mappings):
        raise SettingsError("field_mappings: must map the required Account field Name (to HubSpot name)")
    return tuple(mappings)


def _parse_mapping(where: str, entry: Mapping[str, Any], cat: Catalogue) -> FieldMapping:
    _refuse_unknown_keys(where, entry, _ALL_MAPPING_KEYS)
    for key in ("salesforce", "hubspot"):
        if key not in entry:
            raise SettingsError(f"{where}.{key}: required")
    sf_name, hs_name = entry["salesforce"], entry["hubspot"]
    _check_names(where, sf_name, hs_name)
    rule_name = entry.get("rule", SyncRule.PREFER_SALESFORCE_UNLESS_BLANK.value)
    try:
        rule = SyncRule(rule_name)
    except ValueError:
        rules = ", ".join(r.value for r in SyncRule)
        raise SettingsError(f"{where}.rule: unknown sync rule {rule_name!r}; allowed rules: {rules}") from None
    sf, hs = cat.salesforce_fields.get(sf_name), cat.hubspot_properties.get(hs_name)
    schema = _schema(where, entry.get("schema"))
    pairs = _value_pairs(where, entry.get("values"))
    if schema is not None:
        kind, max_length, integer = schema["kind"], schema["max_length"], schema["integer"]
    elif sf is not None and hs is not None:
        if sf.kind != hs.kind:
            raise SettingsError(
                f"{where}: Salesforce {sf_name} ({sf.kind}) cannot map to HubSpot {hs_name} ({hs.kind});"
                " a mapping joins two fields of the same kind"
            )
        kind, max_length, integer = sf.kind, sf.max_length, sf.integer
    else:  # a custom field: provisional until prepare reads the schemas
        kind, max_length, integer = (sf or hs).kind if (sf or hs) else "text", None, False
    if kind == "owner" and rule not in (SyncRule.TWO_WAY, SyncRule.DONT_SYNC):
        raise SettingsError(f"{where}.rule: the owner mapping is always two_way (or dont_sync), got {rule_name!r}")
    if pairs is None:
        pairs = cat.value_maps.get(sf_name, ()) if sf is not None else ()
    elif kind != "picklist" and (schema is not None or (sf is not None and hs is not None)):
        raise SettingsError(f"{where}.values: only a picklist mapping takes a value map ({sf_name} is {kind})")
    if kind == "picklist" and not pairs and (schema is not None or (sf is not None and hs is not None)):
        raise SettingsError(f"{where}.salesforce: picklist {sf_name} has no value map in {MAPPINGS_FILE.name}")
    to_salesforce: dict[str, str] = {}
    for sf_value, hs_value in pairs:
        to_salesforce.setdefault(hs_value, sf_value)
    return FieldMapping(
        salesforce=sf_name,
        hubspot=hs_name,
        rule=rule,
        kind=kind,
        max_length=max_length,
        integer=integer,
        to_hubspot=dict(pairs),
        to_salesforce=to_salesforce,
        checked=schema is not None or (sf is not None and hs is not None),
    )
