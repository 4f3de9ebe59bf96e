"""Objects v3 (companies, contacts): list, read, create, update, archive, the batch endpoints, and the
portal's contact -> company auto-association."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from include.sandbox.http import ApiError, Request, Response
from include.sandbox.hubspot.common import (
    SINGULAR,
    base_url,
    batch_envelope,
    batch_error,
    bool_arg,
    error_body,
    inputs_of,
    int_arg,
    json_body,
    multi_arg,
    not_found,
    now_iso,
    object_type,
    validation,
)
from include.sandbox.hubspot.properties import clean_values, invalid_details, invalid_message
from include.sandbox.hubspot.store import ASSOCIATION_TYPES, MODIFIED, Store

if TYPE_CHECKING:
    from include.sandbox.hubspot.api import HubSpotApi

DEFAULT_PROPERTIES = {
    "companies": ("name", "domain", "createdate", "hs_lastmodifieddate", "hs_object_id"),
    "contacts": ("email", "firstname", "lastname", "createdate", "lastmodifieddate", "hs_object_id"),
}
ALWAYS = {
    "companies": ("createdate", "hs_lastmodifieddate", "hs_object_id"),
    "contacts": ("createdate", "lastmodifieddate", "hs_object_id"),
}
FREE_MAIL = frozenset(
    {
        "gmail.com",
        "googlemail.com",
        "yahoo.com",
        "yahoo.co.uk",
        "yahoo.fr",
        "ymail.com",
        "hotmail.com",
        "hotmail.co.uk",
        "hotmail.fr",
        "outlook.com",
        "live.com",
        "msn.com",
        "aol.com",
        "icloud.com",
        "me.com",
        "mac.com",
        "gmx.com",
        "gmx.de",
        "gmx.net",
        "web.de",
        "mail.com",
        "protonmail.com",
        "proton.me",
        "zoho.com",
        "yandex.com",
        "yandex.ru",
        "mail.ru",
        "qq.com",
        "163.com",
        "comcast.net",
        "free.fr",
        "orange.fr",
        "laposte.net",
    }
)
_V3_TYPE_NAMES = {
    279: "contact_to_company_unlabeled",
    1: "contact_to_company",
    280: "company_to_contact_unlabeled",
    2: "company_to_contact",
}


class InputError(Exception):
    """One input of a write failed; single endpoints answer with it, batches list it in a 207."""

    def __init__(self, status: int, category: str, message: str, details: list[dict[str, Any]] | None = None):
        super().__init__(message)
        self.status, self.category, self.message, self.details = status, category, message, details or []

    def api_error(self) -> ApiError:
        extra = {"errors": self.details} if self.details else {}
        return ApiError(self.status, error_body(self.category, self.message, **extra))


# --- rendering --------------------------------------------------------------------------------------------


def requested(hs: HubSpotApi, t: str, names: list[str] | None) -> tuple[str, ...]:
    if names is None:
        return DEFAULT_PROPERTIES[t]
    defs = hs.store.data["properties"][t]
    ordered = dict.fromkeys(n for n in names if n in defs)
    ordered.update(dict.fromkeys(ALWAYS[t]))
    return tuple(ordered)


def render(
    record: dict[str, Any],
    names: tuple[str, ...],
    history: tuple[str, ...] = (),
    associations: dict[str, Any] | None = None,
) -> dict[str, Any]:
    props = record["properties"]
    out: dict[str, Any] = {
        "id": record["id"],
        "properties": {n: props.get(n) for n in names},
        "createdAt": record["createdAt"],
        "updatedAt": record["updatedAt"],
        "archived": record["archived"],
    }
    if record["archived"]:
        out["archivedAt"] = record.get("archivedAt")
    if history:
        kept = record.get("history") or {}
        with_history = {}
        for name in history:
            entries = kept.get(name) or ([(props[name], record["createdAt"])] if props.get(name) else [])
            with_history[name] = [
                {"value": v or "", "timestamp": ts, "sourceType": "API", "sourceId": "sandbox"}
                for v, ts in reversed(entries)
            ]
        out["propertiesWithHistory"] = with_history
    if associations is not None:
        out["associations"] = associations
    return out


def _v3_associations(hs: HubSpotApi, t: str, record_id: str, to_types: list[str]) -> dict[str, Any]:
    result = {}
    for to in to_types:
        to_type = object_type(to)
        if to_type == t:
            continue
        links = hs.store.associations(t, record_id, to_type)
        rows = [
            {"id": other, "type": _V3_TYPE_NAMES.get(type_id, str(type_id))}
            for other in sorted(links, key=int)
            for type_id in sorted(links[other])
        ]
        if rows:
            result[to_type] = {"results": rows}
    return result


# --- writes -----------------------------------------------------------------------------------------------


def _clean(hs: HubSpotApi, t: str, properties: Any) -> dict[str, str]:
    clean, invalid = clean_values(hs.store.data["properties"][t], properties, hs.store.data["owners"])
    if invalid:
        raise InputError(400, "VALIDATION_ERROR", invalid_message(invalid), invalid_details(invalid))
    return clean


def _check_conflicts(hs: HubSpotApi, t: str, clean: dict[str, str], record_id: str | None) -> None:
    for name, value, existing in hs.store.conflicts(t, clean, record_id):
        if name == "email":
            message = f"Contact already exists. Existing ID: {existing}"
        else:
            message = f'A {SINGULAR[t]} with {name} "{value}" already exists. Existing ID: {existing}'
        raise InputError(
            409,
            "CONFLICT",
            message,
            [
                {
                    "message": message,
                    "code": "UNIQUE_VALUE_CONFLICT",
                    "context": {"propertyName": [name], "id": [existing]},
                }
            ],
        )


def _association_inputs(hs: HubSpotApi, t: str, raw: Any) -> list[tuple[str, str, list[int]]]:
    """Associations given with a create: [(to type, to id, type ids)], validated before anything is written."""
    if not raw:
        return []
    if not isinstance(raw, list):
        raise InputError(400, "VALIDATION_ERROR", "associations must be an array")
    found = []
    for item in raw:
        try:
            to_id = str(item["to"]["id"])
            type_ids = [int(spec["associationTypeId"]) for spec in item["types"]]
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(400, "VALIDATION_ERROR", "each association needs to.id and types") from exc
        to_types = {to for (frm, to), ids in ASSOCIATION_TYPES.items() if frm == t and set(type_ids) <= set(ids)}
        if not type_ids or not to_types:
            raise InputError(400, "VALIDATION_ERROR", f"invalid association type ids {type_ids} for {t}")
        to_type = to_types.pop()
        if hs.store.get(to_type, to_id) is None:
            raise InputError(
                400, "VALIDATION_ERROR", f"{SINGULAR[to_type].title()} {to_id} does not exist; cannot associate"
            )
        found.append((to_type, to_id, type_ids))
    return found


def create_record(hs: HubSpotApi, t: str, properties: Any, associations: Any = None) -> dict[str, Any]:
    clean = _clean(hs, t, properties)
    _check_conflicts(hs, t, clean, None)
    links = _association_inputs(hs, t, associations)
    record = hs.store.create(t, clean, hs.api_source)
    for to_type, to_id, type_ids in links:
        hs.store.associate(t, record["id"], to_type, to_id, type_ids)
    if t == "contacts" and hs.auto_associate:
        auto_associate(hs, record)
    return record


def update_record(hs: HubSpotApi, t: str, record: dict[str, Any], properties: Any) -> dict[str, Any]:
    clean = _clean(hs, t, properties)
    _check_conflicts(hs, t, clean, record["id"])
    return hs.store.update(t, record, clean)


def company_name_from_domain(domain: str) -> str:
    label = domain.split(".")[0]
    return label[:1].upper() + label[1:]


def auto_associate(hs: HubSpotApi, contact: dict[str, Any]) -> None:
    """Like a portal with "automatically create and associate companies with contacts" on."""
    email = contact["properties"].get("email") or ""
    if "@" not in email:
        return
    domain = email.rsplit("@", 1)[1].strip().lower().rstrip(".")
    if not domain or domain in FREE_MAIL:
        return
    if hs.store.associations("contacts", contact["id"], "companies"):
        return
    matches = hs.store.companies_with_domain(domain)
    if matches:
        company_id = matches[0]
    else:
        company = hs.store.create("companies", {"name": company_name_from_domain(domain), "domain": domain}, "CONTACTS")
        company_id = company["id"]
    hs.store.associate("contacts", contact["id"], "companies", company_id, [1, 279])


# --- endpoints --------------------------------------------------------------------------------------------


def list_page(hs: HubSpotApi, request: Request, type_name: str) -> Response:
    t = object_type(type_name)
    history = tuple(multi_arg(request, "propertiesWithHistory") or ())
    limit = int_arg(request, "limit", 10, maximum=50 if history else 100)
    after_text = request.arg("after")
    try:
        after = int(after_text) if after_text else None
    except ValueError as exc:
        raise validation(f"Invalid after cursor: {after_text!r}") from exc
    archived = bool_arg(request, "archived")
    names = requested(hs, t, multi_arg(request, "properties"))
    to_types = multi_arg(request, "associations") or []
    records = hs.store.records(t)
    results: list[dict[str, Any]] = []
    next_after = None
    for record_id in hs.store.page_ids(t, after, archived):
        record = records[str(record_id)]
        if record["archived"] != archived:
            continue
        if len(results) == limit:
            next_after = str(record_id)
            break
        assoc = _v3_associations(hs, t, record["id"], to_types) if to_types else None
        results.append(render(record, names, history, assoc))
    body: dict[str, Any] = {"results": results}
    if next_after:
        body["paging"] = {
            "next": {"after": next_after, "link": f"{base_url(request)}{request.path}?after={next_after}"}
        }
    return Response(200, body)


def get_one(hs: HubSpotApi, request: Request, type_name: str, record_id: str) -> Response:
    t = object_type(type_name)
    id_property = _id_property(hs, t, request.arg("idProperty"))
    record = hs.store.find(t, record_id, id_property, archived=bool_arg(request, "archived"))
    if record is None:
        raise not_found(f"Object not found.  objectId are usually numeric. ({SINGULAR[t]} {record_id})")
    names = requested(hs, t, multi_arg(request, "properties"))
    history = tuple(multi_arg(request, "propertiesWithHistory") or ())
    to_types = multi_arg(request, "associations") or []
    assoc = _v3_associations(hs, t, record["id"], to_types) if to_types else None
    return Response(200, render(record, names, history, assoc))


def create_one(hs: HubSpotApi, request: Request, type_name: str) -> Response:
    t = object_type(type_name)
    body = json_body(request)
    if not isinstance(body, dict):
        raise validation("Invalid input JSON: expected an object with properties")
    try:
        record = create_record(hs, t, body.get("properties") or {}, body.get("associations"))
    except InputError as exc:
        raise exc.api_error() from None
    return Response(201, render(record, requested(hs, t, list(record["properties"]))))


def update_one(hs: HubSpotApi, request: Request, type_name: str, record_id: str) -> Response:
    t = object_type(type_name)
    id_property = _id_property(hs, t, request.arg("idProperty"))
    body = json_body(request)
    record = hs.store.find(t, record_id, id_property)
    if record is None:
        raise not_found(f"Object not found.  objectId are usually numeric. ({SINGULAR[t]} {record_id})")
    try:
        update_record(hs, t, record, (body or {}).get("properties") or {})
    except InputError as exc:
        raise exc.api_error() from None
    return Response(200, render(record, requested(hs, t, list(record["properties"]))))


def archive_one(hs: HubSpotApi, request: Request, type_name: str, record_id: str) -> Response:
    t = object_type(type_name)
    record = hs.store.get(t, record_id)
    if record is not None:
        hs.store.archive(t, record)
    return Response(204, None)


def _id_property(hs: HubSpotApi, t: str, name: str | None) -> str | None:
    if not name or name == "hs_object_id":
        return None
    definition = hs.store.data["properties"][t].get(name)
    if definition is None or definition.get("archived"):
        raise validation(f'Property "{name}" does not exist')
    if not definition.get("hasUniqueValue"):
        raise validation(f"{name} is not a unique property; idProperty must be a property with unique values")
    return name


def _ids_of(inputs: list[Any]) -> list[str]:
    ids = []
    for item in inputs:
        if not isinstance(item, dict) or item.get("id") in (None, ""):
            raise validation("Invalid input JSON: every input needs an id")
        ids.append(str(item["id"]))
    return ids


def _refuse_duplicates(ids: list[str]) -> None:
    seen, duplicates = set(), []
    for i in ids:
        if i in seen:
            duplicates.append(i)
        seen.add(i)
    if duplicates:
        raise validation(
            f"Duplicate IDs found in batch input: {sorted(set(duplicates))}. IDs must be unique",
            context={"ids": sorted(set(duplicates))},
        )


def _batch_response(results: list[Any], errors: list[dict[str, Any]], started: str, ok: int) -> Response:
    return Response(207 if errors else ok, batch_envelope(results, errors, started))


def _input_failure(exc: InputError, context: dict[str, list[str]]) -> dict[str, Any]:
    return batch_error(exc.category, exc.message, context, exc.details)


def batch_read(hs: HubSpotApi, request: Request, type_name: str) -> Response:
    t, started = object_type(type_name), now_iso()
    body = json_body(request)
    inputs = inputs_of(body)
    ids = _ids_of(inputs)
    id_property = _id_property(hs, t, body.get("idProperty"))
    names = requested(hs, t, body.get("properties") if body.get("properties") else None)
    history = tuple(body.get("propertiesWithHistory") or ())
    archived = bool_arg(request, "archived")
    results, missing, seen = [], [], set()
    for value in ids:
        record = hs.store.find(t, value, id_property, archived=archived)
        if record is None:
            missing.append(value)
        elif record["id"] not in seen:
            seen.add(record["id"])
            results.append(render(record, names, history))
    errors = []
    if missing:
        errors.append(
            batch_error(
                "OBJECT_NOT_FOUND",
                f"Could not get some {SINGULAR[t].upper()} objects, they may be deleted or not exist. "
                "Check that ids are valid.",
                {"ids": missing},
            )
        )
    return _batch_response(results, errors, started, 200)


def batch_create(hs: HubSpotApi, request: Request, type_name: str) -> Response:
    t, started = object_type(type_name), now_iso()
    inputs = inputs_of(json_body(request))
    results, errors = [], []
    for index, item in enumerate(inputs):
        try:
            if not isinstance(item, dict):
                raise InputError(400, "VALIDATION_ERROR", "each input must be an object with properties")
            record = create_record(hs, t, item.get("properties") or {}, item.get("associations"))
        except InputError as exc:
            errors.append(_input_failure(exc, {"inputIndexes": [str(index)]}))
            continue
        results.append(render(record, requested(hs, t, list(record["properties"]))))
    return _batch_response(results, errors, started, 201)


def batch_update(hs: HubSpotApi, request: Request, type_name: str) -> Response:
    t, started = object_type(type_name), now_iso()
    inputs = inputs_of(json_body(request))
    ids = _ids_of(inputs)
    _refuse_duplicates(ids)
    results, errors, missing = [], [], []
    for item, value in zip(inputs, ids, strict=True):
        id_property = _id_property(hs, t, item.get("idProperty"))
        record = hs.store.find(t, value, id_property)
        if record is None:
            missing.append(value)
            continue
        try:
            update_record(hs, t, record, item.get("properties") or {})
        except InputError as exc:
            errors.append(_input_failure(exc, {"ids": [value]}))
            continue
        results.append(render(record, requested(hs, t, list(item.get("properties") or {}))))
    if missing:
        errors.append(
            batch_error(
                "OBJECT_NOT_FOUND",
                f"Could not get some {SINGULAR[t].upper()} objects, they may be deleted or not "
                "exist. Check that ids are valid.",
                {"ids": missing},
            )
        )
    return _batch_response(results, errors, started, 200)


def batch_upsert(hs: HubSpotApi, request: Request, type_name: str) -> Response:
    t, started = object_type(type_name), now_iso()
    inputs = inputs_of(json_body(request))
    ids = _ids_of(inputs)
    properties_of: list[str] = []
    for item in inputs:
        name = item.get("idProperty")
        if not name:
            raise validation("idProperty is required for upsert")
        properties_of.append(_id_property(hs, t, name) or "hs_object_id")
    _refuse_duplicates([f"{p}={Store.unique_key(p, v)}" for p, v in zip(properties_of, ids, strict=True)])
    results, errors = [], []
    for item, value, id_property in zip(inputs, ids, properties_of, strict=True):
        properties = dict(item.get("properties") or {})
        try:
            record = hs.store.find(t, value, None if id_property == "hs_object_id" else id_property)
            if record is not None:
                update_record(hs, t, record, properties)
                new = False
            elif id_property == "hs_object_id":
                raise InputError(404, "OBJECT_NOT_FOUND", f"{SINGULAR[t]} {value} does not exist")
            else:
                properties[id_property] = value
                record = create_record(hs, t, properties)
                new = True
        except InputError as exc:
            errors.append(_input_failure(exc, {"ids": [value]}))
            continue
        rendered = render(record, requested(hs, t, list(properties) + [id_property]))
        rendered["new"] = new
        results.append(rendered)
    return _batch_response(results, errors, started, 200)


def batch_archive(hs: HubSpotApi, request: Request, type_name: str) -> Response:
    t = object_type(type_name)
    ids = _ids_of(inputs_of(json_body(request)))
    for value in ids:
        record = hs.store.get(t, value)
        if record is not None:
            hs.store.archive(t, record)
    return Response(204, None)


__all__ = ["MODIFIED", "InputError", "auto_associate", "render", "requested"]
