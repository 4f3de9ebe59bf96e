"""Search indexes of the HubSpot sandbox (in memory, rebuilt from the records on start and reset, kept
up to date by `Store` on every create, update and archive).

- hashed: `{object type: {property: {search key: record id | {record ids}}}}` (`multimap`) for `domain`
  (companies), `email`, `salesforcecontactid`, `salesforceleadid` (contacts) and every unique-value
  property: answers EQ / IN.
- ranged: `{object type: {property: SortedKeys((search key, int id))}}` for the modification date
  (`hs_lastmodifieddate` / `lastmodifieddate`) and `createdate`: answers GT / GTE / LT / LTE / BETWEEN /
  EQ and, for a single-group window sorted ascending on the same property, the page itself (total from two
  bisections, the page by position) without touching the rest of the window.
- `hs_object_id` uses the store's sorted id list (`Store.order`).

Only live (not archived) records with a value are indexed. A search key is the value as search compares
it (`search_key`): lower-cased text, a float, or epoch milliseconds. The index only ever proposes
candidates: search still applies every filter to them, sorts them as the scan would, and falls back
to the scan when a filter group has nothing indexed to start from.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable
from typing import Any

from include.sandbox import multimap
from include.sandbox.hubspot.common import to_ms, to_ms_many
from include.sandbox.sorted_keys import SortedKeys

# the Salesforce ids are how contact-driven runs look contacts up (`IN` up to 100 values): hashed too
HASHED = {"companies": ("domain",), "contacts": ("email", "salesforcecontactid", "salesforceleadid")}
RANGED = {
    "companies": ("hs_lastmodifieddate", "createdate"),
    "contacts": ("lastmodifieddate", "hs_lastmodifieddate", "createdate"),
}
RANGE_OPERATORS = frozenset({"EQ", "GT", "GTE", "LT", "LTE", "BETWEEN"})
_TOP = float("inf")


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _text(value: Any) -> str | None:
    return None if value is None else multimap.lowered(str(value))


def converter(kind: str) -> Callable[[Any], Any]:
    """How search compares values of a property of this type (and how the indexes key them)."""
    if kind == "number":
        return _number
    if kind in ("datetime", "date"):
        return to_ms
    return _text


def kind_of(name: str, definition: dict[str, Any]) -> str:
    return "number" if name == "hs_object_id" else definition["type"]


class SearchIndex:
    def __init__(self, data: dict[str, Any]):
        self.data = data
        self.rebuild()

    def rebuild(self) -> None:
        self.hashed: dict[str, dict[str, tuple[Callable[[Any], Any], dict[Any, str | set[str]]]]] = {}
        self.ranged: dict[str, dict[str, tuple[Callable[[Any], Any], SortedKeys]]] = {}
        for t, records in self.data["objects"].items():
            defs = self.data["properties"][t]
            names = [*HASHED.get(t, ()), *(n for n, d in defs.items() if d.get("hasUniqueValue"))]
            hashed = {n: (converter(kind_of(n, defs[n])), {}) for n in dict.fromkeys(names) if n in defs}
            ranged_names = [n for n in RANGED.get(t, ()) if n in defs]
            range_convs = {n: converter(kind_of(n, defs[n])) for n in ranged_names}
            live = [record for record in records.values() if not record["archived"]]
            for record in live:
                props, rid = record["properties"], record["id"]
                for name, (conv, index) in hashed.items():
                    value = props.get(name)
                    if value is not None and (key := conv(value)) is not None:
                        multimap.add(index, key, rid)
            # the datetimes all at once (`to_ms_many`: numpy parses the canonical ISO texts)
            known = to_ms_many(
                value
                for name in ranged_names
                if range_convs[name] is to_ms
                for record in live
                if (value := record["properties"].get(name)) is not None
            )
            ranged_keys: dict[str, list[tuple[Any, int]]] = {n: [] for n in ranged_names}
            for record in live:
                props, number = record["properties"], int(record["id"])
                previous, entry = (None, None), None
                for name in ranged_names:
                    value, conv = props.get(name), range_convs[name]
                    if value is None:
                        continue
                    if value is not previous[0] or conv is not previous[1]:  # else one entry, shared
                        key = known[value] if conv is to_ms else conv(value)
                        previous, entry = (value, conv), (None if key is None else (key, number))
                    if entry is not None:
                        ranged_keys[name].append(entry)
            self.hashed[t] = hashed
            self.ranged[t] = {n: (range_convs[n], SortedKeys(keys)) for n, keys in ranged_keys.items()}

    # --- upkeep (Store calls these around every change of a live record) ---------------------------
    def add(self, t: str, record: dict[str, Any]) -> None:
        props, rid = record["properties"], record["id"]
        for name, (conv, index) in self.hashed[t].items():
            value = props.get(name)
            if value is not None and (key := conv(value)) is not None:
                multimap.add(index, key, rid)
        for name, (conv, keys) in self.ranged[t].items():
            value = props.get(name)
            if value is not None and (key := conv(value)) is not None:
                keys.add((key, int(rid)))

    def remove(self, t: str, record: dict[str, Any]) -> None:
        props, rid = record["properties"], record["id"]
        for name, (conv, index) in self.hashed[t].items():
            value = props.get(name)
            if value is not None and (key := conv(value)) is not None:
                multimap.discard(index, key, rid)
        for name, (conv, keys) in self.ranged[t].items():
            value = props.get(name)
            if value is not None and (key := conv(value)) is not None:
                keys.discard((key, int(rid)))

    # --- planning ----------------------------------------------------------------------------------
    def _bounds(self, keys: SortedKeys, filters: list[dict[str, Any]], conv: Callable[[Any], Any]) -> tuple[int, int]:
        """Positions [lo, hi) of the keys every range filter in `filters` accepts."""
        lo, hi = 0, len(keys)
        for flt in filters:
            operator = flt.get("operator", "EQ")
            if operator == "BETWEEN":
                lo = max(lo, keys.bisect_left((conv(flt["value"]),)))
                hi = min(hi, keys.bisect_right((conv(flt["highValue"]), _TOP)))
                continue
            value = conv(flt["value"])
            if operator in ("GTE", "EQ"):
                lo = max(lo, keys.bisect_left((value,)))
            if operator == "GT":
                lo = max(lo, keys.bisect_right((value, _TOP)))
            if operator in ("LTE", "EQ"):
                hi = min(hi, keys.bisect_right((value, _TOP)))
            if operator == "LT":
                hi = min(hi, keys.bisect_left((value,)))
        return lo, max(lo, hi)

    def window(
        self, t: str, groups: list[dict[str, Any]], sorts: list[tuple[str, bool, Any]]
    ) -> tuple[int, Callable[[int, int], list[dict[str, Any]]]] | None:
        """(total, page(after, limit)) when the search is one group of range filters on one ranged
        property, sorted ascending on it: the matches are then exactly a run of that property's keys, in
        the scan's order (value, then id). None otherwise. Filters are already validated."""
        if len(groups) != 1 or len(sorts) != 1 or sorts[0][1]:
            return None
        name = sorts[0][0]
        filters = (groups[0] or {}).get("filters") or []
        if name not in self.ranged[t] or not filters:
            return None
        if any(f.get("propertyName") != name or f.get("operator", "EQ") not in RANGE_OPERATORS for f in filters):
            return None
        conv, keys = self.ranged[t][name]
        lo, hi = self._bounds(keys, filters, conv)
        records = self.data["objects"][t]

        def page(after: int, limit: int) -> list[dict[str, Any]]:
            return [records[str(rid)] for _, rid in keys.slice(lo + after, min(lo + after + limit, hi))]

        return hi - lo, page

    def candidates(self, t: str, groups: list[dict[str, Any]], order: list[int]) -> list[dict[str, Any]] | None:
        """Records that may match (a superset of the matches, each once), or None when some group has no
        indexed filter to start from (then only a scan is exact)."""
        records = self.data["objects"][t]
        found: set[str] = set()
        for group in groups:
            filters = (group or {}).get("filters") or []
            best: tuple[int, Callable[[], Any]] | None = None
            for option in self._options(t, filters, order):
                if best is None or option[0] < best[0]:
                    best = option
            if best is None:
                return None
            found.update(best[1]())
        return [records[i] for i in found if i in records]

    def _options(self, t: str, filters: list[dict[str, Any]], order: list[int]):
        """(estimated count, produce ids) for each indexed way into one group."""
        ranged_done: set[str] = set()
        for flt in filters:
            name, operator = flt.get("propertyName"), flt.get("operator", "EQ")
            if name == "hs_object_id":
                yield from self._id_options(flt, filters, order, ranged_done)
            elif name in self.hashed[t] and operator in ("EQ", "IN"):
                conv, index = self.hashed[t][name]
                wanted = [conv(flt["value"])] if operator == "EQ" else [conv(v) for v in flt["values"]]
                if None in wanted:
                    continue
                sets = [multimap.get(index, k) for k in set(wanted)]
                yield sum(len(s) for s in sets), lambda sets=sets: (i for s in sets for i in s)
            elif name in self.ranged[t] and operator in RANGE_OPERATORS and name not in ranged_done:
                ranged_done.add(name)
                conv, keys = self.ranged[t][name]
                same = [
                    f for f in filters if f.get("propertyName") == name and f.get("operator", "EQ") in RANGE_OPERATORS
                ]
                lo, hi = self._bounds(keys, same, conv)
                yield hi - lo, lambda keys=keys, lo=lo, hi=hi: (str(rid) for _, rid in keys.irange(lo, hi))

    @staticmethod
    def _id_options(flt: dict[str, Any], filters: list[dict[str, Any]], order: list[int], done: set[str]):
        operator = flt.get("operator", "EQ")
        if operator in ("EQ", "IN"):
            raw = [flt["value"]] if operator == "EQ" else flt["values"]
            wanted = [_number(v) for v in raw]
            if None in wanted:
                return
            ids = {str(int(v)) for v in wanted if v.is_integer()}
            yield len(ids), lambda ids=ids: ids
            return
        if operator not in RANGE_OPERATORS or "hs_object_id" in done:
            return
        done.add("hs_object_id")
        lo, hi = 0, len(order)
        for f in filters:
            op = f.get("operator", "EQ")
            if f.get("propertyName") != "hs_object_id" or op not in RANGE_OPERATORS or op == "EQ":
                continue
            if op == "BETWEEN":
                lo = max(lo, bisect_left(order, _number(f["value"])))
                hi = min(hi, bisect_right(order, _number(f["highValue"])))
                continue
            value = _number(f["value"])
            if op == "GTE":
                lo = max(lo, bisect_left(order, value))
            elif op == "GT":
                lo = max(lo, bisect_right(order, value))
            elif op == "LTE":
                hi = min(hi, bisect_right(order, value))
            elif op == "LT":
                hi = min(hi, bisect_left(order, value))
        hi = max(lo, hi)
        yield hi - lo, lambda: (str(i) for i in order[lo:hi])
