"""report (company_sync_rollback): what was undone and what was left alone (counts by reason; the per-record
decisions with ids only, never values), written beside the sync reports; closes the run, releases the lease."""

from __future__ import annotations

import json
import logging
from typing import Any

import pandas as pd

from include.company_sync.rollback.spec import Extracted, RollbackLoaded, RollbackPlanned, RollbackSpec
from include.company_sync.run_status import failed_tasks, run_status
from include.company_sync.tasks.resources import RunResources

log = logging.getLogger(__name__)


def _pull(ti: Any, task_id: str, kind):
    value = ti.xcom_pull(task_ids=task_id)
    return kind.from_xcom(value) if isinstance(value, dict) and kind is not dict else value


def build(spec: RollbackSpec, states: dict[str, str], ti: Any, run: RunResources) -> dict[str, Any]:
    extracted = _pull(ti, "extract", Extracted)
    planned = _pull(ti, "plan", RollbackPlanned)
    loads = {t: _pull(ti, t, RollbackLoaded) for t in ("load_hubspot", "load_salesforce")}
    decisions = run.read(planned.frames["decisions"]) if planned else pd.DataFrame()
    records = [] if decisions.empty else decisions.astype(object).where(decisions.notna(), None).to_dict("records")
    return {
        "dag_id": spec.dag_id,
        "run_id": spec.run_id,
        "rolled_back": {"dag_id": spec.target_dag_id, "run_id": spec.target_run_id},
        "dry_run": spec.dry_run,
        "task_states": states,
        "failed_tasks": failed_tasks(states),
        "summary": {
            "ledger_rows": extracted.counts.get("ledger", 0) if extracted else 0,
            "writes": planned.writes if planned else {},
            "reasons": planned.decisions if planned else {},
            "loads": {t: loaded.counts for t, loaded in loads.items() if loaded},
            "api_calls": {t: loaded.api_calls for t, loaded in loads.items() if loaded},
            "state": ti.xcom_pull(task_ids="restore_state") or {},
        },
        "decisions": records,
    }


def write(document: dict[str, Any], reports_url: str):
    from include.company_sync.report import report_folder
    from include.company_sync.report_html import render

    folder = report_folder(reports_url, document["dag_id"], document["run_id"])
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "report.json").write_text(json.dumps(document, indent=2, default=str), encoding="utf-8")
    (folder / "report.html").write_text(render("rollback_report.html", report=document), encoding="utf-8")
    return folder / "report.html"


def report(spec_xcom: dict | None, context: dict[str, Any]) -> str:
    from airflow.sdk.exceptions import AirflowFailException

    ti, dag_run = context["ti"], context["dag_run"]
    states = ti.get_task_states(dag_id=dag_run.dag_id, run_ids=[dag_run.run_id]).get(dag_run.run_id, {})
    states.pop(ti.task_id, None)
    failed = failed_tasks(states)
    if spec_xcom is None:
        raise AirflowFailException(
            f"the rollback could not start: {', '.join(failed) or 'prepare'} failed; see its log"
        )
    spec = RollbackSpec.from_xcom(spec_xcom)
    run = RunResources(spec)
    try:
        document = build(spec, states, ti, run)
        path = write(document, run.runtime.reports_url)
        status = run_status(states, True)
        summary = {k: document["summary"][k] for k in ("writes", "reasons", "loads", "state")}
        summary["rolled_back"] = document["rolled_back"]
        run.state.finish_run(spec.run_id, status, summary, str(path), dag_id=spec.dag_id)
        log.info("rollback report: %s\n%s", path, json.dumps(summary, indent=1))
        if status != "failed":
            run.staging.remove_run(spec.dag_id, spec.run_id)
    finally:
        run.state.release_lease(spec.dag_id, spec.run_id)
    if status == "failed":
        raise AirflowFailException(f"rollback failed at {', '.join(failed)}: see that task's log; report at {path}")
    return str(path)
