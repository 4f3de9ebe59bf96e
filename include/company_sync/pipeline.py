"""What each task of the sync DAGs does: the glue between settings, connectors, staging, the engine, the
state store and the report. Frames travel through Parquet staging; tasks return small dicts (URLs and
counts) for XCom.

Every function takes the `run` descriptor made by `prepare`, so a retried task does the same work as its
first try: the window, the settings and the mode are fixed when the run starts.
"""

from __future__ import annotations

import json
import logging
from functools import cached_property
from typing import Any

import pandas as pd

from include.company_sync import validation
from include.company_sync.runtime import Runtime
from include.company_sync.settings import VARIABLE_KEY, Settings, SettingsError, parse_settings
from include.company_sync.staging import Staging
from include.company_sync.state import StateStore
from include.company_sync.windows import sync_window

log = logging.getLogger(__name__)

MODES = ("sync", "resync", "import")


class RunRefused(RuntimeError):
    """The run cannot do its job (R1 import with sync off, bad params); nothing was written."""


# --- the run descriptor --------------------------------------------------------------------------------
class Run:
    """Typed access to the run descriptor (a plain dict in XCom) and the resources it names."""

    def __init__(self, data: dict[str, Any]):
        self.data = data
        self.runtime = Runtime.from_env()

    def __getattr__(self, name: str) -> Any:
        try:
            return self.data[name]
        except KeyError:
            raise AttributeError(name) from None

    @cached_property
    def settings(self) -> Settings:
        return parse_settings(self.data["settings_json"])

    @cached_property
    def state(self) -> StateStore:
        return StateStore(self.runtime.state_url)

    @cached_property
    def staging(self) -> Staging:
        return Staging(self.runtime.staging_url)

    @property
    def start(self) -> pd.Timestamp | None:
        return pd.Timestamp(self.data["window_start"]) if self.data["window_start"] else None

    @property
    def end(self) -> pd.Timestamp:
        return pd.Timestamp(self.data["window_end"])

    def stage(self, name: str, df: pd.DataFrame) -> str:
        return self.staging.write(self.dag_id, self.run_id, name, df)

    def read(self, url: str | None) -> pd.DataFrame:
        return self.staging.read(url) if url else pd.DataFrame()

    def salesforce(self):
        from include.company_sync.connectors.salesforce import SalesforceConnector

        return SalesforceConnector.from_connection(self.runtime.salesforce_conn_id, policy=self.runtime.retry_policy())

    def hubspot(self):
        from include.company_sync.connectors.hubspot import HubSpotConnector

        return HubSpotConnector.from_connection(self.runtime.hubspot_conn_id, policy=self.runtime.retry_policy())

    def account_fields(self) -> list[str]:
        """Mapped fields, plus the website the matching mirror needs (the connector adds ids and timestamps)."""
        return list(dict.fromkeys(["Website"] + [m.salesforce for m in self.settings.field_mappings]))

    def company_properties(self) -> list[str]:
        return list(dict.fromkeys(["website"] + [m.hubspot for m in self.settings.field_mappings]))


def _id_list(params: dict[str, Any], key: str) -> list[str]:
    value = params.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, (str, int)) and str(v).strip() for v in value):
        raise RunRefused(f"param {key}: expected a list of ids, got {value!r}")
    return list(dict.fromkeys(str(v).strip() for v in value))


def load_settings_json() -> str:
    """The Variable's text (the environment override `AIRFLOW_VAR_COMPANY_SYNC_SETTINGS` wins)."""
    from airflow.sdk import Variable

    try:
        return Variable.get(VARIABLE_KEY)
    except Exception as exc:  # the SDK raises its own not-found error type; name the Variable
        raise SettingsError(f"{VARIABLE_KEY}: the Airflow Variable is missing or unreadable ({exc})") from exc


# --- tasks ---------------------------------------------------------------------------------------------
def prepare(mode: str, context: dict[str, Any]) -> dict[str, Any]:
    """Fails without retry on a bad setting or a refused run: retrying cannot fix either."""
    from airflow.sdk.exceptions import AirflowFailException

    try:
        return _prepare(mode, context)
    except (SettingsError, RunRefused) as exc:
        raise AirflowFailException(str(exc)) from exc


