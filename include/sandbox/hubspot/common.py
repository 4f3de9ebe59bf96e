"""Small pieces every HubSpot sandbox module uses: timestamps, HubSpot-shaped errors, object types,
query-string helpers and batch response envelopes."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import numpy as np

from include.sandbox.http import ApiError, Request

# object type name -> HubSpot objectTypeId
OBJECT_TYPE_IDS = {"contacts": "0-1", "companies": "0-2"}
_ALIASES = {
    "companies": "companies",
    "company": "companies",
    "0-2": "companies",
    "contacts": "contacts",
    "contact": "contacts",
    "0-1": "contacts",
}
SINGULAR = {"companies": "company", "contacts": "contact"}


def now_iso() -> str:
    return iso_from_ms(now_ms())


def now_ms() -> int:
    return int(datetime.now(UTC).timestamp() * 1000)


def iso_from_ms(ms: int) -> str:
    dt = datetime.fromtimestamp(ms / 1000, tz=UTC)
    if 1000 <= dt.year:  # f-string formatting is 3x faster than strftime (the seed formats millions)
        return f"{dt.year}-{dt.month:02d}-{dt.day:02d}T{dt.hour:02d}:{dt.minute:02d}:{dt.second:02d}.{ms % 1000:03d}Z"
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


@lru_cache(maxsize=1 << 18)
def ms_from_iso(text: str) -> int | None:
    """Epoch millis of an ISO datetime or date (`2024-01-01T00:00:00.000Z`, `+00:00`, `2024-01-01`)."""
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp() * 1000)


def to_ms(value: Any) -> int | None:
    """A datetime given as epoch millis (number or digit string) or as ISO text."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return int(value)
    text = str(value).strip()
    if text.lstrip("-").isdigit():
        return int(text)
    return ms_from_iso(text)


def to_ms_many(values: Iterable[Any]) -> dict[Any, int | None]:
    """`{value: to_ms(value)}` for many values at once (rebuilding an index of a million records):
    ISO texts of the canonical form `2024-01-31T12:00:00.000Z` are parsed by numpy, with the same
    float arithmetic as `ms_from_iso` (so the same result, to the millisecond); the rest one by one."""
    out: dict[Any, int | None] = {}
    canonical: list[str] = []
    for value in values:
        if type(value) is str and len(value) == 24 and value[10] == "T" and value[23] == "Z" and value[19] == ".":
            canonical.append(value)
        elif value not in out:
            out[value] = to_ms(value)
    if canonical:
        texts = np.array([v[:23] for v in canonical])
        try:
            parsed = texts.astype("datetime64[ms]")
        except ValueError:  # something numpy does not read: one by one
            out.update((v, to_ms(v)) for v in canonical)
            return out
        # int(datetime.timestamp() * 1000): timestamp() is (microseconds / 10**6) correctly rounded
        ms = np.trunc((parsed.astype(np.int64) * 1000).astype(np.float64) / 1e6 * 1000.0).astype(np.int64)
        exact = np.datetime_as_string(parsed, unit="ms") == texts  # numpy is laxer than fromisoformat
        for v, m, ok in zip(canonical, ms.tolist(), exact.tolist(), strict=True):
            out[v] = m if ok else to_ms(v)
    return out


def correlation_id() -> str:
    return str(uuid.uuid4())


def error_body(category: str, message: str, **extra: Any) -> dict[str, Any]:
    body = {"status": "error", "message": message, "correlationId": correlation_id(), "category": category}
    body.update(extra)
    return body


def fail(status: int, category: str, message: str, **extra: Any) -> ApiError:
    """An ApiError with HubSpot's error body; `raise fail(...)`."""
    return ApiError(status, error_body(category, message, **extra))


def validation(message: str, **extra: Any) -> ApiError:
    return fail(400, "VALIDATION_ERROR", message, **extra)


def not_found(message: str = "resource not found") -> ApiError:
    return fail(404, "OBJECT_NOT_FOUND", message)


def object_type(name: str) -> str:
    """Normalised object type (`companies` / `contacts`); anything else is a 400 like HubSpot's."""
    normalised = _ALIASES.get(name.lower())
    if normalised is None:
        raise validation(f"Unable to infer object type from: {name}")
    return normalised


def json_body(request: Request, *, required: bool = True) -> Any:
    try:
        body = request.json()
    except ValueError as exc:
        raise validation(f"Invalid input JSON on line 1: {exc}") from exc
    if body is None and required:
        raise validation("Invalid input JSON: a request body is required")
    return body


def multi_arg(request: Request, name: str) -> list[str] | None:
    """A list query parameter sent repeated (`a=1&a=2`) and/or comma-separated (`a=1,2`)."""
    values = request.query.get(name)
    if values is None:
        return None
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def bool_arg(request: Request, name: str, default: bool = False) -> bool:
    value = request.arg(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in ("true", "1", "yes")


def int_arg(request: Request, name: str, default: int, *, maximum: int | None = None, minimum: int = 1) -> int:
    value = request.arg(name)
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError as exc:
        raise validation(f"Invalid value for {name}: {value!r} is not an integer") from exc
    if number < minimum or (maximum is not None and number > maximum):
        raise validation(f"{name} must be between {minimum} and {maximum}, got {number}")
    return number


def base_url(request: Request) -> str:
    return f"http://{request.headers.get('host', '127.0.0.1')}"


def batch_envelope(results: list[Any], errors: list[dict[str, Any]], started: str) -> dict[str, Any]:
    body: dict[str, Any] = {"status": "COMPLETE", "results": results, "startedAt": started, "completedAt": now_iso()}
    if errors:
        body["numErrors"] = len(errors)
        body["errors"] = errors
    return body


def batch_error(
    category: str,
    message: str,
    context: dict[str, list[str]],
    details: list[dict[str, Any]] | None = None,
    sub_category: str | None = None,
) -> dict[str, Any]:
    """One entry of a 207's `errors` (the client's StandardError: every required key present)."""
    entry: dict[str, Any] = {
        "status": "error",
        "category": category,
        "message": message,
        "context": context,
        "links": {},
        "errors": details or [],
    }
    if sub_category:
        entry["subCategory"] = sub_category
    return entry


def inputs_of(body: Any, maximum: int = 100) -> list[Any]:
    if not isinstance(body, dict) or not isinstance(body.get("inputs"), list):
        raise validation("Invalid input JSON: expected an object with an `inputs` array")
    inputs = body["inputs"]
    if len(inputs) > maximum:
        raise validation(
            f"Batch input size {len(inputs)} exceeds the maximum of {maximum} inputs",
            context={"maxInputSize": [str(maximum)]},
        )
    return inputs
