"""HubSpot I/O: companies, contacts, associations, list memberships, owners and properties through the
official `hubspot-api-client` (built by `connectors.hubspot_hook.HubSpotHook`).

* Every call takes a slot from the client-side rate limiter (190 calls / 10 s overall, 5 searches / s by
  default), is counted per operation (`connector.calls`), has a timeout, and is retried by the urllib3
  policy of `http_policy` (429/5xx/dropped connections on every method, POST included; `Retry-After`).
  A call that still fails raises `HubSpotApiError` (a `ConnectorError`) naming the endpoint and status.
* Responses are read as JSON (`_preload_content=False`): the frames need plain values, and it spares
  the generated models' per-object deserialisation on large extracts.
* Incremental extracts use search on `hs_lastmodifieddate`, and **split the time window** whenever a
  query would match more than search's 10,000-result ceiling, so nothing is silently truncated; archived
  companies come from the list endpoint (`archived=true`) because search never returns them
  (`hubspot_search`).
* Writes are `batch/upsert` on `salesforceaccountid` (a unique-value property) and `batch/update` by id,
  100 inputs a call. A 207 is mapped error by error back to its input record; a batch refused as a
  whole (400) is split until the bad record is isolated, so the good ones still land (`hubspot_writes`).
* Every cursor-paged endpoint is read through one helper, `hubspot_common.paginate`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pandas as pd

from include.company_sync.connectors.common import chunks, dedupe
from include.company_sync.connectors.http_policy import (
    DEFAULT_POLICY,
    ApiRetry,
    CallCounter,
    ConfiguredObjectMissing,
    HubSpotRateLimits,
    RetryPolicy,
    SetupError,
    authentication_failed,
    hubspot_retry,
    shared_hubspot_limits,
    unwrap_retries_exhausted,
)
from include.company_sync.connectors.hubspot_common import (
    ID_PROPERTY,
    READ_WORKERS,
    HubSpotApiError,
    in_parallel,
    iso,
    log,
    next_after,
    paginate,
    parse_dt,
)
from include.company_sync.connectors.hubspot_lists import ListReads
from include.company_sync.connectors.hubspot_search import CONTACTS, CompanySearch
from include.company_sync.connectors.hubspot_writes import CompanyWrites
from include.company_sync.progress import Progress, counted

if TYPE_CHECKING:
    from hubspot import HubSpot

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
# A full extract searches from here (before any HubSpot record): split under the cap like any window.
FULL_EXTRACT_START = datetime(2000, 1, 1, tzinfo=UTC)
BATCH_LIMIT = 100
# Associations v4 batch read takes up to 1,000 inputs (the object endpoints 100).
ASSOCIATION_BATCH_LIMIT = 1_000


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


class HubSpotConnector(CompanySearch, CompanyWrites, ListReads):
    """HubSpot reads and writes for the sync. Build with `from_connection`, `from_hook` or `from_client`.

    Window searches come from `CompanySearch` (`hubspot_search`), writes from `CompanyWrites`
    (`hubspot_writes`); this class holds the client, the one `_call` every request goes through, and the reads.
    """

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
        read_workers: int = READ_WORKERS,
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
        self.read_workers = read_workers  # batch reads in flight at once (`hubspot_common.in_parallel`)
        self._apis: dict[str, Any] = {}
        # named in the messages of errors that cannot heal (set by `from_connection`)
        self.conn_id: str | None = None
        # called before every call; raises (e.g. `RunAborted`) to stop this connector's work
        self.abort_check: Callable[[], None] | None = None

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
        from include.company_sync.connectors.hubspot_hook import HubSpotHook

        connector = cls.from_hook(HubSpotHook(conn_id, retry=hubspot_retry(policy)), **kwargs)
        connector.conn_id = conn_id
        return connector

    @classmethod
    def from_client(cls, client: HubSpot, **kwargs: Any) -> HubSpotConnector:
        return cls(client, **kwargs)

    # --- the one way every call is made ---------------------------------------------------------------
    def _call(self, operation: str, fn: Callable[..., Any], *args: Any, search: bool = False, **kwargs: Any) -> Any:
        """Rate-limit, count, call with a timeout, and decode the JSON body (None when empty).

        What cannot heal raises an `Unrecoverable` at once: 401/403 (`AuthenticationFailed`, naming the
        connection) and a search or read naming a property that does not exist (`ConfiguredObjectMissing`,
        naming `field_mappings`). Anything else still failing after the retry policy is a `HubSpotApiError`.
        """
        from urllib3.exceptions import HTTPError as Urllib3Error

        if self.abort_check is not None:
            self.abort_check()
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
                raise self._unrecoverable(operation, exc) or self._api_error(operation, exc) from exc
            raise
        data = response.data
        return json.loads(data) if data else None

    def _unrecoverable(self, operation: str, exc: Any) -> Exception | None:
        """The `Unrecoverable` for a HubSpot error that retrying cannot heal, else None."""
        status = getattr(exc, "status", None)
        if status not in (400, 401, 403):
            return None
        error = self._api_error(operation, exc)
        if status in (401, 403):
            return authentication_failed("HubSpot", self.conn_id, operation, status, error.category)
        if isinstance(error.body, dict) and error.body.get("subCategory") == "PROPERTY_DOESNT_EXIST":
            return ConfiguredObjectMissing(
                f"HubSpot {operation}: a company property this sync reads does not exist in the portal of "
                f"{self._conn_label}: check the `hubspot` names in company_sync_settings.field_mappings "
                "(Settings > Properties in HubSpot)",
                api="HubSpot",
                operation=operation,
                status=status,
            )
        return None

    @property
    def _conn_label(self) -> str:
        return f"Airflow connection {self.conn_id!r}" if self.conn_id else "the HubSpot connection"

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
    def check_setup(self, definitions: Iterable[dict[str, Any]] | None = None) -> None:
        """Make sure the company property `salesforceaccountid` exists with unique values (create it if not).
        `definitions`: the company property definitions when the caller has read them already (prepare's
        mapping check), so the check costs no call; else the property is read."""
        from hubspot.crm.properties import PropertyCreate

        core = self._api("properties.core_api")
        if definitions is not None:
            prop = next((d for d in definitions if d.get("name") == ID_PROPERTY), None)
        else:
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
        return dedupe([*COMPANY_BASE_PROPERTIES, *properties])

    def companies_changed(self, properties: Iterable[str], start: datetime | None, end: datetime) -> pd.DataFrame:
        """Companies with `hs_lastmodifieddate` in `[start, end)` (everything before `end` when start is
        None), plus companies archived in the window (`archived` = True)."""
        props = self.company_properties(properties)
        if start is None:  # search pages hold 200 companies, the list endpoint's 100
            log.info("HubSpot: searching every company modified before %s (full extract)", iso(end))
        else:
            log.info("HubSpot: searching companies modified in [%s, %s)", iso(start), iso(end))
        search = self._search_window(props, FULL_EXTRACT_START if start is None else start, end)
        rows = list(counted(search, Progress("HubSpot", "companies read")))
        archived = [r for r in self._list_companies(props, archived=True) if self._archived_in(r, start, end)]
        frame = self._company_frame(rows + archived, props)
        frame = frame.drop_duplicates("id", keep="last", ignore_index=True)
        log.info("HubSpot: %d companies changed, %d archived", len(frame) - len(archived), len(archived))
        return frame

    @staticmethod
    def _archived_in(row: dict, start: datetime | None, end: datetime) -> bool:
        when = parse_dt(row.get("archived_at")) or parse_dt(row.get("hs_lastmodifieddate"))
        if when is None:
            return start is None
        return (start is None or when >= start) and when < end

    def _pages(self, operation: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Iterator[dict]:
        """Every page of a list endpoint that takes the cursor as an `after` keyword (none for the first page)."""
        return paginate(lambda after: self._call(operation, fn, *args, **kwargs, **({"after": after} if after else {})))

    def _list_companies(self, props: list[str], archived: bool) -> Iterator[dict]:
        api = self._api("companies.basic_api")
        operation = "companies.list" + (".archived" if archived else "")
        for page in self._pages(operation, api.get_page, limit=100, properties=props, archived=archived):
            for obj in page.get("results", []):
                yield self._flatten(obj)

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
        rows = self._batch_read("companies", dedupe(ids), props, id_property=None)
        return self._company_frame(rows, props)

    def companies_by_property(self, prop: str, values: Iterable[str], properties: Iterable[str] = ()) -> pd.DataFrame:
        """Companies whose `prop` is one of `values`: batch read by `idProperty` for unique properties
        (`salesforceaccountid`, `hs_object_id`), search `IN` otherwise (e.g. `domain`)."""
        props = self.company_properties([*properties, prop])
        values = dedupe(values)
        if not values:
            return self._company_frame([], props)
        if prop in (ID_PROPERTY, "hs_object_id"):
            rows = self._batch_read("companies", values, props, id_property=prop)
            return self._company_frame(rows, props)
        rows = []
        for chunk in chunks(values, 100):
            for page in self._search_in(prop, list(chunk), props):
                rows.extend(self._flatten(o) for o in page.get("results", []))
        frame = self._company_frame(rows, props)
        return frame.drop_duplicates("id", ignore_index=True)

    def _search_in(
        self, prop: str, values: list[str], props: list[str], object_type: str = "companies"
    ) -> Iterator[dict]:
        """The pages of a search for records whose `prop` is one of `values` (at most 100), by id."""
        from hubspot.crm.companies import PublicObjectSearchRequest

        search = self._api(f"{object_type}.search_api").do_search

        def fetch(after: str | None) -> dict:
            request = PublicObjectSearchRequest(
                filter_groups=[{"filters": [{"propertyName": prop, "operator": "IN", "values": values}]}],
                sorts=[{"propertyName": "hs_object_id", "direction": "ASCENDING"}],
                properties=props,
                limit=self.search_page_size,
                after=after,
            )
            return self._call(f"{object_type}.search", search, request, search=True)

        return paginate(fetch)

    def _batch_read(self, object_type: str, ids: list[str], props: list[str], id_property: str | None) -> list[dict]:
        from hubspot.crm.companies import BatchReadInputSimplePublicObjectId as CompanyRead
        from hubspot.crm.contacts import BatchReadInputSimplePublicObjectId as ContactRead

        api = self._api(f"{object_type}.batch_api")
        model = CompanyRead if object_type == "companies" else ContactRead

        def read(chunk: list[str]) -> dict:
            body = model(inputs=[{"id": i} for i in chunk], properties=props, properties_with_history=[])
            if id_property:
                body.id_property = id_property
            return self._call(f"{object_type}.batch_read", api.read, body) or {}

        batches = [list(chunk) for chunk in chunks(ids, BATCH_LIMIT)]
        rows = []
        for chunk, page in zip(batches, in_parallel(read, batches, self.read_workers), strict=True):
            rows.extend(self._flatten(o) for o in page.get("results", []))
            if page.get("numErrors"):
                log.info("HubSpot: %s of %d %s not found", page["numErrors"], len(chunk), object_type)
        return rows

    # --- contacts, associations, lists, owners, properties --------------------------------------------
    def contacts_by_ids(self, ids: Iterable[str]) -> pd.DataFrame:
        return self._contact_frame(self._batch_read("contacts", dedupe(ids), CONTACT_PROPERTIES, id_property=None))

    def contacts_changed(self, start: datetime, end: datetime) -> pd.DataFrame:
        """Contacts with `lastmodifieddate` in `[start, end)`: it moves when a lifecycle stage, a Salesforce id
        or the primary company changes, which the rules read (R5, R6, R7). Split under search's cap like companies."""
        log.info("HubSpot: searching contacts modified in [%s, %s)", iso(start), iso(end))
        rows = self._search_window(CONTACT_PROPERTIES, start, end, CONTACTS)
        return self._contact_frame(list(counted(rows, Progress("HubSpot", "contacts read"))))

    def contacts_by_property(self, prop: str, values: Iterable[str]) -> pd.DataFrame:
        """Contacts whose `prop` (`salesforcecontactid`, `salesforceleadid`) is one of `values`: search `IN`,
        100 values a query."""
        rows: list[dict] = []
        for chunk in chunks(dedupe(values), 100):
            for page in self._search_in(prop, list(chunk), CONTACT_PROPERTIES, object_type="contacts"):
                rows.extend(self._flatten(o) for o in page.get("results", []))
        return self._contact_frame(rows).drop_duplicates("id", ignore_index=True)

    @staticmethod
    def _contact_frame(rows: list[dict]) -> pd.DataFrame:
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
        rows = self._batch_read("contacts", dedupe(e.lower() for e in emails), CONTACT_PROPERTIES, id_property="email")
        columns = ["id", *CONTACT_PROPERTIES]
        frame = pd.DataFrame.from_records(rows, columns=columns) if rows else pd.DataFrame(columns=columns)
        return frame[["id", "email"]].astype("string")

    def associations(self, company_ids: Iterable[str] = (), *, contact_ids: Iterable[str] = ()) -> pd.DataFrame:
        """Company <-> contact associations (v4 batch read, 1,000 records a call, following paging), read from
        the companies' side, or from the contacts' side when `contact_ids` are given."""
        from hubspot.crm.associations.v4 import BatchInputPublicFetchAssociationsBatchRequest

        from_contacts = bool(dedupe(contact_ids))
        source, target = ("contacts", "companies") if from_contacts else ("companies", "contacts")

        api = self._api("associations.v4.batch_api")

        def read(chunk: list[dict]) -> dict:
            body = BatchInputPublicFetchAssociationsBatchRequest(inputs=chunk)
            return self._call("associations.batch_read", api.get_page, source, target, body) or {}

        pairs: list[tuple[str, str]] = []
        pending = [{"id": i} for i in dedupe(contact_ids if from_contacts else company_ids)]
        while pending:  # rounds: the records with more associations than a page come back with a cursor
            batches = [list(chunk) for chunk in chunks(pending, ASSOCIATION_BATCH_LIMIT)]
            pending = []
            for page in in_parallel(read, batches, self.read_workers):
                for result in page.get("results", []):
                    origin = str((result.get("from") or {}).get("id"))
                    for to in result.get("to", []):
                        pairs.append((origin, str(to.get("toObjectId"))))
                    after = next_after(result)
                    if after:
                        pending.append({"id": origin, "after": after})
        columns = ["contact_id", "company_id"] if from_contacts else ["company_id", "contact_id"]
        frame = pd.DataFrame(pairs, columns=columns)[["company_id", "contact_id"]].astype("string")
        return frame.drop_duplicates(ignore_index=True)

    def list_members(self, list_id: str) -> pd.DataFrame:
        """Contact ids in list `list_id` with the time each joined (`joined_at`, from the join-ordered
        memberships), all of them; a list that does not exist raises `ConfiguredObjectMissing`. Incremental
        runs read only the newest joins (`hubspot_lists.ListReads.list_joins`)."""
        return self.list_joins(list_id).members

    def owners(self) -> pd.DataFrame:
        api = self._api("owners.owners_api")
        fields = ("id", "email", "firstName", "lastName")
        rows: list[dict] = []
        for page in self._pages("owners.list", api.get_page, limit=100, archived=False):
            rows.extend({k: o.get(k) for k in fields} for o in page.get("results", []))
        return pd.DataFrame(rows, columns=list(fields)).astype("string")

    def lifecycle_stages(self, object_type: str = "contacts") -> list[str]:
        """Lifecycle stage option values, ordered by `displayOrder` (earliest stage first)."""
        prop = (
            self._call("properties.get", self._api("properties.core_api").get_by_name, object_type, "lifecyclestage")
            or {}
        )
        options = [o for o in prop.get("options", []) if not o.get("hidden")]
        options.sort(key=lambda o: o.get("displayOrder") if o.get("displayOrder") is not None else 1 << 30)
        return [str(o["value"]) for o in options]