def _prepare(mode: str, context: dict[str, Any]) -> dict[str, Any]:
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}")
    raw = load_settings_json()
    settings = parse_settings(raw)  # a bad setting stops the run here, before any read or write
    params = dict(context.get("params") or {})
    dag_run = context["dag_run"]
    dag_id, run_id = dag_run.dag_id, dag_run.run_id
    runtime = Runtime.from_env()
    state = StateStore(runtime.state_url)
    now = pd.Timestamp.now(tz="UTC")

    if settings.company_sync_enabled:
        enabled_at = state.mark_company_sync_enabled(now)
    else:
        state.mark_company_sync_disabled(now)
        enabled_at = state.company_sync_enabled_at()
        if mode == "import":
            raise RunRefused(
                "R1: company sync is off, so no account can be imported (HubSpot would create no company). "
                f"Turn it on first: set company_sync_enabled to true in the {VARIABLE_KEY} Variable."
            )

    ids = {
        "account_ids": _id_list(params, "account_ids") if mode == "import" else [],
        "hubspot_company_ids": _id_list(params, "hubspot_company_ids") if mode == "resync" else [],
        "salesforce_account_ids": _id_list(params, "salesforce_account_ids") if mode == "resync" else [],
    }
    if mode == "resync" and not (ids["hubspot_company_ids"] or ids["salesforce_account_ids"]):
        raise RunRefused("company_resync needs hubspot_company_ids or salesforce_account_ids (both are empty)")

    full_refresh = bool(params.get("full_refresh", False))
    last_success_end = state.last_successful_window_end(dag_id)
    window = sync_window(
        getattr(dag_run, "run_type", "manual"),
        getattr(dag_run, "data_interval_start", None),
        getattr(dag_run, "data_interval_end", None),
        getattr(dag_run, "run_after", None) or now,
        last_success_end,
        # The first company_sync run reads both systems whole: the matching mirror starts from it.
        full_refresh=full_refresh or (mode == "sync" and last_success_end is None),
        overlap=runtime.window_overlap,
    )
    dry_run = bool(params.get("dry_run", False))
    state.start_run(
        run_id=run_id,
        dag_id=dag_id,
        logical_date=getattr(dag_run, "logical_date", None),
        run_type=str(getattr(dag_run, "run_type", "manual")),
        window_start=window.start,
        window_end=window.end,
        dry_run=dry_run,
    )
    log.info(
        "%s run %s (%s): %s%s; company sync %s since %s",
        dag_id,
        run_id,
        mode,
        window.describe(),
        " [dry run: nothing will be written]" if dry_run else "",
        "on" if settings.company_sync_enabled else "OFF",
        enabled_at,
    )
    return {
        "dag_id": dag_id,
        "run_id": run_id,
        "mode": mode,
        "dry_run": dry_run,
        "full_scan": window.is_full_scan,
        "window_start": window.start.isoformat() if window.start is not None else None,
        "window_end": window.end.isoformat(),
        "window": window.describe(),
        "enabled": settings.company_sync_enabled,
        "enabled_at": enabled_at.isoformat() if enabled_at is not None else None,
        "settings_json": raw,
        **ids,
    }


def sync_enabled(run_data: dict[str, Any]) -> bool:
    if not run_data["enabled"]:
        log.warning(
            "R1: company sync is off (company_sync_enabled is false in %s): nothing is extracted or "
            "written by this run; the report says so.",
            VARIABLE_KEY,
        )
    return bool(run_data["enabled"])


# --- extract -------------------------------------------------------------------------------------------
def _ids(series: pd.Series | None) -> list[str]:
    if series is None:
        return []
    return list(dict.fromkeys(str(v) for v in series.dropna() if str(v).strip()))


def extract_salesforce(run_data: dict[str, Any]) -> dict[str, Any]:
    """Accounts changed in the window (or chosen by id), and the org's users for owner mapping."""
    run = Run(run_data)
    sf = run.salesforce()
    sf.check_setup()
    fields = run.account_fields()
    if run.mode == "sync":
        accounts = sf.accounts_changed(fields, run.start, run.end)
    elif run.mode == "import":
        accounts = (
            sf.accounts_by_ids(run.account_ids, fields)
            if run.account_ids
            else sf.accounts_changed(fields, None, run.end)
        )
    else:
        accounts = sf.accounts_by_ids(run.salesforce_account_ids, fields)
    missing = sorted(set(run.account_ids or run.salesforce_account_ids) - set(_ids(accounts.get("Id"))))
    if missing:
        log.warning("%d chosen Salesforce account(s) do not exist: %s", len(missing), ", ".join(missing[:20]))
    accounts = accounts.assign(changed=True)
    users = sf.users()
    log.info("Salesforce: %d accounts to consider, %d users (%s)", len(accounts), len(users), run.data["window"])
    return {
        "sf_accounts": run.stage("extract_sf_accounts", accounts),
        "sf_users": run.stage("sf_users", users),
        "missing_ids": missing,
        "counts": {"accounts": len(accounts), "users": len(users)},
        "api_calls": sf.calls.as_dict(),
    }


