"""prepare and sync_enabled: validate the settings, open the state store, take the write lease (`tasks/lease.py`),
fix the run's window and descriptor, record the run (R1)."""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd

from include.company_sync import field_schema
from include.company_sync.runtime import Runtime
from include.company_sync.settings import VARIABLE_KEY, SettingsError, parse_settings
from include.company_sync.staging import Staging
from include.company_sync.state import StateStore
from include.company_sync.tasks import lease
from include.company_sync.tasks.spec import MODES, Mode, RunSpec
from include.company_sync.windows import SyncWindow, sync_window

log = logging.getLogger(__name__)


class RunRefused(RuntimeError):
    """The run cannot do its job (R1 import with sync off, bad params); nothing was written."""


class StateUnreachable(RuntimeError):
    """The state store cannot be opened (wrong URL, server down, no driver): nothing was read or written."""


def open_state(url: str) -> StateStore:
    """The state store at `url`, upgraded to the current schema; `StateUnreachable` naming the URL with its
    password masked (and the driver's reason, scrubbed of the password) when it cannot be opened."""
    import sqlalchemy as sa

    try:
        masked = sa.engine.make_url(url).render_as_string(hide_password=True)
        password = sa.engine.make_url(url).password
    except Exception:  # noqa: BLE001 - an unparsable URL: name none of it (it may hold a password)
        raise StateUnreachable("COMPANY_SYNC_STATE_URL is not a database URL") from None
    try:
        return StateStore(url)
    except (sa.exc.SQLAlchemyError, OSError, ImportError) as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0] if str(exc).strip() else ""
        if password:
            reason = reason.replace(str(password), "***")
        raise StateUnreachable(f"the state store {masked} cannot be opened: {type(exc).__name__}: {reason}") from exc


def load_settings_json() -> str:
    """The Variable's text (the environment override `AIRFLOW_VAR_COMPANY_SYNC_SETTINGS` wins)."""
    from airflow.sdk import Variable

    try:
        return Variable.get(VARIABLE_KEY)
    except Exception as exc:  # the SDK raises its own not-found error type; name the Variable
        raise SettingsError(f"{VARIABLE_KEY}: the Airflow Variable is missing or unreadable ({exc})") from exc


def prepare(mode: Mode, context: dict[str, Any]) -> RunSpec:
    """Fails without retry on a bad setting or a refused run: retrying cannot fix either."""
    from airflow.sdk.exceptions import AirflowFailException

    try:
        return _prepare(mode, context)
    except (SettingsError, RunRefused, StateUnreachable) as exc:
        raise AirflowFailException(str(exc)) from exc


def _id_list(params: dict[str, Any], key: str) -> tuple[str, ...]:
    value = params.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, (str, int)) and str(v).strip() for v in value):
        raise RunRefused(f"param {key}: expected a list of ids, got {value!r}")
    return tuple(dict.fromkeys(str(v).strip() for v in value))


def _chosen_ids(mode: Mode, params: dict[str, Any]) -> dict[str, tuple[str, ...]]:
    ids = {
        "account_ids": _id_list(params, "account_ids") if mode == "import" else (),
        "hubspot_company_ids": _id_list(params, "hubspot_company_ids") if mode == "resync" else (),
        "salesforce_account_ids": _id_list(params, "salesforce_account_ids") if mode == "resync" else (),
    }
    if mode == "resync" and not (ids["hubspot_company_ids"] or ids["salesforce_account_ids"]):
        raise RunRefused("company_resync needs hubspot_company_ids or salesforce_account_ids (both are empty)")
    return ids


def _record_enablement(state: StateStore, enabled: bool, mode: Mode, now: pd.Timestamp) -> pd.Timestamp | None:
    """R1/R2/R3: note when company sync was first seen on (or that it is off); an import refuses while off."""
    if enabled:
        return state.mark_company_sync_enabled(now)
    state.mark_company_sync_disabled(now)
    if mode == "import":
        raise RunRefused(
            "R1: company sync is off, so no account can be imported (HubSpot would create no company). "
            f"Turn it on first: set company_sync_enabled to true in the {VARIABLE_KEY} Variable."
        )
    return state.company_sync_enabled_at()


def _check_field_mappings(raw: str, settings: Any, runtime: Runtime) -> tuple[str, dict[str, dict[str, int]]]:
    """#15 item 6: every mapping against the Account describe and the company properties (one call each side),
    before any extract or write; returns the settings JSON the run's tasks read (`field_schema.py`) and the
    calls made, per system (the report counts them with the other tasks')."""
    from include.company_sync.tasks.failures import fail_fast

    with fail_fast():  # wrong credentials and the like fail at once, like in the extracts
        describe, properties, calls = field_schema.read_schemas(runtime)
    checked = field_schema.checked_settings_json(raw, settings, describe, properties)
    log.info(
        "field mappings: %d checked against the Account describe and the company properties (API calls: %s)",
        len(settings.field_mappings),
        calls,
    )
    return checked, calls


