"""HubSpot I/O: companies, contacts, associations, list memberships, owners and properties through the
official `hubspot-api-client` (built by `plugins.hubspot_hook.HubSpotHook`).

* Every call takes a slot from the client-side rate limiter (190 calls / 10 s overall, 5 searches / s by
  default), is counted per operation (`connector.calls`), has a timeout, and is retried by the urllib3
  policy of `http_policy` (429/5xx/dropped connections on every method, POST included; `Retry-After`).
  A call that still fails raises `HubSpotApiError` (a `ConnectorError`) naming the endpoint and status.
* Responses are read as JSON (`_preload_content=False`): the frames need plain values, and it spares
  the generated models' per-object deserialisation on large extracts.
* Incremental extracts use search on `hs_lastmodifieddate`, and **split the time window** whenever a
  query would match more than search's 10,000-result ceiling, so nothing is silently truncated; archived
  companies come from the list endpoint (`archived=true`) because search never returns them.
* Writes are `batch/upsert` on `salesforceaccountid` (a unique-value property) and `batch/update` by id,
  100 inputs a call. A 207 is mapped error by error back to its input record; a batch refused as a
  whole (400) is split until the bad record is isolated, so the good ones still land.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pandas as pd

from include.company_sync.connectors.http_policy import (
    DEFAULT_POLICY,
    ApiRetry,
    CallCounter,
    ConnectorError,
    HubSpotRateLimits,
    RetryPolicy,
    SetupError,
    hubspot_retry,
    shared_hubspot_limits,
    unwrap_retries_exhausted,
)
from include.company_sync.connectors.results import (
    BatchRefused,
    Category,
    RecordResult,
    hubspot_category,
    results_frame,
    write_bisecting,
)

if TYPE_CHECKING:
    from hubspot import HubSpot

log = logging.getLogger(__name__)

ID_PROPERTY = "salesforceaccountid"
COMPANY_BASE_PROPERTIES = [
    "createdate",
    "hs_lastmodifieddate",
    "domain",
    ID_PROPERTY,
    "hs_object_source",
    "lifecyclestage",
]
COMPANY_DATETIME_COLUMNS = ("createdate", "hs_lastmodifieddate")
CONTACT_PROPERTIES = ["email", "lifecyclestage", "salesforcecontactid", "salesforceleadid", "lastmodifieddate"]
SEARCH_CAP = 10_000
BATCH_LIMIT = 100


# Where an extracted company's matching keys are, for the state store's mirror (mirror column -> column).
COMPANY_MIRROR_COLUMNS = {
    "record_id": "id",
    "external_id": ID_PROPERTY,
    "created_at": "createdate",
    "modified_at": "hs_lastmodifieddate",
}
# The company properties whose normalised domain is its matching key (the first that gives one wins).
COMPANY_DOMAIN_PROPERTIES = ("domain", "website")


def extract_company_properties(settings: Any) -> list[str]:
    """The company properties an extract asks for under `settings` (besides `COMPANY_BASE_PROPERTIES`, which
    the reads add): the website the matching mirror needs, then every mapped property."""
    return list(dict.fromkeys(["website", *(m.hubspot for m in settings.field_mappings)]))


class HubSpotApiError(ConnectorError):
    """A HubSpot call failed for good; `category` and `body` come from HubSpot's error body when present."""

    def __init__(
        self, message: str, *, operation: str, status: int | None, category: str | None = None, body: Any = None
    ):
        super().__init__(message, api="HubSpot", operation=operation, status=status)
        self.category = category
        self.body = body


def _ms(value: datetime) -> str:
    """Epoch milliseconds (what HubSpot search compares datetime properties with)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return str(int(math.floor(value.timestamp() * 1000)))


def _iso(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _parse_dt(value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    text = str(value)
    if text.isdigit():
        return datetime.fromtimestamp(int(text) / 1000, tz=UTC)
    stamp = pd.Timestamp(text)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return stamp.to_pydatetime()


def _dedupe(values: Iterable[Any]) -> list[str]:
    seen: dict[str, None] = {}
    for value in values:
        if value is None or (isinstance(value, float) and pd.isna(value)):
            continue
        text = str(value).strip()
        if text:
            seen.setdefault(text, None)
    return list(seen)


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _property_value(value: Any) -> str:
    """HubSpot property values are strings; None/NaN clears the property."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if pd.isna(value):
            return ""
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, datetime):
        return _iso(value)
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        return _property_value(value.item())
    try:
        if pd.isna(value):
            return ""
    except (TypeError, ValueError):
        pass
    return str(value)


