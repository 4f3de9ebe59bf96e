"""Associations v4 between contacts and companies (symmetric; HubSpot-defined types: contact->company
279, primary 1; company->contact 280, primary 2)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from include.sandbox.http import Request, Response
from include.sandbox.hubspot.common import (
    OBJECT_TYPE_IDS,
    SINGULAR,
    base_url,
    batch_envelope,
    batch_error,
    inputs_of,
    int_arg,
    json_body,
    now_iso,
    object_type,
    validation,
)
from include.sandbox.hubspot.store import ASSOCIATION_TYPES, TYPE_LABELS

if TYPE_CHECKING:
    from include.sandbox.hubspot.api import HubSpotApi

# Batch read takes up to 1,000 ids (v3 and v4, since 2025-02-10; larger bodies are refused); the other
# batch endpoints keep the CRM's 100 (docs/sandbox-fidelity.md).
BATCH_READ_LIMIT = 1000


def _pair(from_name: str, to_name: str) -> tuple[str, str]:
    pair = (object_type(from_name), object_type(to_name))
    if pair not in ASSOCIATION_TYPES:
        raise validation(f"Associations from {pair[0]} to {pair[1]} are not supported by the sandbox")
    return pair


def _types(type_ids: set[int] | frozenset[int]) -> list[dict[str, Any]]:
    """The `associationTypes` of one association: built once per distinct set (the store shares its
    frozensets), not once per association read; answers are encoded, never changed, so sharing is safe."""
    if isinstance(type_ids, frozenset):
        cached = _TYPES.get(type_ids)
        if cached is None:
            cached = _TYPES[type_ids] = _build_types(type_ids)
        return cached
    return _build_types(type_ids)


_TYPES: dict[frozenset[int], list[dict[str, Any]]] = {}


def _build_types(type_ids: set[int] | frozenset[int]) -> list[dict[str, Any]]:
    return [
        {"category": "HUBSPOT_DEFINED", "typeId": type_id, "label": TYPE_LABELS.get(type_id)}
        for type_id in sorted(type_ids, key=lambda i: (TYPE_LABELS.get(i) is None, i))
    ]


def _labels_pair(f: str, from_id: str, t: str, to_id: str, type_ids: set[int]) -> dict[str, Any]:
    return {
        "fromObjectTypeId": OBJECT_TYPE_IDS[f],
        "fromObjectId": str(from_id),
        "toObjectTypeId": OBJECT_TYPE_IDS[t],
        "toObjectId": str(to_id),
        "labels": [TYPE_LABELS[i] for i in sorted(type_ids) if TYPE_LABELS.get(i)],
    }


def _spec_ids(f: str, t: str, specs: Any) -> list[int]:
    allowed = ASSOCIATION_TYPES[(f, t)]
    if not isinstance(specs, list) or not specs:
        raise validation("types must be a non-empty array of {associationCategory, associationTypeId}")
    ids = []
    for spec in specs:
        try:
            type_id = int(spec["associationTypeId"])
        except (KeyError, TypeError, ValueError) as exc:
            raise validation("each type needs an associationTypeId") from exc
        if type_id not in allowed:
            raise validation(
                f"{type_id} is not a valid association type id from {f} to {t}; use one of {list(allowed)}"
            )
        ids.append(type_id)
    return ids


def _missing(hs: HubSpotApi, f: str, from_id: str, t: str, to_id: str) -> str | None:
    if hs.store.get(f, from_id) is None:
        return f"{SINGULAR[f].title()} {from_id} does not exist"
    if hs.store.get(t, to_id) is None:
        return f"{SINGULAR[t].title()} {to_id} does not exist"
    return None


def batch_read(hs: HubSpotApi, request: Request, from_name: str, to_name: str) -> Response:
    f, t = _pair(from_name, to_name)
    started = now_iso()
    inputs = inputs_of(json_body(request), maximum=BATCH_READ_LIMIT)
    results, errors = [], []
    records, assoc = hs.store.records(f), hs.store.data["assoc"][f][t]
    for item in inputs:
        if not isinstance(item, dict) or item.get("id") in (None, ""):
            raise validation("each input needs an id")
        from_id = str(item["id"])
        record = records.get(from_id)  # `store.get` and `store.associations`, inlined: 1,000 ids a call
        links = assoc.get(from_id) if record is not None and not record["archived"] else None
        if not links:
            errors.append(
                batch_error(
                    "OBJECT_NOT_FOUND",
                    f"No {SINGULAR[t]} is associated with {SINGULAR[f]} {from_id}.",
                    {"fromObjectId": [from_id]},
                    sub_category="crm.associations.NO_ASSOCIATIONS_FOUND",
                )
            )
            continue
        results.append(
            {
                "from": {"id": from_id},
                "to": [
                    {"toObjectId": other, "associationTypes": _types(links[other])} for other in sorted(links, key=int)
                ],
            }
        )
    return Response(207 if errors else 200, batch_envelope(results, errors, started))


def batch_create(hs: HubSpotApi, request: Request, from_name: str, to_name: str) -> Response:
    f, t = _pair(from_name, to_name)
    started = now_iso()
    results, errors = [], []
    for item in inputs_of(json_body(request)):
        try:
            from_id, to_id = str(item["from"]["id"]), str(item["to"]["id"])
        except (KeyError, TypeError) as exc:
            raise validation("each input needs from.id, to.id and types") from exc
        type_ids = _spec_ids(f, t, item.get("types"))
        problem = _missing(hs, f, from_id, t, to_id)
        if problem:
            errors.append(batch_error("VALIDATION_ERROR", problem, {"fromObjectId": [from_id], "toObjectId": [to_id]}))
            continue
        hs.store.associate(f, from_id, t, to_id, type_ids)
        results.append(_labels_pair(f, from_id, t, to_id, set(type_ids)))
    return Response(207 if errors else 201, batch_envelope(results, errors, started))


def batch_archive(hs: HubSpotApi, request: Request, from_name: str, to_name: str) -> Response:
    f, t = _pair(from_name, to_name)
    for item in inputs_of(json_body(request)):
        try:
            from_id = str(item["from"]["id"])
            to_ids = [str(to["id"]) for to in item["to"]]
        except (KeyError, TypeError) as exc:
            raise validation("each input needs from.id and to[].id") from exc
        for to_id in to_ids:
            hs.store.dissociate(f, from_id, t, to_id)
    return Response(204, None)


def _default(hs: HubSpotApi, f: str, from_id: str, t: str, to_id: str) -> dict[str, Any]:
    type_id = ASSOCIATION_TYPES[(f, t)][0]
    hs.store.associate(f, from_id, t, to_id, [type_id])
    return {
        "from": {"id": from_id},
        "to": {"id": to_id},
        "associationSpec": {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id},
    }


def batch_default(hs: HubSpotApi, request: Request, from_name: str, to_name: str) -> Response:
    f, t = _pair(from_name, to_name)
    started = now_iso()
    results, errors = [], []
    for item in inputs_of(json_body(request)):
        try:
            from_id, to_id = str(item["from"]["id"]), str(item["to"]["id"])
        except (KeyError, TypeError) as exc:
            raise validation("each input needs from.id and to.id") from exc
        problem = _missing(hs, f, from_id, t, to_id)
        if problem:
            errors.append(batch_error("VALIDATION_ERROR", problem, {"fromObjectId": [from_id], "toObjectId": [to_id]}))
            continue
        results.append(_default(hs, f, from_id, t, to_id))
    body = batch_envelope(results, errors, started)
    return Response(207 if errors else 200, body)


def put_default(hs: HubSpotApi, request: Request, from_name: str, from_id: str, to_name: str, to_id: str) -> Response:
    f, t = _pair(from_name, to_name)
    problem = _missing(hs, f, from_id, t, to_id)
    if problem:
        raise validation(problem)
    return Response(200, batch_envelope([_default(hs, f, from_id, t, to_id)], [], now_iso()))


def put_labelled(hs: HubSpotApi, request: Request, from_name: str, from_id: str, to_name: str, to_id: str) -> Response:
    f, t = _pair(from_name, to_name)
    type_ids = _spec_ids(f, t, json_body(request))
    problem = _missing(hs, f, from_id, t, to_id)
    if problem:
        raise validation(problem)
    hs.store.associate(f, from_id, t, to_id, type_ids)
    return Response(201, _labels_pair(f, from_id, t, to_id, hs.store.associations(f, from_id, t)[to_id]))


def delete_one(hs: HubSpotApi, request: Request, from_name: str, from_id: str, to_name: str, to_id: str) -> Response:
    f, t = _pair(from_name, to_name)
    hs.store.dissociate(f, from_id, t, to_id)
    return Response(204, None)


def object_page(hs: HubSpotApi, request: Request, from_name: str, from_id: str, to_name: str) -> Response:
    f, t = _pair(from_name, to_name)
    limit = int_arg(request, "limit", 500, maximum=500)
    after = request.arg("after")
    links = hs.store.associations(f, from_id, t) if hs.store.get(f, from_id) else {}
    ordered = sorted(links, key=int)
    if after:
        try:
            start = int(after)
        except ValueError as exc:
            raise validation(f"Invalid after cursor {after!r}") from exc
        ordered = [i for i in ordered if int(i) >= start]
    page = ordered[:limit]
    body: dict[str, Any] = {"results": [{"toObjectId": i, "associationTypes": _types(links[i])} for i in page]}
    if len(ordered) > limit:
        body["paging"] = {
            "next": {"after": ordered[limit], "link": f"{base_url(request)}{request.path}?after={ordered[limit]}"}
        }
    return Response(200, body)