def extract_hubspot(run_data: dict[str, Any]) -> dict[str, Any]:
    """Companies changed in the window (or chosen by id), owners, lifecycle stages, inclusion list."""
    run = Run(run_data)
    hs = run.hubspot()
    hs.check_setup()
    props = run.company_properties()
    if run.mode == "sync":
        companies = hs.companies_changed(props, run.start, run.end)
    else:  # import drives from Salesforce only; companies come in as counterparts
        companies = hs.companies_by_ids(run.hubspot_company_ids, props)
    missing = sorted(set(run.hubspot_company_ids) - set(_ids(companies.get("id"))))
    if missing:
        log.warning("%d chosen HubSpot company id(s) do not exist: %s", len(missing), ", ".join(missing[:20]))
    companies = companies.assign(changed=True)
    owners = hs.owners()
    stages = pd.DataFrame({"stage": hs.lifecycle_stages()})
    list_id = run.settings.inclusion_list_id
    members = hs.list_members(list_id) if list_id else pd.DataFrame({"contact_id": pd.Series(dtype="str")})
    log.info(
        "HubSpot: %d companies to consider, %d owners, %d lifecycle stages, inclusion list %s (%d members)",
        len(companies),
        len(owners),
        len(stages),
        list_id or "none: every contact qualifies",
        len(members),
    )
    return {
        "hs_companies": run.stage("extract_hs_companies", companies),
        "hs_owners": run.stage("hs_owners", owners),
        "lifecycle_stages": run.stage("lifecycle_stages", stages),
        "hs_list_members": run.stage("hs_list_members", members),
        "missing_ids": missing,
        "counts": {"companies": len(companies), "owners": len(owners)},
        "api_calls": hs.calls.as_dict(),
    }


def _mirror_rows(frame: pd.DataFrame, system: str) -> pd.DataFrame:
    """The matching keys of extracted records, for the state store's mirror."""
    from include.company_sync.engine import matchable_domain

    if system == "salesforce":
        domain = matchable_domain(frame["Website"].astype("str")) if "Website" in frame else None
        cols = {
            "record_id": frame["Id"],
            "domain": domain,
            "external_id": frame.get("HubSpot_Company_ID__c"),
            "created_at": frame.get("CreatedDate"),
            "modified_at": frame.get("SystemModstamp"),
            "deleted": frame.get("IsDeleted", False),
        }
    else:
        domain = matchable_domain(frame["domain"].astype("str")).fillna(
            matchable_domain(frame["website"].astype("str"))
        )
        cols = {
            "record_id": frame["id"],
            "domain": domain,
            "external_id": frame.get("salesforceaccountid"),
            "created_at": frame.get("createdate"),
            "modified_at": frame.get("hs_lastmodifieddate"),
            "deleted": False,
        }
    return pd.DataFrame({k: v for k, v in cols.items() if v is not None}).reset_index(drop=True)


def _union(primary: pd.DataFrame, extra: pd.DataFrame, key: str) -> pd.DataFrame:
    """Changed records first; counterparts (changed=False) only where not already present."""
    if extra.empty:
        return primary
    extra = extra[~extra[key].isin(primary[key])].assign(changed=False)
    return pd.concat([primary, extra], ignore_index=True) if not primary.empty else extra.reset_index(drop=True)


def _companies_sharing_contacts(sf, hs, changed_accounts: pd.DataFrame, links: pd.DataFrame) -> pd.Series:
    """R9 step 3 for incremental runs: ids of companies associated with a HubSpot contact that has the email
    of a contact of a changed, unlinked account (the mirror holds domains, not emails)."""
    unlinked = changed_accounts[
        changed_accounts["HubSpot_Company_ID__c"].isna() & ~changed_accounts["Id"].isin(links["account_id"])
    ]
    if unlinked.empty:
        return pd.Series([], dtype="str")
    emails = _ids(sf.contacts(account_ids=_ids(unlinked["Id"]))["Email"])
    if not emails:
        return pd.Series([], dtype="str")
    contacts = hs.contacts_by_emails(emails)
    if contacts.empty:
        return pd.Series([], dtype="str")
    return hs.associations(contact_ids=_ids(contacts["id"]))["company_id"].astype("str")


