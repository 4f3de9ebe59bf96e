"""The write lease in the task layer (issue #12, "one writer at a time"): the three DAGs (company_sync,
company_resync, salesforce_account_import) share one lease in the state store (`state.LEASE_NAME`).

- `prepare` takes it (`take`) before it reads anything, so a second run plans on the first run's results;
  while another run holds it, it waits (polling, logging every 30 s which run holds it and until when) up to
  `COMPANY_SYNC_LEASE_WAIT_MINUTES` (30), then fails without retry naming that run. Dry runs take it too:
  they read the state the writers change, and their report should describe a settled state.
- every later task renews it when it starts (`renew`), the loads and link_ids also every minute of their
  chunk loop, so it expires `COMPANY_SYNC_LEASE_TTL_MINUTES` (15) after a killed run's last renewal; the next
  run takes it over and marks the killed run `abandoned` in the runs table.
- `report` (trigger rule all_done) releases it; so does the DAG's failure callback (`on_run_failed`), which
  also marks a run still `running` as `failed` (a run Airflow failed without its report closing it).
"""

from __future__ import annotations

import logging
from typing import Any

from include.company_sync.runtime import Runtime
from include.company_sync.state import LeaseLost, LeaseTimeout, LeaseWait, StateStore

log = logging.getLogger(__name__)

RENEW_EVERY_SECONDS = 60.0  # in the write loops (the TTL is minutes)


def take(state: StateStore, runtime: Runtime, dag_id: str, run_id: str) -> LeaseWait:
    """Wait for the lease and take it; `AirflowFailException` naming the holder after the configured wait."""
    from airflow.sdk.exceptions import AirflowFailException

    try:
        got = state.wait_for_lease(dag_id, run_id, runtime.lease_ttl, runtime.lease_wait)
    except LeaseTimeout as exc:
        raise AirflowFailException(
            f"one writer at a time: {exc}. Try again once that run has finished, or raise "
            "COMPANY_SYNC_LEASE_WAIT_MINUTES"
        ) from exc
    if got.took_over is not None:
        log.warning("write lease taken over from %s (expired: marked abandoned)", got.took_over)
    log.info("write lease held until %s UTC (renewed by every task)", f"{got.holder.expires_at:%Y-%m-%d %H:%M:%S}")
    return got


def renew(state: StateStore, dag_id: str, run_id: str, at_most_every: float = 0.0) -> None:
    """Renew this run's lease; `AirflowFailException` when another run took it over (this run is abandoned)."""
    from airflow.sdk.exceptions import AirflowFailException

    try:
        state.renew_lease(dag_id, run_id, at_most_every=at_most_every)
    except LeaseLost as exc:
        raise AirflowFailException(str(exc)) from exc


def on_run_failed(context: dict[str, Any]) -> None:
    """The DAG's `on_failure_callback`: a run still `running` in the runs table becomes `failed`, and its
    lease is released. Never raises (a callback's error would only be logged by Airflow)."""
    dag_run = context.get("dag_run")  # absent when no task instance was involved (dag.test(): `dag`, `run_id`)
    dag_id = getattr(dag_run, "dag_id", None) or getattr(context.get("dag"), "dag_id", None)
    run_id = getattr(dag_run, "run_id", None) or context.get("run_id")
    if not (dag_id and run_id):
        log.warning("failure callback without a dag_id and run_id: nothing to close")
        return
    try:
        state = StateStore(Runtime.from_env().state_url)
        try:
            closed = state.close_run_if_running(run_id, dag_id, "failed")
            released = state.release_lease(dag_id, run_id)
        finally:
            state.dispose()
    except Exception as exc:  # noqa: BLE001 - the lease expires by itself; the log says why it was not released
        log.warning("%s/%s failed; could not close it in the state store (%s)", dag_id, run_id, type(exc).__name__)
        return
    log.info(
        "%s/%s failed: runs row %s, write lease %s",
        dag_id,
        run_id,
        "marked failed" if closed else "already closed (or never started)",
        "released" if released else "not held",
    )
