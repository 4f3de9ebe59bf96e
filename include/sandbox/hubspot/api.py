"""The HubSpot half of the sandbox: CRM objects v3 (companies, contacts) with batch and search,
properties v3, associations v4, lists v3 and owners v3, behind HubSpot's bearer-token auth and rate
limits, shaped so `hubspot-api-client` 12 works against it unchanged.

Modules: `store` (state and indexes), `properties` (definitions, value validation), `objects` (objects
v3 and batches, contact -> company auto-association), `search`, `associations`, `lists`, `owners`,
`limits` (rate limiter), `seeding` (the seed universe).

Sandbox-only control endpoint (no auth; not an API request for the rate limiter):
    GET  /__sandbox_hs/config  -> the current settings
    POST /__sandbox_hs/config  {"ten_second_limit": 190|null, "search_per_second": 5|null,
                                "daily_limit": 1000000|null, "auto_associate": true|false}
Keys are optional; null or 0 disables a limit. Any POST clears the usage counted so far (rolling
windows and daily use). The settings live in memory: a restart goes back to the constructor's options.

Constructor: `HubSpotApi(state_dir, auto_associate=True, ten_second_limit=190, daily_limit=1_000_000,
search_per_second=5, api_source="INTEGRATION")`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from include.sandbox.http import ApiError, Request, Response, SandboxApi
from include.sandbox.hubspot import associations, lists, objects, owners, properties, search
from include.sandbox.hubspot.common import error_body, json_body, multi_arg, object_type, validation
from include.sandbox.hubspot.limits import RateLimiter, rate_limit_body
from include.sandbox.hubspot.seeding import build_state
from include.sandbox.hubspot.store import Store
from include.sandbox.server import HUBSPOT_TOKEN

CONTROL_PATH = "/__sandbox_hs/config"
_ID = r"(?P<{}>[^/]+)"


def _route(method: str, pattern: str) -> tuple[str, re.Pattern[str]]:
    names = re.findall(r"\{(\w+)\}", pattern)
    regex = pattern
    for name in names:
        regex = regex.replace("{" + name + "}", _ID.format(name))
    return method, re.compile(f"^{regex}$")


class HubSpotApi(SandboxApi):
    name = "hubspot"

    def __init__(self, state_dir: Path, auto_associate: bool = True, **options: Any):
        super().__init__(state_dir)
        self.auto_associate = auto_associate
        self.api_source = options.pop("api_source", "INTEGRATION")
        self.limiter = RateLimiter(
            ten_second_limit=options.pop("ten_second_limit", 190),
            daily_limit=options.pop("daily_limit", 1_000_000),
            search_per_second=options.pop("search_per_second", 5),
        )
        if options:
            raise TypeError(f"unknown HubSpotApi options: {sorted(options)}")
        self.list_cache: dict[str, dict[bool, list[str]]] = {}
        with self.state.guard:
            new = not self.state.data
            self.store = Store(self.state.data, self.state.touch)
            if new:
                self.state.mark_dirty()
        self.routes = self._routes()

    # --- routing ---------------------------------------------------------------------------------------
    def _routes(self) -> list[tuple[str, re.Pattern[str], Callable[..., Response]]]:
        table: list[tuple[str, str, Callable[..., Response]]] = [
            ("GET", "/crm/v3/objects/{t}", objects.list_page),
            ("POST", "/crm/v3/objects/{t}", objects.create_one),
            ("POST", "/crm/v3/objects/{t}/search", search.search),
            ("POST", "/crm/v3/objects/{t}/batch/read", objects.batch_read),
            ("POST", "/crm/v3/objects/{t}/batch/create", objects.batch_create),
            ("POST", "/crm/v3/objects/{t}/batch/update", objects.batch_update),
            ("POST", "/crm/v3/objects/{t}/batch/upsert", objects.batch_upsert),
            ("POST", "/crm/v3/objects/{t}/batch/archive", objects.batch_archive),
            ("GET", "/crm/v3/objects/{t}/{id}", objects.get_one),
            ("PATCH", "/crm/v3/objects/{t}/{id}", objects.update_one),
            ("DELETE", "/crm/v3/objects/{t}/{id}", objects.archive_one),
            ("GET", "/crm/v3/properties/{t}", self._properties_list),
            ("POST", "/crm/v3/properties/{t}", self._property_create),
            ("GET", "/crm/v3/properties/{t}/{name}", self._property_get),
            ("PATCH", "/crm/v3/properties/{t}/{name}", self._property_update),
            ("DELETE", "/crm/v3/properties/{t}/{name}", self._property_archive),
            ("POST", "/crm/v4/associations/{f}/{t}/batch/read", associations.batch_read),
            ("POST", "/crm/v4/associations/{f}/{t}/batch/create", associations.batch_create),
            ("POST", "/crm/v4/associations/{f}/{t}/batch/archive", associations.batch_archive),
            ("POST", "/crm/v4/associations/{f}/{t}/batch/associate/default", associations.batch_default),
            ("GET", "/crm/v4/objects/{f}/{fid}/associations/{t}", associations.object_page),
            ("PUT", "/crm/v4/objects/{f}/{fid}/associations/default/{t}/{tid}", associations.put_default),
            ("PUT", "/crm/v4/objects/{f}/{fid}/associations/{t}/{tid}", associations.put_labelled),
            ("DELETE", "/crm/v4/objects/{f}/{fid}/associations/{t}/{tid}", associations.delete_one),
            ("POST", "/crm/v3/lists", lists.create),
            ("GET", "/crm/v3/lists", lists.get_many),
            ("POST", "/crm/v3/lists/search", lists.search),
            ("GET", "/crm/v3/lists/object-type-id/{type_id}/name/{name}", lists.get_by_name),
            ("GET", "/crm/v3/lists/records/{type_id}/{record_id}/memberships", lists.record_memberships),
            ("POST", "/crm/v3/lists/records/memberships/batch/read", lists.batch_record_memberships),
            ("GET", "/crm/v3/lists/{list_id}", lists.get_one),
            ("DELETE", "/crm/v3/lists/{list_id}", lists.delete),
            ("PUT", "/crm/v3/lists/{list_id}/restore", lists.restore),
            ("PUT", "/crm/v3/lists/{list_id}/update-list-name", lists.rename),
            ("PUT", "/crm/v3/lists/{list_id}/memberships/add", lists.add),
            ("PUT", "/crm/v3/lists/{list_id}/memberships/remove", lists.remove),
            ("PUT", "/crm/v3/lists/{list_id}/memberships/add-and-remove", lists.add_and_remove),
            ("GET", "/crm/v3/lists/{list_id}/memberships", lists.memberships),
            ("GET", "/crm/v3/lists/{list_id}/memberships/join-order", self._join_order),
            ("DELETE", "/crm/v3/lists/{list_id}/memberships", lists.remove_all),
            ("GET", "/crm/v3/owners", owners.page),
            ("GET", "/crm/v3/owners/{owner_id}", owners.get_one),
        ]
        return [(*_route(method, pattern), handler) for method, pattern, handler in table]

    def _match(self, request: Request) -> tuple[Callable[..., Response], dict[str, str]]:
        path = request.path.rstrip("/") or "/"
        path_known = False
        for method, regex, handler in self.routes:
            found = regex.match(path)
            if found:
                path_known = True
                if method == request.method:
                    return handler, {k: unquote(v) for k, v in found.groupdict().items()}
        if path_known:
            raise ApiError(405, error_body("VALIDATION_ERROR", f"{request.method} is not allowed on {request.path}"))
        raise ApiError(404, error_body("OBJECT_NOT_FOUND", f"No API endpoint {request.method} {request.path}"))

    # --- serving ---------------------------------------------------------------------------------------
    def handle(self, request: Request) -> Response:
        if request.path.rstrip("/") == CONTROL_PATH:
            return self._config(request)
        token = request.bearer_token
        if token != HUBSPOT_TOKEN:
            raise ApiError(401, self._auth_body())
        is_search = (
            request.method == "POST"
            and request.path.rstrip("/").endswith("/search")
            and request.path.startswith("/crm/v3/objects/")
        )
        headers, refused = self.limiter.check(token, is_search)
        if refused is not None:
            policy, retry_after = refused
            raise ApiError(429, rate_limit_body(policy), {**headers, "Retry-After": str(int(retry_after))})
        handler, params = self._match(request)
        try:
            with self.state.guard:  # writes tell the state what they changed (Store, lists); see PersistentState
                if self.state.edited:  # edited from outside the API: the indexes may be stale
                    self.store.rebuild()
                    self.list_cache.clear()
                    self.state.edited = False
                response = handler(self, request, *params.values())
        except ApiError as exc:
            exc.response.headers.update(headers)
            raise
        response.headers.update(headers)
        return response

    @staticmethod
    def _auth_body() -> dict[str, Any]:
        return error_body(
            "INVALID_AUTHENTICATION",
            "Authentication credentials not found. This API supports OAuth 2.0 authentication and "
            "you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview",
        )

    def fault_body(self, status: int) -> Any:
        if status == 429:
            return rate_limit_body("TEN_SECONDLY_ROLLING")
        if status == 401:
            return self._auth_body()
        if status == 404:
            return error_body("OBJECT_NOT_FOUND", "resource not found")
        if status == 400:
            return error_body("VALIDATION_ERROR", "Invalid request (injected by the sandbox)")
        if status == 409:
            return error_body("CONFLICT", "Conflict (injected by the sandbox)")
        if status >= 500:
            return error_body(
                "INTERNAL_ERROR" if status == 500 else "SERVICE_UNAVAILABLE",
                f"HubSpot answered {status} (injected by the sandbox)",
            )
        return error_body("ERROR", f"HubSpot answered {status} (injected by the sandbox)")

    def reset(self, seed: int | None) -> None:
        fresh = build_state(seed) if seed else None
        with self.state.guard:
            self.state.data.clear()
            if fresh is not None:
                self.state.data.update(fresh)
            self.store = Store(self.state.data, self.state.touch)
            self.list_cache.clear()
            self.state.mark_dirty()
        self.limiter.reset()

    def _config(self, request: Request) -> Response:
        if request.method == "POST":
            try:
                body = request.json() or {}
            except ValueError:
                return Response(400, {"error": "body is not valid JSON"})
            if not isinstance(body, dict):
                return Response(400, {"error": "expected a JSON object"})
            unknown = set(body) - {"ten_second_limit", "search_per_second", "daily_limit", "auto_associate"}
            if unknown:
                return Response(400, {"error": f"unknown settings {sorted(unknown)}"})
            limits = {k: v for k, v in body.items() if k != "auto_associate"}
            for key, value in limits.items():
                if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
                    return Response(400, {"error": f"{key} must be a non-negative integer or null"})
            if "auto_associate" in body:
                self.auto_associate = bool(body["auto_associate"])
            self.limiter.configure(**limits)
        elif request.method != "GET":
            return Response(405, {"error": "GET or POST"})
        return Response(200, {**self.limiter.settings(), "auto_associate": self.auto_associate})

    # --- small handlers that need the object type normalised -----------------------------------------
    def _defs(self, type_name: str) -> tuple[str, dict[str, Any]]:
        t = object_type(type_name)
        return t, self.store.data["properties"][t]

    @staticmethod
    def _properties_list(hs: HubSpotApi, request: Request, type_name: str) -> Response:
        _, defs = hs._defs(type_name)
        archived = (request.arg("archived") or "").lower() == "true"
        return Response(200, properties.list_properties(defs, archived, multi_arg(request, "properties")))

    @staticmethod
    def _property_get(hs: HubSpotApi, request: Request, type_name: str, name: str) -> Response:
        t, defs = hs._defs(type_name)
        return Response(200, properties.render_definition(properties.get_property(defs, name, t)))

    @staticmethod
    def _property_create(hs: HubSpotApi, request: Request, type_name: str) -> Response:
        t, defs = hs._defs(type_name)
        definition = properties.create_property(defs, json_body(request))
        if definition.get("hasUniqueValue"):
            hs.store.reindex_unique(t, definition["name"])
        hs.store.search_index.rebuild()
        hs.state.mark_dirty()
        return Response(201, properties.render_definition(definition))

    @staticmethod
    def _property_update(hs: HubSpotApi, request: Request, type_name: str, name: str) -> Response:
        t, defs = hs._defs(type_name)
        definition = properties.update_property(defs, name, t, json_body(request))
        hs.store.search_index.rebuild()
        hs.state.mark_dirty()
        return Response(200, properties.render_definition(definition))

    @staticmethod
    def _property_archive(hs: HubSpotApi, request: Request, type_name: str, name: str) -> Response:
        t, defs = hs._defs(type_name)
        properties.archive_property(defs, name, t)
        hs.store.unique[t].pop(name, None)
        hs.store.search_index.rebuild()
        hs.state.mark_dirty()
        return Response(204, None)

    @staticmethod
    def _join_order(hs: HubSpotApi, request: Request, list_id: str) -> Response:
        return lists.memberships(hs, request, list_id, by_join=True)


__all__ = ["CONTROL_PATH", "HubSpotApi", "validation"]