def complete_inputs(run_data: dict[str, Any], sf_out: dict[str, Any], hs_out: dict[str, Any]) -> dict[str, Any]:
    """Everything planning needs: counterparts of the changed records (through links, ids and the domain
    mirror, so an incremental run never scans a whole system), associations, contacts and leads."""
    from include.company_sync.engine import counterpart_keys

    run = Run(run_data)
    sf, hs = run.salesforce(), run.hubspot()
    accounts, companies = run.read(sf_out["sf_accounts"]), run.read(hs_out["hs_companies"])
    fields, props = run.account_fields(), run.company_properties()
    state = run.state
    links = state.links()

    if not (run.mode == "sync" and run.full_scan):  # a full sync scan has read both sides whole already
        # Never scanned a side before (first import or resync)? Read it whole once to seed the mirror.
        read_whole = set()
        for system in ("salesforce", "hubspot"):
            if state.mirror_size(system) == 0:
                read_whole.add(system)
                log.info("%s: no matching mirror yet, reading every record once", system)
                if system == "salesforce":
                    accounts = _union(accounts, sf.accounts_changed(fields, None, run.end), "Id")
                else:
                    companies = _union(companies, hs.companies_changed(props, None, run.end), "id")
        changed_a, changed_c = accounts[accounts["changed"]], companies[companies["changed"]]
        keys_a, keys_c = _mirror_rows(changed_a, "salesforce"), _mirror_rows(changed_c, "hubspot")
        domains = _ids(pd.concat([keys_a["domain"], keys_c["domain"]]))
        mirror = pd.concat(
            [
                state.mirror(
                    "salesforce",
                    domains=domains,
                    ids=_ids(changed_c.get("salesforceaccountid")),
                    external_ids=_ids(changed_c["id"]),
                ),
                state.mirror(
                    "hubspot",
                    domains=domains,
                    ids=_ids(changed_a.get("HubSpot_Company_ID__c")),
                    external_ids=_ids(changed_a["Id"]),
                ),
            ],
            ignore_index=True,
        )
        account_ids, company_ids = counterpart_keys(changed_a, changed_c, links, mirror)
        known_accounts, known_companies = set(accounts["Id"]), set(companies["id"])
        account_ids = [i for i in _ids(account_ids) if i not in known_accounts]
        if "hubspot" not in read_whole:  # every company is loaded already otherwise
            company_ids = _ids(
                pd.concat(
                    [pd.Series(_ids(company_ids), dtype="str"), _companies_sharing_contacts(sf, hs, changed_a, links)]
                )
            )
        company_ids = [i for i in company_ids if i not in known_companies]
        accounts = _union(accounts, sf.accounts_by_ids(account_ids, fields), "Id")
        companies = _union(companies, hs.companies_by_ids(company_ids, props), "id")
        log.info("counterparts fetched: %d accounts, %d companies", len(account_ids), len(company_ids))

    associations = hs.associations(_ids(companies["id"]))
    hs_contacts = hs.contacts_by_ids(_ids(associations["contact_id"]))
    by_account = sf.contacts(account_ids=_ids(accounts["Id"]))
    # the contacts HubSpot knows that the first query did not return (private ones, R5b; other accounts')
    fetched = set(_ids(by_account["Id"]))
    synced = [i for i in _ids(hs_contacts.get("salesforcecontactid")) if i not in fetched]
    sf_contacts = pd.concat([by_account, sf.contacts(ids=synced)], ignore_index=True).drop_duplicates("Id")
    sf_leads = sf.leads(_ids(hs_contacts.get("salesforceleadid")))

    state.upsert_mirror("salesforce", _mirror_rows(accounts, "salesforce"))
    state.upsert_mirror("hubspot", _mirror_rows(companies, "hubspot"))
    frames = {
        "sf_accounts": accounts,
        "hs_companies": companies,
        "sf_contacts": sf_contacts,
        "sf_leads": sf_leads,
        "hs_contacts": hs_contacts,
        "hs_associations": associations,
    }
    log.info("inputs: %s", ", ".join(f"{len(f)} {name}" for name, f in frames.items()))
    urls = {name: run.stage(name, frame) for name, frame in frames.items()}
    for name in ("sf_users",):
        urls[name] = sf_out[name]
    for name in ("hs_owners", "lifecycle_stages", "hs_list_members"):
        urls[name] = hs_out[name]
    return {
        "frames": urls,
        "counts": {name: len(f) for name, f in frames.items()},
        "api_calls": {"salesforce": sf.calls.as_dict(), "hubspot": hs.calls.as_dict()},
        "missing_ids": {"salesforce": sf_out.get("missing_ids", []), "hubspot": hs_out.get("missing_ids", [])},
    }


