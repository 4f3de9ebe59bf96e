"""Custom fields added to the org at run time, as an admin does in Setup or a deployment through the Tooling API:
`POST /services/data/vXX.X/tooling/sobjects/CustomField` with

    {"FullName": "Account.Region__c",
     "Metadata": {"label": "Region", "type": "Picklist",
                  "valueSet": {"restricted": true,
                               "valueSetDefinition": {"value": [{"fullName": "North", "label": "North"}, ...]}}}}

answers 201 `{"id": "00N...", "success": true, "errors": [], "warnings": [], "infos": []}`. Metadata types:
Text (`length` 1-255), TextArea, LongTextArea (`length` up to 131,072), Phone, Email, Url, Picklist, Number,
Currency, Percent (`precision`, `scale`), Checkbox, Date, DateTime; a `formula` makes it a calculated
(read-only) field, which the sandbox never evaluates. The field then shows in the object's describe (`custom`:
true), and SOQL, writes and Bulk API 2.0 accept it like any other. Custom fields persist with the state and
`POST /__sandbox/reset` removes them.

The sObject schema (`schema.OBJECTS`) is shared by the process; `apply(data)` makes it hold exactly the custom
fields of one API's state (called on start, after a reset or a create, and whenever another sandbox in the same
process applied its own).
"""

from __future__ import annotations

import re
import threading
from typing import Any

from include.sandbox.salesforce.records import RequestError
from include.sandbox.salesforce.schema import OBJECTS, Field

PATH = "/tooling/sobjects/CustomField"
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)*__c$")
# Metadata API type -> describe type
TYPES = {
    "Text": "string",
    "TextArea": "textarea",
    "LongTextArea": "textarea",
    "Phone": "phone",
    "Email": "email",
    "Url": "url",
    "Picklist": "picklist",
    "Number": "double",
    "Currency": "currency",
    "Percent": "percent",
    "Checkbox": "boolean",
    "Date": "date",
    "DateTime": "datetime",
}
_LENGTHS = {"TextArea": 255, "Phone": 40, "Email": 80, "Url": 255}
_MAX_LENGTH = {"Text": 255, "LongTextArea": 131_072}

_lock = threading.Lock()
_applied: dict[str, Any] = {"owner": None, "names": {}}  # which state's fields the schema holds


def _bad(message: str, code: str = "FIELD_INTEGRITY_EXCEPTION") -> RequestError:
    return RequestError(400, code, message)


def _length(kind: str, meta: dict[str, Any]) -> int:
    if kind in _MAX_LENGTH:
        length = meta.get("length")
        if isinstance(length, bool) or not isinstance(length, int) or not 1 <= length <= _MAX_LENGTH[kind]:
            raise _bad(f"Length: a {kind} field needs a length between 1 and {_MAX_LENGTH[kind]}")
        return length
    return _LENGTHS.get(kind, 0)


def _picklist(meta: dict[str, Any]) -> tuple[tuple[str, ...], bool]:
    value_set = meta.get("valueSet") or {}
    values = (value_set.get("valueSetDefinition") or {}).get("value") or []
    names = tuple(str(v.get("fullName") or "") for v in values if isinstance(v, dict))
    if not names or not all(names) or len(set(names)) != len(names):
        raise _bad("Picklist: valueSet.valueSetDefinition.value needs distinct values, each with a fullName")
    return names, bool(value_set.get("restricted", False))


def field_spec(body: Any) -> tuple[str, dict[str, Any]]:
    """(object name, the field's spec as stored) for a Tooling API CustomField create body; RequestError if bad."""
    if not isinstance(body, dict) or not isinstance(body.get("Metadata"), dict):
        raise RequestError(400, "JSON_PARSER_ERROR", "The request body needs FullName and Metadata")
    obj_name, _, name = str(body.get("FullName") or "").partition(".")
    obj = OBJECTS.get(obj_name)
    if obj is None or not _NAME.match(name):
        raise _bad(
            f"FullName: expected Object.Field__c on Account, Contact, Lead or User, got {body.get('FullName')!r}"
        )
    if obj.field(name) is not None:
        raise RequestError(400, "DUPLICATE_DEVELOPER_NAME", f"There is already a field named {name} on {obj.name}")
    meta = body["Metadata"]
    kind = meta.get("type")
    if kind not in TYPES:
        raise _bad(f"Metadata.type: expected one of {', '.join(TYPES)}, got {kind!r}", "INVALID_TYPE")
    picklist, restricted = _picklist(meta) if kind == "Picklist" else ((), False)
    scale = meta.get("scale") if kind in ("Number", "Currency", "Percent") else None
    if scale is not None and (isinstance(scale, bool) or not isinstance(scale, int) or not 0 <= scale <= 17):
        raise _bad("Metadata.scale: a whole number from 0 to 17")
    calculated = bool(meta.get("formula"))
    spec = {
        "name": name,
        "type": TYPES[kind],
        "length": 255 if kind == "Picklist" else _length(kind, meta),
        "picklist": picklist,
        "restricted": restricted,
        "scale": scale,
        "calculated": calculated,
        "createable": not calculated,
        "updateable": not calculated,
        "nillable": kind != "Checkbox",
        "custom": True,
    }
    return obj.name, spec


def add(data: dict, obj_name: str, spec: dict[str, Any]) -> str:
    """Store the field in the API state `data` and apply it; returns its Tooling id (`00N...`)."""
    fields = data.setdefault("custom_fields", {}).setdefault(obj_name, [])
    fields.append(spec)
    apply(data, force=True)
    return f"00N{len(data['custom_fields'][obj_name]):012d}AAA"


def apply(data: dict, *, force: bool = False) -> None:
    """Make the shared schema hold exactly the custom fields stored in `data` (cheap when it already does)."""
    with _lock:
        if _applied["owner"] is data and not force:
            return
        for obj_name, names in _applied["names"].items():
            obj = OBJECTS[obj_name]
            for name in names:
                obj.fields.pop(name, None)
                obj.by_lower.pop(name.lower(), None)
        applied: dict[str, list[str]] = {}
        for obj_name, specs in (data.get("custom_fields") or {}).items():
            obj = OBJECTS[obj_name]
            for spec in specs:
                f = Field(**{**spec, "picklist": tuple(spec["picklist"])})
                obj.fields[f.name] = f
                obj.by_lower[f.name.lower()] = f
                applied.setdefault(obj_name, []).append(f.name)
        _applied.update(owner=data, names=applied)
