"""The task graph of `company_sync_rollback`, wired once (the work is in `rollback/`, imported inside the tasks):

prepare ─► extract ─► validate_inputs ─► plan ─► validate_plan ─┬─► load_hubspot ────┐
                                                                 └─► load_salesforce ─┴─► restore_state ─► report
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from airflow.sdk import chain, get_current_context, task

from include.company_sync.dag_wiring import HUBSPOT_POOL

XCom = dict[str, Any]


def _m(name: str):
    return import_module(f"include.company_sync.rollback.{name}")


def _spec(run: XCom):
    return _m("spec").RollbackSpec.from_xcom(run)


def _typed(kind: str, value: XCom):
    return getattr(_m("spec"), kind).from_xcom(value)


def wire_rollback() -> None:
    @task
    def prepare() -> XCom:
        """Refuse a bad run id with the reason (before any API call); take the write lease; record the run."""
        return _m("prepare").prepare(get_current_context()).to_xcom()

    @task(pool=HUBSPOT_POOL)
    def extract(run: XCom) -> XCom:
        """The run's ledger, and the records it wrote as they are now (by id)."""
        return _m("tasks").extract(_spec(run)).to_xcom()

    @task
    def validate_inputs(run: XCom, extracted: XCom) -> dict:
        return _m("tasks").validate_inputs(_spec(run), _typed("Extracted", extracted))

    @task
    def plan(run: XCom, extracted: XCom) -> XCom:
        return _m("tasks").plan(_spec(run), _typed("Extracted", extracted)).to_xcom()

    @task
    def validate_plan(run: XCom, planned: XCom) -> dict:
        return _m("tasks").validate_plan(_spec(run), _typed("RollbackPlanned", planned))

    @task(pool=HUBSPOT_POOL)
    def load_hubspot(run: XCom, planned: XCom) -> XCom:
        return _m("tasks").load_hubspot(_spec(run), _typed("RollbackPlanned", planned)).to_xcom()

    @task
    def load_salesforce(run: XCom, planned: XCom) -> XCom:
        return _m("tasks").load_salesforce(_spec(run), _typed("RollbackPlanned", planned)).to_xcom()

    @task
    def restore_state(run: XCom, extracted: XCom, planned: XCom) -> dict:
        """Links, synced values and mirror as before the run for those records; the records put on hold."""
        typed = _typed("Extracted", extracted), _typed("RollbackPlanned", planned)
        return _m("tasks").restore_state(_spec(run), *typed)

    @task(trigger_rule="all_done")
    def report(run: XCom | None) -> str:
        """Always runs; fails the DAG run (without retry) when an upstream task failed."""
        return _m("report").report(run, get_current_context())

    run = prepare()
    extracted = extract(run)
    planned = plan(run, extracted)
    chain(validate_inputs(run, extracted), planned)
    loads = [load_hubspot(run, planned), load_salesforce(run, planned)]
    chain(validate_plan(run, planned), loads)
    chain(loads, restore_state(run, extracted, planned), report(run))
