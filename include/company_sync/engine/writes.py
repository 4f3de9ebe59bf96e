"""Write frames (long form: record_id, field, value) -> the per-record payloads the loaders send."""

from __future__ import annotations

import pandas as pd

from include.company_sync.settings import Settings

from .values import salesforce_typed

LINK_FIELDS = {"HubSpot_Company_ID__c": ("text", False)}


def _grouped(frame: pd.DataFrame):
    f = frame.sort_values(["record_id", "field"], kind="stable")
    for rid, g in f.groupby("record_id", sort=True):
        yield rid, g["field"].tolist(), g["value"].tolist()


def _na(v) -> bool:
    return v is None or v is pd.NA or (isinstance(v, float) and v != v)


def hubspot_inputs(frame: pd.DataFrame, id_property: str | None = None) -> list[dict]:
    """HubSpot batch inputs: ``{"id": ..., "properties": {name: str}}``; NA (clear) -> ``""``.

    For ``hubspot_creates`` pass ``id_property="salesforceaccountid"`` (batch/upsert): ``id`` is then the
    Account Id and ``idProperty`` is set."""
    out = []
    for rid, fields, values in _grouped(frame):
        rec = {
            "id": str(rid),
            "properties": {f: ("" if _na(v) else str(v)) for f, v in zip(fields, values, strict=True)},
        }
        if id_property:
            rec["idProperty"] = id_property
        out.append(rec)
    return out


def salesforce_records(frame: pd.DataFrame, settings: Settings, key_field: str = "Id") -> list[dict]:
    """Salesforce sObject records: ``{key_field: record_id, Field: typed value}``; numbers as int/float per
    the mapping kind, NA -> None (clears the field). ``key_field="HubSpot_Company_ID__c"`` for creates."""
    kinds = {m.salesforce: (m.kind, m.integer) for m in settings.field_mappings} | LINK_FIELDS
    out = []
    for rid, fields, values in _grouped(frame):
        rec: dict = {key_field: str(rid)}
        for f, v in zip(fields, values, strict=True):
            kind, integer = kinds.get(f, ("text", False))
            rec[f] = salesforce_typed(kind, integer, None if _na(v) else v)
        out.append(rec)
    return out
