"""The run report the data team reviews: what was decided and why, what was written, what failed and what to
do about it (errors grouped like HubSpot's Sync Health), conflicts, duplicate candidates (R9: ids, the winner and
a reason code), per-record warnings (ids and codes, e.g. a website with no valid host), checks, and the last
runs' counts as a chart.

Written per run under `<reports URL>/<dag_id>/<run id>/` (`report_folder`): `report.json`, `report.html`,
`errors.csv`, and the GX Data Docs of the run's validations in `data_docs/<stage>/index.html` (built by the
validate tasks, see `validation.validate_frames`). The reports URL (`runtime.default_reports_url`) is a local
folder by default and object storage (`s3://conn@bucket/prefix`) on workers that share no disk: every file goes
through Airflow's `ObjectStoragePath`, so the task that writes and the API server that reads need no common
disk. The Airflow plugin `plugins/sync_reports.py` serves these folders and turns the report's "Resync these"
buttons into `company_resync` runs.

`build` makes the document from plain data only (`ReportInputs`: the run's fields, frames and summaries); the
report task (`tasks/report.py`) gathers them from staging, XCom and the state store.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from airflow.sdk import ObjectStoragePath

from include.company_sync.identifiers import ACCOUNT_ID, HUBSPOT_ID, safe_segment
from include.company_sync.report_html import (  # noqa: F401 - run_totals is part of the report API
    ACTIONS,
    DIRECTION_LABELS,
    DIRECTIONS,
    SIDES,
    render_html,
    run_totals,
)
from include.company_sync.run_status import failed_tasks, run_status, status_label

# HubSpot's Sync Health groups, in its order; not_found and other only appear when they occur.
HEALTH_CATEGORIES = (
    "associations",
    "custom_code",
    "duplicates",
    "permissions",
    "property_values",
    "rate_limits",
    "transient",
)
CATEGORY_LABELS = {
    "associations": "Associations",
    "custom_code": "Custom code",
    "duplicates": "Duplicates",
    "permissions": "Permissions",
    "property_values": "Property values",
    "rate_limits": "Rate limits",
    "transient": "Transient",
    "not_found": "Record not found",
    "other": "Other",
}
# What to do, per error category (after HubSpot's Sync Health groups).
ADVICE = {
    "property_values": "Fix the value in the source record (format, length, picklist option, required field) "
    "or the field mapping, then resync the records.",
    "custom_code": "A validation rule, flow or trigger in the target refused the write: adjust the record or the "
    "rule, then resync.",
    "duplicates": "A duplicate rule or unique value refused the write: merge or link the duplicates, then resync.",
    "permissions": "The integration user lacks access to the object or field: grant it, then resync.",
    "associations": "An association limit or a record not synced yet: sync the associated record first.",
    "rate_limits": "API limits were exhausted: the next run retries these records; consider a later schedule.",
    "transient": "A temporary error (lock, timeout, 5xx): the next run retries these records.",
    "not_found": "The target record no longer exists (deleted or merged): check the link, then resync.",
    "other": "Unexpected error: read the message; resync once fixed.",
}
ERROR_COLUMNS = ["source", "target", "operation", "key", "id", "category", "error_code", "message", "fields", "advice"]
HISTORY_RUNS = 30
# The tasks whose per-record write results the report reads, and the system each writes to (None: both).
RESULT_TASKS = {"load_hubspot": "hubspot", "load_salesforce": "salesforce", "link_ids": None}
CHECK_TASKS = ("validate_inputs", "validate_plan")
API_CALL_TASKS = (
    "prepare",  # the field mappings' schema reads, per system
    "extract_salesforce",
    "extract_hubspot",
    "complete_inputs",
    "load_hubspot",
    "load_salesforce",
    "link_ids",
)


def _empty() -> pd.DataFrame:
    return pd.DataFrame()


@dataclass(frozen=True)
class ReportInputs:
    """Everything a report is built from, as plain data: the run's fields, its task states, the frames the
    report shows and the tasks' summaries (a task that did not finish has no entry)."""

    dag_id: str
    run_id: str
    mode: str
    window: str
    dry_run: bool
    enabled: bool
    reports_dir: Path | str | ObjectStoragePath  # the reports' base: a local folder or a URL (`reports_root`)
    task_states: dict[str, str] = field(default_factory=dict)  # the other tasks' states
    decisions: pd.DataFrame = field(default_factory=_empty)
    conflicts: pd.DataFrame = field(default_factory=_empty)
    duplicate_candidates: pd.DataFrame = field(default_factory=_empty)
    write_results: dict[str, pd.DataFrame] = field(default_factory=dict)  # by task id, see RESULT_TASKS
    checks: dict[str, pd.DataFrame] = field(default_factory=dict)  # staged check results by validate task id
    planned_writes: dict[str, int] = field(default_factory=dict)
    # HubSpot companies whose planned update is only R7's lifecycle stage (`rollup_only`)
    rollup_ids: frozenset[str] = frozenset()
    reasons: dict[str, int] = field(default_factory=dict)
    load_counts: dict[str, Any] = field(default_factory=dict)  # by task id: {operation: {succeeded, failed}}
    api_calls: dict[str, Any] = field(default_factory=dict)  # by task id
    missing_ids: dict[str, list[str]] = field(default_factory=dict)
    # per side: records driven in by contacts, list joins and leads, and echoes left out (complete_inputs)
    change_sources: dict[str, dict[str, int]] = field(default_factory=dict)
    input_warnings: dict[str, list[str]] = field(default_factory=dict)  # code -> record ids
    recent_runs: pd.DataFrame = field(default_factory=_empty)  # the state store's recent_runs, newest first


