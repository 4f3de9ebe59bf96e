"""validate_inputs and validate_plan: Great Expectations suites on the staged frames (validation.py).

A blocking failure stops the run before anything is written; the check results are staged first, and the
Data Docs built, so the report shows what failed."""

from __future__ import annotations

import pandas as pd

from include.company_sync import validation
from include.company_sync.tasks.resources import RunResources
from include.company_sync.tasks.spec import Checked, CompletedInputs, Planned, RunSpec

# Where each validate task stages its check results (the report reads them when the task raised).
CHECKS_STAGED_AS = {"validate_inputs": "checks_inputs", "validate_plan": "checks_plan"}


def _stage_checks(run: RunResources, name: str, results: list[validation.CheckResult]) -> str:
    return run.stage(name, pd.DataFrame(validation.as_records(results)))


def validate_inputs(spec: RunSpec, inputs: CompletedInputs) -> Checked:
    from include.company_sync.report import data_docs_dir

    run = RunResources(spec)
    run.renew_lease()
    frames = {name: run.read(url) for name, url in inputs.frames.urls().items()}
    stages = frames["lifecycle_stages"]["stage"] if "stage" in frames.get("lifecycle_stages", ()) else None
    results = validation.validate_frames(
        validation.input_check_frames(frames, run.settings),
        validation.input_suites(run.settings, stages),
        docs_dir=data_docs_dir(run.runtime.reports_url, spec.dag_id, spec.run_id, "extracts"),
        run_name=spec.run_id,
    )
    url = _stage_checks(run, CHECKS_STAGED_AS["validate_inputs"], results)
    validation.raise_on_blocking(results, "extracts")
    return Checked(checks=url, warnings=sum(not r.success for r in results))


def validate_plan(spec: RunSpec, planned: Planned) -> Checked:
    from include.company_sync.report import data_docs_dir

    run = RunResources(spec)
    run.renew_lease()
    frames = {name: run.read(url) for name, url in planned.frames.to_xcom().items()}
    # The circuit breaker guards incremental syncs; imports, resyncs and full scans change most records.
    incremental = spec.incremental_sync
    minimum = run.runtime.breaker_min_records if incremental else 2**62
    history = validation.recent_write_counts(run.state.recent_runs(spec.dag_id, limit=100)) if incremental else []
    results = validation.validate_frames(
        validation.plan_check_frames(frames, planned.considered),
        validation.plan_suites(run.settings.max_change_ratio, minimum, history),
        docs_dir=data_docs_dir(run.runtime.reports_url, spec.dag_id, spec.run_id, "plan"),
        run_name=spec.run_id,
    )
    url = _stage_checks(run, CHECKS_STAGED_AS["validate_plan"], results)
    validation.raise_on_blocking(results, "plan")
    return Checked(checks=url, warnings=sum(not r.success for r in results))