# --- validate and plan ---------------------------------------------------------------------------------
def _stage_checks(run: Run, name: str, results: list[validation.CheckResult]) -> str:
    return run.stage(name, pd.DataFrame(validation.as_records(results)))


def validate_inputs(run_data: dict[str, Any], inputs: dict[str, Any]) -> dict[str, Any]:
    from include.company_sync import report as reporting

    run = Run(run_data)
    frames = {name: run.read(url) for name, url in inputs["frames"].items()}
    stages = frames["lifecycle_stages"]["stage"] if "stage" in frames.get("lifecycle_stages", ()) else None
    results = validation.validate_frames(
        validation.input_check_frames(frames, run.settings),
        validation.input_suites(run.settings, stages),
        docs_dir=reporting.data_docs_dir(run.runtime.reports_dir, run.dag_id, run.run_id, "extracts"),
        run_name=run.run_id,
    )
    url = _stage_checks(run, "checks_inputs", results)
    validation.raise_on_blocking(results, "extracts")
    return {"checks": url, "warnings": sum(not r.success for r in results)}


PLAN_FRAMES = (
    "hubspot_creates",
    "hubspot_updates",
    "salesforce_creates",
    "salesforce_updates",
    "contact_attachments",
    "new_links",
    "removed_links",
    "decisions",
    "conflicts",
    "duplicate_candidates",
    "synced_values",
)


def plan(run_data: dict[str, Any], inputs: dict[str, Any]) -> dict[str, Any]:
    from include.company_sync.engine import PlanContext, SyncInputs, plan_sync
    from include.company_sync.runtime import lean_memory_for_planning

    log.info("memory: %s", lean_memory_for_planning())
    run = Run(run_data)
    frames = {name: run.read(url) for name, url in inputs["frames"].items()}
    stages = tuple(frames.pop("lifecycle_stages")["stage"].astype(str))
    accounts = frames["sf_accounts"]
    sync_inputs = SyncInputs(
        **frames,
        lifecycle_stages=stages,
        links=run.state.links(),
        synced_values=run.state.synced_values(_ids(accounts["Id"])),
    )
    context = PlanContext(
        settings=run.settings,
        now=pd.Timestamp(run.window_end),
        sync_enabled_at=pd.Timestamp(run.enabled_at),
        mode=run.mode,
        import_account_ids=tuple(run.account_ids) or None,
        resync_company_ids=tuple(run.hubspot_company_ids),
        resync_account_ids=tuple(run.salesforce_account_ids),
    )
    result = plan_sync(sync_inputs, context)
    urls = {name: run.stage(f"plan_{name}", getattr(result, name)) for name in PLAN_FRAMES}
    counts = plan_counts(result.decisions)
    counts["writes"] = {name: int(getattr(result, name)["record_id"].nunique()) for name in PLAN_FRAMES[:4]}
    log.info("plan: %s", json.dumps(counts))
    return {"frames": urls, "counts": counts, "considered": len(result.decisions)}


def plan_counts(decisions: pd.DataFrame) -> dict[str, Any]:
    """{system: {action: n}} and {reason: n}."""
    by_action = decisions.groupby(["system", "action"]).size()
    out: dict[str, Any] = {"decisions": {}}
    for (system, action), n in by_action.items():
        out["decisions"].setdefault(system, {})[action] = int(n)
    out["reasons"] = {str(k): int(v) for k, v in decisions["reason"].value_counts().sort_index().items()}
    return out


