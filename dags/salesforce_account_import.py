"""
### salesforce_account_import: import existing Salesforce accounts into HubSpot (R3a)

Accounts that existed before company sync was turned on only sync when edited (R3b) or imported (R3a):
this DAG is the import. Each account is deduplicated first (R9: linked company, `salesforceaccountid`,
same domain, shared contacts) and creates a company only when none matches.

R1: the import **refuses, and the run fails**, while company sync is off: turn it on first
(`company_sync_enabled` in the `company_sync_settings` Variable).

Params: `account_ids` (empty = every account), `dry_run` (plan, validate and report; write nothing).
`bin/airflow dags test salesforce_account_import -c '{"account_ids": ["001..."]}'`
"""

import pendulum
from airflow.sdk import Param, dag

from include.company_sync.dag_wiring import DEFAULT_ARGS, failure_callbacks, wire_sync


@dag(
    dag_id="salesforce_account_import",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    on_failure_callback=failure_callbacks(),
    tags=["company-sync", "salesforce", "hubspot", "manual"],
    doc_md=__doc__,
    params={
        "account_ids": Param(
            [],
            type="array",
            items={"type": "string"},
            description="Salesforce Account Ids to import; empty imports every account.",
        ),
        "dry_run": Param(False, type="boolean", description="Plan, validate and report; write nothing."),
    },
)
def salesforce_account_import():
    wire_sync(mode="import")


salesforce_account_import()
