"""The HubSpot sandbox's data: records, associations, lists and owners in `PersistentState.data`, plus
in-memory indexes (ids in order, unique property values, company domains) rebuilt on load.

Persisted layout (`state.data`):
    properties: {object type: {name: definition}}
    objects:    {object type: {id: record}}, record = {id, properties, createdAt, updatedAt, archived,
                archivedAt?, history?}
    next_id:    {object type: int}
    assoc:      {from type: {to type: {from id: {to id: frozenset(type ids)}}}} (both directions stored;
                the frozensets shared, see `type_set`)
    lists:      {list id: {..., members: {record id: joined-at ISO}}}, next_list_id
    owners:     {owner id: owner}
Every method expects the caller to hold `state.guard`.

A contact's primary company (the association labelled primary, types 1 / 2) is mirrored in its read-only
`associatedcompanyid` property, like HubSpot's: associating a contact that has no primary company makes
that company its primary, labelling an association primary moves the label from the previous one, and
removing the primary association clears the property. Each of these is a property change of the contact,
so its `lastmodifieddate` / `hs_lastmodifieddate` move; other association changes move nothing
(docs/sandbox-fidelity.md).
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from include.sandbox import multimap
from include.sandbox.hubspot.common import now_iso
from include.sandbox.hubspot.index import SearchIndex
from include.sandbox.hubspot.properties import default_properties

FIRST_ID = {"companies": 20_000_000_001, "contacts": 30_000_000_001}
MODIFIED = {"companies": "hs_lastmodifieddate", "contacts": "lastmodifieddate"}
# every modification-date property an object type has (contacts have both names, like HubSpot's)
MODIFIED_ALL = {"companies": ("hs_lastmodifieddate",), "contacts": ("lastmodifieddate", "hs_lastmodifieddate")}
# association type ids, HubSpot-defined: (from, to) -> (unlabelled, primary)
ASSOCIATION_TYPES = {("contacts", "companies"): (279, 1), ("companies", "contacts"): (280, 2)}
MIRROR = {279: 280, 280: 279, 1: 2, 2: 1}
TYPE_LABELS = {1: "Primary", 2: "Primary", 279: None, 280: None}
PRIMARY = {("contacts", "companies"): 1, ("companies", "contacts"): 2}
HISTORY_LIMIT = 20


_TYPE_SETS: dict[frozenset[int], frozenset[int]] = {}


def type_set(current: Iterable[int], more: Iterable[int] = ()) -> frozenset[int]:
    """The association type ids `current` plus `more`, as a shared frozenset: a million associations
    hold a handful of distinct sets (a set each would cost about 200 bytes per direction). Never
    changed in place: writers store a new one."""
    types = frozenset(current).union(more)
    return _TYPE_SETS.setdefault(types, types)


def empty_state() -> dict[str, Any]:
    return {
        "properties": default_properties(),
        "objects": {"companies": {}, "contacts": {}},
        "next_id": dict(FIRST_ID),
        "assoc": {"companies": {"contacts": {}}, "contacts": {"companies": {}}},
        "lists": {},
        "next_list_id": 1,
        "owners": {},
    }


def _no_touch(*path: str) -> None:
    return None


class Store:
    def __init__(self, data: dict[str, Any], touch: Callable[..., None] = _no_touch):
        """`touch(*path)` is told the path in `data` of everything a write changes (for the journal)."""
        self.data = data
        self.touch = touch
        if not data:
            data.update(empty_state())
        for object_type, defaults in default_properties().items():  # a state saved before a property existed
            for name, definition in defaults.items():
                if name not in data["properties"][object_type]:
                    data["properties"][object_type][name] = definition
                    touch("properties", object_type, name)
        self.rebuild()

    # --- indexes ---------------------------------------------------------------------------------------
    def rebuild(self) -> None:
        self.order: dict[str, list[int]] = {}
        self.archived_order: dict[str, list[int]] = {}  # archived ids only: `?archived=true` pages
        self.unique: dict[str, dict[str, dict[str, str]]] = {}
        self.domains: dict[str, str | set[str]] = {}  # multimap
        for object_type, records in self.data["objects"].items():
            self.order[object_type] = sorted(int(i) for i in records)
            self.archived_order[object_type] = sorted(int(i) for i, r in records.items() if r["archived"])
            self.unique[object_type] = {}
            for name in self.unique_properties(object_type):
                self.reindex_unique(object_type, name)
        for record in self.data["objects"]["companies"].values():
            if not record["archived"]:
                self._index_domain(record["id"], None, record["properties"].get("domain"))
        self.search_index = SearchIndex(self.data)

    def unique_properties(self, object_type: str) -> list[str]:
        return [
            n
            for n, d in self.data["properties"][object_type].items()
            if d.get("hasUniqueValue") and not d.get("archived")
        ]

    def reindex_unique(self, object_type: str, name: str) -> None:
        index: dict[str, str] = {}
        for record in self.data["objects"][object_type].values():
            value = record["properties"].get(name)
            if value and not record["archived"]:
                index[self.unique_key(name, value)] = record["id"]
        self.unique[object_type][name] = index

    @staticmethod
    def unique_key(name: str, value: str) -> str:
        return multimap.lowered(value) if name == "email" else value

    def _index_domain(self, record_id: str, old: str | None, new: str | None) -> None:
        if old:
            multimap.discard(self.domains, old.lower(), record_id)
        if new:
            multimap.add(self.domains, new.lower(), record_id)

    # --- records ---------------------------------------------------------------------------------------
    def records(self, object_type: str) -> dict[str, dict[str, Any]]:
        return self.data["objects"][object_type]

    def get(self, object_type: str, record_id: str, *, archived: bool = False) -> dict[str, Any] | None:
        record = self.data["objects"][object_type].get(str(record_id))
        if record is None or record["archived"] != archived:
            return None
        return record

    def find(
        self, object_type: str, value: str, id_property: str | None, *, archived: bool = False
    ) -> dict[str, Any] | None:
        """A record by id, or by the value of a unique property (`idProperty`)."""
        if not id_property or id_property == "hs_object_id":
            return self.get(object_type, value, archived=archived)
        if archived:
            for record in self.data["objects"][object_type].values():
                if record["archived"] and record["properties"].get(id_property) == value:
                    return record
            return None
        record_id = self.unique[object_type].get(id_property, {}).get(self.unique_key(id_property, str(value)))
        return self.get(object_type, record_id) if record_id else None

    def page_ids(self, object_type: str, after: int | None, archived: bool = False) -> Iterator[int]:
        """The ids from `after` on, lazily: a page reads ~100 of them, and copying the rest of a list of a
        million ids cost more than the page itself."""
        order = self.archived_order[object_type] if archived else self.order[object_type]
        start = bisect_left(order, after) if after else 0
        return (order[i] for i in range(start, len(order)))

    def conflicts(self, object_type: str, values: dict[str, str], record_id: str | None) -> list[tuple[str, str, str]]:
        """(property, value, existing id) for unique values `values` would duplicate."""
        found = []
        for name, index in self.unique[object_type].items():
            value = values.get(name)
            if value:
                existing = index.get(self.unique_key(name, value))
                if existing and existing != record_id:
                    found.append((name, value, existing))
        return found

    def create(
        self, object_type: str, values: dict[str, str], source: str, *, at: str | None = None, history: bool = False
    ) -> dict[str, Any]:
        record_id = str(self.data["next_id"][object_type])
        self.data["next_id"][object_type] += 1
        stamp = at or now_iso()
        props = {k: v for k, v in values.items() if v != ""}
        created = props.get("createdate") or stamp
        props.update(hs_object_id=record_id, createdate=created, hs_object_source=source)
        for name in MODIFIED_ALL[object_type]:
            props[name] = stamp
        record = {"id": record_id, "properties": props, "createdAt": created, "updatedAt": stamp, "archived": False}
        if history:
            record["history"] = {k: [(v, stamp)] for k, v in props.items()}
        self.data["objects"][object_type][record_id] = record
        self.touch("objects", object_type, record_id)
        self.touch("next_id")
        self.order[object_type].append(int(record_id))
        self.search_index.add(object_type, record)
        for name, index in self.unique[object_type].items():
            if props.get(name):
                index[self.unique_key(name, props[name])] = record_id
        if object_type == "companies":
            self._index_domain(record_id, None, props.get("domain"))
        return record

    def update(self, object_type: str, record: dict[str, Any], values: dict[str, str]) -> dict[str, Any]:
        stamp = now_iso()
        props = record["properties"]
        live = not record["archived"]
        if live:
            self.search_index.remove(object_type, record)
        self.touch("objects", object_type, record["id"])
        history = record.setdefault("history", {})
        for name, value in values.items():
            old = props.get(name)
            if old == value or (old is None and value == ""):
                continue
            index = self.unique[object_type].get(name)
            if index is not None:
                if old:
                    index.pop(self.unique_key(name, old), None)
                if value:
                    index[self.unique_key(name, value)] = record["id"]
            if object_type == "companies" and name == "domain":
                self._index_domain(record["id"], old, value)
            if value == "":
                props.pop(name, None)
            else:
                props[name] = value
            entries = history.setdefault(name, [(old, record["updatedAt"])] if old else [])
            entries.append((value, stamp))
            del entries[:-HISTORY_LIMIT]
        for name in MODIFIED_ALL[object_type]:
            props[name] = stamp
        record["updatedAt"] = stamp
        if live:
            self.search_index.add(object_type, record)
        return record

    def archive(self, object_type: str, record: dict[str, Any]) -> None:
        stamp = now_iso()
        if not record["archived"]:
            self.search_index.remove(object_type, record)
        self.touch("objects", object_type, record["id"])
        if not record["archived"]:
            insort(self.archived_order[object_type], int(record["id"]))
        record["archived"] = True
        record["archivedAt"] = stamp
        record["updatedAt"] = stamp
        props = record["properties"]
        for name, index in self.unique[object_type].items():
            if props.get(name) and index.get(self.unique_key(name, props[name])) == record["id"]:
                del index[self.unique_key(name, props[name])]
        if object_type == "companies":
            self._index_domain(record["id"], props.get("domain"), None)
        for to_type in self.data["assoc"][object_type]:
            for other in list(self.data["assoc"][object_type][to_type].get(record["id"], {})):
                self.dissociate(object_type, record["id"], to_type, other)

    def companies_with_domain(self, domain: str) -> list[str]:
        return sorted(multimap.get(self.domains, domain.lower()), key=int)

    # --- associations ----------------------------------------------------------------------------------
    def associations(self, from_type: str, from_id: str, to_type: str) -> dict[str, set[int]]:
        return self.data["assoc"][from_type][to_type].get(str(from_id), {})

    def associate(self, from_type: str, from_id: str, to_type: str, to_id: str, type_ids: list[int]) -> None:
        self._link(from_type, str(from_id), to_type, str(to_id), type_ids)
        pair = (from_type, to_type)
        if pair in PRIMARY:
            contact_id, company_id = (from_id, to_id) if from_type == "contacts" else (to_id, from_id)
            self._settle_primary(str(contact_id), str(company_id), PRIMARY[pair] in type_ids)

    def _link(self, from_type: str, from_id: str, to_type: str, to_id: str, type_ids: list[int]) -> None:
        forward = self.data["assoc"][from_type][to_type].setdefault(from_id, {})
        backward = self.data["assoc"][to_type][from_type].setdefault(to_id, {})
        forward[to_id] = type_set(forward.get(to_id, ()), type_ids)
        backward[from_id] = type_set(backward.get(from_id, ()), [MIRROR[t] for t in type_ids])
        self.touch("assoc", from_type, to_type, from_id)
        self.touch("assoc", to_type, from_type, to_id)

    def _settle_primary(self, contact_id: str, company_id: str, asked: bool) -> None:
        """After associating: the company becomes the contact's primary when asked (label 1 / 2) or when
        the contact has none; the previous primary keeps an unlabelled association."""
        contact = self.get("contacts", contact_id)
        if contact is None:
            return
        current = contact["properties"].get("associatedcompanyid")
        links = self.associations("contacts", contact_id, "companies")
        if current and current not in links:
            current = None  # stale (e.g. edited from outside): treat as no primary
        if current == company_id or (current and not asked):
            if current == company_id and 1 not in links[company_id]:
                self._link("contacts", contact_id, "companies", company_id, [1, 279])
            return
        if current:
            links[current] = type_set(links[current] - {1}, [279])
            backward = self.data["assoc"]["companies"]["contacts"][current]
            backward[contact_id] = type_set(backward[contact_id] - {2}, [280])
            self.touch("assoc", "companies", "contacts", current)
        self._link("contacts", contact_id, "companies", company_id, [1, 279])
        self.update("contacts", contact, {"associatedcompanyid": company_id})

    def dissociate(self, from_type: str, from_id: str, to_type: str, to_id: str) -> bool:
        forward = self.data["assoc"][from_type][to_type].get(str(from_id), {})
        backward = self.data["assoc"][to_type][from_type].get(str(to_id), {})
        existed = forward.pop(str(to_id), None) is not None
        backward.pop(str(from_id), None)
        if not forward:
            self.data["assoc"][from_type][to_type].pop(str(from_id), None)
        if not backward:
            self.data["assoc"][to_type][from_type].pop(str(to_id), None)
        self.touch("assoc", from_type, to_type, str(from_id))
        self.touch("assoc", to_type, from_type, str(to_id))
        if existed and (from_type, to_type) in PRIMARY:
            contact_id, company_id = (from_id, to_id) if from_type == "contacts" else (to_id, from_id)
            contact = self.get("contacts", str(contact_id))
            if contact is not None and contact["properties"].get("associatedcompanyid") == str(company_id):
                self.update("contacts", contact, {"associatedcompanyid": ""})
        return existed