def validate_plan(run_data: dict[str, Any], planned: dict[str, Any]) -> dict[str, Any]:
    from include.company_sync import report as reporting

    run = Run(run_data)
    frames = {name: run.read(url) for name, url in planned["frames"].items()}
    # The circuit breaker guards incremental syncs; imports, resyncs and full scans change most records.
    incremental = run.mode == "sync" and not run.full_scan
    minimum = run.runtime.breaker_min_records if incremental else 2**62
    history = validation.recent_write_counts(run.state.recent_runs(run.dag_id, limit=100)) if incremental else []
    results = validation.validate_frames(
        validation.plan_check_frames(frames, planned["considered"]),
        validation.plan_suites(run.settings.max_change_ratio, minimum, history),
        docs_dir=reporting.data_docs_dir(run.runtime.reports_dir, run.dag_id, run.run_id, "plan"),
        run_name=run.run_id,
    )
    url = _stage_checks(run, "checks_plan", results)
    validation.raise_on_blocking(results, "plan")
    return {"checks": url, "warnings": sum(not r.success for r in results)}


# --- load ----------------------------------------------------------------------------------------------
def _ledger_rows(
    run: Run, system: str, operation: str, results: pd.DataFrame, written: dict[str, dict]
) -> pd.DataFrame:
    """One ledger row per attempted record write (new values as JSON)."""
    now = pd.Timestamp.now(tz="UTC")
    return pd.DataFrame(
        {
            "run_id": run.run_id,
            "dag_id": run.dag_id,
            "system": system,
            "operation": operation,
            "record_id": results["id"].astype("str"),
            "source_id": results["key"].astype("str"),
            "field": None,
            "old_value": None,
            "new_value": [json.dumps(written.get(k, {}), default=str, sort_keys=True) for k in results["key"]],
            "result": results["success"].map({True: "success", False: "failed"}),
            "error_category": results["category"],
            "error_code": results["error_code"],
            "message": results["message"],
            "at": now,
        }
    )


# Records per ledgered chunk: one HubSpot batch call; for Salesforce, large enough for Bulk API jobs.
WRITE_CHUNK = {"hubspot": 100, "salesforce": 10_000}
# Chunks in flight at once. A HubSpot batch call takes hundreds of ms to land: one at a time reaches a fraction
# of the 190 calls / 10 s that the shared limiter allows, six reach it at up to ~300 ms a call
# (benchmarks/bench_hubspot_load.py). Salesforce chunks are Bulk jobs, sent one after the other.
WRITE_WORKERS = {"hubspot": 6, "salesforce": 1}


def _send_chunks(chunks: list[list[dict]], send, workers: int, on_landed) -> list[pd.DataFrame]:
    """`send` each chunk, `workers` at a time, calling `on_landed` (the ledger) as each lands, in this thread.

    On a failure nothing new is started; the chunks already in flight finish and are ledgered before the error
    is raised, so a retry of the task resends exactly the chunks that did not land."""
    from concurrent.futures import ThreadPoolExecutor, as_completed

    results: list[pd.DataFrame | None] = [None] * len(chunks)
    error: BaseException | None = None
    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="write") as pool:
        futures = {pool.submit(send, part): i for i, part in enumerate(chunks)}
        for future in as_completed(futures):
            if future.cancelled():
                continue
            i = futures[future]
            try:
                results[i] = future.result()
            except Exception as exc:  # re-raised once the chunks in flight are ledgered
                if error is None:
                    error = exc
                    for other in futures:
                        other.cancel()
                continue
            on_landed(chunks[i], results[i])
    if error is not None:
        raise error
    return [r for r in results if r is not None]


def _write(run: Run, system: str, operation: str, records: list[dict], key: str, send) -> pd.DataFrame:
    """Send records not already written by an earlier try of this task; ledger every result."""
    from include.company_sync.connectors.results import results_frame

    done = set(_ids(run.state.already_applied(run.run_id, system, operation, dag_id=run.dag_id)["source_id"]))
    todo = [r for r in records if str(r[key]) not in done]
    if len(todo) < len(records):
        log.info(
            "%s %s: %d record(s) already written by an earlier try of this run, skipped",
            system,
            operation,
            len(records) - len(todo),
        )

    def ledger(part: list[dict], result: pd.DataFrame) -> None:  # per chunk: a killed task resumes after it
        run.state.append_ledger(_ledger_rows(run, system, operation, result, {str(r[key]): r for r in part}))

    chunk = WRITE_CHUNK[system]
    chunks = [todo[start : start + chunk] for start in range(0, len(todo), chunk)]
    landed = _send_chunks(chunks, send, WRITE_WORKERS[system], on_landed=ledger)
    results = pd.concat([results_frame([]), *landed], ignore_index=True)
    failed = results[~results["success"]]
    log.info(
        "%s %s: %d sent, %d succeeded, %d failed%s",
        system,
        operation,
        len(todo),
        int(results["success"].sum()),
        len(failed),
        ""
        if failed.empty
        else " (" + ", ".join(f"{c}: {n}" for c, n in failed["category"].value_counts().items()) + ")",
    )
    return results.assign(operation=operation)


