"""HubSpot search (companies or contacts) over a modification-time window, split in time so that no query
passes search's 10,000-result cap, and paged by keyset (the last modification time seen) rather than by offset.

A mixin of `HubSpotConnector`: it uses the connector's `_call`, `_api`, `_flatten`, `search_cap` and
`search_page_size`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from include.company_sync.connectors.hubspot_common import (
    HubSpotApiError,
    floor_ms,
    iso,
    log,
    ms,
    next_after,
    parse_dt,
)


@dataclass(frozen=True)
class SearchTarget:
    """An object type searched by modification time, and the property that holds it (contacts keep the
    older name `lastmodifieddate`)."""

    object_type: str
    stamp: str


COMPANIES = SearchTarget("companies", "hs_lastmodifieddate")
CONTACTS = SearchTarget("contacts", "lastmodifieddate")


class CompanySearch:
    """`_search_window(props, start, end)`: every company (or contact, `target=CONTACTS`) modified in
    `[start, end)`, each once."""

    def _search_window(
        self, props: list[str], start: datetime, end: datetime, target: SearchTarget = COMPANIES
    ) -> Iterator[dict]:
        """Search `[start, end)`; a window matching more than `search_cap` results is split in time, so no
        query ever pages past the cap (HubSpot answers 400 beyond 10,000 results, and tools that stop
        there silently lose the rest).

        The split point is the modification time of the cap-th result (one `limit=1` probe at offset
        cap-1): everything before it fits under the cap. Should the probe come back empty (the data moved
        meanwhile) the window is bisected evenly instead. More than `search_cap` companies modified in one
        millisecond are walked by id."""
        one_ms = timedelta(milliseconds=1)
        # (lo, hi, first page if already fetched, known to fit under the cap)
        pending: list[tuple[datetime, datetime, dict | None, bool]] = [(start, end, None, False)]
        seen: set[str] = set()
        while pending:
            lo, hi, page, fits = pending.pop(0)
            if page is None:
                page = self._search_page(props, lo, hi, after=None, target=target)
            total = int(page.get("total") or 0)
            if fits or total <= self.search_cap:
                rows = self._keyset_pages(props, lo, hi, page, target)
            else:
                split = self._split_point(props, lo, hi, page, total, target)
                if split is None:  # the hot millisecond at `lo`: walk it by id, continue after it
                    rows = self._search_by_id(props, lo, lo + one_ms, target)
                    pending.insert(0, (lo + one_ms, hi, None, False))
                else:
                    # the left part's first page is this page when all of it lies before the split
                    head = page if self._all_before(page, split, target) else None
                    pending[:0] = [(lo, split, head, head is not None), (split, hi, None, False)]
                    continue
            for row in rows:
                if row["id"] not in seen:
                    seen.add(row["id"])
                    yield row

    def _split_point(
        self, props: list[str], lo: datetime, hi: datetime, page: dict, total: int, target: SearchTarget
    ) -> datetime | None:
        """Where to cut `[lo, hi)` so the left part holds fewer than `search_cap` results (None: the first
        `search_cap` results share lo's millisecond)."""
        probe = self._search_page(props, lo, hi, after=str(self.search_cap - 1), limit=1, target=target)
        found = probe.get("results") or []
        at = parse_dt((found[0].get("properties") or {}).get(target.stamp)) if found else None
        if at is not None:
            at = floor_ms(at)
            if at <= lo:
                return None
            if at < hi:
                log.info(
                    "HubSpot: %s %s modified in [%s, %s) exceed search's %s-result cap; splitting the window at %s",
                    f"{total:,}",
                    target.object_type,
                    iso(lo),
                    iso(hi),
                    f"{self.search_cap:,}",
                    iso(at),
                )
                return at
        # no usable probe: bisect evenly (from the first result on: nothing lies before it)
        first = page.get("results") or [{}]
        first_at = parse_dt((first[0].get("properties") or {}).get(target.stamp))
        if first_at is not None and lo < floor_ms(first_at) < hi:
            lo = floor_ms(first_at)
        if hi - lo <= timedelta(milliseconds=1):
            return None
        middle = floor_ms(lo + (hi - lo) / 2)
        log.info(
            "HubSpot: %s %s modified in [%s, %s) exceed search's %s-result cap; bisecting the window",
            f"{total:,}",
            target.object_type,
            iso(lo),
            iso(hi),
            f"{self.search_cap:,}",
        )
        return middle if lo < middle < hi else None

    @staticmethod
    def _all_before(page: dict, moment: datetime, target: SearchTarget) -> bool:
        stamps = [parse_dt((o.get("properties") or {}).get(target.stamp)) for o in page.get("results", [])]
        return all(s is not None and s < moment for s in stamps)

    def _keyset_pages(
        self, props: list[str], lo: datetime, hi: datetime, page: dict, target: SearchTarget
    ) -> Iterator[dict]:
        """Page through `[lo, hi)` by re-querying from the last modification time seen (never `after`).

        Offset paging skips records when others leave the window while it runs (a company edited mid-
        extract moves past `hi` and shifts every later result up a slot); restarting from the last
        timestamp cannot. Records on the boundary millisecond come back twice and are deduplicated."""
        seen: set[str] = set()
        cursor = lo
        while True:
            results = page.get("results", [])
            for obj in results:
                key = str(obj.get("id"))
                if key not in seen:
                    seen.add(key)
                    yield self._flatten(obj)
            if not next_after(page) or not results:
                return
            last_at = parse_dt((results[-1].get("properties") or {}).get(target.stamp))
            if last_at is None:
                raise HubSpotApiError(
                    f"HubSpot {target.object_type}.search: results carry no {target.stamp} to page on",
                    operation=f"{target.object_type}.search",
                    status=None,
                )
            last_at = floor_ms(last_at)
            if last_at <= cursor:  # a whole page in one millisecond: walk that millisecond by id, move on
                step = cursor + timedelta(milliseconds=1)
                for row in self._search_by_id(props, cursor, step, target):
                    if row["id"] not in seen:
                        seen.add(row["id"])
                        yield row
                cursor = step
            else:
                cursor = last_at
            if cursor >= hi:
                return
            page = self._search_page(props, cursor, hi, after=None, target=target)

    def _search_page(
        self,
        props: list[str],
        lo: datetime,
        hi: datetime,
        after: str | None,
        extra_filters: list[dict] | None = None,
        sort: str | None = None,
        limit: int | None = None,
        target: SearchTarget = COMPANIES,
    ) -> dict:
        from hubspot.crm.companies import PublicObjectSearchRequest

        filters = [
            {"propertyName": target.stamp, "operator": "GTE", "value": ms(lo)},
            {"propertyName": target.stamp, "operator": "LT", "value": ms(hi)},
            *(extra_filters or []),
        ]
        request = PublicObjectSearchRequest(
            filter_groups=[{"filters": filters}],
            sorts=[{"propertyName": sort or target.stamp, "direction": "ASCENDING"}],
            properties=props,
            limit=limit or self.search_page_size,
            after=after,
        )
        operation = f"{target.object_type}.search"
        return (
            self._call(operation, self._api(f"{target.object_type}.search_api").do_search, request, search=True) or {}
        )

    def _search_by_id(self, props: list[str], lo: datetime, hi: datetime, target: SearchTarget) -> Iterator[dict]:
        """Last resort for more than `search_cap` records in one millisecond: keyset pages on the id."""
        last = "0"
        while True:
            page = self._search_page(
                props,
                lo,
                hi,
                after=None,
                sort="hs_object_id",
                extra_filters=[{"propertyName": "hs_object_id", "operator": "GT", "value": last}],
                target=target,
            )
            results = page.get("results", [])
            for obj in results:
                yield self._flatten(obj)
            if len(results) < self.search_page_size:
                return
            last = str(results[-1]["id"])
