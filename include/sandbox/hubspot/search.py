"""CRM search (`POST /crm/v3/objects/{type}/search`): filter groups, every operator, sorts in both
forms the client sends, `after` offsets and HubSpot's 10,000-result cap."""

from __future__ import annotations

import re
from collections.abc import Callable
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Any

from include.sandbox.http import Request, Response
from include.sandbox.hubspot.common import base_url, json_body, object_type, validation
from include.sandbox.hubspot.index import converter
from include.sandbox.hubspot.objects import render, requested

if TYPE_CHECKING:
    from include.sandbox.hubspot.api import HubSpotApi

MAX_GROUPS, MAX_FILTERS_PER_GROUP, MAX_FILTERS, MAX_LIMIT, MAX_RESULTS = 5, 6, 18, 200, 10_000
OPERATORS = {
    "EQ",
    "NEQ",
    "LT",
    "LTE",
    "GT",
    "GTE",
    "BETWEEN",
    "IN",
    "NOT_IN",
    "HAS_PROPERTY",
    "NOT_HAS_PROPERTY",
    "CONTAINS_TOKEN",
    "NOT_CONTAINS_TOKEN",
}
QUERY_PROPERTIES = {
    "companies": ("name", "domain", "website", "phone"),
    "contacts": ("email", "firstname", "lastname", "phone", "company"),
}
_TOKEN_SPLIT = re.compile(r"[^0-9a-z*?]+")


def _converter(kind: str) -> Callable[[Any], Any]:
    return converter(kind)


def _predicate(flt: dict[str, Any], definitions: dict[str, Any]) -> Callable[[dict[str, str]], bool]:
    name, operator = flt.get("propertyName"), flt.get("operator", "EQ")
    if not name:
        raise validation("each filter needs a propertyName")
    if operator not in OPERATORS:
        raise validation(f"Invalid operator {operator!r}; expected one of {sorted(OPERATORS)}")
    definition = definitions.get(name)
    if definition is None:
        raise validation(
            f"There was a problem with the request. Property {name!r} does not exist",
            subCategory="PROPERTY_DOESNT_EXIST",
        )
    kind = "number" if name == "hs_object_id" else definition["type"]
    conv = _converter(kind)

    def value_of(key: str) -> Any:
        if flt.get(key) is None:
            raise validation(f"operator {operator} needs `{key}` for {name}")
        converted = conv(flt[key])
        if converted is None:
            raise validation(f"{flt[key]!r} is not a valid {kind} value for {name}")
        return converted

    if operator == "HAS_PROPERTY":
        return lambda props: bool(props.get(name))
    if operator == "NOT_HAS_PROPERTY":
        return lambda props: not props.get(name)
    if operator in ("IN", "NOT_IN"):
        raw = flt.get("values")
        if not isinstance(raw, list):
            raise validation(f"operator {operator} needs `values` for {name}")
        wanted = {conv(v) for v in raw}
        if operator == "IN":
            return lambda props: conv(props.get(name)) in wanted
        return lambda props: conv(props.get(name)) not in wanted
    if operator in ("CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"):
        pattern = str(flt.get("value") or "").lower()
        if not pattern:
            raise validation(f"operator {operator} needs `value` for {name}")

        def contains(props: dict[str, str]) -> bool:
            text = (props.get(name) or "").lower()
            if not text:
                return False
            if fnmatchcase(text, pattern) or pattern == text:
                return True
            return any(fnmatchcase(token, pattern) for token in _TOKEN_SPLIT.split(text) if token)

        if operator == "CONTAINS_TOKEN":
            return contains
        return lambda props: not contains(props)
    if operator == "BETWEEN":
        low, high = value_of("value"), value_of("highValue")

        def between(props: dict[str, str]) -> bool:
            v = conv(props.get(name))
            return v is not None and low <= v <= high

        return between
    target = value_of("value")
    if operator == "EQ":
        return lambda props: conv(props.get(name)) == target
    if operator == "NEQ":
        return lambda props: conv(props.get(name)) != target
    compare = {
        "LT": lambda a: a < target,
        "LTE": lambda a: a <= target,
        "GT": lambda a: a > target,
        "GTE": lambda a: a >= target,
    }[operator]

    def ordered(props: dict[str, str]) -> bool:
        v = conv(props.get(name))
        return v is not None and compare(v)

    return ordered


