"""
### company_sync_rollback: undo a sync run (issue #16)

Give it the Airflow run id of a finished `company_sync`, `company_resync` or `salesforce_account_import` run.
From that run's ledger (every write, with the value it replaced) it:

- puts each field the run updated back to its previous value, **only if the record still holds the value the
  run wrote**; otherwise the field is left alone and reported `changed_since`;
- archives (HubSpot) or deletes (Salesforce) each record the run created, only if nobody changed it since; its
  link is removed and the other record's id field cleared;
- removes the links the run made and clears the id fields it set;
- puts the state store back as it was before the run for those records, and **holds** them: `company_sync`
  skips them (`held_by_rollback`) until `company_resync` runs on their ids or the Sync reports page releases them.

Refused at `prepare`, before any API call: an unknown run id, a run of another DAG, a rollback, a dry run, a run
still running, a run older than the ledger's retention (`COMPANY_SYNC_LEDGER_RETENTION_DAYS`, 90).

Steps: prepare → extract → validate → plan → validate plan → load HubSpot / Salesforce → restore state → report.
`dry_run` plans and reports; writes nothing. Run it: `bin/airflow dags test company_sync_rollback -c
'{"run_id": "manual__2026-12-01T22:00:00+00:00"}'`. See docs/rollback.md.
"""

import pendulum
from airflow.sdk import Param, dag

from include.company_sync.dag_wiring import DEFAULT_ARGS, failure_callbacks
from include.company_sync.rollback.wiring import wire_rollback


@dag(
    dag_id="company_sync_rollback",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    on_failure_callback=failure_callbacks(),
    tags=["company-sync", "salesforce", "hubspot", "manual", "rollback"],
    doc_md=__doc__,
    params={
        "run_id": Param("", type="string", description="Airflow run id of the sync, resync or import run to undo."),
        "dry_run": Param(True, type="boolean", description="Plan and report what would be undone; write nothing."),
    },
)
def company_sync_rollback():
    wire_rollback()


company_sync_rollback()