def _dry(run: Run, planned: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any] | None:
    if not run.dry_run:
        return None
    counts = {n: planned["counts"]["writes"][n] for n in names}
    log.info("dry run: would write %s; nothing sent", counts)
    return {"dry_run": True, "would_write": counts, "results": None}


def _summarise(run: Run, name: str, frames: list[pd.DataFrame], calls: dict[str, int]) -> dict[str, Any]:
    results = pd.concat(frames, ignore_index=True)
    return {
        "results": run.stage(name, results),
        "counts": {
            op: {"succeeded": int(g["success"].sum()), "failed": int((~g["success"]).sum())}
            for op, g in results.groupby("operation")
        },
        "api_calls": calls,
    }


def load_hubspot(run_data: dict[str, Any], planned: dict[str, Any]) -> dict[str, Any]:
    """Creates upsert on `salesforceaccountid` (= the Account Id), so a retried task never duplicates."""
    from include.company_sync.engine import hubspot_inputs

    run = Run(run_data)
    if (dry := _dry(run, planned, ("hubspot_creates", "hubspot_updates"))) is not None:
        return dry
    hs = run.hubspot()
    creates = [
        {**r["properties"], "salesforceaccountid": r["id"]}
        for r in hubspot_inputs(run.read(planned["frames"]["hubspot_creates"]))
    ]
    updates = [
        {**r["properties"], "id": r["id"]} for r in hubspot_inputs(run.read(planned["frames"]["hubspot_updates"]))
    ]
    frames = [
        _write(run, "hubspot", "upsert", creates, "salesforceaccountid", hs.upsert_companies),
        _write(run, "hubspot", "update", updates, "id", hs.update_companies),
    ]
    return _summarise(run, "load_hubspot_results", frames, hs.calls.as_dict())


def load_salesforce(run_data: dict[str, Any], planned: dict[str, Any]) -> dict[str, Any]:
    """Creates upsert on `HubSpot_Company_ID__c` (= the company id), so a retried task never duplicates."""
    from include.company_sync.engine import salesforce_records

    run = Run(run_data)
    if (dry := _dry(run, planned, ("salesforce_creates", "salesforce_updates"))) is not None:
        return dry
    sf = run.salesforce()
    settings = run.settings
    creates = salesforce_records(
        run.read(planned["frames"]["salesforce_creates"]), settings, key_field="HubSpot_Company_ID__c"
    )
    updates = salesforce_records(run.read(planned["frames"]["salesforce_updates"]), settings)
    frames = [
        _write(run, "salesforce", "upsert", creates, "HubSpot_Company_ID__c", sf.upsert_accounts),
        _write(run, "salesforce", "update", updates, "Id", sf.update_accounts),
    ]
    return _summarise(run, "load_salesforce_results", frames, sf.calls.as_dict())


# --- link and report -----------------------------------------------------------------------------------
def _created_pairs(results: pd.DataFrame, key_is: str) -> pd.DataFrame:
    """(account_id, company_id) of the records a load upserted successfully."""
    if results.empty:
        return pd.DataFrame({"account_id": pd.Series(dtype="str"), "company_id": pd.Series(dtype="str")})
    ok = results[(results["operation"] == "upsert") & results["success"]]
    key, new_id = ok["key"].astype("str"), ok["id"].astype("str")
    pairs = (
        {"account_id": key, "company_id": new_id} if key_is == "account" else {"account_id": new_id, "company_id": key}
    )
    return pd.DataFrame(pairs).reset_index(drop=True)


def _failed_keys(results: pd.DataFrame) -> set[str]:
    return set() if results.empty else set(_ids(results.loc[~results["success"], "key"]))


