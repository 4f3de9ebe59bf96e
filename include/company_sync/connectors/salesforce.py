"""Salesforce I/O: Accounts, Contacts, Leads and Users through simple-salesforce (Airflow's `SalesforceHook`).

Authentication (all through the Airflow connection; `SalesforceConnector.from_connection`):

* **Access token (direct session)** - used for the sandbox and for tokens minted elsewhere: password =
  the access token, extras `instance_url` (e.g. `https://127.0.0.1:8701` or
  `https://mydomain.my.salesforce.com`) and `version` (e.g. `59.0`). The token is passed to the hook as
  `session_id`.
* **Username + password + security token** (SOAP login by simple-salesforce): login, password, extra
  `security_token`; extra `domain` = `test` for a Salesforce sandbox org.
* **OAuth 2.0 JWT bearer**: login (the integration user), extras `consumer_key` and `private_key` or
  `private_key_file_path`, `domain` as above.
* **OAuth 2.0 client credentials**: extras `consumer_key`, `consumer_secret` and `domain` (the My Domain
  host, e.g. `mydomain.my`).

Whatever the mode, the hook's client uses the retrying `requests.Session` of `http_policy` (429/5xx and
dropped connections retried on every method, `Retry-After` honoured, timeouts), and an extra `ca_bundle`
(a PEM path; relative paths resolve against the repository root) makes it trust a private CA such as the
sandbox's.

Reads return pandas frames with Salesforce's field names as columns: ids as strings, datetimes
tz-aware UTC, numbers as Float64 / Int64, booleans as `boolean`, text as `string`. Only the fields asked
for (the mapped ones) are requested. Small sets use the REST query API (`queryAll`, so deleted rows
come back with `IsDeleted`); sets above `bulk_query_threshold` go through a Bulk API 2.0 query job.

Writes take a list of dicts and return one result row per record (`results.RESULT_COLUMNS`): sObject
Collections (200 records a call, `allOrNone: false`) below `bulk_write_threshold`, Bulk API 2.0 ingest
jobs above it. Creates are upserts on the external id `HubSpot_Company_ID__c`, so a retried or re-run
load never duplicates an account.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from include.company_sync.connectors.common import chunks, dedupe
from include.company_sync.connectors.http_policy import (
    DEFAULT_POLICY,
    AuthenticationFailed,
    CallCounter,
    ConnectorError,
    RetryPolicy,
    SetupError,
    Unrecoverable,
    salesforce_session,
)
from include.company_sync.connectors.results import (
    TRANSIENT_SALESFORCE_CODES,
    BatchRefused,
    Category,
    RecordResult,
    results_frame,
    salesforce_category,
    write_bisecting,
)
from include.company_sync.connectors.salesforce_errors import call_error, unrecoverable_error
from include.company_sync.connectors.salesforce_values import (
    csv_ready,
    json_ready,
    parse_bulk_error,
    salesforce_error,
    to_bool,
    to_text,
    utc,
)
from include.company_sync.progress import Progress

if TYPE_CHECKING:
    from simple_salesforce import Salesforce

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[3]
EXTERNAL_ID_FIELD = "HubSpot_Company_ID__c"
ACCOUNT_BASE_FIELDS = ["Id", "CreatedDate", "SystemModstamp", "IsDeleted", EXTERNAL_ID_FIELD]
CONTACT_FIELDS = ["Id", "AccountId", "Email"]
LEAD_FIELDS = ["Id", "Email", "IsConverted"]
# What the change sources read of contacts and leads modified in a run's window (`contacts_changed`, `leads_changed`).
CONTACT_CHANGE_FIELDS = ["Id", "AccountId", "SystemModstamp"]
LEAD_CHANGE_FIELDS = ["Id", "IsConverted", "ConvertedAccountId", "SystemModstamp"]
USER_FIELDS = ["Id", "Email", "FirstName", "LastName", "IsActive"]

# Where an extracted Account's matching keys are, for the state store's mirror (mirror column -> field).
ACCOUNT_MIRROR_FIELDS = {
    "record_id": "Id",
    "external_id": EXTERNAL_ID_FIELD,
    "created_at": "CreatedDate",
    "modified_at": "SystemModstamp",
    "deleted": "IsDeleted",
}
# The Account fields whose normalised domain is its matching key (the first that gives one wins).
ACCOUNT_DOMAIN_FIELDS = ("Website",)


def extract_account_fields(settings: Any) -> list[str]:
    """The Account fields an extract asks for under `settings` (besides `ACCOUNT_BASE_FIELDS`, which the reads
    add): the website the matching mirror needs, then every mapped field."""
    return list(dict.fromkeys([*ACCOUNT_DOMAIN_FIELDS, *(m.salesforce for m in settings.field_mappings)]))


_DATETIME_FIELDS = {"CreatedDate", "SystemModstamp", "LastModifiedDate"}
_BOOLEAN_FIELDS = {"IsDeleted", "IsConverted", "IsActive"}


def _field_kinds() -> dict[str, tuple[str, bool]]:
    """Account field -> (kind, integer) from the shipped field catalogue."""
    from include.company_sync.settings import catalogue

    return {name: (spec.kind, spec.integer) for name, spec in catalogue().salesforce_fields.items()}


class SalesforceConnector:
    """Salesforce reads and writes for the sync. Build with `from_connection` (Airflow) or from a client."""

    def __init__(
        self,
        sf: Salesforce,
        *,
        bulk_query_threshold: int = 10_000,
        bulk_write_threshold: int = 2_000,
        ids_per_query: int = 300,
        ids_per_bulk_query: int = 4_000,
        collection_size: int = 200,
        bulk_poll_seconds: float = 2.0,
        counter: CallCounter | None = None,
    ):
        if not 1 <= collection_size <= 200:
            raise ValueError("collection_size must be between 1 and 200 (sObject Collections limit)")
        self.sf = sf
        self.bulk_query_threshold = bulk_query_threshold
        self.bulk_write_threshold = bulk_write_threshold
        self.ids_per_query = ids_per_query
        self.ids_per_bulk_query = ids_per_bulk_query
        self.collection_size = collection_size
        self.bulk_poll_seconds = bulk_poll_seconds
        self.calls = counter or CallCounter()
        # named in the messages of errors that cannot heal (set by `from_connection`)
        self.conn_id: str | None = None
        # called after every HTTP exchange; raises (e.g. `RunAborted`) to stop this connector's work
        self.abort_check: Callable[[], None] | None = None
        self._install_counter(sf.session)

    # --- construction ---------------------------------------------------------------------------------
    @classmethod
    def from_connection(
        cls, conn_id: str = "salesforce_default", *, policy: RetryPolicy = DEFAULT_POLICY, **kwargs: Any
    ) -> SalesforceConnector:
        """Build through Airflow's `SalesforceHook` from connection `conn_id` (see the module docstring)."""
        from airflow.providers.salesforce.hooks.salesforce import SalesforceHook

        conn = SalesforceHook.get_connection(conn_id)
        extras = conn.extra_dejson or {}
        session = salesforce_session(cls._resolve_ca_bundle(extras.get("ca_bundle")), policy)
        direct = bool(conn.password) and not conn.login and bool(extras.get("instance_url") or extras.get("instance"))
        hook = SalesforceHook(conn_id, session_id=conn.password if direct else None, session=session)
        try:
            sf = hook.get_conn()
        except Exception as exc:  # simple-salesforce raises many types at login; name the connection
            from simple_salesforce.exceptions import SalesforceAuthenticationFailed

            if isinstance(exc, SalesforceAuthenticationFailed):  # wrong credentials: retrying cannot heal it
                raise AuthenticationFailed(
                    f"Salesforce connection {conn_id!r}: sign-in refused ({getattr(exc, 'code', '')}): fix the "
                    f"credentials of Airflow connection {conn_id!r}",
                    api="Salesforce",
                    operation="login",
                ) from exc
            raise ConnectorError(
                f"Salesforce connection {conn_id!r}: could not sign in ({exc})", api="Salesforce", operation="login"
            ) from exc
        connector = cls(sf, **kwargs)
        connector.conn_id = conn_id
        return connector

    @classmethod
    def from_client(cls, sf: Salesforce, **kwargs: Any) -> SalesforceConnector:
        return cls(sf, **kwargs)

    @staticmethod
    def _resolve_ca_bundle(value: str | None) -> str | None:
        if not value:
            return None
        path = Path(value).expanduser()
        if not path.is_absolute():
            path = REPO_ROOT / path
        return str(path)

    def _install_counter(self, session: Any) -> None:
        """Count every HTTP exchange (after retries) by method and resource."""
        counter = self.calls
        base = f"/services/data/v{self.sf.sf_version}/"

        def count(response: Any, *args: Any, **kwargs: Any) -> None:
            path = response.request.path_url.split("?", 1)[0]
            if path.startswith(base):
                path = path[len(base) :]
            parts = [p for p in path.split("/") if p]
            # query/<locator>, jobs/ingest/<id>/batches ... keep the stable part of the path
            stable = []
            for part in parts:
                if any(ch.isdigit() for ch in part) and len(part) >= 15:
                    stable.append("{id}")
                else:
                    stable.append(part)
            counter.add(f"{response.request.method} {'/'.join(stable)}")
            if self.abort_check is not None:  # between pages and batches: every exchange passes here
                self.abort_check()

        hooks = session.hooks.setdefault("response", [])
        if not any(getattr(h, "_company_sync_counter", None) is counter for h in hooks):
            count._company_sync_counter = counter  # type: ignore[attr-defined]
            hooks.append(count)

    # --- error handling (salesforce_errors.py) ----------------------------------------------------------
    def _fail(self, operation: str, exc: BaseException) -> ConnectorError:
        return call_error(operation, exc, self.conn_id)

    def _unrecoverable(self, operation: str, exc: BaseException, status: int | None) -> Unrecoverable | None:
        return unrecoverable_error(operation, exc, status, self.conn_id)

    def _call(self, operation: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        import requests
        from simple_salesforce.exceptions import SalesforceError, SalesforceOperationError

        try:
            return fn(*args, **kwargs)
        except (SalesforceError, SalesforceOperationError, requests.RequestException) as exc:
            raise self._fail(operation, exc) from exc

    # --- setup ----------------------------------------------------------------------------------------
    def check_setup(self, describe: dict[str, Any] | None = None) -> None:
        """Verify the Account external id field `HubSpot_Company_ID__c` exists (and is an external id), in
        `describe` if the caller has read it (prepare's mapping check), else in a fresh one."""
        describe = self._call("describe Account", self.sf.Account.describe) if describe is None else describe
        fields = {f["name"]: f for f in (describe or {}).get("fields", [])}
        how = (
            "create it in Setup > Object Manager > Account > Fields & Relationships > New: "
            f"Text(255), Field Name '{EXTERNAL_ID_FIELD[:-3]}', with 'Unique' and 'External ID' ticked, "
            "visible to the integration user"
        )
        field = fields.get(EXTERNAL_ID_FIELD)
        if field is None:
            problem = f"Salesforce Account has no field {EXTERNAL_ID_FIELD}: {how}"
        elif not field.get("externalId"):
            problem = f"Salesforce Account field {EXTERNAL_ID_FIELD} exists but is not an External ID: {how}"
        elif not (field.get("updateable") or field.get("createable")):
            problem = f"Salesforce Account field {EXTERNAL_ID_FIELD} is read-only for the integration user: grant "
            problem += "edit access in its field-level security"
        else:
            log.info("Salesforce setup ok: Account.%s is an external id", EXTERNAL_ID_FIELD)
            return
        raise SetupError(problem, api="Salesforce", operation="check_setup")

    # --- reads ----------------------------------------------------------------------------------------
    def account_fields(self, fields: Iterable[str]) -> list[str]:
        return dedupe([*ACCOUNT_BASE_FIELDS, *fields])

    def accounts_changed(self, fields: Iterable[str], start: datetime | None, end: datetime) -> pd.DataFrame:
        """Accounts whose `SystemModstamp` is in `[start, end)` (all up to `end` when start is None),
        deleted ones included (`IsDeleted`)."""
        log.info("Salesforce: extracting Accounts changed in [%s, %s)", start or "-inf", end)
        where = self._window_where(start, end)
        frame = self._select("Account", self.account_fields(fields), where, include_deleted=True)
        log.info(
            "Salesforce: %d Accounts changed (%d deleted)",
            len(frame),
            int(frame["IsDeleted"].fillna(False).sum()) if len(frame) else 0,
        )
        return frame

    def contacts_changed(self, start: datetime, end: datetime) -> pd.DataFrame:
        """Contacts modified in `[start, end)`: an `AccountId` set or cleared moves `SystemModstamp` (R5b reads
        private contacts; R9's shared-contact step reads an account's new contacts)."""
        return self._select("Contact", CONTACT_CHANGE_FIELDS, self._window_where(start, end))

    def leads_changed(self, start: datetime, end: datetime) -> pd.DataFrame:
        """Leads modified or converted in `[start, end)` (R6b reads whether a contact's lead is converted)."""
        return self._select("Lead", LEAD_CHANGE_FIELDS, self._window_where(start, end))

    @staticmethod
    def _window_where(start: datetime | None, end: datetime) -> str:
        """`SystemModstamp` in `[start, end)`. SOQL datetimes carry whole seconds: the start is truncated to its
        second and the end rounded up to the next one, so a record written in the last fraction of a second
        before `end` is not left out (windows then overlap by under a second, which idempotent loads absorb)."""
        from simple_salesforce import format_soql

        end = utc(end)
        if end.microsecond:
            end = end.replace(microsecond=0) + timedelta(seconds=1)
        where = format_soql("SystemModstamp < {}", end)
        if start is not None:
            where = format_soql("SystemModstamp >= {} AND ", utc(start)) + where
        return where

    def accounts_by_ids(self, ids: Iterable[str], fields: Iterable[str]) -> pd.DataFrame:
        return self._select_in("Account", self.account_fields(fields), "Id", ids, include_deleted=True)

    def accounts_by_external_ids(self, company_ids: Iterable[str], fields: Iterable[str] = ()) -> pd.DataFrame:
        return self._select_in(
            "Account", self.account_fields(fields), EXTERNAL_ID_FIELD, company_ids, include_deleted=False
        )

    def contacts(self, account_ids: Iterable[str] | None = None, ids: Iterable[str] | None = None) -> pd.DataFrame:
        """Contacts of the given accounts and/or with the given ids (every contact when both are None)."""
        if account_ids is None and ids is None:
            return self._select("Contact", CONTACT_FIELDS, None)
        frames = []
        if account_ids is not None:
            frames.append(self._select_in("Contact", CONTACT_FIELDS, "AccountId", account_ids))
        if ids is not None:
            frames.append(self._select_in("Contact", CONTACT_FIELDS, "Id", ids))
        return pd.concat(frames, ignore_index=True).drop_duplicates("Id", ignore_index=True)

    def leads(self, ids: Iterable[str]) -> pd.DataFrame:
        return self._select_in("Lead", LEAD_FIELDS, "Id", ids)

    def users(self) -> pd.DataFrame:
        return self._select("User", USER_FIELDS, None)

    def count(self, sobject: str, where: str | None, include_deleted: bool = False) -> int:
        soql = f"SELECT COUNT() FROM {sobject}" + (f" WHERE {where}" if where else "")
        result = self._call(f"count {sobject}", self.sf.query, soql, include_deleted=include_deleted)
        return int(result["totalSize"])

    def _select(
        self,
        sobject: str,
        columns: list[str],
        where: str | None,
        include_deleted: bool = False,
    ) -> pd.DataFrame:
        """REST query below the bulk threshold, Bulk API 2.0 query above it. The first REST page's `totalSize`
        decides, so a small query costs one call (no `COUNT()` first); a large one pays that page once."""
        soql = f"SELECT {', '.join(columns)} FROM {sobject}" + (f" WHERE {where}" if where else "")
        first = self._call(f"query {sobject}", self.sf.query, soql, include_deleted=include_deleted)
        if int(first.get("totalSize") or 0) > self.bulk_query_threshold:
            log.info(
                "Salesforce: %s query of about %s rows goes through Bulk API 2.0", sobject, f"{first['totalSize']:,}"
            )
            return self._bulk_query(sobject, soql, columns, include_deleted)
        records = self._call(f"query {sobject}", lambda: list(self._rest_pages(first, include_deleted)))
        return self._frame(records, columns)

    def _rest_pages(self, page: dict, include_deleted: bool) -> Iterator[dict]:
        """The records of a REST query from its first page on (`query_more` for the rest)."""
        progress = Progress("Salesforce", "rows read", int(page.get("totalSize") or 0))
        while True:
            for record in page.get("records", []):
                record.pop("attributes", None)
                yield record
            progress.add(len(page.get("records", [])))
            if page.get("done", True) or not page.get("nextRecordsUrl"):
                return
            page = self.sf.query_more(page["nextRecordsUrl"], identifier_is_url=True, include_deleted=include_deleted)

    def _iter_rest(self, soql: str, include_deleted: bool) -> Iterator[dict]:
        return self._rest_pages(self.sf.query(soql, include_deleted=include_deleted), include_deleted)

    def _select_in(
        self, sobject: str, columns: list[str], key: str, values: Iterable[str], include_deleted: bool = False
    ) -> pd.DataFrame:
        """`key IN (...)` in chunks short enough for a URL (or a Bulk SOQL body above the threshold)."""
        from simple_salesforce import format_soql

        values = dedupe(values)
        if not values:
            return self._frame([], columns)
        bulk = len(values) > self.bulk_query_threshold
        size = self.ids_per_bulk_query if bulk else self.ids_per_query
        frames = []
        for chunk in chunks(values, size):
            where = format_soql(f"{key} IN {{}}", list(chunk))
            soql = f"SELECT {', '.join(columns)} FROM {sobject} WHERE {where}"
            if bulk:
                frames.append(self._bulk_query(sobject, soql, columns, include_deleted))
            else:
                records = self._call(f"query {sobject}", lambda s=soql: list(self._iter_rest(s, include_deleted)))
                frames.append(self._frame(records, columns))
        return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]

    def _bulk_query(self, sobject: str, soql: str, columns: list[str], include_deleted: bool) -> pd.DataFrame:
        bulk = getattr(self.sf.bulk2, sobject)
        run = bulk.query_all if include_deleted else bulk.query

        def pages() -> list[pd.DataFrame]:
            out, progress = [], Progress("Salesforce", f"{sobject} rows read (Bulk API 2.0)")
            for page in run(soql, wait=self.bulk_poll_seconds):
                if page.strip():
                    out.append(pd.read_csv(io.StringIO(page), dtype=str, keep_default_na=False))
                    progress.add(len(out[-1]))
            return out

        frames = self._call(f"bulk query {sobject}", pages)
        if not frames:
            return self._frame([], columns)
        raw = pd.concat(frames, ignore_index=True)
        raw = raw.replace("", None)
        return self._frame(raw.to_dict("records"), columns)

    def _frame(self, records: list[dict], columns: list[str]) -> pd.DataFrame:
        """Records -> a typed frame with exactly `columns`."""
        frame = pd.DataFrame.from_records(records, columns=columns) if records else pd.DataFrame(columns=columns)
        kinds = _field_kinds()
        for column in columns:
            series = frame[column]
            if column in _DATETIME_FIELDS:
                frame[column] = pd.to_datetime(series, utc=True, format="ISO8601").astype("datetime64[us, UTC]")
            elif column in _BOOLEAN_FIELDS:
                frame[column] = series.map(to_bool, na_action="ignore").astype("boolean")
            elif kinds.get(column, ("text", False))[0] == "number":
                numbers = pd.to_numeric(series, errors="coerce")
                frame[column] = numbers.round().astype("Int64") if kinds[column][1] else numbers.astype("Float64")
            else:
                frame[column] = series.map(to_text, na_action="ignore").astype("string")
        return frame

    # --- writes ---------------------------------------------------------------------------------------
    def upsert_accounts(self, records: list[dict]) -> pd.DataFrame:
        """Create-or-update Accounts keyed on `HubSpot_Company_ID__c` (each record must carry it)."""
        missing = [i for i, r in enumerate(records) if not r.get(EXTERNAL_ID_FIELD)]
        if missing:
            raise ValueError(f"upsert_accounts: record(s) {missing[:10]} have no {EXTERNAL_ID_FIELD}")
        return self._write("Account", records, key=EXTERNAL_ID_FIELD, upsert=True, noun="accounts")

    def update_accounts(self, records: list[dict]) -> pd.DataFrame:
        """Update Accounts by `Id` (each record must carry it)."""
        return self._write("Account", records, key="Id", upsert=False, noun="accounts")

    def update_contacts(self, records: list[dict]) -> pd.DataFrame:
        """Update Contacts by `Id` (e.g. `{"Id": ..., "AccountId": ...}`)."""
        return self._write("Contact", records, key="Id", upsert=False, noun="contacts")

    def _write(self, sobject: str, records: list[dict], *, key: str, upsert: bool, noun: str) -> pd.DataFrame:
        if not upsert:
            missing = [i for i, r in enumerate(records) if not r.get("Id")]
            if missing:
                raise ValueError(f"update {sobject}: record(s) {missing[:10]} have no Id")
        if not records:
            return results_frame([])
        verb = "upserted" if upsert else "updated"
        if len(records) > self.bulk_write_threshold:
            log.info(
                "Salesforce: %s %s %s through Bulk API 2.0",
                f"{len(records):,}",
                sobject,
                "upsert" if upsert else "update",
            )
            results = self._bulk_write(sobject, records, key=key, upsert=upsert)
        else:
            results = []
            for chunk in chunks(records, self.collection_size):
                results.extend(self._collection_write(sobject, list(chunk), key=key, upsert=upsert))
                if len(records) > self.collection_size:
                    log.info("Salesforce: %s %s/%s %s", verb, f"{len(results):,}", f"{len(records):,}", noun)
            results = self._retry_transient(sobject, records, results, key=key, upsert=upsert)
        frame = results_frame(results)
        failed = int((~frame["success"]).sum())
        log.info(
            "Salesforce: %s %s %s, %d failed%s",
            verb,
            f"{len(frame) - failed:,}",
            noun,
            failed,
            f" ({frame.loc[~frame['success'], 'category'].value_counts().to_dict()})" if failed else "",
        )
        return frame

    def _collection_body(self, sobject: str, records: list[dict]) -> dict:
        return {"allOrNone": False, "records": [{"attributes": {"type": sobject}, **json_ready(r)} for r in records]}

    def _collection_write(self, sobject: str, records: list[dict], *, key: str, upsert: bool) -> list[RecordResult]:
        """One sObject Collections call (≤200 records); a whole-request refusal is bisected so the good
        records still land and the bad one gets its own error."""
        return write_bisecting(
            records,
            lambda part: self._collection_attempt(sobject, part, key=key, upsert=upsert),
            key_of=lambda r: r.get(key),
            label=f"Salesforce {sobject} write",
        )

    def _collection_attempt(self, sobject: str, records: list[dict], *, key: str, upsert: bool) -> list[RecordResult]:
        import requests
        from simple_salesforce.exceptions import SalesforceError

        path = f"composite/sobjects/{sobject}/{key}" if upsert else "composite/sobjects"
        try:
            response = self.sf.restful(path, method="PATCH", json=self._collection_body(sobject, records))
        except SalesforceError as exc:
            status = exc.status or 0
            unrecoverable = self._unrecoverable(f"PATCH {path}", exc, status)
            if unrecoverable is not None:
                raise unrecoverable from exc
            if status in (400, 404, 413, 414, 415, 422):
                code, message = salesforce_error(exc)
                raise BatchRefused(code, salesforce_category(code, status), message, status) from exc
            raise self._fail(f"PATCH {path}", exc) from exc
        except requests.RequestException as exc:
            raise self._fail(f"PATCH {path}", exc) from exc
        response = response or []
        if len(response) != len(records):
            raise ConnectorError(
                f"Salesforce PATCH {path}: {len(response)} results for {len(records)} records",
                api="Salesforce",
                operation=path,
            )
        out = []
        for record, result in zip(records, response, strict=True):
            if result.get("success"):
                out.append(RecordResult.ok(record.get(key), result.get("id"), result.get("created")))
            else:
                errors = result.get("errors") or [{}]
                first = errors[0]
                code = first.get("statusCode") or first.get("errorCode")
                message = "; ".join(e.get("message", "") for e in errors if e.get("message")) or None
                fields = sorted({f for e in errors for f in (e.get("fields") or [])})
                out.append(
                    RecordResult.failed(
                        record.get(key), code, salesforce_category(code), message, fields, id=result.get("id")
                    )
                )
        return out

    def _retry_transient(
        self, sobject: str, records: list[dict], results: list[RecordResult], *, key: str, upsert: bool
    ) -> list[RecordResult]:
        """Records that failed with a transient error (UNABLE_TO_LOCK_ROW...) are sent once more."""
        again = [i for i, r in enumerate(results) if not r.success and r.error_code in TRANSIENT_SALESFORCE_CODES]
        if not again:
            return results
        log.info("Salesforce: retrying %d %s record(s) that failed transiently", len(again), sobject)
        retried: list[RecordResult] = []
        for chunk in chunks([records[i] for i in again], self.collection_size):
            retried.extend(self._collection_write(sobject, list(chunk), key=key, upsert=upsert))
        for i, result in zip(again, retried, strict=True):
            results[i] = result
        return results

    def _bulk_write(self, sobject: str, records: list[dict], *, key: str, upsert: bool) -> list[RecordResult]:
        """Bulk API 2.0 ingest (one job per 10,000 records); per-record results from the job's result sets."""
        bulk = getattr(self.sf.bulk2, sobject)
        rows = [csv_ready(r) for r in records]
        results: dict[str, RecordResult] = {}
        done = 0
        for chunk in chunks(rows, 10_000):
            chunk = list(chunk)
            if upsert:
                jobs = self._call(
                    f"bulk upsert {sobject}",
                    bulk.upsert,
                    records=chunk,
                    external_id_field=key,
                    wait=self.bulk_poll_seconds,
                )
            else:
                jobs = self._call(f"bulk update {sobject}", bulk.update, records=chunk, wait=self.bulk_poll_seconds)
            for job in jobs:
                outcome = self._call(f"bulk results {sobject}", bulk.get_all_ingest_records, job["job_id"])
                for row in outcome["successfulRecords"]:
                    created = str(row.get("sf__Created", "")).lower() == "true"
                    results[str(row.get(key) or row.get("sf__Id"))] = RecordResult.ok(
                        row.get(key) or row.get("sf__Id"), row.get("sf__Id"), created if upsert else False
                    )
                for row in outcome["failedRecords"]:
                    code, message, fields = parse_bulk_error(row.get("sf__Error", ""))
                    results[str(row.get(key))] = RecordResult.failed(
                        row.get(key), code, salesforce_category(code), message, fields, id=row.get("sf__Id") or None
                    )
                for row in outcome["unprocessedRecords"]:
                    results[str(row.get(key))] = RecordResult.failed(
                        row.get(key), "UNPROCESSED", Category.TRANSIENT, "Bulk job did not process this record"
                    )
            done += len(chunk)
            log.info(
                "Salesforce: %s %s/%s %s records (bulk)",
                "upserted" if upsert else "updated",
                f"{done:,}",
                f"{len(rows):,}",
                sobject,
            )
        out = []
        for record in records:
            k = str(record.get(key))
            out.append(
                results.get(k)
                or RecordResult.failed(k, "NO_RESULT", Category.OTHER, "Bulk job returned no result for this record")
            )
        return out
