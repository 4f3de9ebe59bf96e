"""HTML of the run report and of the Sync reports plugin's pages, rendered from the Jinja2 templates in
`templates/` (autoescaped) with one stylesheet, `templates/sync.css`, inlined into every page.

`render_html(document)` turns the report document (`report.build`) into `report.html`; `render(template,
**context)` renders any page (the plugin's run list and resync confirmation). Light on purpose (no pandas):
the UI plugin imports it in the API server.
"""

from __future__ import annotations

import json
import math
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

TEMPLATES = Path(__file__).with_name("templates")
STYLESHEET = TEMPLATES / "sync.css"

# The report's vocabulary: the decision actions (columns) and the two sides (rows) it counts.
ACTIONS = ("created", "updated", "linked", "unchanged", "skipped", "rejected")
SIDES = {"salesforce": "Salesforce accounts", "hubspot": "HubSpot companies"}
TABLE_ROWS = 200  # per table in the HTML; the CSV and JSON have everything
CHART_SERIES = (  # (label, colour) of the chart's stacked bars, counted from a run's history row
    ("created", "#2e7d32"),
    ("updated", "#1565c0"),
    ("linked", "#6a1b9a"),
    ("rejected", "#ef6c00"),
    ("write errors", "#c62828"),
)


def cell_kind(value: Any) -> str:
    """How a table cell shows `value`: `missing` (None, NaN), `zero`, `number` (thousands separated), `text`."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "missing"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return "zero" if value == 0 else "number"
    return "text"


def plural(n: int, one: str, many: str) -> str:
    """`1 company`, `3 companies`."""
    return f"{n} {one if n == 1 else many}"


@cache
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=StrictUndefined,
    )
    env.globals.update(
        stylesheet=Markup(STYLESHEET.read_text()), cell_kind=cell_kind, plural=plural, table_rows=TABLE_ROWS
    )
    env.filters.update(num=lambda value: f"{value:,}", json=json.dumps)
    return env


def render(template: str, **context: Any) -> str:
    """One page from `templates/<template>`."""
    return environment().get_template(template).render(**context)


def chart_svg(history: list[dict[str, Any]], width: int = 900, height: int = 220) -> str:
    """Stacked bars of the last runs' created / updated / linked / rejected / write errors (inline SVG)."""
    if not history:
        return render("chart.svg", bars=[])
    left, bottom, top, right = 44, 46, 10, 10
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max(max(sum(r.get(name, 0) for name, _ in CHART_SERIES) for r in history), 1)
    slot = plot_w / len(history)
    bar = max(min(slot * 0.7, 36), 3)
    grid = []
    for i in range(5):
        y = top + plot_h - plot_h * i / 4
        grid.append({"y": f"{y:.1f}", "label_y": f"{y + 4:.1f}", "value": f"{peak * i / 4:,.0f}"})
    bars = []
    for i, row in enumerate(history):
        x, y = left + slot * i + (slot - bar) / 2, top + plot_h
        segments = []
        for name, colour in CHART_SERIES:
            h = plot_h * row.get(name, 0) / peak
            if h > 0:
                y -= h
                segments.append({"y": f"{y:.1f}", "h": f"{h:.1f}", "colour": colour})
        labelled = len(history) <= 12 or i % max(len(history) // 10, 1) == 0 or i == len(history) - 1
        tip = [f"{row['run_id']} ({row['status']})"] + [f"{name}: {row.get(name, 0):,}" for name, _ in CHART_SERIES]
        bars.append(
            {
                "x": f"{x:.1f}",
                "middle": f"{x + bar / 2:.1f}",
                "tip": "\n".join(tip),
                "segments": segments,
                "failed": row["status"] not in ("success", "running"),
                "label": str(row["started_at"])[5:16].replace("T", " ") if labelled else None,
            }
        )
    legend, legend_x = [], left
    for name, colour in CHART_SERIES:
        legend.append({"x": legend_x, "name": name, "colour": colour})
        legend_x += 14 + 8 * len(name) + 18
    return render(
        "chart.svg",
        **{"width": width, "height": height, "left": left, "right": right, "top": top, "plot_h": plot_h},
        bar=f"{bar:.1f}",
        grid=grid,
        bars=bars,
        legend=legend,
        legend_end=legend_x,
    )


# direction: (the load task that writes it, the system written, what it writes)
DIRECTIONS = {
    "salesforce_to_hubspot": ("load_hubspot", "hubspot", "companies"),
    "hubspot_to_salesforce": ("load_salesforce", "salesforce", "accounts"),
    # a HubSpot update carrying nothing but R7's lifecycle stage comes from HubSpot's own contacts
    "contacts_to_companies": ("load_hubspot", "hubspot", "companies"),
}
DIRECTION_LABELS = {
    "salesforce_to_hubspot": "Salesforce → HubSpot",
    "hubspot_to_salesforce": "HubSpot → Salesforce",
    "contacts_to_companies": "HubSpot contacts → companies (R7 lifecycle roll-up)",
}


def run_totals(summary: dict[str, Any]) -> dict[str, int]:
    """created / updated / linked of a run with each record or pair counted once: the report's tiles, its
    history and the Sync reports page show the same figures (reports older than `directions` are read from
    their decisions, where a pair is decided on both sides)."""
    decisions = summary.get("decisions") or {}
    directions = summary.get("directions")
    if directions:
        totals = {a: sum(int(d.get(a, 0)) for d in directions.values()) for a in ("created", "updated")}
    else:
        totals = {a: sum(int((side or {}).get(a, 0)) for side in decisions.values()) for a in ("created", "updated")}
    totals["linked"] = int((decisions.get("salesforce") or {}).get("linked", 0))  # one per new pair
    return totals


def render_html(doc: dict[str, Any]) -> str:
    """The report page (`report.html` in the run's report folder) from the report document."""
    counts = doc["summary"]["decisions"]
    checks = doc["checks"]
    loads = [
        {"task": task_id, "operation": op, **c}
        for task_id, ops in (doc["summary"].get("loads") or {}).items()
        for op, c in (ops or {}).items()
    ]
    totals = run_totals(doc["summary"])
    tiles = [
        ("created", totals["created"]),
        ("updated", totals["updated"]),
        ("linked pairs", totals["linked"]),
        ("rejected before writing", doc["summary"].get("rejected", 0)),
        ("write errors", doc["summary"]["write_errors"]),
        ("check warnings", checks.get("warnings", len(checks["failed"]))),
        ("record warnings", doc["summary"].get("record_warnings", 0)),
        ("duplicate candidates", len(doc.get("duplicate_candidates") or [])),
    ]
    reasons = doc.get("reasons_table") or [
        {"reason": k, "records": v} for k, v in sorted(doc["reasons"].items(), key=lambda kv: -kv[1])
    ]
    return render(
        "report.html",
        doc=doc,
        actions=list(ACTIONS),
        sides=list(SIDES),
        status_class="ok" if doc["status"] == "success" else ("bad" if doc["status"] == "failed" else "warn"),
        source=f"{doc['dag_id']} {doc['run_id']}",
        tiles=tiles,
        directions=[
            {"direction": DIRECTION_LABELS[d], "records": DIRECTIONS[d][2], **figures}
            for d, figures in (doc["summary"].get("directions") or {}).items()
        ],
        linked_pairs=totals["linked"],
        skipped=[
            {"records": SIDES.get(side, side), "reason": reason, "count": n}
            for side, reasons in (doc["summary"].get("skipped") or {}).items()
            for reason, n in reasons.items()
        ],
        decision_rows=[
            {"records": label, **{a: counts.get(side, {}).get(a, 0) for a in ACTIONS}} for side, label in SIDES.items()
        ],
        planned_writes=[{"write": k, "records": v} for k, v in doc["summary"]["planned_writes"].items()],
        loads=loads,
        reasons=reasons,
        resync=doc.get("resync") or {},
        health=doc.get("sync_health") or [],
        errors=doc["errors"],
        checks=checks,
        blocking_failed=checks.get("blocking_failed", 0),
        warnings=checks.get("warnings", 0),
        data_docs=list((checks.get("data_docs") or {}).items()),
        history=doc.get("history") or [],
        chart=Markup(chart_svg(doc.get("history") or [])),
    )