def link_ids(
    run_data: dict[str, Any], planned: dict[str, Any], hs_out: dict[str, Any], sf_out: dict[str, Any]
) -> dict[str, Any]:
    """Write each system's id onto the records just created in the other, attach private contacts to their
    new accounts (adopted R5b rule), and record links and last-synced values in the state store."""
    run = Run(run_data)
    if run.dry_run:
        log.info("dry run: no ids written back, state store unchanged")
        return {"dry_run": True}
    hs_results, sf_results = run.read(hs_out["results"]), run.read(sf_out["results"])
    new_companies = _created_pairs(hs_results, key_is="account")  # company created from an account
    new_accounts = _created_pairs(sf_results, key_is="company")  # account created from a company
    sf, hs = run.salesforce(), run.hubspot()

    attachments = run.read(planned["frames"]["contact_attachments"]).merge(new_accounts, on="company_id")
    frames = [
        _write(
            run,
            "salesforce",
            "link",
            [{"Id": a, "HubSpot_Company_ID__c": c} for a, c in new_companies.itertuples(index=False)],
            "Id",
            sf.update_accounts,
        ),
        _write(
            run,
            "hubspot",
            "link",
            [{"id": c, "salesforceaccountid": a} for a, c in new_accounts.itertuples(index=False)],
            "id",
            hs.update_companies,
        ),
        _write(
            run,
            "salesforce",
            "attach",
            [{"Id": r.contact_id, "AccountId": r.account_id} for r in attachments.itertuples(index=False)],
            "Id",
            sf.update_contacts,
        ),
    ]

    # State: links for matches whose writes landed and for created pairs; values both sides now agree on.
    failed_hs, failed_sf = _failed_keys(hs_results), _failed_keys(sf_results)
    matched = run.read(planned["frames"]["new_links"])
    matched = matched[~matched["company_id"].isin(failed_hs) & ~matched["account_id"].isin(failed_sf)]
    links = pd.concat([matched[["account_id", "company_id"]], new_companies, new_accounts], ignore_index=True)
    run.state.upsert_links(links, run.run_id)
    removed = run.read(planned["frames"]["removed_links"])
    if not removed.empty:
        run.state.remove_links(_ids(removed["account_id"]))

    synced = run.read(planned["frames"]["synced_values"])
    if not synced.empty:
        synced = synced.astype({"account_id": "str", "company_id": "str"})  # category ids: filled below
        by_company = dict(zip(new_accounts["company_id"], new_accounts["account_id"], strict=True))
        by_account = dict(zip(new_companies["account_id"], new_companies["company_id"], strict=True))
        synced["account_id"] = synced["account_id"].fillna(synced["company_id"].map(by_company))
        synced["company_id"] = synced["company_id"].fillna(synced["account_id"].map(by_account))
        synced = synced.dropna(subset=["account_id", "company_id"])
        synced = synced[
            ~synced["account_id"].isin(failed_sf | failed_hs) & ~synced["company_id"].isin(failed_hs | failed_sf)
        ]
        run.state.record_synced_values(synced)
    log.info(
        "linked %d pairs (%d matched, %d companies and %d accounts created); %d synced values recorded",
        len(links),
        len(matched),
        len(new_companies),
        len(new_accounts),
        len(synced),
    )
    summary = _summarise(run, "link_results", frames, {"salesforce": sf.calls.total, "hubspot": hs.calls.total})
    summary["links"] = len(links)
    return summary


def report(run_data: dict[str, Any] | None, context: dict[str, Any]) -> str:
    """Write the run's report (JSON, HTML, errors CSV), close the run in the state store, and fail the DAG
    run when a task failed (the report still tells what happened)."""
    from airflow.sdk.exceptions import AirflowFailException

    from include.company_sync import report as reporting

    ti = context["ti"]
    dag_run = context["dag_run"]
    states = ti.get_task_states(dag_id=dag_run.dag_id, run_ids=[dag_run.run_id]).get(dag_run.run_id, {})
    states.pop(ti.task_id, None)
    failed = sorted(t for t, s in states.items() if s == "failed")
    if run_data is None:
        raise AirflowFailException(f"the run could not start: {', '.join(failed) or 'prepare'} failed; see its log")

    run = Run(run_data)
    outputs = {task_id: ti.xcom_pull(task_ids=task_id) for task_id in states}
    document = reporting.build(run, outputs, states)
    path = reporting.write(document, run.runtime.reports_dir)
    status = "failed" if failed else ("skipped" if not run.enabled else "success")
    run.state.finish_run(run.run_id, status, document["summary"], str(path), dag_id=run.dag_id)
    log.info("report: %s\n%s", path, reporting.text_summary(document))
    if failed:
        raise AirflowFailException(f"run failed at {', '.join(failed)}: see that task's log; report at {path}")
    return str(path)
