"""The task graph the three sync DAGs share, wired once.

    prepare ─► sync_enabled ─┬─► extract_salesforce ─┐
                             └─► extract_hubspot ────┴─► complete_inputs ─► validate_inputs ─► plan ─►
        validate_plan ─┬─► load_hubspot ────┐
                       └─► load_salesforce ─┴─► link_ids ─► report

Every callable here only hands the run's small descriptors (paths, counts) to `pipeline`, which does the
work; heavy modules are imported inside the tasks so that parsing a DAG file stays cheap.
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

from airflow.sdk import get_current_context, task

DEFAULT_ARGS = {
    "owner": "data-platform",
    "retries": 2,
    # An environment setting (not a Variable: nothing is looked up at parse time); tests shorten it.
    "retry_delay": timedelta(seconds=float(os.environ.get("COMPANY_SYNC_RETRY_DELAY_SECONDS", "120"))),
    "retry_exponential_backoff": True,
    "execution_timeout": timedelta(hours=2),
}


def _pipeline():
    from include.company_sync import pipeline

    return pipeline


def wire_sync(mode: str) -> None:
    """Create the tasks of one sync DAG (`mode`: sync, resync or import) inside the current DAG."""

    @task
    def prepare() -> dict[str, Any]:
        """Validate settings, work out the window, record the run (R1: import refuses when sync is off)."""
        return _pipeline().prepare(mode, get_current_context())

    @task.short_circuit(ignore_downstream_trigger_rules=False)
    def sync_enabled(run: dict[str, Any]) -> bool:
        """R1: with company sync off, nothing is extracted or written; the report says so."""
        return _pipeline().sync_enabled(run)

    @task
    def extract_salesforce(run: dict[str, Any]) -> dict[str, Any]:
        return _pipeline().extract_salesforce(run)

    @task
    def extract_hubspot(run: dict[str, Any]) -> dict[str, Any]:
        return _pipeline().extract_hubspot(run)

    @task
    def complete_inputs(run: dict[str, Any], salesforce: dict[str, Any], hubspot: dict[str, Any]) -> dict[str, Any]:
        """Fetch the counterparts of changed records (links, ids, domains) so planning needs no full scan."""
        return _pipeline().complete_inputs(run, salesforce, hubspot)

    @task
    def validate_inputs(run: dict[str, Any], inputs: dict[str, Any]) -> dict[str, Any]:
        return _pipeline().validate_inputs(run, inputs)

    @task
    def plan(run: dict[str, Any], inputs: dict[str, Any], validation: dict[str, Any]) -> dict[str, Any]:
        return _pipeline().plan(run, inputs)

    @task
    def validate_plan(run: dict[str, Any], planned: dict[str, Any]) -> dict[str, Any]:
        return _pipeline().validate_plan(run, planned)

    @task
    def load_hubspot(run: dict[str, Any], planned: dict[str, Any], validation: dict[str, Any]) -> dict[str, Any]:
        return _pipeline().load_hubspot(run, planned)

    @task
    def load_salesforce(run: dict[str, Any], planned: dict[str, Any], validation: dict[str, Any]) -> dict[str, Any]:
        return _pipeline().load_salesforce(run, planned)

    @task
    def link_ids(
        run: dict[str, Any], planned: dict[str, Any], hubspot: dict[str, Any], salesforce: dict[str, Any]
    ) -> dict[str, Any]:
        """Write each system's id onto the records newly created in the other; record links and values."""
        return _pipeline().link_ids(run, planned, hubspot, salesforce)

    @task(trigger_rule="all_done")
    def report(run: dict[str, Any]) -> str:
        """Always runs; fails the DAG run (without retry) when an upstream task failed."""
        return _pipeline().report(run, get_current_context())

    run = prepare()
    gate = sync_enabled(run)
    sf = extract_salesforce(run)
    hs = extract_hubspot(run)
    gate >> [sf, hs]
    inputs = complete_inputs(run, sf, hs)
    planned = plan(run, inputs, validate_inputs(run, inputs))
    checked = validate_plan(run, planned)
    linked = link_ids(run, planned, load_hubspot(run, planned, checked), load_salesforce(run, planned, checked))
    linked >> report(run)