def _window(dag_run: Any, state: StateStore, runtime: Runtime, mode: Mode, full_refresh: bool, now) -> SyncWindow:
    last_success_end = state.last_successful_window_end(dag_run.dag_id)
    return sync_window(
        getattr(dag_run, "run_type", "manual"),
        getattr(dag_run, "data_interval_start", None),
        getattr(dag_run, "data_interval_end", None),
        getattr(dag_run, "run_after", None) or now,
        last_success_end,
        # The first company_sync run reads both systems whole: the matching mirror starts from it.
        full_refresh=full_refresh or (mode == "sync" and last_success_end is None),
        overlap=runtime.window_overlap,
    )


def _prepare(mode: Mode, context: dict[str, Any]) -> RunSpec:
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}")
    raw = load_settings_json()
    settings = parse_settings(raw)  # a bad setting stops the run here, before any read or write
    params = dict(context.get("params") or {})
    dag_run = context["dag_run"]
    try:
        runtime = Runtime.from_env()  # a bad deployment setting stops the run here too, naming its key
    except ValueError as exc:
        raise SettingsError(str(exc)) from exc
    state = open_state(runtime.state_url)  # an unreachable store fails the run here, before any API call
    clean_staging(runtime, dag_run.dag_id, dag_run.run_id)
    # One writer at a time: wait for the lease before reading anything, so this run plans on the last one's results.
    got = lease.take(state, runtime, dag_run.dag_id, dag_run.run_id)
    try:
        now = pd.Timestamp.now(tz="UTC")
        enabled_at = _record_enablement(state, settings.company_sync_enabled, mode, now)
        ids = _chosen_ids(mode, params)
        window = _window(dag_run, state, runtime, mode, bool(params.get("full_refresh", False)), now)
        dry_run = bool(params.get("dry_run", False))
        schema_calls: dict[str, dict[str, int]] = {}
        if settings.company_sync_enabled:  # R1: a run with sync off reads and writes nothing, so nothing to check
            raw, schema_calls = _check_field_mappings(raw, settings, runtime)
        state.start_run(
            run_id=dag_run.run_id,
            dag_id=dag_run.dag_id,
            logical_date=getattr(dag_run, "logical_date", None),
            run_type=str(getattr(dag_run, "run_type", "manual")),
            window_start=window.start,
            window_end=window.end,
            dry_run=dry_run,
            waited_for=got.waited_for,
            waited_seconds=got.waited_seconds,
        )
    except BaseException:  # refused (R1) or broken: the next run need not wait for this one's lease
        state.release_lease(dag_run.dag_id, dag_run.run_id)
        raise
    log.info(
        "%s run %s (%s): %s%s; company sync %s since %s",
        dag_run.dag_id,
        dag_run.run_id,
        mode,
        window.describe(),
        " [dry run: nothing will be written]" if dry_run else "",
        "on" if settings.company_sync_enabled else "OFF",
        enabled_at,
    )
    return RunSpec(
        dag_id=dag_run.dag_id,
        run_id=dag_run.run_id,
        mode=mode,
        dry_run=dry_run,
        full_scan=window.is_full_scan,
        window_start=_moment(window.start),
        window_end=_moment(window.end),
        window=window.describe(),
        enabled=settings.company_sync_enabled,
        enabled_at=_moment(enabled_at),
        settings_json=raw,
        api_calls=schema_calls,
        **ids,
    )


def clean_staging(runtime: Runtime, dag_id: str, run_id: str) -> list[str]:
    """Remove every DAG's staged run folders older than `COMPANY_SYNC_STAGING_RETENTION_DAYS` (failed runs'
    frames, kept for debugging; a succeeded run's are removed by its report task). This run's are left alone.
    A cleanup problem is logged and does not stop the run: the next run tries again."""
    try:
        removed = Staging(runtime.staging_url).clean_all(runtime.staging_retention, keep=((dag_id, run_id),))
    except Exception as exc:  # noqa: BLE001 - object-store errors vary; the sync itself can still run
        log.warning(
            "staging retention: could not remove old run folders (%s); the next run retries", type(exc).__name__
        )
        return []
    if removed:
        log.info(
            "staging retention: removed %d run folder(s) older than %s days",
            len(removed),
            f"{runtime.staging_retention.total_seconds() / 86400:g}",
        )
    return removed


def _moment(value) -> Any:
    """A tz-aware `datetime` of the moment (None stays None), as the spec holds it."""
    return None if value is None else pd.Timestamp(value).to_pydatetime()


def sync_enabled(spec: RunSpec) -> bool:
    if not spec.enabled:
        log.warning(
            "R1: company sync is off (company_sync_enabled is false in %s): nothing is extracted or "
            "written by this run; the report says so.",
            VARIABLE_KEY,
        )
    return spec.enabled