def _sorts(raw: Any, definitions: dict[str, Any]) -> list[tuple[str, bool, Callable[[Any], Any]]]:
    """[(property, descending, converter)] from `["-createdate"]` or `[{"propertyName", "direction"}]`."""
    result = []
    for item in raw or []:
        if isinstance(item, str):
            name, descending = item.lstrip("-"), item.startswith("-")
        elif isinstance(item, dict) and item.get("propertyName"):
            name = item["propertyName"]
            direction = str(item.get("direction", "ASCENDING")).upper()
            if direction not in ("ASCENDING", "DESCENDING"):
                raise validation(f"Invalid sort direction {direction!r}")
            descending = direction == "DESCENDING"
        else:
            raise validation("each sort is a property name or {propertyName, direction}")
        if name not in definitions:
            raise validation(f"Cannot sort on unknown property {name!r}")
        if len(result) >= 1:
            raise validation("Search supports a single sort")
        kind = "number" if name == "hs_object_id" else definitions[name]["type"]
        result.append((name, descending, _converter(kind)))
    return result


def search(hs: HubSpotApi, request: Request, type_name: str) -> Response:
    t = object_type(type_name)
    body = json_body(request, required=False) or {}
    if not isinstance(body, dict):
        raise validation("Invalid input JSON: expected a search request object")
    definitions = hs.store.data["properties"][t]
    groups = body.get("filterGroups") or []
    if len(groups) > MAX_GROUPS:
        raise validation(f"Too many filter groups ({len(groups)}); the maximum is {MAX_GROUPS}")
    compiled: list[list[Callable[[dict[str, str]], bool]]] = []
    total_filters = 0
    for group in groups:
        filters = (group or {}).get("filters") or []
        if len(filters) > MAX_FILTERS_PER_GROUP:
            raise validation(f"Too many filters in a group ({len(filters)}); the maximum is {MAX_FILTERS_PER_GROUP}")
        total_filters += len(filters)
        compiled.append([_predicate(f, definitions) for f in filters])
    if total_filters > MAX_FILTERS:
        raise validation(f"Too many filters ({total_filters}); the maximum is {MAX_FILTERS} across all groups")
    try:
        limit = int(body.get("limit") or 10)
        after = int(body.get("after") or 0)
    except (TypeError, ValueError) as exc:
        raise validation("limit and after must be integers") from exc
    if not 1 <= limit <= MAX_LIMIT:
        raise validation(f"limit must be between 1 and {MAX_LIMIT}, got {limit}")
    if after < 0:
        raise validation("after must not be negative")
    if after + limit > MAX_RESULTS:
        raise validation(
            f"The search results are limited to {MAX_RESULTS} records; paging past "
            f"{MAX_RESULTS} (after={after}, limit={limit}) is not allowed. Narrow the query instead.",
            subCategory="SEARCH_RESULTS_LIMIT",
        )
    sorts = _sorts(body.get("sorts"), definitions)
    query = str(body.get("query") or "").strip().lower()
    query_props = QUERY_PROPERTIES[t]

    names = requested(hs, t, body.get("properties") or None)
    index = hs.store.search_index
    window = None if query else index.window(t, groups, sorts)
    if window is not None:  # one run of an index's keys, in the scan's order: only the page is read
        total, read_page = window
        page = read_page(after, limit)
    else:
        matched = _matches(hs, t, groups, compiled, sorts, query, query_props)
        total, page = len(matched), matched[after : after + limit]
    response: dict[str, Any] = {"total": total, "results": [render(r, names) for r in page]}
    if after + limit < total:
        response["paging"] = {
            "next": {"after": str(after + limit), "link": f"{base_url(request)}{request.path}?after={after + limit}"}
        }
    return Response(200, response)


def _matches(
    hs: HubSpotApi,
    t: str,
    groups: list[Any],
    compiled: list[list[Callable[[dict[str, str]], bool]]],
    sorts: list[tuple[str, bool, Callable[[Any], Any]]],
    query: str,
    query_props: tuple[str, ...],
) -> list[dict[str, Any]]:
    """Every match, in the order search answers with: by id, then stably by the sort property (records
    without a value last). Starts from the index's candidates when every group has an indexed filter,
    from every record otherwise; either way each filter is applied to each record considered."""
    candidates = hs.store.search_index.candidates(t, groups, hs.store.order[t]) if compiled else None
    records = candidates if candidates is not None else hs.store.records(t).values()
    matched: list[dict[str, Any]] = []
    for record in records:
        if record["archived"]:
            continue
        props = record["properties"]
        if compiled and not any(all(p(props) for p in group) for group in compiled):
            continue
        if query and not any(query in (props.get(n) or "").lower() for n in query_props):
            continue
        matched.append(record)
    matched.sort(key=lambda r: int(r["id"]))
    for name, descending, conv in reversed(sorts):
        present = [r for r in matched if conv(r["properties"].get(name)) is not None]
        absent = [r for r in matched if conv(r["properties"].get(name)) is None]
        present.sort(key=lambda r: conv(r["properties"][name]), reverse=descending)
        matched = present + absent
    return matched