def reports_root(location: Path | str | ObjectStoragePath) -> ObjectStoragePath:
    """The reports' base as an `ObjectStoragePath`: a URL (`s3://conn@bucket/prefix`, `gs://…`, `file:///…`,
    `memory://…`) or a local folder (made absolute, as a file URL)."""
    if isinstance(location, ObjectStoragePath):
        return location
    text = str(location)
    if "://" not in text:
        text = Path(text).resolve().as_uri()
    return ObjectStoragePath(text.rstrip("/"))


def report_folder(reports_dir: Path | str | ObjectStoragePath, dag_id: str, run_id: str) -> ObjectStoragePath:
    """Where one run's report files live."""
    return reports_root(reports_dir) / safe_segment(dag_id) / safe_segment(run_id)


def data_docs_dir(
    reports_dir: Path | str | ObjectStoragePath, dag_id: str, run_id: str, stage: str
) -> ObjectStoragePath:
    """Where the validate task of `stage` (extracts | plan) builds its GX Data Docs site."""
    return report_folder(reports_dir, dag_id, run_id) / "data_docs" / stage


def _records(frame: pd.DataFrame, limit: int | None = None) -> list[dict[str, Any]]:
    frame = frame if limit is None else frame.head(limit)
    return json.loads(frame.to_json(orient="records", date_format="iso")) if not frame.empty else []


def resync_ids(errors: list[dict[str, Any]]) -> dict[str, list[str]]:
    """`company_resync` params for the records behind `errors`: each failed write names its record by the
    key it was sent with (an Account Id or a company id) and, when known, the target's own id."""
    ids: dict[str, list[str]] = {"hubspot_company_ids": [], "salesforce_account_ids": []}
    for error in errors:
        for value in (error.get("key"), error.get("id")):
            value = "" if value is None else str(value).strip()
            if ACCOUNT_ID.match(value):
                ids["salesforce_account_ids"].append(value)
            elif HUBSPOT_ID.match(value):
                ids["hubspot_company_ids"].append(value)
    return {k: sorted(dict.fromkeys(v)) for k, v in ids.items()}


def _write_errors(write_results: dict[str, pd.DataFrame]) -> pd.DataFrame:
    errors = []
    for task_id, system in RESULT_TASKS.items():
        results = write_results.get(task_id, _empty())
        if results.empty:
            continue
        failed = results[~results["success"].astype(bool)]
        if failed.empty:
            continue
        errors.append(
            failed.assign(
                source=task_id,
                target=system or failed["operation"].map({"link": "mixed", "attach": "salesforce"}).fillna("mixed"),
            )
        )
    return pd.concat(errors, ignore_index=True) if errors else pd.DataFrame(columns=ERROR_COLUMNS)


def _rejections(decisions: pd.DataFrame) -> pd.DataFrame:
    """Values the plan refused before sending (the target would have): Sync Health's property values."""
    if decisions.empty or "action" not in decisions:
        return pd.DataFrame(columns=ERROR_COLUMNS)
    rejected = decisions[decisions["action"] == "rejected"]
    other = {"salesforce": "hubspot", "hubspot": "salesforce"}
    return pd.DataFrame(
        {
            "source": "plan",
            "target": rejected["system"].map(other),
            "operation": "plan",
            "key": rejected["record_id"],
            "id": pd.NA,
            "category": "property_values",
            "error_code": rejected["reason"].astype("str").str.removeprefix("rejected_"),
            "message": rejected.get("message"),
            "fields": pd.NA,
        }
    )


