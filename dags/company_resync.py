"""
### company_resync: resync chosen companies and accounts now (R8)

Like HubSpot's *Resync* action on a company record: the chosen HubSpot companies create their Salesforce
accounts **whatever the automatic creation criteria (R5/R6) say**, still deduplicated against existing
accounts by domain, and only while company sync is on (R1). Chosen Salesforce accounts are synced to
HubSpot as if they had just been edited. Linked records are updated by the field sync rules.

Trigger it from the UI's form or from a report's "resync these" action, or:
`bin/airflow dags test company_resync -c '{"hubspot_company_ids": ["123"]}'`.

Steps as in `company_sync`: prepare → extract → complete → validate → plan → validate plan → load →
link ids → report. `dry_run` writes nothing.
"""

import pendulum
from airflow.sdk import Param, dag

from include.company_sync.dag_wiring import DEFAULT_ARGS, failure_callbacks, wire_sync

ID_LIST = {"type": "array", "items": {"type": ["string", "integer"]}}


@dag(
    dag_id="company_resync",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    on_failure_callback=failure_callbacks(),
    tags=["company-sync", "salesforce", "hubspot", "manual"],
    doc_md=__doc__,
    params={
        "hubspot_company_ids": Param([], **ID_LIST, description="HubSpot company ids to resync (R8)."),
        "salesforce_account_ids": Param([], **ID_LIST, description="Salesforce Account Ids to resync."),
        "dry_run": Param(False, type="boolean", description="Plan, validate and report; write nothing."),
    },
)
def company_resync():
    wire_sync(mode="resync")


company_resync()
