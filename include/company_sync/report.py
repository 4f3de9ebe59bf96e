"""The run report the data team reviews: what was decided and why, what was written, what failed and what to
do about it (errors grouped like HubSpot's Sync Health), conflicts, duplicate candidates, checks, and the
last runs' counts as a chart.

Written per run under `<reports_dir>/<dag_id>/<run id>/` (`report_folder`): `report.json`, `report.html`,
`errors.csv`, and the GX Data Docs of the run's validations in `data_docs/<stage>/index.html` (built by the
validate tasks, see `validation.validate_frames`). The Airflow plugin `plugins/sync_reports.py` serves these
folders and turns the report's "Resync these" buttons into `company_resync` runs.

`build` makes the document from plain data only (`ReportInputs`: the run's fields, frames and summaries); the
report task (`tasks/report.py`) gathers them from staging, XCom and the state store.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from include.company_sync.identifiers import ACCOUNT_ID, HUBSPOT_ID, safe_segment
from include.company_sync.run_status import failed_tasks, run_status, status_label

ACTIONS = ("created", "updated", "linked", "unchanged", "skipped", "rejected")
SIDES = {"salesforce": "Salesforce accounts", "hubspot": "HubSpot companies"}
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
TABLE_ROWS = 200  # per table in the HTML; the CSV and JSON have everything
HISTORY_RUNS = 30
CHART_SERIES = (  # (label, colour, how to count from a run's summary)
    ("created", "#2e7d32"),
    ("updated", "#1565c0"),
    ("linked", "#6a1b9a"),
    ("rejected", "#ef6c00"),
    ("write errors", "#c62828"),
)
# The tasks whose per-record write results the report reads, and the system each writes to (None: both).
RESULT_TASKS = {"load_hubspot": "hubspot", "load_salesforce": "salesforce", "link_ids": None}
CHECK_TASKS = ("validate_inputs", "validate_plan")
API_CALL_TASKS = (
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
    reports_dir: Path
    task_states: dict[str, str] = field(default_factory=dict)  # the other tasks' states
    decisions: pd.DataFrame = field(default_factory=_empty)
    conflicts: pd.DataFrame = field(default_factory=_empty)
    duplicate_candidates: pd.DataFrame = field(default_factory=_empty)
    write_results: dict[str, pd.DataFrame] = field(default_factory=dict)  # by task id, see RESULT_TASKS
    checks: dict[str, pd.DataFrame] = field(default_factory=dict)  # staged check results by validate task id
    planned_writes: dict[str, int] = field(default_factory=dict)
    reasons: dict[str, int] = field(default_factory=dict)
    load_counts: dict[str, Any] = field(default_factory=dict)  # by task id: {operation: {succeeded, failed}}
    api_calls: dict[str, Any] = field(default_factory=dict)  # by task id
    missing_ids: dict[str, list[str]] = field(default_factory=dict)
    recent_runs: pd.DataFrame = field(default_factory=_empty)  # the state store's recent_runs, newest first


def report_folder(reports_dir: Path | str, dag_id: str, run_id: str) -> Path:
    """Where one run's report files live."""
    return Path(reports_dir) / safe_segment(dag_id) / safe_segment(run_id)


def data_docs_dir(reports_dir: Path | str, dag_id: str, run_id: str, stage: str) -> Path:
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
    row = {"run_id": run_id, "started_at": started_at, "status": status}
    for action in ("created", "updated", "linked", "rejected"):
        row[action] = int(sum((side or {}).get(action, 0) for side in decisions.values()))
    row["write errors"] = int(summary.get("write_errors") or 0)
    return row


