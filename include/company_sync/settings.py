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


def parse_field_mappings(raw: Any) -> tuple[FieldMapping, ...]:
    """Null → the shipped defaults; a list replaces them. Every entry is checked against the catalogue."""
    cat = catalogue()
    if raw is None:
        raw = cat.default_mappings
    elif not isinstance(raw, list):
        raise SettingsError(f"field_mappings: must be a list of mappings or null, got {type(raw).__name__}")
    rules = ", ".join(r.value for r in SyncRule)

    mappings: list[FieldMapping] = []
    for i, entry in enumerate(raw):
        where = f"field_mappings[{i}]"
        if not isinstance(entry, Mapping):
            raise SettingsError(f"{where}: must be an object with keys {', '.join(_MAPPING_KEYS)}")
        _refuse_unknown_keys(where, entry, _MAPPING_KEYS)
        for key in ("salesforce", "hubspot"):
            if key not in entry:
                raise SettingsError(f"{where}.{key}: required")
        sf_name, hs_name = entry["salesforce"], entry["hubspot"]
        rule_name = entry.get("rule", SyncRule.PREFER_SALESFORCE_UNLESS_BLANK.value)

        sf = cat.salesforce_fields.get(sf_name)
        if sf is None:
            raise SettingsError(
                f"{where}.salesforce: unknown Account field {sf_name!r};"
                f" known fields: {', '.join(cat.salesforce_fields)}"
            )
        hs = cat.hubspot_properties.get(hs_name)
        if hs is None:
            raise SettingsError(
                f"{where}.hubspot: unknown company property {hs_name!r};"
                f" known properties: {', '.join(cat.hubspot_properties)}"
            )
        try:
            rule = SyncRule(rule_name)
        except ValueError:
            raise SettingsError(f"{where}.rule: unknown sync rule {rule_name!r}; allowed rules: {rules}") from None
        if sf.kind != hs.kind:
            raise SettingsError(
                f"{where}: Salesforce {sf_name} ({sf.kind}) cannot map to HubSpot {hs_name} ({hs.kind});"
                " a mapping joins two fields of the same kind"
            )
        if sf.kind == "owner" and rule not in (SyncRule.TWO_WAY, SyncRule.DONT_SYNC):
            raise SettingsError(f"{where}.rule: the owner mapping is always two_way (or dont_sync), got {rule_name!r}")
        for other in mappings:
            if other.salesforce == sf_name:
                raise SettingsError(f"{where}.salesforce: {sf_name} is mapped twice")
            if other.hubspot == hs_name:
                raise SettingsError(f"{where}.hubspot: {hs_name} is mapped twice")

        pairs = cat.value_maps.get(sf_name, ())
        if sf.kind == "picklist" and not pairs:
            raise SettingsError(f"{where}.salesforce: picklist {sf_name} has no value map in {MAPPINGS_FILE.name}")
        to_salesforce: dict[str, str] = {}
        for sf_value, hs_value in pairs:
            to_salesforce.setdefault(hs_value, sf_value)
        mappings.append(
            FieldMapping(
                salesforce=sf_name,
                hubspot=hs_name,
                rule=rule,
                kind=sf.kind,
                max_length=sf.max_length,
                integer=sf.integer,
                to_hubspot=dict(pairs),
                to_salesforce=to_salesforce,
            )
        )
    if not any(m.salesforce == "Name" for m in mappings):
        raise SettingsError("field_mappings: must map the required Account field Name (to HubSpot name)")
    return tuple(mappings)
