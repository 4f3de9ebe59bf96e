"""What the HubSpot connector's modules share: the error type, the upsert key, value conversions, and the
one paging helper every cursor-paged endpoint goes through (`paginate`, `next_after`)."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from include.company_sync.connectors.http_policy import ConnectorError

# Batch reads in flight at once. Each waits 100-500 ms on the real API, so one after the other they reach a
# fraction of the 190-calls-a-10-seconds limit; the connector's rate limiter still bounds them to it.
READ_WORKERS = 8

# One logger for all the HubSpot connector's modules (configure or capture it by this name).
log = logging.getLogger("include.company_sync.connectors.hubspot")

ID_PROPERTY = "salesforceaccountid"


class HubSpotApiError(ConnectorError):
    """A HubSpot call failed for good; `category` and `body` come from HubSpot's error body when present."""

    def __init__(
        self, message: str, *, operation: str, status: int | None, category: str | None = None, body: Any = None
    ):
        super().__init__(message, api="HubSpot", operation=operation, status=status)
        self.category = category
        self.body = body


def ms(value: datetime) -> str:
    """Epoch milliseconds (what HubSpot search compares datetime properties with)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return str(int(math.floor(value.timestamp() * 1000)))


def iso(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_dt(value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    text = str(value)
    if text.isdigit():
        return datetime.fromtimestamp(int(text) / 1000, tz=UTC)
    stamp = pd.Timestamp(text)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return stamp.to_pydatetime()


def property_value(value: Any) -> str:
    """HubSpot property values are strings; None/NaN clears the property."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if pd.isna(value):
            return ""
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, datetime):
        return iso(value)
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        return property_value(value.item())
    try:
        if pd.isna(value):
            return ""
    except (TypeError, ValueError):
        pass
    return str(value)


def floor_ms(value: datetime) -> datetime:
    return value.replace(microsecond=(value.microsecond // 1000) * 1000)


def next_after(page: dict | None) -> str | None:
    """The cursor of the page after `page` (`paging.next.after`); None on the last page."""
    return (((page or {}).get("paging") or {}).get("next") or {}).get("after") or None


def paginate(fetch: Callable[[str | None], dict | None]) -> Iterator[dict]:
    """Every page of a cursor-paged endpoint, first to last: `fetch(after)` reads one page (`after` is None
    for the first), and the next page's cursor is `next_after(page)`."""
    after = None
    while True:
        page = fetch(after) or {}
        yield page
        after = next_after(page)
        if not after:
            return


def in_parallel(fn: Callable[[Any], Any], items: Sequence[Any], workers: int = READ_WORKERS) -> list[Any]:
    """`[fn(item) for item in items]`, up to `workers` at once, in order. The first error is raised once the
    calls already started have ended (an error that cannot heal ends the others' calls as quickly)."""
    if len(items) <= 1 or workers <= 1:
        return [fn(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(workers, len(items)), thread_name_prefix="hubspot-read") as pool:
        return list(pool.map(fn, items))
