"""The run report the data team reviews: what was decided and why, what was written, what failed and what to
do about it (errors grouped like HubSpot's Sync Health), conflicts, duplicate candidates, checks.

Written per run under `<reports_dir>/<dag_id>/<run id>/`: `report.json`, `report.html`, `errors.csv`.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from include.company_sync.staging import safe_segment

if TYPE_CHECKING:
    from include.company_sync.pipeline import Run

ACTIONS = ("created", "updated", "linked", "unchanged", "skipped", "rejected")
SIDES = {"salesforce": "Salesforce accounts", "hubspot": "HubSpot companies"}
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
TABLE_ROWS = 200  # per table in the HTML; the CSV and JSON have everything


def _read(run: Run, url: str | None) -> pd.DataFrame:
    try:
        return run.read(url)
    except FileNotFoundError:
        return pd.DataFrame()


def _records(frame: pd.DataFrame, limit: int | None = None) -> list[dict[str, Any]]:
    frame = frame if limit is None else frame.head(limit)
    return json.loads(frame.to_json(orient="records", date_format="iso")) if not frame.empty else []


def build(run: Run, outputs: dict[str, Any], states: dict[str, str]) -> dict[str, Any]:
    """The report document (JSON-able) from the tasks' XCom outputs and states."""
    planned = outputs.get("plan") or {}
    frames = planned.get("frames", {})
    decisions = _read(run, frames.get("decisions"))
    counts = {side: {a: 0 for a in ACTIONS} for side in SIDES}
    for (system, action), n in decisions.groupby(["system", "action"]).size().items() if not decisions.empty else []:
        counts.setdefault(system, {})[action] = int(n)

    errors = []
    for task_id, system in (("load_hubspot", "hubspot"), ("load_salesforce", "salesforce"), ("link_ids", None)):
        results = _read(run, (outputs.get(task_id) or {}).get("results"))
        if results.empty:
            continue
        failed = results[~results["success"].astype(bool)]
        if failed.empty:
            continue
        errors.append(
            failed.assign(
                task=task_id,
                target=system or failed["operation"].map({"link": "mixed", "attach": "salesforce"}).fillna("mixed"),
            )
        )
    errors_frame = (
        pd.concat(errors, ignore_index=True)
        if errors
        else pd.DataFrame(
            columns=["task", "target", "operation", "key", "id", "category", "error_code", "message", "fields"]
        )
    )
    if not errors_frame.empty:
        errors_frame["advice"] = errors_frame["category"].map(ADVICE).fillna(ADVICE["other"])
    health = [
        {
            "category": str(category),
            "errors": int(len(group)),
            "records": int(group["key"].nunique()),
            "advice": ADVICE.get(str(category), ADVICE["other"]),
        }
        for category, group in (errors_frame.groupby("category") if not errors_frame.empty else [])
    ]

    checks = pd.concat(
        [
            _read(run, (outputs.get(t) or {}).get("checks")).assign(stage=t)
            for t in ("validate_inputs", "validate_plan")
        ],
        ignore_index=True,
    )
    failed_checks = checks[~checks["success"].astype(bool)] if not checks.empty else checks

    writes = {k: v for k, v in (planned.get("counts", {}).get("writes") or {}).items()}
    loads = {t: (outputs.get(t) or {}).get("counts") for t in ("load_hubspot", "load_salesforce", "link_ids")}
    failed_tasks = sorted(t for t, s in states.items() if s in ("failed", "upstream_failed"))
    status = "failed" if failed_tasks else ("skipped: company sync is off (R1)" if not run.enabled else "success")
    return {
        "dag_id": run.dag_id,
        "run_id": run.run_id,
        "mode": run.mode,
        "window": run.data["window"],
        "dry_run": run.dry_run,
        "company_sync_enabled": run.enabled,
        "generated_at": pd.Timestamp.now(tz="UTC").isoformat(),
        "status": status,
        "failed_tasks": failed_tasks,
        "task_states": states,
        "summary": {
            "decisions": counts,
            "planned_writes": writes,
            "loads": loads,
            "write_errors": int(len(errors_frame)),
        },
        "reasons": planned.get("counts", {}).get("reasons", {}),
        "sync_health": health,
        "errors": _records(errors_frame),
        "conflicts": _records(_read(run, frames.get("conflicts"))),
        "duplicate_candidates": _records(_read(run, frames.get("duplicate_candidates"))),
        "checks": {"total": int(len(checks)), "failed": _records(failed_checks)},
        "missing_ids": (outputs.get("complete_inputs") or {}).get("missing_ids", {}),
        "api_calls": {
            t: (outputs.get(t) or {}).get("api_calls")
            for t in (
                "extract_salesforce",
                "extract_hubspot",
                "complete_inputs",
                "load_hubspot",
                "load_salesforce",
                "link_ids",
            )
        },
    }


