"""The Salesforce half of the sandbox: REST API v59.0 (any vXX.X path is accepted) for Account, Contact,
Lead and User — describe, SOQL query/queryAll with paging, sObject rows, upsert by external id, sObject
Collections, Bulk API 2.0 — with Salesforce's error bodies, API-usage header and daily limit.

Custom fields: the Tooling API's `POST .../tooling/sobjects/CustomField` adds one (`custom_fields.py`).

Auth: `Authorization: Bearer sandbox-salesforce-token`, else 401 INVALID_SESSION_ID.

Sandbox-only control endpoints (no auth, not counted as API calls):

- `GET /__sandbox_sf/rules` → the current rules.
- `POST /__sandbox_sf/rules` with any of
  `{"validation_rule": {"field": "Phone", "pattern": "^\\+", "message": "Phone must start with +",
  "object": "Account"} | null, "duplicate_rule": true | false, "daily_api_limit": 1000 | null,
  "api_usage": 0}`: a validation rule fails writes whose resulting record has a non-null `field` not
  matching `pattern` (re.search) with FIELD_CUSTOM_VALIDATION_EXCEPTION; the duplicate rule refuses
  accounts whose normalised Website matches a live account's with DUPLICATES_DETECTED;
  `daily_api_limit` overrides the constructor option; `api_usage` sets today's count.
  Rules survive restarts and are cleared by `POST /__sandbox/reset`.
- `POST /__sandbox_sf/purge` empties the recycle bin (deleted records leave queryAll).
- `POST /__sandbox/convert-lead` with `{"leadId": "00Q...", "accountId": "001..." (optional)}` converts a
  lead as `convertLead()` does (the REST API has no such call): 200 `{"leadId", "accountId", "contactId",
  "createdAccount"}`, or 400 `{"errors": [...]}` with nothing written. See `convert.py`;
  `Sandbox.convert_lead` is the same in-process.
"""

from __future__ import annotations

import itertools
import re
import threading
from collections import OrderedDict
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from include.sandbox.http import ApiError, Request, Response, SandboxApi
from include.sandbox.salesforce import custom_fields
from include.sandbox.salesforce.bulk import Bulk2
from include.sandbox.salesforce.convert import CONTROL_PATH as CONVERT_PATH
from include.sandbox.salesforce.convert import ConversionError, convert_lead
from include.sandbox.salesforce.index import QueryIndex
from include.sandbox.salesforce.records import RequestError, Store, check_id, error
from include.sandbox.salesforce.schema import API_VERSION, OBJECTS, sobject
from include.sandbox.salesforce.soql import BoundQuery, SoqlError, canonical_datetime, compile_query
from include.sandbox.server import SALESFORCE_TOKEN

