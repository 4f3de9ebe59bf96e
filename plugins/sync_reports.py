"""Airflow UI plugin: "Sync reports", the data team's view of what each sync run did.

- `fastapi_apps`: an app at `/sync-reports/` that lists the runs of the sync DAGs from the state store's
  `runs` table (date, DAG, status, counts) with links to each run's report and its GX Data Docs, serves the
  report folders (`/sync-reports/runs/<dag>/<run>/report.html`, `data_docs/…`, `errors.csv`), and takes the
  report's "Resync these" POST (`/sync-reports/resync`), which triggers `company_resync` with the failed
  records' `hubspot_company_ids` / `salesforce_account_ids`.
- `external_views`: a "Sync reports" entry in the UI's navigation (the page is shown inside the Airflow UI).
- `global_operator_extra_links`: a "Sync report" link on the `report` task of the sync DAGs.

Every route asks Airflow's auth manager: reading needs read access to DAG runs, resyncing needs permission
to trigger `company_resync` (under `airflow standalone` with `simple_auth_manager_all_admins`, everyone is an
admin). Module import stays light: no pandas, no Great Expectations, no state store until a page is asked for.
"""

from __future__ import annotations

import html
import json
import logging
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote

from airflow.plugins_manager import AirflowPlugin
from airflow.sdk import BaseOperatorLink
from fastapi import FastAPI, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, HTMLResponse, Response

log = logging.getLogger(__name__)

URL_PREFIX = "/sync-reports"
SYNC_DAGS = ("company_sync", "company_resync", "salesforce_account_import")
RESYNC_DAG = "company_resync"
REPORT_TASK = "report"
ACCOUNT_ID = re.compile(r"^001[a-zA-Z0-9]{12}(?:[a-zA-Z0-9]{3})?$")
HUBSPOT_ID = re.compile(r"^[0-9]{1,20}$")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")  # as include.company_sync.staging.safe_segment
MAX_IDS = 1000


def safe_segment(value: str) -> str:
    return _UNSAFE.sub("_", value)


def report_url(dag_id: str, run_id: str, path: str = "report.html") -> str:
    return f"{URL_PREFIX}/runs/{quote(safe_segment(dag_id))}/{quote(safe_segment(run_id))}/{path}"


def _reports_dir() -> Path:
    from include.company_sync.runtime import Runtime

    return Runtime.from_env().reports_dir.resolve()


# --- auth ----------------------------------------------------------------------------------------------
async def _authorize(request: Request, method: str, dag_id: str | None = None) -> Any:
    """The caller's Airflow user, if allowed `method` on the DAG runs of `dag_id` (all DAGs when None)."""
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity, DagDetails
    from airflow.api_fastapi.core_api.security import resolve_user_from_token

    header = request.headers.get("authorization", "")
    token = header[7:] if header.lower().startswith("bearer ") else request.cookies.get("_token")
    if not token:
        raise HTTPException(401, "Sign in to Airflow first")
    user = await resolve_user_from_token(token)
    allowed = get_auth_manager().is_authorized_dag(
        method=method, access_entity=DagAccessEntity.RUN, details=DagDetails(id=dag_id), user=user
    )
    if not allowed:
        raise HTTPException(
            403, f"Not allowed to {'trigger' if method == 'POST' else 'read'} runs of {dag_id or 'DAGs'}"
        )
    return user


# --- pages ---------------------------------------------------------------------------------------------
CSS = """
:root{--ink:#1d2733;--muted:#6b7a8c;--line:#e3e8ee;--ok:#2e7d32;--bad:#c62828;--warn:#b26a00;--run:#1565c0}
body{font:14px/1.5 system-ui,-apple-system,'Segoe UI',sans-serif;margin:0;color:var(--ink);background:#f6f8fa}
main{max-width:1300px;margin:0 auto;padding:1.2rem 1.6rem} h1{font-size:1.3rem;margin:.2rem 0 .8rem}
table{border-collapse:collapse;width:100%;background:#fff;border:1px solid var(--line)}
td,th{border-bottom:1px solid var(--line);padding:.35rem .6rem;text-align:left;white-space:nowrap}
th{font-size:.78rem;text-transform:uppercase;letter-spacing:.03em;color:var(--muted)}
td.num{text-align:right;font-variant-numeric:tabular-nums} td.zero{text-align:right;color:#b8c2cc}
.badge{display:inline-block;padding:0 .55rem;border-radius:1rem;color:#fff;font-size:.8rem}
.success{background:var(--ok)} .failed{background:var(--bad)} .skipped{background:var(--warn)}
.running{background:var(--run)} a{color:#1565c0} .muted{color:var(--muted)} nav a{margin-right:.8rem}
.card{background:#fff;border:1px solid var(--line);border-radius:8px;padding:1rem 1.2rem;margin:1rem 0}
"""


