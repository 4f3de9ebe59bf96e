"""The task graph the three sync DAGs share, wired once.

    prepare ─► sync_enabled ─┬─► extract_salesforce ─┐
                             └─► extract_hubspot ────┴─► complete_inputs ─► validate_inputs ─► plan ─►
        validate_plan ─┬─► load_hubspot ────┐
                       └─► load_salesforce ─┴─► link_ids ─► report

Each task passes on only what the next one reads (the run descriptor and typed outputs, as plain XCom data:
`tasks/spec.py`); order that carries no data (the R1 gate, the validations before any write) is written with
`>>`. The work is done in `include/company_sync/tasks/`, one module per stage, imported inside the tasks so
that parsing a DAG file stays cheap.

Every task that calls HubSpot (`HUBSPOT_TASKS`) runs in the Airflow pool `hubspot_api`, in all three DAGs:
with its default of one slot, at most one HubSpot-calling task runs at a time across the whole deployment,
so the per-process rate limiter (190 calls / 10 s, 4 searches / s) is the deployment's whole budget, however
many workers there are. `airflow_settings.yaml` (applied by `bin/airflow` and `make cluster`) creates it.
"""

from __future__ import annotations

import os
from datetime import timedelta
from importlib import import_module
from typing import Any

from airflow.sdk import chain, get_current_context, task

DEFAULT_ARGS = {
    "owner": "data-platform",
    "retries": 2,
    # An environment setting (not a Variable: nothing is looked up at parse time); tests shorten it.
    "retry_delay": timedelta(seconds=float(os.environ.get("COMPANY_SYNC_RETRY_DELAY_SECONDS", "120"))),
    "retry_exponential_backoff": True,
    "execution_timeout": timedelta(hours=2),
}

XCom = dict[str, Any]

# One HubSpot rate budget across workers (issue #12): the pool every HubSpot-calling task takes a slot of.
HUBSPOT_POOL = "hubspot_api"
HUBSPOT_TASKS = ("extract_hubspot", "complete_inputs", "load_hubspot", "link_ids")


def failure_callbacks() -> list:
    """The DAGs' `on_failure_callback`: close the run in the state store and release its write lease, then
    one alert to the channels the settings name."""
    from include.company_sync.alerts import SyncAlert

    return [on_run_failed, SyncAlert()]


def _stage(name: str):
    """The task layer's module for one stage (`include.company_sync.tasks.<name>`)."""
    return import_module(f"include.company_sync.tasks.{name}")


def _spec(run: XCom):
    return _stage("spec").RunSpec.from_xcom(run)


def _typed(kind: str, value: XCom):
    return getattr(_stage("spec"), kind).from_xcom(value)


def on_run_failed(context: dict[str, Any]) -> None:
    """The DAG's `on_failure_callback`: mark the run failed in the state store if still `running`, release the
    write lease (`tasks/lease.py`)."""
    _stage("lease").on_run_failed(context)


def wire_sync(mode: str) -> None:
    """Create the tasks of one sync DAG (`mode`: sync, resync or import) inside the current DAG (its failure
    callbacks: `failure_callbacks`)."""

    @task
    def prepare() -> XCom:
        """Validate settings, work out the window, record the run (R1: import refuses when sync is off)."""
        return _stage("prepare").prepare(mode, get_current_context()).to_xcom()

    @task.short_circuit(ignore_downstream_trigger_rules=False)
    def sync_enabled(run: XCom) -> bool:
        """R1: with company sync off, nothing is extracted or written; the report says so."""
        return _stage("prepare").sync_enabled(_spec(run))

    @task
    def extract_salesforce(run: XCom) -> XCom:
        return _stage("extract").extract_salesforce(_spec(run)).to_xcom()

    @task(pool=HUBSPOT_POOL)
    def extract_hubspot(run: XCom) -> XCom:
        return _stage("extract").extract_hubspot(_spec(run)).to_xcom()

    @task(pool=HUBSPOT_POOL)
    def complete_inputs(run: XCom, salesforce: XCom, hubspot: XCom) -> XCom:
        """Fetch the counterparts of changed records (links, ids, domains) so planning needs no full scan."""
        sf, hs = _typed("SalesforceExtract", salesforce), _typed("HubSpotExtract", hubspot)
        return _stage("complete").complete_inputs(_spec(run), sf, hs).to_xcom()

    @task
    def validate_inputs(run: XCom, inputs: XCom) -> XCom:
        return _stage("validate").validate_inputs(_spec(run), _typed("CompletedInputs", inputs)).to_xcom()

    @task
    def plan(run: XCom, inputs: XCom) -> XCom:
        return _stage("plan").plan(_spec(run), _typed("CompletedInputs", inputs)).to_xcom()

    @task
    def validate_plan(run: XCom, planned: XCom) -> XCom:
        return _stage("validate").validate_plan(_spec(run), _typed("Planned", planned)).to_xcom()

    @task(pool=HUBSPOT_POOL)
    def load_hubspot(run: XCom, planned: XCom) -> XCom:
        return _stage("load").load_hubspot(_spec(run), _typed("Planned", planned)).to_xcom()

    @task
    def load_salesforce(run: XCom, planned: XCom) -> XCom:
        return _stage("load").load_salesforce(_spec(run), _typed("Planned", planned)).to_xcom()

    @task(pool=HUBSPOT_POOL)
    def link_ids(run: XCom, planned: XCom, hubspot: XCom, salesforce: XCom) -> XCom:
        """Write each system's id onto the records newly created in the other; record links and values."""
        hs, sf = _typed("Loaded", hubspot), _typed("Loaded", salesforce)
        return _stage("link").link_ids(_spec(run), _typed("Planned", planned), hs, sf).to_xcom()

    @task(trigger_rule="all_done")
    def report(run: XCom | None) -> str:
        """Always runs; fails the DAG run (without retry) when an upstream task failed."""
        return _stage("report").report(_spec(run) if run else None, get_current_context())

    run = prepare()
    gate = sync_enabled(run)
    extracted = [extract_salesforce(run), extract_hubspot(run)]
    chain(gate, extracted)  # R1: nothing is extracted while company sync is off
    inputs = complete_inputs(run, *extracted)
    checked_inputs = validate_inputs(run, inputs)
    planned = plan(run, inputs)
    chain(checked_inputs, planned)  # a blocking check on the extracts stops the run here
    checked_plan = validate_plan(run, planned)
    loads = [load_hubspot(run, planned), load_salesforce(run, planned)]
    chain(checked_plan, loads)  # and one on the plan stops it before any write
    link_ids(run, planned, *loads) >> report(run)
