"""Query indexes of the Salesforce sandbox (in memory, rebuilt from the records on start and reset, kept
up to date by `Store._put`, the one place records change).

- `Id`: the records dict itself.
- hashed: `{sobject: {field: {value as SOQL compares it: id | {ids}}}}` (`include/sandbox/multimap.py`)
  for external ids (`HubSpot_Company_ID__c`), `AccountId`, `OwnerId` and `Email`: answers `=` and `IN`.
- ranged: `{sobject: SortedKeys((SystemModstamp, id))}`: answers `<`, `<=`, `>`, `>=`, `=` and the
  COUNT() of a window (two bisections, minus the deleted records in it for `query`).

Every record is indexed, deleted ones too (`query` drops them afterwards, as the scan does). `candidates`
proposes a superset of the matches in the scan's order (the records dict's insertion order, which is
id order: ids come from one increasing counter and records are replaced in place); the query engine
still applies the whole WHERE clause to them, then ORDER BY, OFFSET and LIMIT. A WHERE clause with no
indexed way in (`!=`, `LIKE`, `NOT`, a relationship path, an OR with an unindexed side) scans.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from include.sandbox import multimap
from include.sandbox.salesforce.schema import OBJECTS, STRING_TYPES, Field
from include.sandbox.salesforce.soql import BoolOp, BoundQuery, Comparison, SoqlError, _comparable, bind_path
from include.sandbox.sorted_keys import SortedKeys

RANGED = "SystemModstamp"
HASHED = ("HubSpot_Company_ID__c", "AccountId", "OwnerId", "Email")
RANGE_OPS = frozenset({"<", "<=", ">", ">=", "="})
_TOP = "\uffff"

Option = tuple[int, Callable[[], Iterable[str]]]  # (how many ids at most, produce them)


def _key(field: Field, value: Any) -> Any:
    """A stored value as the SOQL engine compares it (`soql._normalise`)."""
    if value is None:
        return None
    if field.type in STRING_TYPES and field.type not in ("id", "reference"):
        return multimap.folded(value)
    return value


class QueryIndex:
    def __init__(self) -> None:
        self.hashed: dict[str, dict[str, dict[Any, str | set[str]]]] = {}
        self.ranged: dict[str, SortedKeys] = {}
        self.deleted: dict[str, set[str]] = {}
        self.fields = {name: [obj.fields[f] for f in HASHED if f in obj.fields] for name, obj in OBJECTS.items()}

    def rebuild(self, records: dict[str, dict[str, dict]]) -> None:
        for name, store in records.items():
            fields = self.fields.get(name, [])
            hashed: dict[str, dict[Any, str | set[str]]] = {f.name: {} for f in fields}
            ranged: list[tuple[str, str]] = []
            deleted: set[str] = set()
            for rid, rec in store.items():
                for field in fields:
                    key = _key(field, rec.get(field.name))
                    if key is not None:
                        multimap.add(hashed[field.name], key, rid)
                stamp = rec.get(RANGED)
                if stamp is not None:
                    ranged.append((stamp, rid))
                if rec.get("IsDeleted"):
                    deleted.add(rid)
            self.hashed[name], self.ranged[name], self.deleted[name] = hashed, SortedKeys(ranged), deleted

    def put(self, obj: str, rid: str, old: dict | None, new: dict | None) -> None:
        """Record `rid` of `obj` goes from `old` to `new` (None: absent)."""
        if obj not in self.hashed:
            return
        hashed = self.hashed[obj]
        for field in self.fields[obj]:
            before = _key(field, old.get(field.name)) if old else None
            after = _key(field, new.get(field.name)) if new else None
            if before == after:
                continue
            if before is not None:
                multimap.discard(hashed[field.name], before, rid)
            if after is not None:
                multimap.add(hashed[field.name], after, rid)
        before = old.get(RANGED) if old else None
        after = new.get(RANGED) if new else None
        if before != after:
            if before is not None:
                self.ranged[obj].discard((before, rid))
            if after is not None:
                self.ranged[obj].add((after, rid))
        if new is not None and new.get("IsDeleted"):
            self.deleted[obj].add(rid)
        else:
            self.deleted[obj].discard(rid)

    # --- planning ----------------------------------------------------------------------------------
    def candidates(self, bound: BoundQuery, records: dict[str, dict]) -> list[dict] | None:
        """The records that may match `bound`'s WHERE clause, in the records dict's order; None: scan."""
        where = bound.query.where
        if where is None:
            return None
        option = self._option(where, bound)
        if option is None:
            return None
        ids = sorted(set(option[1]()))
        return [rec for rid in ids if (rec := records.get(rid)) is not None]

    def count(self, bound: BoundQuery, records: dict[str, dict], include_deleted: bool) -> int | None:
        """COUNT() of a WHERE clause made only of bounds on SystemModstamp, from the index; else None."""
        where = bound.query.where
        if where is None:
            return None
        items = list(where.items) if isinstance(where, BoolOp) and where.op == "AND" else [where]
        window = self._bounds(bound, items)
        if window is None or len(window[2]) != len(items):
            return None
        lo, hi, _ = window
        total = hi - lo
        if not include_deleted and total:
            keys = self.ranged[bound.sobject.name]
            first, last = keys.slice(lo, lo + 1)[0], keys.slice(hi - 1, hi)[0]
            for rid in self.deleted[bound.sobject.name]:
                stamp = (records.get(rid) or {}).get(RANGED)
                if stamp is not None and first <= (stamp, rid) <= last:
                    total -= 1
        return total

    def _field(self, bound: BoundQuery, node: Comparison) -> Field | None:
        try:
            path = bind_path(bound.sobject, node.path)
        except SoqlError:
            return None
        return None if path.hops else path.field

    def _literal(self, bound: BoundQuery, field: Field, node: Comparison) -> list[Any] | None:
        literals = node.value if isinstance(node.value, tuple) else (node.value,)
        values = [_comparable(field, lit, field.name) for lit in literals]
        return None if any(v is None for v in values) else values

    def _bounds(self, bound: BoundQuery, nodes: list[Any]) -> tuple[int, int, list[Comparison]] | None:
        """Positions [lo, hi) in the ranged keys allowed by the range comparisons on SystemModstamp among
        `nodes` (and which nodes those were); None when there is none."""
        keys = self.ranged.get(bound.sobject.name)
        if keys is None:
            return None
        lo, hi, used = 0, len(keys), []
        for node in nodes:
            if not isinstance(node, Comparison) or node.op not in RANGE_OPS or isinstance(node.value, tuple):
                continue
            field = self._field(bound, node)
            if field is None or field.name != RANGED:
                continue
            values = self._literal(bound, field, node)
            if values is None:
                continue
            value = values[0]
            if node.op in (">=", "="):
                lo = max(lo, keys.bisect_left((value,)))
            if node.op == ">":
                lo = max(lo, keys.bisect_right((value, _TOP)))
            if node.op in ("<=", "="):
                hi = min(hi, keys.bisect_right((value, _TOP)))
            if node.op == "<":
                hi = min(hi, keys.bisect_left((value,)))
            used.append(node)
        if not used:
            return None
        return lo, max(lo, hi), used

    def _option(self, node: Any, bound: BoundQuery) -> Option | None:
        name = bound.sobject.name
        if isinstance(node, BoolOp):
            if node.op == "OR":
                parts = [self._option(item, bound) for item in node.items]
                if any(p is None for p in parts):
                    return None
                return sum(p[0] for p in parts), lambda: (i for p in parts for i in p[1]())
            options = [o for item in node.items if (o := self._option(item, bound)) is not None]
            window = self._bounds(bound, list(node.items))
            if window is not None:
                options.append(self._run(name, window[0], window[1]))
            return min(options, key=lambda o: o[0]) if options else None
        if not isinstance(node, Comparison):
            return None
        field = self._field(bound, node)
        if field is None:
            return None
        if node.op in ("=", "IN"):
            values = self._literal(bound, field, node)
            if values is None:
                return None
            if field.name == "Id":
                return len(values), lambda: values
            index = self.hashed.get(name, {}).get(field.name)
            if index is not None:
                sets = [multimap.get(index, v) for v in set(values)]
                return sum(len(s) for s in sets), lambda: (i for s in sets for i in s)
        if field.name == RANGED and node.op in RANGE_OPS:
            window = self._bounds(bound, [node])
            if window is not None:
                return self._run(name, window[0], window[1])
        return None

    def _run(self, name: str, lo: int, hi: int) -> Option:
        keys = self.ranged[name]

        def ids() -> Iterator[str]:
            return (rid for _, rid in keys.irange(lo, hi))

        return hi - lo, ids