def _page(title: str, body: str, status_code: int = 200) -> HTMLResponse:
    return HTMLResponse(
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{CSS}</style></head><body><main>{body}</main></body></html>",
        status_code=status_code,
    )


def _num(value: int) -> str:
    return "<td class='zero'>0</td>" if not value else f"<td class='num'>{value:,}</td>"


def _counts(summary: Any) -> dict[str, int]:
    summary = summary if isinstance(summary, dict) else {}
    decisions = summary.get("decisions") or {}
    out = {a: sum(int((side or {}).get(a, 0)) for side in decisions.values()) for a in ("created", "updated", "linked")}
    out["rejected"] = sum(int((side or {}).get("rejected", 0)) for side in decisions.values())
    out["write errors"] = int(summary.get("write_errors") or 0)
    return out


def _runs_table(runs: list[dict[str, Any]], reports_dir: Path) -> str:
    head = "".join(
        f"<th>{h}</th>"
        for h in ("started", "DAG", "run", "status", "created", "updated", "linked", "rejected", "write errors", "")
    )
    rows = []
    for r in runs:
        counts = _counts(r["counts"])
        folder = reports_dir / safe_segment(r["dag_id"]) / safe_segment(r["run_id"])
        links = []
        if (folder / "report.html").exists():
            links.append(f"<a class='report' href='{report_url(r['dag_id'], r['run_id'])}'>report</a>")
        for stage in ("extracts", "plan"):
            if (folder / "data_docs" / stage / "index.html").exists():
                url = report_url(r["dag_id"], r["run_id"], f"data_docs/{stage}/index.html")
                links.append(f"<a class='datadocs' href='{url}'>Data Docs: {stage}</a>")
        airflow_run = f"/dags/{quote(r['dag_id'])}/runs/{quote(r['run_id'], safe='')}"
        links.append(f"<a href='{airflow_run}' target='_top'>Airflow run</a>")
        status = str(r["status"])
        dry = " <span class='muted'>(dry run)</span>" if r.get("dry_run") else ""
        rows.append(
            f"<tr class='run' data-dag='{html.escape(r['dag_id'])}' data-run='{html.escape(r['run_id'])}'>"
            f"<td>{html.escape(str(r['started_at'])[:19].replace('T', ' '))}</td><td>{html.escape(r['dag_id'])}</td>"
            f"<td>{html.escape(r['run_id'])}{dry}</td>"
            f"<td><span class='badge {html.escape(status)}'>{html.escape(status)}</span></td>"
            + "".join(_num(v) for v in counts.values())
            + f"<td>{' · '.join(links)}</td></tr>"
        )
    if not rows:
        return "<p class='muted'>No sync runs recorded yet: trigger company_sync.</p>"
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _recent_runs(dag_id: str | None, limit: int) -> list[dict[str, Any]]:
    from include.company_sync.runtime import Runtime
    from include.company_sync.state import StateStore

    state = StateStore(Runtime.from_env().state_url)
    try:
        state.create_all()
        frame = state.recent_runs(dag_id, limit=limit)
    finally:
        state.dispose()
    return [
        {k: (None if v is None or (isinstance(v, float) and v != v) else v) for k, v in row.items()}
        for row in frame.astype(object).to_dict("records")
    ]


app = FastAPI(title="Sync reports", docs_url=None, redoc_url=None, openapi_url=None)


@app.get("/", response_class=HTMLResponse)
async def index(request: Request, dag_id: str | None = None, limit: int = 200) -> HTMLResponse:
    await _authorize(request, "GET", dag_id)
    if dag_id is not None and dag_id not in SYNC_DAGS:
        raise HTTPException(404, f"not a sync DAG: {dag_id}")
    runs = await run_in_threadpool(_recent_runs, dag_id, max(1, min(limit, 1000)))
    filters = " ".join(
        f"<a href='{URL_PREFIX}/?dag_id={d}'>{d}</a>" if d != dag_id else f"<b>{d}</b>" for d in SYNC_DAGS
    )
    return _page(
        "Sync reports",
        f"<h1>Sync reports</h1><nav>Show: <a href='{URL_PREFIX}/'>all</a> {filters}</nav>"
        f"<p class='muted'>The latest runs of the sync DAGs, newest first, with what each decided and wrote. "
        f"Open a report for the errors by Sync Health category and to resync failed records.</p>"
        + _runs_table(runs, _reports_dir()),
    )


@app.get("/icon.svg")
async def icon() -> Response:
    svg = (
        "<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 24 24' fill='none' stroke='currentColor' "
        "stroke-width='2'><path d='M4 20V10M10 20V4M16 20v-7M22 20H2'/></svg>"
    )
    return Response(svg, media_type="image/svg+xml")


