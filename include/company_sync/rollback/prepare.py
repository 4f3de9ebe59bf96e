"""prepare (company_sync_rollback): refuse a bad `run_id` with the reason, before any API call, take the write
lease, record the rollback run."""

from __future__ import annotations

import logging
import os
from datetime import timedelta
from typing import Any

import pandas as pd

from include.company_sync.rollback.spec import ROLLBACK_DAG_ID, ROLLED_BACK_DAGS, RollbackSpec
from include.company_sync.runtime import Runtime
from include.company_sync.state import StateStore
from include.company_sync.tasks import lease
from include.company_sync.tasks.prepare import RunRefused, StateUnreachable, open_state

log = logging.getLogger(__name__)

# How long the ledger is trusted for a rollback (COMPANY_SYNC_LEDGER_RETENTION_DAYS): older runs are refused.
DEFAULT_LEDGER_RETENTION_DAYS = 90


def ledger_retention() -> timedelta:
    text = os.environ.get("COMPANY_SYNC_LEDGER_RETENTION_DAYS", str(DEFAULT_LEDGER_RETENTION_DAYS))
    try:
        days = float(text)
    except ValueError:
        raise RunRefused(f"COMPANY_SYNC_LEDGER_RETENTION_DAYS must be a number of days, got {text!r}") from None
    return timedelta(days=days)


def target_run(state: StateStore, run_id: str, now: pd.Timestamp) -> pd.Series:
    """The runs row of `run_id`, or `RunRefused` saying why it cannot be rolled back."""
    if not run_id:
        raise RunRefused("param run_id is empty: give the Airflow run id of the run to roll back")
    runs = state.runs_with_id(run_id)
    if runs.empty:
        raise RunRefused(f"unknown run id {run_id!r}: no run of {', '.join(ROLLED_BACK_DAGS)} has it")
    if (runs["dag_id"] == ROLLBACK_DAG_ID).any():
        raise RunRefused(f"run {run_id!r} is a rollback itself: a rollback cannot be rolled back")
    ours = runs[runs["dag_id"].isin(ROLLED_BACK_DAGS)]
    if ours.empty:
        raise RunRefused(f"run {run_id!r} is a run of {runs['dag_id'].iloc[0]}, not of {', '.join(ROLLED_BACK_DAGS)}")
    if len(ours) > 1:
        raise RunRefused(f"run id {run_id!r} exists in {sorted(ours['dag_id'])}: ambiguous")
    run = ours.iloc[0]
    if run["status"] == "running":
        raise RunRefused(f"run {run_id!r} of {run['dag_id']} is still running: roll it back once it has finished")
    if bool(run["dry_run"]):
        raise RunRefused(f"run {run_id!r} of {run['dag_id']} was a dry run: it wrote nothing to roll back")
    retention = ledger_retention()
    if pd.Timestamp(run["started_at"]) < now - retention:
        raise RunRefused(
            f"run {run_id!r} started {run['started_at']:%Y-%m-%d}, older than the ledger's retention "
            f"({retention.days} days, COMPANY_SYNC_LEDGER_RETENTION_DAYS)"
        )
    return run


def prepare(context: dict[str, Any]) -> RollbackSpec:
    """Fails without retry on a refused run: retrying cannot fix it."""
    from airflow.sdk.exceptions import AirflowFailException

    try:
        return _prepare(context)
    except (RunRefused, StateUnreachable) as exc:
        raise AirflowFailException(str(exc)) from exc


def _prepare(context: dict[str, Any]) -> RollbackSpec:
    params = dict(context.get("params") or {})
    dag_run = context["dag_run"]
    runtime = Runtime.from_env()
    state = open_state(runtime.state_url)
    target_id = str(params.get("run_id") or "").strip()
    dry_run = bool(params.get("dry_run", False))
    got = lease.take(state, runtime, dag_run.dag_id, dag_run.run_id)
    try:
        run = target_run(state, target_id, pd.Timestamp.now(tz="UTC"))
        state.start_run(
            run_id=dag_run.run_id,
            dag_id=dag_run.dag_id,
            logical_date=getattr(dag_run, "logical_date", None),
            run_type=str(getattr(dag_run, "run_type", "manual")),
            dry_run=dry_run,
            waited_for=got.waited_for,
            waited_seconds=got.waited_seconds,
        )
    except BaseException:
        state.release_lease(dag_run.dag_id, dag_run.run_id)
        raise
    log.info(
        "rolling back %s run %s%s", run["dag_id"], target_id, " [dry run: nothing will be written]" if dry_run else ""
    )
    return RollbackSpec(
        dag_id=dag_run.dag_id,
        run_id=dag_run.run_id,
        target_dag_id=str(run["dag_id"]),
        target_run_id=target_id,
        target_started_at=pd.Timestamp(run["started_at"]).isoformat(),
        dry_run=dry_run,
    )