def write(document: dict[str, Any], reports_dir: Path) -> Path:
    folder = Path(reports_dir) / safe_segment(document["dag_id"]) / safe_segment(document["run_id"])
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "report.json").write_text(json.dumps(document, indent=2, default=str))
    pd.DataFrame(document["errors"]).to_csv(folder / "errors.csv", index=False)
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


def _table(rows: list[dict[str, Any]], columns: list[str] | None = None) -> str:
    if not rows:
        return "<p class='none'>None.</p>"
    columns = columns or list(rows[0])
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join(
        "<tr>"
        + "".join(f"<td>{html.escape('' if r.get(c) is None else str(r.get(c)))}</td>" for c in columns)
        + "</tr>"
        for r in rows[:TABLE_ROWS]
    )
    more = (
        f"<p class='none'>{len(rows) - TABLE_ROWS} more in report.json / errors.csv.</p>"
        if len(rows) > TABLE_ROWS
        else ""
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{more}"


def render_html(doc: dict[str, Any]) -> str:
    counts = doc["summary"]["decisions"]
    decision_rows = [
        {"records": label, **{a: counts.get(side, {}).get(a, 0) for a in ACTIONS}} for side, label in SIDES.items()
    ]
    reasons = [{"reason": k, "records": v} for k, v in sorted(doc["reasons"].items(), key=lambda kv: -kv[1])]
    status_class = "ok" if doc["status"] == "success" else ("bad" if doc["status"] == "failed" else "warn")
    e = html.escape
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sync report {e(doc["dag_id"])} {e(doc["run_id"])}</title>
<style>
body{{font:14px/1.45 system-ui,sans-serif;margin:2rem;color:#1d2733;max-width:1200px}}
h1{{font-size:1.4rem}} h2{{font-size:1.1rem;margin-top:2rem;border-bottom:1px solid #dde3ea}}
table{{border-collapse:collapse;margin:.5rem 0}} td,th{{border:1px solid #dde3ea;padding:.25rem .6rem;text-align:left}}
th{{background:#f3f6f9}} .none{{color:#6b7a8c}} .badge{{padding:.1rem .5rem;border-radius:.6rem;color:#fff}}
.ok{{background:#2e8540}} .bad{{background:#c62828}} .warn{{background:#b26a00}}
</style></head><body>
<h1>Sync report: {e(doc["dag_id"])} <span class="badge {status_class}">{e(doc["status"])}</span></h1>
<p>Run <code>{e(doc["run_id"])}</code> · mode {e(doc["mode"])} · {e(doc["window"])}
{" · <strong>dry run: nothing was written</strong>" if doc["dry_run"] else ""} · generated {e(doc["generated_at"])}</p>
{
        "<p><strong>Company sync is off (R1): nothing was extracted or written.</strong></p>"
        if not doc["company_sync_enabled"]
        else ""
    }
{('<p class="bad badge">Failed tasks: ' + e(", ".join(doc["failed_tasks"])) + "</p>") if doc["failed_tasks"] else ""}
<h2>Decisions</h2>{_table(decision_rows, ["records", *ACTIONS])}
<h2>Planned writes</h2>{_table([{"write": k, "records": v} for k, v in doc["summary"]["planned_writes"].items()])}
<h2>Decisions by reason</h2>{_table(reasons)}
<h2>Sync health: errors by category</h2>{_table(doc["sync_health"], ["category", "errors", "records", "advice"])}
<h2>Errors</h2>{_table(doc["errors"], ["target", "operation", "key", "id", "category", "error_code", "message"])}
<h2>Two-way conflicts</h2>{_table(doc["conflicts"])}
<h2>Duplicate candidates</h2>{_table(doc["duplicate_candidates"])}
<h2>Checks ({doc["checks"]["total"]} run, failures below)</h2>{
        _table(
            doc["checks"]["failed"],
            ["stage", "frame", "column", "expectation", "blocking", "unexpected_count", "examples"],
        )
    }
</body></html>
"""