@app.get("/runs/{dag}/{run}/{path:path}")
async def report_file(request: Request, dag: str, run: str, path: str) -> FileResponse:
    """A file of one run's report folder (report.html, report.json, errors.csv, data_docs/…)."""
    await _authorize(request, "GET", dag if dag in SYNC_DAGS else None)
    root = _reports_dir()
    target = (root / dag / run / (path or "report.html")).resolve()
    if not target.is_relative_to(root) or not target.is_file():
        raise HTTPException(404, "no such report file")
    return FileResponse(target)


def _ids(form: dict[str, list[str]], key: str, pattern: re.Pattern) -> list[str]:
    values = [v.strip() for raw in form.get(key, []) for v in re.split(r"[\s,]+", raw) if v.strip()]
    bad = [v for v in values if not pattern.match(v)]
    if bad:
        raise HTTPException(400, f"{key}: not ids: {', '.join(bad[:5])}")
    if len(values) > MAX_IDS:
        raise HTTPException(400, f"{key}: at most {MAX_IDS} ids per resync")
    return list(dict.fromkeys(values))


def trigger_resync(conf: dict[str, Any], user_name: str | None, note: str) -> str:
    """Create a `company_resync` DagRun through Airflow's own trigger function; returns its run id."""
    from airflow.api.common.trigger_dag import trigger_dag
    from airflow.utils.types import DagRunTriggeredByType

    dag_run = trigger_dag(
        RESYNC_DAG, triggered_by=DagRunTriggeredByType.UI, conf=conf, triggering_user_name=user_name, note=note
    )
    return dag_run.run_id


@app.post("/resync", response_class=HTMLResponse)
async def resync(request: Request) -> HTMLResponse:
    user = await _authorize(request, "POST", RESYNC_DAG)
    form = parse_qs((await request.body()).decode(), keep_blank_values=False)
    conf = {
        "hubspot_company_ids": _ids(form, "hubspot_company_ids", HUBSPOT_ID),
        "salesforce_account_ids": _ids(form, "salesforce_account_ids", ACCOUNT_ID),
    }
    if not conf["hubspot_company_ids"] and not conf["salesforce_account_ids"]:
        raise HTTPException(400, "nothing to resync: no hubspot_company_ids or salesforce_account_ids")
    source = (form.get("source") or ["a sync report"])[0][:200]
    name = getattr(user, "get_name", lambda: None)()
    try:
        run_id = await run_in_threadpool(trigger_resync, conf, name, f"Resync of failed records from {source}")
    except (ValueError, LookupError) as exc:  # DagNotFound is a LookupError-like AirflowNotFoundException
        raise HTTPException(409, f"could not trigger {RESYNC_DAG}: {exc}") from exc
    log.info("sync reports: %s triggered %s %s with %s", name, RESYNC_DAG, run_id, json.dumps(conf))
    airflow_run = f"/dags/{RESYNC_DAG}/runs/{quote(run_id, safe='')}"
    n_hs, n_sf = len(conf["hubspot_company_ids"]), len(conf["salesforce_account_ids"])
    return _page(
        "Resync triggered",
        f"<h1>Resync triggered</h1><div class='card'><p id='resync-run'>{RESYNC_DAG} run "
        f"<code>{html.escape(run_id)}</code> was created for {n_hs} HubSpot compan{'y' if n_hs == 1 else 'ies'} "
        f"and {n_sf} Salesforce account{'' if n_sf == 1 else 's'}.</p>"
        f"<pre>{html.escape(json.dumps(conf, indent=2))}</pre>"
        f"<p><a href='{airflow_run}' target='_top'>Follow the run in Airflow</a> · "
        f"<a href='{URL_PREFIX}/'>All sync reports</a></p></div>",
    )


# --- extra link ----------------------------------------------------------------------------------------
class SyncReportLink(BaseOperatorLink):
    """ "Sync report" on the report task of the sync DAGs (a global link: no change to the operators)."""

    name = "Sync report"

    def get_link(self, operator, *, ti_key) -> str:
        if ti_key.dag_id not in SYNC_DAGS or ti_key.task_id != REPORT_TASK:
            return ""
        return report_url(ti_key.dag_id, ti_key.run_id)


class SyncReportsPlugin(AirflowPlugin):
    name = "sync_reports"
    fastapi_apps = [{"app": app, "url_prefix": URL_PREFIX, "name": "Sync reports"}]
    external_views = [
        {
            "name": "Sync reports",
            "href": f"{URL_PREFIX}/",
            "destination": "nav",
            "url_route": "sync-reports",
            "icon": f"{URL_PREFIX}/icon.svg",
            "category": "browse",
        }
    ]
    global_operator_extra_links = [SyncReportLink()]