def _decision_counts(decisions: pd.DataFrame) -> dict[str, dict[str, int]]:
    counts = {side: {a: 0 for a in ACTIONS} for side in SIDES}
    for (system, action), n in decisions.groupby(["system", "action"]).size().items() if not decisions.empty else []:
        counts.setdefault(system, {})[action] = int(n)
    return counts


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
    summary = {
        "decisions": counts,
        "planned_writes": dict(inputs.planned_writes),
        "loads": {t: inputs.load_counts.get(t) for t in RESULT_TASKS},
        "write_errors": int(len(write_errors)),
        "rejected": int(sum(c.get("rejected", 0) for c in counts.values())),
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
        "checks": _checks_summary(inputs),
        "history": _history(inputs.recent_runs, inputs.run_id, summary, status),
        "missing_ids": inputs.missing_ids,
        "api_calls": {t: inputs.api_calls.get(t) for t in API_CALL_TASKS},
    }


def write(document: dict[str, Any], reports_dir: Path) -> Path:
    folder = report_folder(reports_dir, document["dag_id"], document["run_id"])
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "report.json").write_text(json.dumps(document, indent=2, default=str))
    pd.DataFrame(document["errors"], columns=ERROR_COLUMNS).to_csv(folder / "errors.csv", index=False)
    (folder / "report.html").write_text(render_html(document))
    return folder / "report.html"


def text_summary(document: dict[str, Any]) -> str:
    """The decisions table as text, for logs and the demo."""
    counts = document["summary"]["decisions"]
    width = max(len(s) for s in SIDES.values())
    lines = [f"{'':{width}}  " + "  ".join(f"{a:>9}" for a in ACTIONS)]
    for side, label in SIDES.items():
        row = counts.get(side, {})
        lines.append(f"{label:{width}}  " + "  ".join(f"{row.get(a, 0):>9}" for a in ACTIONS))
    lines.append(
        f"status: {document['status']}; write errors: {document['summary']['write_errors']}"
        + (" (dry run: nothing written)" if document["dry_run"] else "")
    )
    return "\n".join(lines)


# --- HTML ----------------------------------------------------------------------------------------------
e = html.escape


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return "<td class='muted'>–</td>"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return "<td class='zero'>0</td>" if value == 0 else f"<td class='num'>{value:,}</td>"
    return f"<td>{e(str(value))}</td>"


def _table(rows: list[dict[str, Any]], columns: list[str] | None = None, cls: str = "") -> str:
    if not rows:
        return "<p class='none'>None.</p>"
    columns = columns or list(rows[0])
    head = "".join(f"<th>{e(c.replace('_', ' '))}</th>" for c in columns)
    body = "".join("<tr>" + "".join(_cell(r.get(c)) for c in columns) + "</tr>" for r in rows[:TABLE_ROWS])
    more = (
        f"<p class='none'>{len(rows) - TABLE_ROWS:,} more in report.json / errors.csv.</p>"
        if len(rows) > TABLE_ROWS
        else ""
    )
    return f"<table class='{cls}'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{more}"


def resync_form(ids: dict[str, list[str]], label: str, source: str) -> str:
    """A "Resync these" button: a POST to the Sync reports plugin (`../../../resync` from the report's URL
    `/sync-reports/runs/<dag>/<run>/report.html`), which triggers company_resync with these ids."""
    hs, sf = ids.get("hubspot_company_ids") or [], ids.get("salesforce_account_ids") or []
    if not hs and not sf:
        return ""
    conf = json.dumps({"hubspot_company_ids": hs, "salesforce_account_ids": sf})
    what = ", ".join(
        p
        for p in (
            f"{len(hs)} compan{'y' if len(hs) == 1 else 'ies'}" if hs else "",
            f"{len(sf)} account{'' if len(sf) == 1 else 's'}" if sf else "",
        )
        if p
    )
    return (
        "<form class='resync' method='post' action='../../../resync'>"
        f"<input type='hidden' name='hubspot_company_ids' value='{e(','.join(hs))}'>"
        f"<input type='hidden' name='salesforce_account_ids' value='{e(','.join(sf))}'>"
        f"<input type='hidden' name='source' value='{e(source)}'>"
        f"<button type='submit' title='Trigger company_resync for {e(what)}'>{e(label)} ({e(what)})</button>"
        f"<details><summary>or from a shell</summary><code>bin/airflow dags trigger company_resync -c "
        f"'{e(conf)}'</code></details></form>"
    )


