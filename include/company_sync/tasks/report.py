"""report: gather the run's plain frames and summaries, write its report (JSON, HTML, errors CSV), keep the
contact-side drivers a successful incremental sync processed (`keep_processed_drivers`), close the run in the
state store, release the write lease (`tasks/lease.py`), and fail the DAG run when a task failed
(the report still tells what happened)."""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

import pandas as pd

from include.company_sync import report as reporting
from include.company_sync.alerts import alert_on_write_errors
from include.company_sync.run_status import run_status
from include.company_sync.tasks import changes
from include.company_sync.tasks.resources import RunResources
from include.company_sync.tasks.spec import RunSpec, TaskOutputs
from include.company_sync.tasks.validate import CHECKS_STAGED_AS

log = logging.getLogger(__name__)


def _read(run: RunResources, url: str | None) -> pd.DataFrame:
    try:
        return run.read(url)
    except FileNotFoundError:
        return pd.DataFrame()


def _checks_url(run: RunResources, task_id: str, from_xcom: str | None) -> str | None:
    """The staged check results of a validate task: from its XCom, or, when a blocking failure stopped it
    (no XCom), from the staging path it wrote them to before raising."""
    if from_xcom:
        return from_xcom
    candidate = run.staging.url(run.spec.dag_id, run.spec.run_id, CHECKS_STAGED_AS[task_id])
    return candidate if run.staging.exists(candidate) else None


def report_inputs(run: RunResources, outputs: TaskOutputs, states: dict[str, str]) -> reporting.ReportInputs:
    """The plain data the report is built from: the spec's fields, staged frames, summaries, recent runs."""
    spec, planned = run.spec, outputs.planned
    plan_frames = planned.frames if planned else None
    checks = {
        "validate_inputs": outputs.input_checks.checks if outputs.input_checks else None,
        "validate_plan": outputs.plan_checks.checks if outputs.plan_checks else None,
    }
    return reporting.ReportInputs(
        dag_id=spec.dag_id,
        run_id=spec.run_id,
        mode=spec.mode,
        window=spec.window,
        dry_run=spec.dry_run,
        enabled=spec.enabled,
        reports_dir=run.runtime.reports_url,
        task_states=states,
        decisions=_read(run, plan_frames.decisions if plan_frames else None),
        conflicts=_read(run, plan_frames.conflicts if plan_frames else None),
        duplicate_candidates=_read(run, plan_frames.duplicate_candidates if plan_frames else None),
        write_results={task_id: _read(run, loaded.results) for task_id, loaded in outputs.loads.items()},
        checks={task_id: _read(run, _checks_url(run, task_id, url)) for task_id, url in checks.items()},
        planned_writes=planned.writes if planned else {},
        rollup_ids=reporting.rollup_only(_read(run, plan_frames.hubspot_updates if plan_frames else None)),
        reasons=planned.reasons if planned else {},
        load_counts={task_id: loaded.counts for task_id, loaded in outputs.loads.items()},
        api_calls=_api_calls(outputs, spec),
        missing_ids=outputs.inputs.missing_ids if outputs.inputs else {},
        change_sources=outputs.inputs.change_sources if outputs.inputs else {},
        input_warnings=outputs.inputs.warnings if outputs.inputs else {},
        recent_runs=run.state.recent_runs(spec.dag_id, limit=reporting.HISTORY_RUNS),
    )


def _api_calls(outputs: TaskOutputs, spec: RunSpec) -> dict[str, Any]:
    calls = {
        "prepare": spec.api_calls or None,
        "extract_salesforce": outputs.salesforce.api_calls if outputs.salesforce else None,
        "extract_hubspot": outputs.hubspot.api_calls if outputs.hubspot else None,
        "complete_inputs": outputs.inputs.api_calls if outputs.inputs else None,
    }
    return calls | {task_id: loaded.api_calls for task_id, loaded in outputs.loads.items()}


