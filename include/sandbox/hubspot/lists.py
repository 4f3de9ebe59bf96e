"""Lists v3: manual (and snapshot) lists of contacts or companies, their memberships, search, delete and
restore. Dynamic lists can be created but have no members (the sandbox evaluates no filters)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from include.sandbox.http import Request, Response
from include.sandbox.hubspot.common import (
    OBJECT_TYPE_IDS,
    base_url,
    bool_arg,
    fail,
    int_arg,
    json_body,
    multi_arg,
    not_found,
    now_iso,
    object_type,
    validation,
)

if TYPE_CHECKING:
    from include.sandbox.hubspot.api import HubSpotApi

PROCESSING_TYPES = ("MANUAL", "SNAPSHOT", "DYNAMIC")
_TYPE_BY_ID = {v: k for k, v in OBJECT_TYPE_IDS.items()}


def list_record(
    list_id: str,
    name: str,
    object_type_id: str,
    processing_type: str,
    stamp: str,
    filter_branch: Any = None,
    members: dict | None = None,
) -> dict[str, Any]:
    """A list as the store keeps it (created and updated at `stamp`)."""
    return {
        "listId": list_id,
        "name": name,
        "objectTypeId": object_type_id,
        "processingType": processing_type,
        "processingStatus": "COMPLETE",
        "listVersion": 1,
        "createdAt": stamp,
        "updatedAt": stamp,
        "createdById": "1",
        "updatedById": "1",
        "filtersUpdatedAt": stamp,
        "deletedAt": None,
        "filterBranch": filter_branch,
        "members": {} if members is None else members,
    }


def new_list(
    hs: HubSpotApi, name: str, object_type_id: str, processing_type: str, filter_branch: Any = None
) -> dict[str, Any]:
    list_id = str(hs.store.data["next_list_id"])
    hs.store.data["next_list_id"] += 1
    record = list_record(list_id, name, object_type_id, processing_type, now_iso(), filter_branch)
    hs.store.data["lists"][list_id] = record
    hs.state.touch("lists", list_id)
    hs.state.touch("next_list_id")
    return record


def render_list(record: dict[str, Any], *, include_filters: bool = False, search: bool = False) -> dict[str, Any]:
    out = {k: v for k, v in record.items() if k not in ("members", "filterBranch") and v is not None}
    if search:
        out["additionalProperties"] = {"hs_list_size": str(len(record["members"]))}
    else:
        out["size"] = len(record["members"])
        if include_filters and record.get("filterBranch"):
            out["filterBranch"] = record["filterBranch"]
    return out


def _get(hs: HubSpotApi, list_id: str, *, deleted_ok: bool = False) -> dict[str, Any]:
    record = hs.store.data["lists"].get(str(list_id))
    if record is None or (record["deletedAt"] and not deleted_ok):
        raise not_found(f"List {list_id} does not exist.")
    return record


def _live_name_taken(hs: HubSpotApi, name: str, object_type_id: str, except_id: str | None = None) -> bool:
    return any(
        r["name"].lower() == name.lower()
        and r["objectTypeId"] == object_type_id
        and not r["deletedAt"]
        and r["listId"] != except_id
        for r in hs.store.data["lists"].values()
    )


def create(hs: HubSpotApi, request: Request) -> Response:
    body = json_body(request)
    if not isinstance(body, dict):
        raise validation("Invalid input JSON: expected a list definition")
    name, type_id, processing = body.get("name"), str(body.get("objectTypeId") or ""), body.get("processingType")
    if not name:
        raise validation("name is required")
    if type_id not in _TYPE_BY_ID:
        raise validation(f"Unsupported objectTypeId {type_id!r}; the sandbox has 0-1 (contacts) and 0-2 (companies)")
    if processing not in PROCESSING_TYPES:
        raise validation(f"processingType must be one of {list(PROCESSING_TYPES)}")
    if processing == "DYNAMIC" and not body.get("filterBranch"):
        raise validation("DYNAMIC lists need a filterBranch")
    if _live_name_taken(hs, str(name), type_id):
        raise validation(f"A list named {name!r} already exists.", subCategory="ILS.DUPLICATE_LIST_NAMES")
    record = new_list(hs, str(name), type_id, processing, body.get("filterBranch"))
    return Response(200, {"list": render_list(record, include_filters=True)})


def get_one(hs: HubSpotApi, request: Request, list_id: str) -> Response:
    record = _get(hs, list_id)
    return Response(200, {"list": render_list(record, include_filters=bool_arg(request, "includeFilters"))})


def get_many(hs: HubSpotApi, request: Request) -> Response:
    ids = multi_arg(request, "listIds") or []
    lists = [
        render_list(r, include_filters=bool_arg(request, "includeFilters"))
        for i in ids
        if (r := hs.store.data["lists"].get(i)) is not None and not r["deletedAt"]
    ]
    return Response(200, {"lists": lists})


def get_by_name(hs: HubSpotApi, request: Request, type_id: str, name: str) -> Response:
    for record in hs.store.data["lists"].values():
        if record["objectTypeId"] == type_id and record["name"].lower() == name.lower() and not record["deletedAt"]:
            return Response(200, {"list": render_list(record, include_filters=bool_arg(request, "includeFilters"))})
    raise not_found(f"List {name!r} does not exist.")


def search(hs: HubSpotApi, request: Request) -> Response:
    body = json_body(request, required=False) or {}
    query = str(body.get("query") or "").lower()
    offset = int(body.get("offset") or 0)
    count = int(body.get("count") or 20)
    if not 1 <= count <= 500:
        raise validation("count must be between 1 and 500")
    ids = {str(i) for i in body.get("listIds") or []}
    types = set(body.get("processingTypes") or [])
    matched = [
        r
        for r in sorted(hs.store.data["lists"].values(), key=lambda r: int(r["listId"]))
        if not r["deletedAt"]
        and query in r["name"].lower()
        and (not ids or r["listId"] in ids)
        and (not types or r["processingType"] in types)
    ]
    page = matched[offset : offset + count]
    return Response(
        200,
        {
            "lists": [render_list(r, search=True) for r in page],
            "total": len(matched),
            "offset": offset + len(page),
            "hasMore": offset + count < len(matched),
        },
    )


def delete(hs: HubSpotApi, request: Request, list_id: str) -> Response:
    record = _get(hs, list_id)
    record["deletedAt"] = now_iso()
    hs.state.touch("lists", record["listId"])
    return Response(204, None)


def restore(hs: HubSpotApi, request: Request, list_id: str) -> Response:
    record = _get(hs, list_id, deleted_ok=True)
    if record["deletedAt"] and _live_name_taken(hs, record["name"], record["objectTypeId"], record["listId"]):
        raise fail(409, "CONFLICT", f"Another list is named {record['name']!r}; rename it first")
    record["deletedAt"] = None
    hs.state.touch("lists", record["listId"])
    return Response(204, None)


def rename(hs: HubSpotApi, request: Request, list_id: str) -> Response:
    record = _get(hs, list_id)
    name = request.arg("listName")
    if not name:
        raise validation("listName is required")
    if _live_name_taken(hs, name, record["objectTypeId"], record["listId"]):
        raise validation(f"A list named {name!r} already exists.")
    record.update(name=name, updatedAt=now_iso(), listVersion=record["listVersion"] + 1)
    hs.state.touch("lists", record["listId"])
    return Response(200, {"updatedList": render_list(record)})


def _manual(record: dict[str, Any]) -> None:
    if record["processingType"] == "DYNAMIC":
        raise validation(
            f"List {record['listId']} is DYNAMIC; its memberships cannot be changed by hand",
            subCategory="ILS.INVALID_LIST_PROCESSING_TYPE",
        )


def _record_ids(body: Any) -> list[str]:
    if not isinstance(body, list):
        raise validation("Invalid input JSON: expected an array of record ids")
    return [str(i) for i in body]


def _change(hs: HubSpotApi, record: dict[str, Any], add: list[str], remove: list[str]) -> dict[str, Any]:
    _manual(record)
    t = _TYPE_BY_ID[record["objectTypeId"]]
    members = record["members"]
    added, removed, missing = [], [], []
    stamp = now_iso()
    for record_id in dict.fromkeys(add):
        if hs.store.get(t, record_id) is None:
            missing.append(record_id)
        elif record_id not in members:
            members[record_id] = stamp
            added.append(record_id)
    for record_id in dict.fromkeys(remove):
        if members.pop(record_id, None) is not None:
            removed.append(record_id)
        elif hs.store.get(t, record_id) is None:
            missing.append(record_id)
    if added or removed:
        record["updatedAt"] = stamp
        hs.list_cache.pop(record["listId"], None)
        hs.state.touch("lists", record["listId"])
    return {"recordsIdsAdded": added, "recordIdsRemoved": removed, "recordIdsMissing": missing}


def add(hs: HubSpotApi, request: Request, list_id: str) -> Response:
    return Response(200, _change(hs, _get(hs, list_id), _record_ids(json_body(request)), []))


def remove(hs: HubSpotApi, request: Request, list_id: str) -> Response:
    return Response(200, _change(hs, _get(hs, list_id), [], _record_ids(json_body(request))))


def add_and_remove(hs: HubSpotApi, request: Request, list_id: str) -> Response:
    body = json_body(request)
    if not isinstance(body, dict):
        raise validation("expected {recordIdsToAdd, recordIdsToRemove}")
    return Response(
        200,
        _change(
            hs,
            _get(hs, list_id),
            _record_ids(body.get("recordIdsToAdd") or []),
            _record_ids(body.get("recordIdsToRemove") or []),
        ),
    )


def remove_all(hs: HubSpotApi, request: Request, list_id: str) -> Response:
    record = _get(hs, list_id)
    _manual(record)
    record["members"].clear()
    hs.list_cache.pop(record["listId"], None)
    hs.state.touch("lists", record["listId"])
    return Response(204, None)


def _sorted_members(hs: HubSpotApi, record: dict[str, Any], by_join: bool) -> list[str]:
    key = (record["listId"], by_join)
    cached = hs.list_cache.get(record["listId"], {}).get(by_join)
    if cached is None:
        members = record["members"]
        cached = sorted(members, key=(lambda i: (members[i], int(i))) if by_join else int)
        hs.list_cache.setdefault(key[0], {})[by_join] = cached
    return cached


def memberships(hs: HubSpotApi, request: Request, list_id: str, by_join: bool = False) -> Response:
    record = _get(hs, list_id)
    limit = int_arg(request, "limit", 100, maximum=250)
    ordered = _sorted_members(hs, record, by_join)
    after, before = request.arg("after"), request.arg("before")
    try:
        start = int(after) if after else 0
        if before:
            start = max(0, int(before) - limit)
    except ValueError as exc:
        raise validation("after/before must be offsets returned by a previous page") from exc
    page = ordered[start : start + limit]
    members = record["members"]
    body: dict[str, Any] = {
        "results": [{"recordId": i, "membershipTimestamp": members[i]} for i in page],
        "total": len(ordered),
    }
    paging: dict[str, Any] = {}
    if start + limit < len(ordered):
        paging["next"] = {
            "after": str(start + limit),
            "link": f"{base_url(request)}{request.path}?after={start + limit}",
        }
    if start > 0:
        paging["prev"] = {"before": str(start), "link": f"{base_url(request)}{request.path}?before={start}"}
    if paging:
        body["paging"] = paging
    return Response(200, body)


def record_memberships(hs: HubSpotApi, request: Request, type_id: str, record_id: str) -> Response:
    object_type(type_id)
    live = [r for r in hs.store.data["lists"].values() if not r["deletedAt"]]
    results = _memberships(live, type_id, record_id)
    return Response(200, {"results": results, "total": len(results)})


def _memberships(lists: list[dict], type_id: str, record_id: str) -> list[dict]:
    """The memberships of one record in `lists`, as the lists API gives them."""
    return [
        {
            "listId": r["listId"],
            "listVersion": r["listVersion"],
            "firstAddedTimestamp": r["members"][record_id],
            "lastAddedTimestamp": r["members"][record_id],
        }
        for r in lists
        if r["objectTypeId"] == type_id and record_id in r["members"]
    ]


# Records per call of the batch membership read. HubSpot's reference for
# `POST /crm/v3/lists/records/memberships/batch/read` states no maximum; 100 is the CRM's usual batch size.
MEMBERSHIP_BATCH_LIMIT = 100


def batch_record_memberships(hs: HubSpotApi, request: Request) -> Response:
    """The lists each record is in (`{inputs: [{objectTypeId, recordId}]}`), as the v3 lists API's batch
    membership read answers: one result per input, with `recordListMemberships`."""
    body = json_body(request)
    inputs = body.get("inputs") if isinstance(body, dict) else None
    if not isinstance(inputs, list) or not inputs:
        raise validation("inputs: a non-empty list of {objectTypeId, recordId} is required")
    if len(inputs) > MEMBERSHIP_BATCH_LIMIT:
        raise validation(f"inputs: at most {MEMBERSHIP_BATCH_LIMIT} records a call")
    started = now_iso()
    live = [r for r in hs.store.data["lists"].values() if not r["deletedAt"]]
    results = []
    for item in inputs:
        type_id, record_id = str(item.get("objectTypeId")), str(item.get("recordId"))
        object_type(type_id)
        memberships = _memberships(live, type_id, record_id)
        results.append({"objectTypeId": type_id, "recordId": record_id, "recordListMemberships": memberships})
    body = {"status": "COMPLETE", "results": results, "requestedAt": started, "startedAt": started}
    return Response(200, {**body, "completedAt": now_iso()})
