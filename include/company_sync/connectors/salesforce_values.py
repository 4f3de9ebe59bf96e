"""How Salesforce records go out and errors come back: JSON and Bulk API 2.0 CSV values, REST and Bulk
error texts."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pandas as pd


def utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def to_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value)


def to_text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def json_ready(record: dict) -> dict:
    out = {}
    for name, value in record.items():
        if value is not None and not isinstance(value, (str, bool, list, dict)) and pd.isna(value):
            value = None
        elif hasattr(value, "item") and not isinstance(value, (str, bytes)):
            value = value.item()  # numpy / pandas scalars
        elif isinstance(value, datetime):
            value = utc(value).isoformat().replace("+00:00", "Z")
        out[name] = value
    return out


def csv_ready(record: dict) -> dict:
    """Bulk API 2.0 CSV: `#N/A` sets a field to null (an empty cell leaves it unchanged)."""
    out = {}
    for name, value in json_ready(record).items():
        if value is None:
            out[name] = "#N/A"
        elif isinstance(value, bool):
            out[name] = "true" if value else "false"
        elif isinstance(value, float) and value.is_integer():
            out[name] = str(int(value))
        else:
            out[name] = value
    return out


def salesforce_error(exc: Any) -> tuple[str | None, str]:
    content = getattr(exc, "content", None)
    if isinstance(content, list) and content and isinstance(content[0], dict):
        return content[0].get("errorCode"), content[0].get("message") or str(content[0])
    if isinstance(content, dict):
        return content.get("errorCode"), content.get("message") or str(content)
    return None, str(content if content is not None else exc)


def parse_bulk_error(text: str) -> tuple[str | None, str, list[str]]:
    """`STRING_TOO_LONG:Account Name: data value too large:Name --` -> (code, message, fields)."""
    text = (text or "").strip()
    if not text:
        return None, "", []
    code, _, rest = text.partition(":")
    fields: list[str] = []
    message = rest
    if rest.endswith("--"):
        body = rest[:-2].rstrip()
        message, _, field_part = body.rpartition(":")
        if not message:  # no field list
            message, field_part = body, ""
        fields = [f.strip() for f in field_part.split(",") if f.strip()]
    return (code.strip() or None), message.strip(), fields