def remove_staged_frames(run: RunResources) -> bool:
    """Delete the run's staged frames (copies of records) once its report is written and it succeeded. A
    problem is logged, not raised: the report stands, and the retention in `prepare` removes them later."""
    try:
        removed = run.staging.remove_run(run.spec.dag_id, run.spec.run_id)
    except Exception as exc:  # noqa: BLE001 - object-store errors vary
        log.warning("could not remove this run's staged frames (%s); retention removes them later", type(exc).__name__)
        return False
    if removed:
        log.info("staged frames of this run removed")
    return removed


def report(spec: RunSpec | None, context: dict[str, Any]) -> str:
    """Write the run's report, close the run in the state store, and fail the DAG run when a task failed."""
    from airflow.sdk.exceptions import AirflowFailException

    ti = context["ti"]
    dag_run = context["dag_run"]
    states = ti.get_task_states(dag_id=dag_run.dag_id, run_ids=[dag_run.run_id]).get(dag_run.run_id, {})
    states.pop(ti.task_id, None)
    failed = sorted(t for t, s in states.items() if s == "failed")  # named in the error: their logs say why
    if spec is None:
        raise AirflowFailException(f"the run could not start: {', '.join(failed) or 'prepare'} failed; see its log")

    run = RunResources(spec)
    try:
        path, status = _write_report(run, spec, ti, states)
    finally:  # whatever happened, the next run need not wait for this one (tasks/lease.py)
        run.state.release_lease(spec.dag_id, spec.run_id)
    if status == "failed":  # the DAG's on_failure_callback alerts
        raise AirflowFailException(f"run failed at {', '.join(failed)}: see that task's log; report at {path}")
    return str(path)


def keep_processed_drivers(run: RunResources, inputs: reporting.ReportInputs) -> int:
    """Issue #11: keep the contact-side drivers this run processed (`changes.keep_processed`), so the next
    run's overlap does not drive their records again. Only for an incremental sync that succeeded and wrote what
    it planned (the caller checks); a driver whose record ended with a write error, a rejection or a hold is left
    out (`engine.processed.troubled_records`): the next run retries it."""
    from include.company_sync.engine.processed import troubled_records
    from include.company_sync.rollback.planning import HELD_BY_ROLLBACK

    spec = run.spec
    urls = [run.staging.url(spec.dag_id, spec.run_id, name) for name in changes.DRIVER_FRAMES]
    staged = [run.read(url) for url in urls if run.staging.exists(url)]
    driven = pd.concat([f for f in staged if not f.empty] or [pd.DataFrame()], ignore_index=True)
    troubled = troubled_records(inputs.decisions, inputs.write_results.values(), run.state.links(), HELD_BY_ROLLBACK)
    floor = pd.Timestamp(spec.window_end) - run.runtime.window_overlap
    return changes.keep_processed(run.state, spec.dag_id, driven, troubled, floor)


def _write_report(run: RunResources, spec: RunSpec, ti: Any, states: dict[str, str]) -> tuple[Any, str]:
    outputs = TaskOutputs.from_xcom({task_id: ti.xcom_pull(task_ids=task_id) for task_id in states})
    inputs = report_inputs(run, outputs, states)
    document = reporting.build(inputs)
    document["lease"] = run.state.run_wait(spec.run_id, spec.dag_id)  # whom this run waited for, how long
    path = reporting.write(document, run.runtime.reports_url)
    status = run_status(states, spec.enabled)
    if status == "success" and not spec.dry_run and spec.incremental_sync:
        keep_processed_drivers(run, inputs)  # before the staged frames it reads are removed
    run.state.finish_run(spec.run_id, status, document["summary"], str(path), dag_id=spec.dag_id)
    log.info("report: %s\n%s", path, reporting.text_summary(document))
    if status == "failed":  # the staged frames stay for debugging; the next runs' prepare removes them in time
        log.info("staged frames kept for debugging under %s", run.staging.run_prefix(spec.dag_id, spec.run_id))
    else:
        remove_staged_frames(run)
        write_errors = Counter(e["target"] for e in document["errors"] if e["source"] in reporting.RESULT_TASKS)
        alert_on_write_errors(run.settings.alerts, spec.dag_id, spec.run_id, dict(write_errors))
    return path, status