PAGE_SIZE = 2000
COLLECTION_LIMIT = 200
MAX_CURSORS = 200
_VERSION_PATH = re.compile(r"^/services/data/v(\d+\.\d+)(/.*)?$")
NOT_FOUND_BODY = [{"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}]
ROLLED_BACK = error(
    "ALL_OR_NONE_OPERATION_ROLLED_BACK",
    "Record rolled back because not all records were valid and the request was using AllOrNone header",
)


class SalesforceApi(SandboxApi):
    name = "salesforce"

    def __init__(self, state_dir: Path, **options: Any):
        super().__init__(state_dir)
        self.default_api_limit = int(options.get("daily_api_limit", 100_000))
        self.index = QueryIndex()
        with self.state.guard:
            if "records" not in self.state.data:
                self.state.data.clear()
                self.state.data.update(Store.empty_data())
                Store(self.state.data, self.default_api_limit).load_seed(None)
                self.state.mark_dirty()
            else:
                self.store.rebuild_lookups()
            self.index.rebuild(self.state.data["records"])
            custom_fields.apply(self.state.data, force=True)
        self.bulk = Bulk2(self)
        self._cursors: OrderedDict[str, tuple[BoundQuery, list[dict]]] = OrderedDict()
        self._cursor_lock = threading.Lock()
        self._cursor_ids = itertools.count(1)

    @property
    def store(self) -> Store:
        return Store(self.state.data, self.default_api_limit, self.index, self.state.touch)

    def api_user_id(self) -> str:
        return self.state.data["api_user"]

    @staticmethod
    def now() -> str:
        return canonical_datetime(datetime.now(UTC))

    # --- SandboxApi ---------------------------------------------------------------------------------
    def reset(self, seed: int | None) -> None:
        with self.state.guard:
            self.state.data.clear()
            self.state.data.update(Store.empty_data())
            self.store.load_seed(seed)
            self.index.rebuild(self.state.data["records"])
            custom_fields.apply(self.state.data, force=True)  # a reset removes the custom fields
            self.state.mark_dirty()
        with self._cursor_lock:
            self._cursors.clear()
        with self.bulk.lock:
            self.bulk.jobs.clear()

    def convert_lead(self, lead_id: str, account_id: str | None = None) -> dict[str, Any]:
        """Convert a lead (see `convert.py`); raises `ConversionError`."""
        with self.state.guard:
            if self.state.edited:
                self.store.rebuild_lookups()
                self.index.rebuild(self.state.data["records"])
                self.state.edited = False
            return convert_lead(self.store, lead_id, account_id)

    def control(self, request: Request, payload: Any) -> Response | None:
        if (request.method, request.path.rstrip("/")) != ("POST", CONVERT_PATH):
            return None
        if not isinstance(payload, dict) or not isinstance(payload.get("leadId"), str):
            return Response(400, {"error": 'expected {"leadId": "00Q...", "accountId": "001..." (optional)}'})
        try:
            return Response(200, self.convert_lead(payload["leadId"], payload.get("accountId")))
        except ConversionError as exc:
            return Response(400, {"errors": exc.errors})

    def fault_body(self, status: int) -> Any:
        bodies = {
            400: ("UNABLE_TO_LOCK_ROW", "unable to obtain exclusive access to this record"),
            401: ("INVALID_SESSION_ID", "Session expired or invalid"),
            403: ("REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded."),
            404: ("NOT_FOUND", "The requested resource does not exist"),
            429: ("REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded."),
            500: (
                "UNKNOWN_EXCEPTION",
                "An unexpected error occurred. Please include this ErrorId if you contact "
                "support: 0000000000-00000 (sandbox)",
            ),
            502: ("SERVER_UNAVAILABLE", "Bad gateway"),
            503: ("SERVER_UNAVAILABLE", "Server temporarily unavailable"),
        }
        code, message = bodies.get(status, ("UNKNOWN_EXCEPTION", f"Injected error {status}"))
        return [{"message": message, "errorCode": code}]

    def handle(self, request: Request) -> Response:
        path = request.path
        if path.startswith("/__sandbox_sf/"):
            return self._control_sf(request)
        if path.rstrip("/") == "/services/data":
            return Response(
                200, [{"label": "Winter '24", "url": f"/services/data/v{API_VERSION}", "version": API_VERSION}]
            )
        if request.bearer_token != SALESFORCE_TOKEN:
            raise ApiError(401, [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}])
        used, limit = self._count_call()
        with self.state.guard:
            if self.state.edited:  # edited from outside the API: the indexes may be stale
                self.store.rebuild_lookups()
                self.index.rebuild(self.state.data["records"])
                self.state.edited = False
            custom_fields.apply(self.state.data)  # another sandbox in this process may have applied its own
        headers = {"Sforce-Limit-Info": f"api-usage={used}/{limit}"}
        if used > limit:
            raise ApiError(
                403, [{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}], headers
            )
        try:
            response = self._route(request)
        except RequestError as exc:
            response = Response(
                exc.status, NOT_FOUND_BODY if exc.code == "NOT_FOUND" and exc.status == 404 else exc.body()
            )
        except ApiError as exc:
            response = exc.response
        response.headers.update(headers)
        return response

    def _count_call(self) -> tuple[int, int]:
        with self.state.guard:
            usage = self.state.data["usage"]
            today = datetime.now(UTC).strftime("%Y-%m-%d")
            if usage["day"] != today:
                usage.update(day=today, count=0)
            usage["count"] += 1  # persisted with the next write's snapshot; reads do not force one
            limit = self.state.data["rules"].get("daily_api_limit") or self.default_api_limit
            return usage["count"], limit

    def _control_sf(self, request: Request) -> Response:
        route = (request.method, request.path.rstrip("/"))
        try:
            payload = request.json() or {}
        except ValueError:
            return Response(400, {"error": "body is not valid JSON"})
        if route == ("GET", "/__sandbox_sf/rules"):
            with self.state.guard:
                return Response(200, {**self.state.data["rules"], "api_usage": self.state.data["usage"]["count"]})
        if route == ("POST", "/__sandbox_sf/rules"):
            with self.state.guard:
                rules = self.state.data["rules"]
                if "validation_rule" in payload:
                    rule = payload["validation_rule"]
                    if rule is not None:
                        try:
                            re.compile(rule["pattern"])
                            field = OBJECTS[rule.get("object", "Account")].fields[rule["field"]]
                        except (KeyError, TypeError, re.error):
                            return Response(400, {"error": "validation_rule needs a valid field and pattern"})
                        rule = {
                            "object": rule.get("object", "Account"),
                            "field": field.name,
                            "pattern": rule["pattern"],
                            "message": rule.get("message") or "Validation failed",
                        }
                    rules["validation_rule"] = rule
                if "duplicate_rule" in payload:
                    rules["duplicate_rule"] = bool(payload["duplicate_rule"])
                if "daily_api_limit" in payload:
                    rules["daily_api_limit"] = payload["daily_api_limit"]
                if "api_usage" in payload:
                    self.state.data["usage"].update(
                        day=datetime.now(UTC).strftime("%Y-%m-%d"), count=int(payload["api_usage"])
                    )
                self.state.touch("rules")
                self.state.touch("usage")
                return Response(200, dict(rules))
        if route == ("POST", "/__sandbox_sf/purge"):
            with self.state.guard:
                purged = self.store.purge()  # journaled record by record
            return Response(200, {"purged": purged})
        return Response(404, {"error": f"no sandbox endpoint {request.method} {request.path}"})

    # --- routing ------------------------------------------------------------------------------------
    def _route(self, request: Request) -> Response:
        match = _VERSION_PATH.match(request.path)
        if not match:
            raise ApiError(404, NOT_FOUND_BODY)
        prefix = f"/services/data/v{match.group(1)}"
        parts = [p for p in (match.group(2) or "").split("/") if p]
        method = request.method
        if not parts:
            return Response(
                200,
                {name: f"{prefix}/{name}" for name in ("sobjects", "query", "queryAll", "composite", "jobs", "limits")},
            )
        head = parts[0]
        if head == "limits" and method == "GET":
            used, limit = (
                self.state.data["usage"]["count"],
                (self.state.data["rules"].get("daily_api_limit") or self.default_api_limit),
            )
            return Response(200, {"DailyApiRequests": {"Max": limit, "Remaining": max(0, limit - used)}})
        if head in ("query", "queryAll") and method == "GET":
            if len(parts) == 1:
                return self._query(request, prefix, include_deleted=head == "queryAll")
            return self._query_more(parts[1], prefix)
        if head == "sobjects":
            return self._sobjects(request, parts[1:], prefix)
        if head == "composite" and len(parts) >= 2 and parts[1] == "sobjects":
            return self._collections(request, parts[2:], prefix)
        if head == "jobs":
            return self.bulk.handle(request, parts[1:], prefix)
        if head == "tooling" and parts[1:] == ["sobjects", "CustomField"] and method == "POST":
            return self._create_custom_field(request)
        raise ApiError(404, NOT_FOUND_BODY)

    def _create_custom_field(self, request: Request) -> Response:
        """Tooling API: add a custom field (`custom_fields.py`)."""
        with self.state.guard:
            obj_name, spec = custom_fields.field_spec(self._json(request))
            field_id = custom_fields.add(self.state.data, obj_name, spec)
            self.state.mark_dirty()
        return Response(201, {"id": field_id, "success": True, "errors": [], "warnings": [], "infos": []})

    def _json(self, request: Request) -> Any:
        try:
            return request.json()
        except ValueError:
            raise RequestError(400, "JSON_PARSER_ERROR", "The request body is not valid JSON") from None

    # --- query --------------------------------------------------------------------------------------
    def _query(self, request: Request, prefix: str, include_deleted: bool) -> Response:
        text = request.arg("q")
        if not text:
            raise RequestError(400, "MALFORMED_QUERY", "A query string has to be specified")
        try:
            bound = compile_query(text)
        except SoqlError as exc:
            raise RequestError(400, exc.code, exc.message) from None
        store = self.store
        with self.state.guard:
            if bound.query.count:
                counted = self.index.count(bound, store.records(bound.sobject.name), include_deleted)
                if counted is not None:
                    return Response(200, {"totalSize": counted, "done": True, "records": []})
            records = self.query_source(bound, include_deleted)
            if bound.query.count and not bound.query.where and include_deleted:
                rows = list(records)
            else:
                rows = bound.select(records, store.resolve)
        if bound.query.count:
            return Response(200, {"totalSize": len(rows), "done": True, "records": []})
        return self._page(bound, rows, 0, None, prefix)

    def query_source(self, bound: BoundQuery, include_deleted: bool) -> Iterable[dict]:
        """The records a query considers, in the org's order: the index's candidates when the WHERE
        clause has an indexed way in, every record otherwise (callers hold the lock)."""
        records = self.state.data["records"][bound.sobject.name]
        found = self.index.candidates(bound, records)
        source: Iterable[dict] = records.values() if found is None else found
        if not include_deleted:
            source = (r for r in source if not r.get("IsDeleted"))
        return source

    def _page(self, bound: BoundQuery, rows: list[dict], start: int, cursor: str | None, prefix: str) -> Response:
        end = min(start + PAGE_SIZE, len(rows))
        resolve = self.store.resolve
        body: dict[str, Any] = {
            "totalSize": len(rows),
            "done": end >= len(rows),
            "records": bound.project_all(rows[start:end], resolve, prefix),
        }
        if end < len(rows):
            if cursor is None:
                cursor = f"01g5g{next(self._cursor_ids):013d}"
                with self._cursor_lock:
                    self._cursors[cursor] = (bound, rows)
                    while len(self._cursors) > MAX_CURSORS:
                        self._cursors.popitem(last=False)
            body["nextRecordsUrl"] = f"{prefix}/query/{cursor}-{end}"
        return Response(200, body)

    def _query_more(self, locator: str, prefix: str) -> Response:
        cursor, _, start = locator.rpartition("-")
        with self._cursor_lock:
            entry = self._cursors.get(cursor)
        if entry is None or not start.isdigit():
            raise RequestError(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        bound, rows = entry
        return self._page(bound, rows, int(start), cursor, prefix)

    # --- sObject rows -------------------------------------------------------------------------------
    def _sobject(self, name: str):
        obj = sobject(name)
        if obj is None:
            raise ApiError(
                404,
                [
                    {
                        "errorCode": "NOT_FOUND",
                        "message": f"The requested resource does not exist (sObject type '{name}')",
                    }
                ],
            )
        return obj

    def _record_body(self, obj, rec: dict, prefix: str, fields: list[str] | None = None) -> dict:
        out: dict[str, Any] = {"attributes": {"type": obj.name, "url": f"{prefix}/sobjects/{obj.name}/{rec['Id']}"}}
        names = fields or list(obj.fields)
        for name in names:
            f = obj.field(name)
            if f is None:
                raise RequestError(
                    400,
                    "INVALID_FIELD",
                    f"No such column '{name}' on entity '{obj.name}'. If you "
                    "are attempting to use a custom field, be sure to append the '__c' after the "
                    "custom field name.",
                )
            out[f.name] = rec.get(f.name)
        return out

    def _sobjects(self, request: Request, parts: list[str], prefix: str) -> Response:
        method = request.method
        if not parts:
            if method == "GET":
                return Response(
                    200, {"encoding": "UTF-8", "maxBatchSize": 200, "sobjects": [o.summary() for o in OBJECTS.values()]}
                )
            raise ApiError(405, [{"errorCode": "METHOD_NOT_ALLOWED", "message": f"HTTP Method '{method}' not allowed"}])
        obj = self._sobject(parts[0])
        if len(parts) == 1:
            if method == "GET":
                return Response(200, {"objectDescribe": obj.summary(), "recentItems": []})
            if method == "POST":
                values = self._values(obj, request, creating=True)
                with self.state.guard:
                    store = self.store
                    rid, errors = store.create(obj, values, store.stamp())
                if errors:
                    raise self._record_error(errors)
                return Response(201, {"id": rid, "success": True, "errors": []})
        elif len(parts) == 2 and parts[1] == "describe" and method == "GET":
            return Response(200, obj.describe())
        elif len(parts) == 2:
            return self._row(request, obj, parts[1], prefix)
        elif len(parts) == 3:
            return self._external(request, obj, parts[1], parts[2], prefix)
        raise ApiError(404, NOT_FOUND_BODY)

    def _values(self, obj, request: Request, creating: bool) -> dict:
        body = self._json(request)
        if not isinstance(body, dict):
            raise RequestError(400, "JSON_PARSER_ERROR", "The request body must be a JSON object")
        return self.store.check_fields(obj, body, creating=creating)

    @staticmethod
    def _record_error(errors: list[dict]) -> RequestError:
        first = errors[0]
        exc = RequestError(
            404 if first["statusCode"] in ("NOT_FOUND", "ENTITY_IS_DELETED") else 400,
            first["statusCode"],
            first["message"],
            first["fields"],
        )
        return exc

    def _row(self, request: Request, obj, raw_id: str, prefix: str) -> Response:
        method = request.method
        rid = check_id(obj, raw_id) if method != "GET" else self._lookup_id(obj, raw_id)
        if method == "GET":
            with self.state.guard:
                rec = self.store.records(obj.name).get(rid)
            if rec is None or rec.get("IsDeleted"):
                raise ApiError(404, NOT_FOUND_BODY)
            fields = [f.strip() for f in request.arg("fields", "").split(",") if f.strip()] or None
            return Response(200, self._record_body(obj, rec, prefix, fields))
        if method == "PATCH":
            values = self._values(obj, request, creating=False)
            with self.state.guard:
                store = self.store
                errors = store.update(obj, rid, values, store.stamp())
            if errors:
                raise self._record_error(errors)
            return Response(204)
        if method == "DELETE":
            with self.state.guard:
                store = self.store
                errors = store.delete(obj, rid, store.stamp())
            if errors:
                raise self._record_error(errors)
            return Response(204)
        raise ApiError(405, [{"errorCode": "METHOD_NOT_ALLOWED", "message": f"HTTP Method '{method}' not allowed"}])

    def _lookup_id(self, obj, raw_id: str) -> str:
        try:
            return check_id(obj, raw_id)
        except RequestError:
            raise ApiError(
                404,
                [
                    {
                        "errorCode": "NOT_FOUND",
                        "message": f"Provided external ID field does not exist or is not accessible: {raw_id}",
                    }
                ],
            ) from None

    def _external(self, request: Request, obj, field_name: str, value: str, prefix: str) -> Response:
        field = obj.field(field_name)
        if field is None or not (field.external_id or field.name == "Id"):
            raise ApiError(
                404,
                [
                    {
                        "errorCode": "NOT_FOUND",
                        "message": f"Provided external ID field does not exist or is not accessible: {field_name}",
                    }
                ],
            )
        method = request.method
        if method == "GET":
            with self.state.guard:
                store = self.store
                rid = store.find_external(obj, field.name, value) if field.name != "Id" else check_id(obj, value)
                rec = store.records(obj.name).get(rid) if rid else None
            if rec is None or rec.get("IsDeleted"):
                raise ApiError(404, NOT_FOUND_BODY)
            fields = [f.strip() for f in request.arg("fields", "").split(",") if f.strip()] or None
            return Response(200, self._record_body(obj, rec, prefix, fields))
        if method == "PATCH":
            values = self._values(obj, request, creating=True)
            with self.state.guard:
                store = self.store
                rid, created, errors = store.upsert(obj, field.name, value, values, store.stamp())
            if errors:
                raise self._record_error(errors)
            return Response(201 if created else 200, {"id": rid, "success": True, "errors": [], "created": created})
        raise ApiError(405, [{"errorCode": "METHOD_NOT_ALLOWED", "message": f"HTTP Method '{method}' not allowed"}])

    # --- sObject Collections ------------------------------------------------------------------------
    def _collections(self, request: Request, parts: list[str], prefix: str) -> Response:
        method = request.method
        if method == "DELETE" and not parts:
            ids = [i for i in (request.arg("ids") or "").split(",") if i]
            all_or_none = (request.arg("allOrNone") or "false").lower() == "true"
            self._check_size(len(ids))
            items = [(None, {"Id": i}) for i in ids]
            return self._run_collection("delete", items, all_or_none)
        body = self._json(request)
        if not isinstance(body, dict) or not isinstance(body.get("records"), list):
            raise RequestError(400, "JSON_PARSER_ERROR", "The request body needs a list of records")
        records = body["records"]
        all_or_none = bool(body.get("allOrNone", False))
        self._check_size(len(records))
        items = []
        for rec in records:
            if not isinstance(rec, dict):
                raise RequestError(400, "JSON_PARSER_ERROR", "Each record must be a JSON object")
            type_name = (rec.get("attributes") or {}).get("type")
            if parts:
                type_name = type_name or parts[0]
            if not type_name:
                raise RequestError(400, "INVALID_TYPE", "Must send a concrete entity type.")
            obj = self._sobject(type_name)
            items.append((obj, self.store.check_fields(obj, rec, creating=method == "POST")))
        if method == "POST" and not parts:
            return self._run_collection("create", items, all_or_none)
        if method == "PATCH" and not parts:
            return self._run_collection("update", items, all_or_none)
        if method == "PATCH" and len(parts) == 2:
            obj = self._sobject(parts[0])
            field = obj.field(parts[1])
            if field is None or not (field.external_id or field.name == "Id"):
                raise RequestError(
                    400,
                    "INVALID_FIELD",
                    f"Field name provided, {parts[1]} is not an External ID or indexed field for " + obj.name,
                )
            if any(o is not obj for o, _ in items):
                raise RequestError(400, "INVALID_TYPE", "All records must be of type " + obj.name)
            return self._run_collection("upsert", items, all_or_none, ext=field.name)
        raise ApiError(405, [{"errorCode": "METHOD_NOT_ALLOWED", "message": f"HTTP Method '{method}' not allowed"}])

    @staticmethod
    def _check_size(n: int) -> None:
        if n > COLLECTION_LIMIT:
            raise RequestError(
                400, "EXCEEDED_ID_LIMIT", "record limit reached. cannot submit more than 200 records into this call"
            )

    def _run_collection(
        self, op: str, items: list[tuple[Any, dict]], all_or_none: bool, ext: str | None = None
    ) -> Response:
        results: list[dict] = []
        dupes: set[str] = set()
        if op == "upsert":
            seen: dict[str, int] = {}
            for _, values in items:
                key = str(values.get(ext) or "").lower()
                seen[key] = seen.get(key, 0) + 1
            dupes = {k for k, n in seen.items() if n > 1 and k}
        with self.state.guard:
            store = self.store
            stamp = store.stamp()
            if all_or_none:
                store.begin()
            for obj, values in items:
                result: dict[str, Any]
                if op == "create":
                    rid, errors = store.create(obj, values, stamp)
                    result = {"id": rid, "success": not errors, "errors": errors}
                elif op == "upsert":
                    value = values.get(ext)
                    if str(value or "").lower() in dupes:
                        rid, created = None, False
                        errors = [error("DUPLICATE_EXTERNAL_ID", f"Duplicate external id specified: {value}", [ext])]
                    else:
                        rest = {k: v for k, v in values.items() if k != ext}
                        rid, created, errors = store.upsert(obj, ext, value, rest, stamp)
                    result = {"id": rid, "success": not errors, "errors": errors, "created": created and not errors}
                else:
                    raw = values.get("Id")
                    try:
                        rid = check_id(obj, raw) if obj is not None else self._any_id(raw)
                        obj = obj or OBJECTS_BY_PREFIX[rid[:3]]
                    except RequestError as exc:
                        rid, errors = None, [error(exc.code, exc.message, exc.fields)]
                    else:
                        rest = {k: v for k, v in values.items() if k != "Id"}
                        errors = (
                            store.update(obj, rid, rest, stamp) if op == "update" else store.delete(obj, rid, stamp)
                        )
                    result = {"id": rid if rid else raw, "success": not errors, "errors": errors}
                results.append(result)
            failed = any(not r["success"] for r in results)
            if all_or_none and failed:
                store.rollback()
                for r in results:
                    if r["success"]:
                        r.update(success=False, errors=[dict(ROLLED_BACK)])
                        if op in ("create", "upsert"):
                            r["id"] = None
                    if "created" in r:
                        r["created"] = False
            else:
                store.commit()
        return Response(200, results)

    @staticmethod
    def _any_id(raw: Any) -> str:
        from include.sandbox.salesforce.records import full_id

        rid = full_id(raw)
        if rid is None or rid[:3] not in OBJECTS_BY_PREFIX:
            raise RequestError(400, "MALFORMED_ID", f"malformed id {raw}", ["Id"])
        return rid


OBJECTS_BY_PREFIX = {o.key_prefix: o for o in OBJECTS.values()}