def _history(recent_runs: pd.DataFrame, run_id: str, current: dict[str, Any], status: str) -> list[dict[str, Any]]:
    """The last HISTORY_RUNS runs of this DAG (oldest first) with the counts the chart shows; this run's own
    row comes from the report being written (the state store closes it afterwards)."""
    rows = []
    for r in recent_runs.head(HISTORY_RUNS).itertuples(index=False):
        summary = current if r.run_id == run_id else (r.counts if isinstance(r.counts, dict) else {})
        row_status = status if r.run_id == run_id else r.status
        rows.append(history_row(str(r.run_id), pd.Timestamp(r.started_at).isoformat(), str(row_status), summary))
    return rows[::-1]


def history_row(run_id: str, started_at: str, status: str, summary: dict[str, Any]) -> dict[str, Any]:
    decisions = summary.get("decisions") or {}
    row = {"run_id": run_id, "started_at": started_at, "status": status, **run_totals(summary)}
    row["rejected"] = int(sum((side or {}).get("rejected", 0) for side in decisions.values()))
    row["write errors"] = int(summary.get("write_errors") or 0)
    return row


def _decision_counts(decisions: pd.DataFrame) -> dict[str, dict[str, int]]:
    counts = {side: {a: 0 for a in ACTIONS} for side in SIDES}
    for (system, action), n in decisions.groupby(["system", "action"]).size().items() if not decisions.empty else []:
        counts.setdefault(system, {})[action] = int(n)
    return counts


def rollup_only(hubspot_updates: pd.DataFrame) -> frozenset[str]:
    """HubSpot companies whose planned update writes nothing but `lifecyclestage`: R7 rolling up their own
    contacts' stages, not a Salesforce value (the summary names that direction apart)."""
    if hubspot_updates.empty or "field" not in hubspot_updates:
        return frozenset()
    is_stage = hubspot_updates["field"].astype(str) == "lifecyclestage"
    only_stage = is_stage.groupby(hubspot_updates["record_id"].astype(str)).all()
    return frozenset(only_stage.index[only_stage])


def _directions(
    write_results: dict[str, pd.DataFrame], planned: dict[str, int], rollup_ids: frozenset[str], dry_run: bool
) -> dict[str, Any]:
    """Records written per direction, each once: what the loads did (a dry run: what the plan would do). The
    R7-only HubSpot updates (`rollup_ids`) are their own direction, present when there are any."""
    out: dict[str, Any] = {}
    for direction, (task_id, system, _) in DIRECTIONS.items():
        rollup = direction == "contacts_to_companies"
        if rollup and not rollup_ids:
            continue
        if dry_run:
            created, updated, failed = planned.get(f"{system}_creates", 0), planned.get(f"{system}_updates", 0), 0
            if system == "hubspot":
                created, updated = (0, len(rollup_ids)) if rollup else (created, updated - len(rollup_ids))
        else:
            results = write_results.get(task_id, _empty())
            ok = results["success"].astype(bool) if not results.empty else pd.Series(dtype=bool)
            operation = results["operation"] if "operation" in results else pd.Series("", index=results.index)
            if system == "hubspot" and not results.empty:
                is_rollup = (operation == "update") & results["key"].astype(str).isin(rollup_ids)
                keep = is_rollup if rollup else ~is_rollup
                ok, operation = ok[keep], operation[keep]
            creates = operation.isin(["upsert", "create"])  # creates are upserts on the other side's id
            created, updated = int((ok & creates).sum()), int((ok & (operation == "update")).sum())
            failed = int((~ok).sum())
        out[direction] = {"created": int(created), "updated": int(updated), "failed": int(failed)}
    return out


def _skipped(decisions: pd.DataFrame) -> dict[str, dict[str, int]]:
    """Skipped records per side, by reason code, most frequent first."""
    if decisions.empty or "action" not in decisions:
        return {}
    skipped = decisions[decisions["action"].astype(str) == "skipped"]
    by = skipped.groupby([skipped["system"].astype(str), skipped["reason"].astype(str)]).size()
    out: dict[str, dict[str, int]] = {}
    for (system, reason), n in by.sort_values(ascending=False).items():
        out.setdefault(system, {})[reason] = int(n)
    return out


