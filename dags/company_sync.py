"""
### company_sync: nightly two-way sync of Salesforce Accounts and HubSpot Companies

Reproduces HubSpot's native Salesforce integration (rules R1–R9, see README) as batch ETL:

1. **prepare**: validate the `company_sync_settings` Variable (a bad setting stops the run before any
   write, naming the key); work out the window; record the run in the state store.
2. **sync_enabled**: R1, company sync off → nothing is extracted or written; the report says so.
3. **extract_salesforce / extract_hubspot**: records changed in the window to Parquet staging.
4. **complete_inputs**: fetch the counterparts of changed records (linked, same id, same domain).
5. **validate_inputs**: Great Expectations; a blocking failure stops the run before any write.
6. **plan**: dedupe (R9), creation criteria (R2–R6), field sync rules, lifecycle roll-up (R7).
7. **validate_plan**: no target written twice, required fields present, change-volume circuit breaker.
8. **load_hubspot / load_salesforce**: idempotent batch upserts; partial failures recorded per record.
9. **link_ids**: each system's id written onto the records created in the other.
10. **report**: counts, decisions with reason codes, errors grouped like HubSpot's Sync Health.

**Windows.** A scheduled run syncs `[data_interval_start − overlap, data_interval_end)`; a backfill re-syncs
its past windows; a manual run ("Trigger") syncs everything changed since the last successful run, up to now.

**Params.** `full_refresh` scans both systems completely and rebuilds the matching mirror (same rules; it
does not import existing accounts, see `salesforce_account_import`). `dry_run` plans, validates and
reports, and writes nothing to either system.
"""

import pendulum
from airflow.sdk import Param, dag
from airflow.timetables.interval import CronDataIntervalTimetable

from include.company_sync.dag_wiring import DEFAULT_ARGS, failure_callbacks, wire_sync


@dag(
    dag_id="company_sync",
    schedule=CronDataIntervalTimetable("0 2 * * *", timezone="UTC"),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    max_consecutive_failed_dag_runs=3,
    default_args=DEFAULT_ARGS,
    on_failure_callback=failure_callbacks(),
    tags=["company-sync", "salesforce", "hubspot"],
    doc_md=__doc__,
    params={
        "full_refresh": Param(False, type="boolean", description="Scan both systems completely (same rules)."),
        "dry_run": Param(False, type="boolean", description="Plan, validate and report; write nothing."),
    },
)
def company_sync():
    wire_sync(mode="sync")


company_sync()