class HubSpotConnector:
    """HubSpot reads and writes for the sync. Build with `from_connection`, `from_hook` or `from_client`."""

    def __init__(
        self,
        client: HubSpot,
        *,
        limits: HubSpotRateLimits | None = None,
        counter: CallCounter | None = None,
        policy: RetryPolicy = DEFAULT_POLICY,
        search_cap: int = SEARCH_CAP,
        search_page_size: int = 200,
        batch_size: int = BATCH_LIMIT,
    ):
        if not 1 <= batch_size <= BATCH_LIMIT:
            raise ValueError(f"batch_size must be between 1 and {BATCH_LIMIT}")
        self.client = client
        self.limits = limits or shared_hubspot_limits(
            (str(client.config.get("host")), str(client.config.get("access_token")))
        )
        self.calls = counter or CallCounter()
        retry = client.config.get("retry")
        if isinstance(retry, ApiRetry):  # a retried call takes a limiter slot like any other call
            retry.before_retry = self.limits.general.acquire
        self.timeout = policy.timeout
        self.search_cap = search_cap
        self.search_page_size = min(search_page_size, 200)
        self.batch_size = batch_size
        self._apis: dict[str, Any] = {}

    def _api(self, path: str) -> Any:
        """`client.crm.<path>`, built once: the client makes a new ApiClient (and connection pool) on every
        attribute access, which would cost a new TCP connection per call."""
        api = self._apis.get(path)
        if api is None:
            api = self.client.crm
            for part in path.split("."):
                api = getattr(api, part)
            self._apis[path] = api
        return api

    @classmethod
    def from_hook(cls, hook: Any, **kwargs: Any) -> HubSpotConnector:
        return cls(hook.get_conn(), **kwargs)

    @classmethod
    def from_connection(
        cls, conn_id: str = "hubspot_default", *, policy: RetryPolicy = DEFAULT_POLICY, **kwargs: Any
    ) -> HubSpotConnector:
        try:
            from plugins.hubspot_hook import HubSpotHook
        except ImportError:  # Airflow puts the plugins folder itself on sys.path
            from hubspot_hook import HubSpotHook

        return cls.from_hook(HubSpotHook(conn_id, retry=hubspot_retry(policy)), **kwargs)

    @classmethod
    def from_client(cls, client: HubSpot, **kwargs: Any) -> HubSpotConnector:
        return cls(client, **kwargs)

    # --- the one way every call is made ---------------------------------------------------------------
    def _call(self, operation: str, fn: Callable[..., Any], *args: Any, search: bool = False, **kwargs: Any) -> Any:
        """Rate-limit, count, call with a timeout, and decode the JSON body (None when empty)."""
        from urllib3.exceptions import HTTPError as Urllib3Error

        self.limits.acquire(search=search)
        self.calls.add(operation)
        try:
            response = fn(*args, _preload_content=False, _request_timeout=self.timeout, **kwargs)
        except Urllib3Error as exc:
            exhausted = unwrap_retries_exhausted(exc)
            detail = exhausted.summary if exhausted is not None else repr(exc)
            raise HubSpotApiError(
                f"HubSpot {operation}: {detail}", operation=operation, status=getattr(exhausted, "last_status", None)
            ) from exc
        except Exception as exc:
            # each hubspot.* package has its own ApiException (and subclasses): match them by origin
            if type(exc).__module__.startswith("hubspot.") and hasattr(exc, "status"):
                raise self._api_error(operation, exc) from exc
            raise
        data = response.data
        return json.loads(data) if data else None

    @staticmethod
    def _api_error(operation: str, exc: Any) -> HubSpotApiError:
        status = getattr(exc, "status", None)
        raw = getattr(exc, "body", None)
        body: Any = None
        if raw:
            try:
                body = json.loads(raw)
            except (TypeError, ValueError):
                body = raw.decode(errors="replace") if isinstance(raw, bytes) else raw
        category = body.get("category") if isinstance(body, dict) else None
        message = body.get("message") if isinstance(body, dict) else (body or getattr(exc, "reason", ""))
        return HubSpotApiError(
            f"HubSpot {operation} failed with HTTP {status}" + (f" {category}" if category else "") + f": {message}",
            operation=operation,
            status=status,
            category=category,
            body=body,
        )

    # --- setup ----------------------------------------------------------------------------------------
    def check_setup(self) -> None:
        """Make sure the company property `salesforceaccountid` exists with unique values (create it if not)."""
        from hubspot.crm.properties import PropertyCreate

        core = self._api("properties.core_api")
        try:
            prop = self._call("properties.get", core.get_by_name, "companies", ID_PROPERTY)
        except HubSpotApiError as exc:
            if exc.status != 404:
                raise
            prop = None
        if prop is None:
            log.info("HubSpot: creating the unique company property %s", ID_PROPERTY)
            create = PropertyCreate(
                name=ID_PROPERTY,
                label="Salesforce Account ID",
                type="string",
                field_type="text",
                group_name="companyinformation",
                has_unique_value=True,
                description="Id of the linked Salesforce Account (written by the company sync)",
            )
            prop = self._call("properties.create", core.create, "companies", create)
        if not prop.get("hasUniqueValue"):
            raise SetupError(
                f"HubSpot company property {ID_PROPERTY} exists but does not require unique values, so it cannot "
                "key batch upserts. HubSpot cannot change that on an existing property: archive or rename it "
                "(Settings > Properties > Company properties), then run check_setup again to recreate it as unique.",
                api="HubSpot",
                operation="check_setup",
            )
        log.info("HubSpot setup ok: company property %s is unique", ID_PROPERTY)

    # --- companies ------------------------------------------------------------------------------------
    def company_properties(self, properties: Iterable[str]) -> list[str]:
        return _dedupe([*COMPANY_BASE_PROPERTIES, *properties])

    def companies_changed(self, properties: Iterable[str], start: datetime | None, end: datetime) -> pd.DataFrame:
        """Companies with `hs_lastmodifieddate` in `[start, end)` (everything before `end` when start is
        None), plus companies archived in the window (`archived` = True)."""
        props = self.company_properties(properties)
        if start is None:
            log.info("HubSpot: listing every company (full extract)")
            rows = [
                r
                for r in self._list_companies(props, archived=False)
                if (dt := _parse_dt(r.get("hs_lastmodifieddate"))) is None or dt < end
            ]
        else:
            log.info("HubSpot: searching companies modified in [%s, %s)", _iso(start), _iso(end))
            rows = list(self._search_window(props, start, end))
        archived = [r for r in self._list_companies(props, archived=True) if self._archived_in(r, start, end)]
        frame = self._company_frame(rows + archived, props)
        frame = frame.drop_duplicates("id", keep="last", ignore_index=True)
        log.info("HubSpot: %d companies changed, %d archived", len(frame) - len(archived), len(archived))
        return frame

    @staticmethod
    def _archived_in(row: dict, start: datetime | None, end: datetime) -> bool:
        when = _parse_dt(row.get("archived_at")) or _parse_dt(row.get("hs_lastmodifieddate"))
        if when is None:
            return start is None
        return (start is None or when >= start) and when < end

    def _list_companies(self, props: list[str], archived: bool) -> Iterator[dict]:
        api = self._api("companies.basic_api")
        after = None
        while True:
            kwargs = {"limit": 100, "properties": props, "archived": archived}
            if after:
                kwargs["after"] = after
            page = self._call("companies.list" + (".archived" if archived else ""), api.get_page, **kwargs) or {}
            for obj in page.get("results", []):
                yield self._flatten(obj)
            after = ((page.get("paging") or {}).get("next") or {}).get("after")
            if not after:
                return

    def _search_window(self, props: list[str], start: datetime, end: datetime) -> Iterator[dict]:
        """Search `[start, end)`; a window matching more than `search_cap` results is split in time, so no
        query ever pages past the cap (HubSpot answers 400 beyond 10,000 results, and tools that stop
        there silently lose the rest).

        The split point is the modification time of the cap-th result (one `limit=1` probe at offset
        cap-1): everything before it fits under the cap. Should the probe come back empty (the data moved
        meanwhile) the window is bisected evenly instead. More than `search_cap` companies modified in one
        millisecond are walked by id."""
        one_ms = timedelta(milliseconds=1)
        # (lo, hi, first page if already fetched, known to fit under the cap)
        pending: list[tuple[datetime, datetime, dict | None, bool]] = [(start, end, None, False)]
        seen: set[str] = set()
        while pending:
            lo, hi, page, fits = pending.pop(0)
            if page is None:
                page = self._search_page(props, lo, hi, after=None)
            total = int(page.get("total") or 0)
            if fits or total <= self.search_cap:
                rows = self._keyset_pages(props, lo, hi, page)
            else:
                split = self._split_point(props, lo, hi, page, total)
                if split is None:  # the hot millisecond at `lo`: walk it by id, continue after it
                    rows = self._search_by_id(props, lo, lo + one_ms)
                    pending.insert(0, (lo + one_ms, hi, None, False))
                else:
                    # the left part's first page is this page when all of it lies before the split
                    head = page if self._all_before(page, split) else None
                    pending[:0] = [(lo, split, head, head is not None), (split, hi, None, False)]
                    continue
            for row in rows:
                if row["id"] not in seen:
                    seen.add(row["id"])
                    yield row

    def _split_point(self, props: list[str], lo: datetime, hi: datetime, page: dict, total: int) -> datetime | None:
        """Where to cut `[lo, hi)` so the left part holds fewer than `search_cap` results (None: the first
        `search_cap` results share lo's millisecond)."""
        probe = self._search_page(props, lo, hi, after=str(self.search_cap - 1), limit=1)
        found = probe.get("results") or []
        at = _parse_dt((found[0].get("properties") or {}).get("hs_lastmodifieddate")) if found else None
        if at is not None:
            at = _floor_ms(at)
            if at <= lo:
                return None
            if at < hi:
                log.info(
                    "HubSpot: %s companies modified in [%s, %s) exceed search's %s-result cap; splitting the "
                    "window at %s",
                    f"{total:,}",
                    _iso(lo),
                    _iso(hi),
                    f"{self.search_cap:,}",
                    _iso(at),
                )
                return at
        # no usable probe: bisect evenly (from the first result on: nothing lies before it)
        first = page.get("results") or [{}]
        first_at = _parse_dt((first[0].get("properties") or {}).get("hs_lastmodifieddate"))
        if first_at is not None and lo < _floor_ms(first_at) < hi:
            lo = _floor_ms(first_at)
        if hi - lo <= timedelta(milliseconds=1):
            return None
        middle = _floor_ms(lo + (hi - lo) / 2)
        log.info(
            "HubSpot: %s companies modified in [%s, %s) exceed search's %s-result cap; bisecting the window",
            f"{total:,}",
            _iso(lo),
            _iso(hi),
            f"{self.search_cap:,}",
        )
        return middle if lo < middle < hi else None

    @staticmethod
    def _all_before(page: dict, moment: datetime) -> bool:
        stamps = [_parse_dt((o.get("properties") or {}).get("hs_lastmodifieddate")) for o in page.get("results", [])]
        return all(s is not None and s < moment for s in stamps)

    def _keyset_pages(self, props: list[str], lo: datetime, hi: datetime, page: dict) -> Iterator[dict]:
        """Page through `[lo, hi)` by re-querying from the last modification time seen (never `after`).

        Offset paging skips records when others leave the window while it runs (a company edited mid-
        extract moves past `hi` and shifts every later result up a slot); restarting from the last
        timestamp cannot. Records on the boundary millisecond come back twice and are deduplicated."""
        seen: set[str] = set()
        cursor = lo
        while True:
            results = page.get("results", [])
            for obj in results:
                key = str(obj.get("id"))
                if key not in seen:
                    seen.add(key)
                    yield self._flatten(obj)
            more = ((page.get("paging") or {}).get("next") or {}).get("after")
            if not more or not results:
                return
            last_at = _parse_dt((results[-1].get("properties") or {}).get("hs_lastmodifieddate"))
            if last_at is None:
                raise HubSpotApiError(
                    "HubSpot companies.search: results carry no hs_lastmodifieddate to page on",
                    operation="companies.search",
                    status=None,
                )
            last_at = _floor_ms(last_at)
            if last_at <= cursor:  # a whole page in one millisecond: walk that millisecond by id, move on
                step = cursor + timedelta(milliseconds=1)
                for row in self._search_by_id(props, cursor, step):
                    if row["id"] not in seen:
                        seen.add(row["id"])
                        yield row
                cursor = step
            else:
                cursor = last_at
            if cursor >= hi:
                return
            page = self._search_page(props, cursor, hi, after=None)

    def _search_page(
        self,
        props: list[str],
        lo: datetime,
        hi: datetime,
        after: str | None,
        extra_filters: list[dict] | None = None,
        sort: str = "hs_lastmodifieddate",
        limit: int | None = None,
    ) -> dict:
        from hubspot.crm.companies import PublicObjectSearchRequest

        filters = [
            {"propertyName": "hs_lastmodifieddate", "operator": "GTE", "value": _ms(lo)},
            {"propertyName": "hs_lastmodifieddate", "operator": "LT", "value": _ms(hi)},
            *(extra_filters or []),
        ]
        request = PublicObjectSearchRequest(
            filter_groups=[{"filters": filters}],
            sorts=[{"propertyName": sort, "direction": "ASCENDING"}],
            properties=props,
            limit=limit or self.search_page_size,
            after=after,
        )
        return self._call("companies.search", self._api("companies.search_api").do_search, request, search=True) or {}

    def _search_by_id(self, props: list[str], lo: datetime, hi: datetime) -> Iterator[dict]:
        """Last resort for more than `search_cap` companies in one millisecond: keyset pages on the id."""
        last = "0"
        while True:
            page = self._search_page(
                props,
                lo,
                hi,
                after=None,
                sort="hs_object_id",
                extra_filters=[{"propertyName": "hs_object_id", "operator": "GT", "value": last}],
            )
            results = page.get("results", [])
            for obj in results:
                yield self._flatten(obj)
            if len(results) < self.search_page_size:
                return
            last = str(results[-1]["id"])

    @staticmethod
    def _flatten(obj: dict) -> dict:
        row = dict(obj.get("properties") or {})
        row["id"] = str(obj.get("id"))
        row["archived"] = bool(obj.get("archived", False))
        row["archived_at"] = obj.get("archivedAt")
        return row

    def _company_frame(self, rows: list[dict], props: list[str]) -> pd.DataFrame:
        columns = ["id", *[p for p in props if p != "id"], "archived", "archived_at"]
        frame = pd.DataFrame.from_records(rows, columns=columns) if rows else pd.DataFrame(columns=columns)
        for column in columns:
            if column in (*COMPANY_DATETIME_COLUMNS, "archived_at"):
                frame[column] = pd.to_datetime(frame[column], utc=True, format="ISO8601").astype("datetime64[us, UTC]")
            elif column == "archived":
                frame[column] = frame[column].astype("boolean")
            else:
                frame[column] = frame[column].astype("string")
        return frame

    def companies_by_ids(self, ids: Iterable[str], properties: Iterable[str]) -> pd.DataFrame:
        props = self.company_properties(properties)
        rows = self._batch_read("companies", _dedupe(ids), props, id_property=None)
        return self._company_frame(rows, props)

    def companies_by_property(self, prop: str, values: Iterable[str], properties: Iterable[str] = ()) -> pd.DataFrame:
        """Companies whose `prop` is one of `values`: batch read by `idProperty` for unique properties
        (`salesforceaccountid`, `hs_object_id`), search `IN` otherwise (e.g. `domain`)."""
        props = self.company_properties([*properties, prop])
        values = _dedupe(values)
        if not values:
            return self._company_frame([], props)
        if prop in (ID_PROPERTY, "hs_object_id"):
            rows = self._batch_read("companies", values, props, id_property=prop)
            return self._company_frame(rows, props)
        from hubspot.crm.companies import PublicObjectSearchRequest

        rows = []
        for chunk in _chunks(values, 100):
            after = None
            while True:
                request = PublicObjectSearchRequest(
                    filter_groups=[{"filters": [{"propertyName": prop, "operator": "IN", "values": list(chunk)}]}],
                    sorts=[{"propertyName": "hs_object_id", "direction": "ASCENDING"}],
                    properties=props,
                    limit=self.search_page_size,
                    after=after,
                )
                page = (
                    self._call("companies.search", self._api("companies.search_api").do_search, request, search=True)
                    or {}
                )
                rows.extend(self._flatten(o) for o in page.get("results", []))
                after = ((page.get("paging") or {}).get("next") or {}).get("after")
                if not after:
                    break
        frame = self._company_frame(rows, props)
        return frame.drop_duplicates("id", ignore_index=True)

    def _batch_read(self, object_type: str, ids: list[str], props: list[str], id_property: str | None) -> list[dict]:
        from hubspot.crm.companies import BatchReadInputSimplePublicObjectId as CompanyRead
        from hubspot.crm.contacts import BatchReadInputSimplePublicObjectId as ContactRead

        api = self._api(f"{object_type}.batch_api")
        model = CompanyRead if object_type == "companies" else ContactRead
        rows = []
        for chunk in _chunks(ids, BATCH_LIMIT):
            body = model(inputs=[{"id": i} for i in chunk], properties=props, properties_with_history=[])
            if id_property:
                body.id_property = id_property
            page = self._call(f"{object_type}.batch_read", api.read, body) or {}
            rows.extend(self._flatten(o) for o in page.get("results", []))
            if page.get("numErrors"):
                log.info("HubSpot: %s of %d %s not found", page["numErrors"], len(chunk), object_type)
        return rows

    # --- contacts, associations, lists, owners, properties --------------------------------------------
    def contacts_by_ids(self, ids: Iterable[str]) -> pd.DataFrame:
        rows = self._batch_read("contacts", _dedupe(ids), CONTACT_PROPERTIES, id_property=None)
        columns = ["id", *CONTACT_PROPERTIES]
        frame = pd.DataFrame.from_records(rows, columns=columns) if rows else pd.DataFrame(columns=columns)
        for column in columns:
            if column == "lastmodifieddate":
                frame[column] = pd.to_datetime(frame[column], utc=True, format="ISO8601").astype("datetime64[us, UTC]")
            else:
                frame[column] = frame[column].astype("string")
        return frame

    def contacts_by_emails(self, emails: Iterable[str]) -> pd.DataFrame:
        """Contacts by email (batch read on the unique `email` property), for matching by shared contacts."""
        rows = self._batch_read("contacts", _dedupe(e.lower() for e in emails), CONTACT_PROPERTIES, id_property="email")
        columns = ["id", *CONTACT_PROPERTIES]
        frame = pd.DataFrame.from_records(rows, columns=columns) if rows else pd.DataFrame(columns=columns)
        return frame[["id", "email"]].astype("string")

    def associations(self, company_ids: Iterable[str] = (), *, contact_ids: Iterable[str] = ()) -> pd.DataFrame:
        """Company <-> contact associations (v4 batch read, 100 records a call, following paging), read from
        the companies' side, or from the contacts' side when `contact_ids` are given."""
        from hubspot.crm.associations.v4 import BatchInputPublicFetchAssociationsBatchRequest

        from_contacts = bool(_dedupe(contact_ids))
        source, target = ("contacts", "companies") if from_contacts else ("companies", "contacts")

        api = self._api("associations.v4.batch_api")
        pairs: list[tuple[str, str]] = []
        pending = [{"id": i} for i in _dedupe(contact_ids if from_contacts else company_ids)]
        while pending:
            chunk, pending = pending[:BATCH_LIMIT], pending[BATCH_LIMIT:]
            body = BatchInputPublicFetchAssociationsBatchRequest(inputs=chunk)
            page = self._call("associations.batch_read", api.get_page, source, target, body) or {}
            for result in page.get("results", []):
                origin = str((result.get("from") or {}).get("id"))
                for to in result.get("to", []):
                    pairs.append((origin, str(to.get("toObjectId"))))
                after = ((result.get("paging") or {}).get("next") or {}).get("after")
                if after:
                    pending.append({"id": origin, "after": after})
        columns = ["contact_id", "company_id"] if from_contacts else ["company_id", "contact_id"]
        frame = pd.DataFrame(pairs, columns=columns)[["company_id", "contact_id"]].astype("string")
        return frame.drop_duplicates(ignore_index=True)

    def list_members(self, list_id: str) -> pd.DataFrame:
        api = self._api("lists.memberships_api")
        members: list[str] = []
        after = None
        while True:
            kwargs: dict[str, Any] = {"limit": 250}
            if after:
                kwargs["after"] = after
            page = self._call("lists.memberships", api.get_page, str(list_id), **kwargs) or {}
            for item in page.get("results", []):
                members.append(str(item.get("recordId") if isinstance(item, dict) else item))
            after = ((page.get("paging") or {}).get("next") or {}).get("after")
            if not after:
                break
        return pd.DataFrame({"contact_id": pd.Series(members, dtype="string")}).drop_duplicates(ignore_index=True)

    def owners(self) -> pd.DataFrame:
        api = self._api("owners.owners_api")
        rows: list[dict] = []
        after = None
        while True:
            kwargs: dict[str, Any] = {"limit": 100, "archived": False}
            if after:
                kwargs["after"] = after
            page = self._call("owners.list", api.get_page, **kwargs) or {}
            fields = ("id", "email", "firstName", "lastName")
            rows.extend({k: o.get(k) for k in fields} for o in page.get("results", []))
            after = ((page.get("paging") or {}).get("next") or {}).get("after")
            if not after:
                break
        return pd.DataFrame(rows, columns=["id", "email", "firstName", "lastName"]).astype("string")

    def lifecycle_stages(self, object_type: str = "contacts") -> list[str]:
        """Lifecycle stage option values, ordered by `displayOrder` (earliest stage first)."""
        prop = (
            self._call("properties.get", self._api("properties.core_api").get_by_name, object_type, "lifecyclestage")
            or {}
        )
        options = [o for o in prop.get("options", []) if not o.get("hidden")]
        options.sort(key=lambda o: o.get("displayOrder") if o.get("displayOrder") is not None else 1 << 30)
        return [str(o["value"]) for o in options]

    # --- writes ---------------------------------------------------------------------------------------
    def upsert_companies(self, records: list[dict]) -> pd.DataFrame:
        """Create-or-update companies keyed on `salesforceaccountid`; each record is a dict of properties
        that must include it. Returns one result row per record (key = the salesforceaccountid)."""
        missing = [i for i, r in enumerate(records) if not _property_value(r.get(ID_PROPERTY))]
        if missing:
            raise ValueError(f"upsert_companies: record(s) {missing[:10]} have no {ID_PROPERTY}")
        return self._write(records, key_of=lambda r: _property_value(r.get(ID_PROPERTY)), upsert=True)

    def update_companies(self, records: list[dict]) -> pd.DataFrame:
        """Update companies by id; each record is `{"id": ..., <property>: value, ...}`."""
        missing = [i for i, r in enumerate(records) if not _property_value(r.get("id"))]
        if missing:
            raise ValueError(f"update_companies: record(s) {missing[:10]} have no id")
        return self._write(records, key_of=lambda r: _property_value(r.get("id")), upsert=False)

    def _write(self, records: list[dict], key_of: Callable[[dict], str], upsert: bool) -> pd.DataFrame:
        verb = "upserted" if upsert else "updated"
        results: list[RecordResult] = []
        batches = _batches_without_repeats(records, key_of, self.batch_size)
        for n, batch in enumerate(batches, 1):
            results.extend(
                write_bisecting(
                    batch,
                    lambda part: self._batch_attempt(part, key_of, upsert),
                    key_of=key_of,
                    label=f"HubSpot batch/{'upsert' if upsert else 'update'}",
                )
            )
            if len(batches) > 1 and (n % 10 == 0 or n == len(batches)):
                log.info("HubSpot: %s %s/%s companies", verb, f"{len(results):,}", f"{len(records):,}")
        by_key: dict[str, list[RecordResult]] = {}
        for result in results:
            by_key.setdefault(result.key or "", []).append(result)
        ordered = [by_key[key_of(r)].pop(0) for r in records]  # back to input order
        frame = results_frame(ordered)
        failed = int((~frame["success"]).sum())
        log.info(
            "HubSpot: %s %s companies, %d failed%s",
            verb,
            f"{len(frame) - failed:,}",
            failed,
            f" ({frame.loc[~frame['success'], 'category'].value_counts().to_dict()})" if failed else "",
        )
        return frame

    def _batch_attempt(self, batch: list[dict], key_of: Callable[[dict], str], upsert: bool) -> list[RecordResult]:
        from hubspot.crm.companies import (
            BatchInputSimplePublicObjectBatchInput,
            BatchInputSimplePublicObjectBatchInputUpsert,
        )

        api = self._api("companies.batch_api")
        if upsert:
            inputs = [
                {
                    "idProperty": ID_PROPERTY,
                    "id": key_of(r),
                    "properties": {k: _property_value(v) for k, v in r.items()},
                }
                for r in batch
            ]
            body = BatchInputSimplePublicObjectBatchInputUpsert(inputs=inputs)
            operation, fn = "companies.batch_upsert", api.upsert
        else:
            inputs = [
                {"id": key_of(r), "properties": {k: _property_value(v) for k, v in r.items() if k != "id"}}
                for r in batch
            ]
            body = BatchInputSimplePublicObjectBatchInput(inputs=inputs)
            operation, fn = "companies.batch_update", api.update
        try:
            response = self._call(operation, fn, body) or {}
        except HubSpotApiError as exc:
            if exc.status in (400, 404, 409, 413, 422):
                message = exc.body.get("message") if isinstance(exc.body, dict) else str(exc)
                sub = exc.body.get("subCategory") if isinstance(exc.body, dict) else None
                raise BatchRefused(
                    exc.category, hubspot_category(exc.category, exc.status, sub), str(message), exc.status
                ) from exc
            raise
        return self._map_batch_response(batch, key_of, response, upsert)

    @staticmethod
    def _map_batch_response(
        batch: list[dict], key_of: Callable[[dict], str], response: dict, upsert: bool
    ) -> list[RecordResult]:
        """Results and 207 errors back to the input records (results carry the key; errors `context.ids`)."""
        keys = [key_of(r) for r in batch]
        wanted = set(keys)
        done: dict[str, RecordResult] = {}
        unmatched_results = []
        for result in response.get("results", []) or []:
            props = result.get("properties") or {}
            key = str(props.get(ID_PROPERTY) or "") if upsert else str(result.get("id") or "")
            created = bool(result.get("new")) if upsert else False
            if key in wanted and key not in done:
                done[key] = RecordResult.ok(key, result.get("id"), created)
            else:
                unmatched_results.append(result)
        unmatched_errors = []
        for error in response.get("errors", []) or []:
            context = error.get("context") or {}
            ids = [str(i) for i in (context.get("ids") or context.get("id") or [])]
            details = [d for d in (error.get("errors") or []) if isinstance(d, dict)]
            sub = error.get("subCategory")
            # the most specific code: a detail's (INVALID_OPTION...), the subCategory, else the category
            code = (
                next((d.get("code") for d in details if d.get("code")), None)
                or (sub if isinstance(sub, str) else None)
                or error.get("category")
            )
            category = hubspot_category(error.get("category"), error.get("status"), sub)
            message = error.get("message")
            fields = sorted(
                {str(n) for d in details for n in ((d.get("context") or {}).get("propertyName") or [])}
                | {str(n) for n in (context.get("propertyName") or [])}
            )
            if not ids and context.get("inputIndexes"):
                ids = [keys[int(i)] for i in context["inputIndexes"] if str(i).isdigit() and int(i) < len(keys)]
            matched = False
            for key in ids:
                if key in wanted and key not in done:
                    done[key] = RecordResult.failed(key, code, category, message, fields)
                    matched = True
            if not matched:
                unmatched_errors.append((code, category, message, fields))
        missing = [k for k in keys if k not in done]
        if missing and unmatched_results and len(unmatched_results) == len(missing) and not unmatched_errors:
            for key, result in zip(missing, unmatched_results, strict=True):  # same order as the inputs
                done[key] = RecordResult.ok(key, result.get("id"), bool(result.get("new")) if upsert else False)
            missing = []
        for key in missing:
            if unmatched_errors:
                code, category, message, fields = (
                    unmatched_errors[0]
                    if len(unmatched_errors) == 1
                    else (
                        unmatched_errors[0][0],
                        unmatched_errors[0][1],
                        " | ".join(str(e[2]) for e in unmatched_errors),
                        None,
                    )
                )
                done[key] = RecordResult.failed(key, code, category, message, fields)
            else:
                done[key] = RecordResult.failed(
                    key, "NO_RESULT", Category.OTHER, "HubSpot returned neither a result nor an error for this record"
                )
        return [done[key] for key in keys]


def _floor_ms(value: datetime) -> datetime:
    return value.replace(microsecond=(value.microsecond // 1000) * 1000)


def _batches_without_repeats(records: list[dict], key_of: Callable[[dict], str], size: int) -> list[list[dict]]:
    """Batches of at most `size`, filled in input order; a key seen again goes to a later batch than its
    previous occurrence (HubSpot refuses a batch naming one record twice, and writes of a key keep order)."""
    batches: list[list[dict]] = []
    last_batch: dict[str, int] = {}
    first_open = 0
    for record in records:
        key = key_of(record)
        i = max(last_batch.get(key, -1) + 1, first_open)
        while i < len(batches) and len(batches[i]) >= size:
            i += 1
        if i == len(batches):
            batches.append([])
        batches[i].append(record)
        last_batch[key] = i
        while first_open < len(batches) and len(batches[first_open]) >= size:
            first_open += 1
    return batches