def _reasons_table(decisions: pd.DataFrame) -> list[dict[str, Any]]:
    """Decisions per (reason, rule), per side, most frequent first."""
    reasons: list[dict[str, Any]] = []
    if decisions.empty:
        return reasons
    rule = decisions["rule"] if "rule" in decisions else pd.Series(pd.NA, index=decisions.index)
    table = decisions.assign(rule=rule.fillna("")).groupby(["reason", "rule", "system"]).size().unstack(fill_value=0)
    for (reason, rule_text), row in table.iterrows():
        per_side = {side: int(row.get(side, 0)) for side in SIDES}
        reasons.append({"reason": str(reason), "rule": str(rule_text), **per_side, "records": sum(per_side.values())})
    reasons.sort(key=lambda r: (-r["records"], r["reason"]))
    return reasons


def _record_warnings(decisions: pd.DataFrame) -> list[dict[str, Any]]:
    """Per-record warnings of the plan (e.g. a website with no valid host: never a matching key nor written),
    as ids and codes only: {system, record_id, warning}."""
    if decisions.empty or "warning" not in decisions:
        return []
    rows = decisions.loc[decisions["warning"].notna().to_numpy(), ["system", "record_id", "warning"]]
    return _records(rows.astype("str"))


def _warning_counts(warnings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Warnings per code and side, most frequent first (a record with several codes counts under each)."""
    counts: dict[str, dict[str, int]] = {}
    for w in warnings:
        for code in str(w["warning"]).split("+"):
            per_side = counts.setdefault(code, dict.fromkeys(SIDES, 0))
            per_side[w["system"]] = per_side.get(w["system"], 0) + 1
    rows = [{"warning": code, **sides, "records": sum(sides.values())} for code, sides in counts.items()]
    return sorted(rows, key=lambda r: (-r["records"], r["warning"]))


def _errors(write_errors: pd.DataFrame, decisions: pd.DataFrame) -> pd.DataFrame:
    """Refused writes and values the plan rejected, with advice, in ERROR_COLUMNS."""
    frame = pd.concat(
        [f for f in (write_errors, _rejections(decisions)) if not f.empty] or [pd.DataFrame(columns=ERROR_COLUMNS)],
        ignore_index=True,
    )
    frame["advice"] = frame["category"].map(ADVICE).fillna(ADVICE["other"])
    return frame.reindex(columns=ERROR_COLUMNS)


def _sync_health(errors_frame: pd.DataFrame, errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Errors grouped like HubSpot's Sync Health: every group, in its order, with advice and resync ids."""
    health = []
    present = set(errors_frame["category"].dropna().astype(str))
    for category in [*HEALTH_CATEGORIES, *sorted(present - set(HEALTH_CATEGORIES))]:
        group = [e for e in errors if e.get("category") == category]
        health.append(
            {
                "category": category,
                "label": CATEGORY_LABELS.get(category, category),
                "errors": len(group),
                "records": len({(e.get("target"), e.get("key")) for e in group}),
                "advice": ADVICE.get(category, ADVICE["other"]),
                "resync": resync_ids(group),
            }
        )
    return health


def _checks_summary(inputs: ReportInputs) -> dict[str, Any]:
    """The validation summary: totals, failed checks, links to the Data Docs the validate tasks built."""
    checks = pd.concat([inputs.checks.get(t, _empty()).assign(stage=t) for t in CHECK_TASKS], ignore_index=True)
    failed = checks[~checks["success"].astype(bool)] if not checks.empty else checks
    folder = report_folder(inputs.reports_dir, inputs.dag_id, inputs.run_id)
    return {
        "total": int(len(checks)),
        "warnings": int((~failed["blocking"].astype(bool)).sum()) if not failed.empty else 0,
        "blocking_failed": int(failed["blocking"].astype(bool).sum()) if not failed.empty else 0,
        "failed": _records(failed),
        "data_docs": {
            stage: f"data_docs/{stage}/index.html"
            for stage in ("extracts", "plan")
            if (folder / "data_docs" / stage / "index.html").exists()
        },
    }


def build(inputs: ReportInputs) -> dict[str, Any]:
    """The report document (JSON-able) from plain data: the run's fields, frames and task summaries."""
    counts = _decision_counts(inputs.decisions)
    write_errors = _write_errors(inputs.write_results)
    errors_frame = _errors(write_errors, inputs.decisions)
    errors = _records(errors_frame)
    status = run_status(inputs.task_states, inputs.enabled)
    warnings = _record_warnings(inputs.decisions)
    summary = {
        "decisions": counts,
        "directions": _directions(inputs.write_results, inputs.planned_writes, inputs.rollup_ids, inputs.dry_run),
        "skipped": _skipped(inputs.decisions),
        "planned_writes": dict(inputs.planned_writes),
        "loads": {t: inputs.load_counts.get(t) for t in RESULT_TASKS},
        "write_errors": int(len(write_errors)),
        "rejected": int(sum(c.get("rejected", 0) for c in counts.values())),
        "record_warnings": len(warnings),
        "duplicate_candidates": int(len(inputs.duplicate_candidates)),
    }
    return {
        "dag_id": inputs.dag_id,
        "run_id": inputs.run_id,
        "mode": inputs.mode,
        "window": inputs.window,
        "dry_run": inputs.dry_run,
        "company_sync_enabled": inputs.enabled,
        "generated_at": pd.Timestamp.now(tz="UTC").isoformat(),
        "status": status_label(status),
        "failed_tasks": failed_tasks(inputs.task_states),
        "task_states": inputs.task_states,
        "summary": summary,
        "reasons": dict(inputs.reasons),
        "reasons_table": _reasons_table(inputs.decisions),
        "sync_health": _sync_health(errors_frame, errors),
        "errors": errors,
        "resync": resync_ids(errors),
        "conflicts": _records(inputs.conflicts),
        "duplicate_candidates": _records(inputs.duplicate_candidates),
        "record_warnings": warnings,
        "warning_counts": _warning_counts(warnings),
        "checks": _checks_summary(inputs),
        "history": _history(inputs.recent_runs, inputs.run_id, summary, status),
        "missing_ids": inputs.missing_ids,
        "inputs": {"change_sources": inputs.change_sources, "warnings": inputs.input_warnings},
        "api_calls": {t: inputs.api_calls.get(t) for t in API_CALL_TASKS},
    }


def write(document: dict[str, Any], reports_dir: Path | str | ObjectStoragePath) -> ObjectStoragePath:
    """Write the report's files into its folder (a local folder or object storage); returns report.html's
    path. report.html comes last: a reader that finds it finds the others."""
    folder = report_folder(reports_dir, document["dag_id"], document["run_id"])
    folder.mkdir(parents=True, exist_ok=True)
    files = {
        "report.json": json.dumps(document, indent=2, default=str),
        "errors.csv": pd.DataFrame(document["errors"], columns=ERROR_COLUMNS).to_csv(index=False),
        "report.html": render_html(document),
    }
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder / "report.html"


def text_summary(document: dict[str, Any]) -> str:
    """What the run did, per direction, then the skipped records by reason and the decisions table: for logs
    and the demo."""
    summary = document["summary"]
    verb = "would be " if document["dry_run"] else ""
    lines = []
    for direction, figures in (summary.get("directions") or {}).items():
        noun = DIRECTIONS[direction][2]
        lines.append(
            f"{DIRECTION_LABELS[direction]}: {figures['created']:,} {noun} {verb}created, {figures['updated']:,} "
            f"{verb}updated, {figures['failed']:,} failed"
        )
    lines.append(f"Linked (existing records matched, R9): {run_totals(summary)['linked']:,} pairs")
    for side, reasons in (summary.get("skipped") or {}).items():
        explained = ", ".join(f"{n:,} {reason}" for reason, n in reasons.items())
        lines.append(f"Skipped {sum(reasons.values()):,} {SIDES.get(side, side)}: {explained}")
    counts = summary["decisions"]
    width = max(len(s) for s in SIDES.values())
    lines.append("\nDecisions per record considered (a pair counts on both sides; see the report's reasons)")
    lines.append(f"{'':{width}}  " + "  ".join(f"{a:>9}" for a in ACTIONS))
    for side, label in SIDES.items():
        row = counts.get(side, {})
        lines.append(f"{label:{width}}  " + "  ".join(f"{row.get(a, 0):>9}" for a in ACTIONS))
    lines.append(
        f"status: {document['status']}; write errors: {summary['write_errors']}"
        + (" (dry run: nothing written)" if document["dry_run"] else "")
    )
    return "\n".join(lines)