def chart_svg(history: list[dict[str, Any]], width: int = 900, height: int = 220) -> str:
    """Stacked bars of the last runs' created / updated / linked / rejected / write errors (inline SVG)."""
    if not history:
        return "<p class='none'>No earlier runs recorded.</p>"
    left, bottom, top, right = 44, 46, 10, 10
    plot_w, plot_h = width - left - right, height - top - bottom
    totals = [sum(r.get(name, 0) for name, _ in CHART_SERIES) for r in history]
    peak = max(max(totals), 1)
    slot = plot_w / max(len(history), 1)
    bar = max(min(slot * 0.7, 36), 3)
    parts = [
        f"<svg class='chart' viewBox='0 0 {width} {height}' width='100%' role='img' "
        f"aria-label='Records changed per run, last {len(history)} runs'>"
    ]
    for i in range(5):  # grid lines and y labels
        value = peak * i / 4
        y = top + plot_h - plot_h * i / 4
        parts.append(f"<line x1='{left}' x2='{width - right}' y1='{y:.1f}' y2='{y:.1f}' class='grid'/>")
        parts.append(f"<text x='{left - 6}' y='{y + 4:.1f}' class='axis' text-anchor='end'>{value:,.0f}</text>")
    for i, row in enumerate(history):
        x = left + slot * i + (slot - bar) / 2
        y = top + plot_h
        tip = [f"{row['run_id']} ({row['status']})"] + [f"{name}: {row.get(name, 0):,}" for name, _ in CHART_SERIES]
        parts.append(f"<g><title>{e(chr(10).join(tip))}</title>")
        parts.append(f"<rect x='{x:.1f}' y='{top}' width='{bar:.1f}' height='{plot_h}' class='hover'/>")
        for name, colour in CHART_SERIES:
            h = plot_h * row.get(name, 0) / peak
            if h > 0:
                y -= h
                parts.append(f"<rect x='{x:.1f}' y='{y:.1f}' width='{bar:.1f}' height='{h:.1f}' fill='{colour}'/>")
        if row["status"] not in ("success", "running"):
            parts.append(f"<circle cx='{x + bar / 2:.1f}' cy='{top + plot_h + 8}' r='4' fill='#c62828'/>")
        parts.append("</g>")
        if len(history) <= 12 or i % max(len(history) // 10, 1) == 0 or i == len(history) - 1:
            label = str(row["started_at"])[5:16].replace("T", " ")
            parts.append(
                f"<text x='{x + bar / 2:.1f}' y='{height - 20}' class='axis' text-anchor='middle'>{e(label)}</text>"
            )
    legend_x = left
    for name, colour in CHART_SERIES:
        parts.append(f"<rect x='{legend_x}' y='{height - 11}' width='10' height='10' fill='{colour}'/>")
        parts.append(f"<text x='{legend_x + 14}' y='{height - 2}' class='axis'>{e(name)}</text>")
        legend_x += 14 + 8 * len(name) + 18
    parts.append(
        f"<circle cx='{legend_x + 4}' cy='{height - 6}' r='4' fill='#c62828'/>"
        f"<text x='{legend_x + 12}' y='{height - 2}' class='axis'>failed run</text>"
    )
    parts.append("</svg>")
    return "".join(parts)


CSS = """
:root{--ink:#1d2733;--muted:#6b7a8c;--line:#e3e8ee;--bg:#f6f8fa;--ok:#2e7d32;--bad:#c62828;--warn:#b26a00}
*{box-sizing:border-box} body{font:14px/1.5 system-ui,-apple-system,'Segoe UI',sans-serif;margin:0;color:var(--ink);
background:var(--bg)} main{max-width:1200px;margin:0 auto;padding:1.5rem 2rem 4rem}
header{background:#fff;border-bottom:1px solid var(--line);padding:1rem 2rem}
header h1{font-size:1.35rem;margin:0 0 .25rem} header p{margin:0;color:var(--muted)}
h2{font-size:1.05rem;margin:2rem 0 .6rem} h3{font-size:.95rem;margin:1rem 0 .4rem}
section.card{background:#fff;border:1px solid var(--line);border-radius:8px;padding:1rem 1.2rem;margin:1rem 0}
table{border-collapse:collapse;margin:.4rem 0;width:100%;background:#fff}
td,th{border-bottom:1px solid var(--line);padding:.3rem .6rem;text-align:left;vertical-align:top}
th{font-weight:600;color:var(--muted);font-size:.8rem;text-transform:uppercase;letter-spacing:.03em}
td.num{text-align:right;font-variant-numeric:tabular-nums} td.zero{color:#b8c2cc;text-align:right}
td.muted,.none{color:var(--muted)} .badge{display:inline-block;padding:.05rem .6rem;border-radius:1rem;color:#fff;
font-size:.8rem;vertical-align:middle} .ok{background:var(--ok)} .bad{background:var(--bad)}
.warn{background:var(--warn)}
.tiles{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:.8rem}
.tile{background:#fff;border:1px solid var(--line);border-radius:8px;padding:.7rem 1rem}
.tile b{display:block;font-size:1.5rem} .tile span{color:var(--muted);font-size:.85rem}
.health{display:grid;grid-template-columns:repeat(auto-fit,minmax(250px,1fr));gap:.8rem}
.health .group{background:#fff;border:1px solid var(--line);border-left:4px solid var(--ok);border-radius:6px;
padding:.6rem .9rem} .health .group.has{border-left-color:var(--bad)} .health h3{margin:0}
.health p{margin:.3rem 0;color:var(--muted);font-size:.85rem}
details.records{margin:.6rem 0;background:#fff;border:1px solid var(--line);border-radius:6px;padding:.5rem .9rem}
details.records summary{cursor:pointer;font-weight:600}
form.resync{margin:.5rem 0} form.resync button{background:#1565c0;color:#fff;border:0;border-radius:5px;
padding:.35rem .9rem;font:inherit;cursor:pointer} form.resync details{display:inline-block;margin-left:.8rem;
color:var(--muted);font-size:.8rem} form.resync code{display:block;white-space:pre-wrap;word-break:break-all}
svg.chart .grid{stroke:var(--line)} svg.chart .axis{fill:var(--muted);font-size:11px}
svg.chart .hover{fill:transparent} svg.chart g:hover .hover{fill:#eef3f8}
nav.toc a{margin-right:1rem} a{color:#1565c0}
"""


def render_html(doc: dict[str, Any]) -> str:
    counts = doc["summary"]["decisions"]
    decision_rows = [
        {"records": label, **{a: counts.get(side, {}).get(a, 0) for a in ACTIONS}} for side, label in SIDES.items()
    ]
    reasons = doc.get("reasons_table") or [
        {"reason": k, "records": v} for k, v in sorted(doc["reasons"].items(), key=lambda kv: -kv[1])
    ]
    status_class = "ok" if doc["status"] == "success" else ("bad" if doc["status"] == "failed" else "warn")
    checks = doc["checks"]
    health = doc.get("sync_health") or []
    errors = doc["errors"]
    source = f"{doc['dag_id']} {doc['run_id']}"

    loads = []
    for task_id, ops in (doc["summary"].get("loads") or {}).items():
        for op, c in (ops or {}).items():
            loads.append({"task": task_id, "operation": op, **c})

    tiles = [
        ("created", sum(c.get("created", 0) for c in counts.values())),
        ("updated", sum(c.get("updated", 0) for c in counts.values())),
        ("linked", sum(c.get("linked", 0) for c in counts.values())),
        ("rejected before writing", doc["summary"].get("rejected", 0)),
        ("write errors", doc["summary"]["write_errors"]),
        ("check warnings", checks.get("warnings", len(checks["failed"]))),
    ]
    tiles_html = "".join(f"<div class='tile'><b>{n:,}</b><span>{e(t)}</span></div>" for t, n in tiles)

    groups = []
    details = []
    for g in health:
        has = g["errors"] > 0
        groups.append(
            f"<div class='group{' has' if has else ''}'><h3>{e(g['label'])}</h3>"
            f"<p><b>{g['errors']:,}</b> errors · <b>{g['records']:,}</b> records</p>"
            + (f"<p>{e(g['advice'])}</p><p><a href='#errors-{e(g['category'])}'>See the records</a></p>" if has else "")
            + "</div>"
        )
        if has:
            rows = [x for x in errors if x.get("category") == g["category"]]
            details.append(
                f"<details class='records' id='errors-{e(g['category'])}' open><summary>{e(g['label'])}: "
                f"{g['errors']:,} errors on {g['records']:,} records</summary><p>{e(g['advice'])}</p>"
                + resync_form(g.get("resync") or {}, "Resync these", source)
                + _table(rows, ["target", "source", "operation", "key", "id", "error_code", "message"])
                + "</details>"
            )

    docs_links = (
        " · ".join(
            f"<a href='{e(path)}' class='datadocs'>Data Docs: {e(stage)}</a>"
            for stage, path in (checks.get("data_docs") or {}).items()
        )
        or "<span class='none'>no Data Docs were built for this run</span>"
    )
    off = "<p><strong>Company sync is off (R1): nothing was extracted or written.</strong></p>"
    failed_tasks = (
        f"<p><span class='badge bad'>failed tasks</span> {e(', '.join(doc['failed_tasks']))}</p>"
        if doc["failed_tasks"]
        else ""
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Sync report {e(doc["dag_id"])} {e(doc["run_id"])}</title><style>{CSS}</style></head><body>
<header><h1>Sync report: {e(doc["dag_id"])}
<span class="badge {status_class}" id="status">{e(doc["status"])}</span></h1>
<p>Run <code>{e(doc["run_id"])}</code> · mode {e(doc["mode"])} · {e(doc["window"])}
{" · <strong>dry run: nothing was written</strong>" if doc["dry_run"] else ""} · generated {e(doc["generated_at"])}</p>
</header><main>
{off if not doc["company_sync_enabled"] else ""}{failed_tasks}
<nav class="toc"><a href="../../../" id="all-reports">← All sync reports</a>
<a href="#totals">Totals</a><a href="#reasons">Reasons</a><a href="#health">Sync health</a>
<a href="#conflicts">Conflicts</a><a href="#duplicates">Duplicates</a><a href="#checks">Validation</a>
<a href="#history">Last runs</a><a href="report.json">JSON</a><a href="errors.csv">Errors CSV</a></nav>
<div class="tiles">{tiles_html}</div>
<h2 id="totals">Totals per side and action</h2>{_table(decision_rows, ["records", *ACTIONS])}
<h3>Planned writes</h3>{_table([{"write": k, "records": v} for k, v in doc["summary"]["planned_writes"].items()])}
<h3>Loads</h3>{_table(loads, ["task", "operation", "succeeded", "failed"])}
<h2 id="reasons">Decisions by reason</h2>{_table(reasons, ["reason", "rule", *SIDES, "records"])}
<h2 id="health">Sync health: errors by category</h2>
{resync_form(doc.get("resync") or {}, "Resync all failed records", source)}
<div class="health">{"".join(groups)}</div>{"".join(details)}
<h2 id="conflicts">Two-way conflicts</h2>
<p class="none">Both sides changed a two-way field since the last sync; the more recent change won.</p>
{_table(doc["conflicts"])}
<h2 id="duplicates">Duplicate candidates</h2>
<p class="none">Records that matched more than one candidate, or whose match was already taken (R9).</p>
{_table(doc["duplicate_candidates"])}
<h2 id="checks">Validation</h2>
<p>{checks["total"]:,} checks run · <b>{checks.get("blocking_failed", 0)}</b> blocking failures ·
<b>{checks.get("warnings", 0)}</b> warnings · {docs_links}</p>
{_table(checks["failed"], ["stage", "frame", "column", "expectation", "blocking", "unexpected_count", "examples"])}
<h2 id="history">Last {len(doc.get("history") or [])} runs</h2>
<section class="card">{chart_svg(doc.get("history") or [])}</section>
</main></body></html>
"""
