"""Airflow UI plugin: "Sync reports", the data team's view of what each sync run did.

- `fastapi_apps`: an app at `/sync-reports/` that lists the runs of the sync DAGs from the state store's
  `runs` table (date, DAG, status, counts) with links to each run's report and its GX Data Docs, serves the
  report folders (`/sync-reports/runs/<dag>/<run>/report.html`, `data_docs/…`, `errors.csv`) from where the
  tasks wrote them (`COMPANY_SYNC_REPORTS_URL`: a local folder or object storage, read through Airflow's
  `ObjectStoragePath`, so the API server needs no disk shared with the workers), and takes the
  report's "Resync these" POST (`/sync-reports/resync`), which triggers `company_resync` with the failed
  records' `hubspot_company_ids` / `salesforce_account_ids`; "Roll back this run" (`/sync-reports/rollback`:
  a dry-run preview of `company_sync_rollback` first, then, from the preview's row, the real run) and
  "Release held records" (`/sync-reports/release`) on a rollback's row.
- `external_views`: a "Sync reports" entry in the UI's navigation (the page is shown inside the Airflow UI).
- `global_operator_extra_links`: a "Sync report" link on the `report` task of the sync DAGs.

Every route asks Airflow's auth manager: reading needs read access to DAG runs, resyncing needs permission
to trigger `company_resync` (under `airflow standalone` with `simple_auth_manager_all_admins`, everyone is an
admin). The pages are the report's Jinja2 templates with its stylesheet (`include/company_sync/report_html.py`).
Module import stays light: no pandas, no Great Expectations, no state store until a page is asked for.
"""

from __future__ import annotations

import json
import logging
import mimetypes
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlencode

from airflow.plugins_manager import AirflowPlugin
from airflow.sdk import BaseOperatorLink
from fastapi import FastAPI, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response

from include.company_sync.identifiers import ACCOUNT_ID, HUBSPOT_ID, safe_segment
from include.company_sync.report_html import TEMPLATES, render, run_totals
from include.company_sync.run_status import RUN_STATUSES

log = logging.getLogger(__name__)

URL_PREFIX = "/sync-reports"
SYNC_DAGS = ("company_sync", "company_resync", "salesforce_account_import")
RESYNC_DAG = "company_resync"
ROLLBACK_DAG = "company_sync_rollback"  # issue #16: "Roll back this run" / "Release held records"
REPORTED_DAGS = (*SYNC_DAGS, ROLLBACK_DAG)
MAX_RUN_ID = 250
REPORT_TASK = "report"
MAX_IDS = 1000
PAGE_SIZE = 50  # runs per page of the Sync reports page
RUN_COLUMNS = ("started", "DAG", "run", "status", "created", "updated", "linked", "rejected", "write errors", "")


def report_url(dag_id: str, run_id: str, path: str = "report.html") -> str:
    return f"{URL_PREFIX}/runs/{quote(safe_segment(dag_id))}/{quote(safe_segment(run_id))}/{path}"


LOCAL_PROTOCOLS = ("file", "local")
STAGES = ("extracts", "plan")


def _reports_root() -> Any:
    """Where the tasks write reports (`Runtime.reports_url`), as an `ObjectStoragePath`; its listings are not
    cached across requests (a report written since must show)."""
    from airflow.sdk import ObjectStoragePath

    from include.company_sync.runtime import Runtime

    root = ObjectStoragePath(Runtime.from_env().reports_url.rstrip("/"))
    root.fs.invalidate_cache()
    return root


def _report_files(root: Any, dag_ids: set[str]) -> set[str]:
    """The report pages present under `root` for these DAGs, as `<dag>/<run>/report.html` and
    `<dag>/<run>/data_docs/<stage>/index.html`: one listing per DAG (on object storage one paginated LIST),
    not one request per run and file."""
    found: set[str] = set()
    local = root.protocol in LOCAL_PROTOCOLS
    for dag in sorted(safe_segment(d) for d in dag_ids):
        base = root / dag
        prefix = base.path.rstrip("/") + "/"
        try:
            names = base.fs.find(base.path, maxdepth=4 if local else None)
        except FileNotFoundError:
            continue
        for name in names:
            rel = name[len(prefix) :] if name.startswith(prefix) else None
            parts = rel.split("/") if rel else []
            if parts[1:] == ["report.html"] or (
                len(parts) == 4 and parts[1] == "data_docs" and parts[2] in STAGES and parts[3] == "index.html"
            ):
                found.add(f"{dag}/{rel}")
    return found


def _report_target(root: Any, dag: str, run: str, path: str) -> Any | None:
    """The file `<root>/<dag>/<run>/<path>` when it is one, inside the root; None otherwise. No segment may be
    empty, `.` or `..` (no traversal, on any store); on a local folder the resolved path (symlinks followed)
    must also stay inside the root."""
    parts = [dag, run, *(path or "report.html").split("/")]
    if any(part in ("", ".", "..") or "\\" in part or "\x00" in part for part in parts):
        return None
    target = root.joinpath(*parts)
    if root.protocol in LOCAL_PROTOCOLS:
        base = Path(root.path).resolve()
        if not Path(target.path).resolve().is_relative_to(base):
            return None
    return target if target.is_file() else None


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
def _counts(summary: Any) -> dict[str, int]:
    summary = summary if isinstance(summary, dict) else {}
    decisions = summary.get("decisions") or {}
    out = run_totals(summary)  # each record or pair once, as in the report
    out["rejected"] = sum(int((side or {}).get("rejected", 0)) for side in decisions.values())
    out["write errors"] = int(summary.get("write_errors") or 0)
    return out


def _run_row(r: dict[str, Any], files: set[str]) -> dict[str, Any]:
    """One line of the runs table: counts, and links to the report, its Data Docs and the Airflow run (`files`:
    the report pages present, see `_report_files`)."""
    folder = f"{safe_segment(r['dag_id'])}/{safe_segment(r['run_id'])}"
    links = []  # (class, href, text, opens in the whole window)
    if f"{folder}/report.html" in files:
        links.append(("report", report_url(r["dag_id"], r["run_id"]), "report", False))
    for stage in STAGES:
        if f"{folder}/data_docs/{stage}/index.html" in files:
            url = report_url(r["dag_id"], r["run_id"], f"data_docs/{stage}/index.html")
            links.append(("datadocs", url, f"Data Docs: {stage}", False))
    airflow_run = f"/dags/{quote(r['dag_id'])}/runs/{quote(r['run_id'], safe='')}"
    links.append((None, airflow_run, "Airflow run", True))
    return {
        "actions": _actions(r),
        "dag_id": r["dag_id"],
        "run_id": r["run_id"],
        "started": str(r["started_at"])[:19].replace("T", " "),
        "dry_run": bool(r.get("dry_run")),
        "status": str(r["status"]),
        "numbers": list(_counts(r["counts"]).values()),
        "links": links,
    }


def _actions(r: dict[str, Any]) -> list[tuple[str, str, dict[str, str], str | None]]:
    """The buttons of one runs-table row (issue #16): (path, label, form fields, confirmation question).

    A finished, real run of a sync DAG: "Roll back this run…" (a dry-run preview). The preview's row: "Confirm
    roll back" (the real rollback, after a confirmation). A finished real rollback: "Release held records"."""
    status, dry_run, summary = str(r["status"]), bool(r.get("dry_run")), r.get("counts")
    if r["dag_id"] in SYNC_DAGS and status in ("success", "failed") and not dry_run:
        return [("rollback", "Roll back this run…", {"run_id": r["run_id"], "dry_run": "true"}, None)]
    target = ((summary if isinstance(summary, dict) else {}).get("rolled_back") or {}).get("run_id")
    if r["dag_id"] != ROLLBACK_DAG or status != "success" or not target:
        return []
    if dry_run:
        question = f"Roll back {target}? Fields go back, created records are archived or deleted."
        return [("rollback", "Confirm roll back", {"run_id": str(target), "dry_run": "false"}, question)]
    return [("release", "Release held records", {"run_id": r["run_id"]}, "Release the records this rollback held?")]


@dataclass(frozen=True)
class RunQuery:
    """The runs page's filters (DAG, status, started in [since, until], both days included) and page."""

    dag_id: str | None = None
    status: str | None = None
    since: date | None = None
    until: date | None = None
    page: int = 1

    def params(self, **changes: Any) -> str:
        """This query as URL parameters (with `changes`), for the pager's links."""
        values = {
            k: v for k, v in {**self.__dict__, **changes}.items() if v not in (None, "") and (k, v) != ("page", 1)
        }
        return urlencode({k: str(v) for k, v in values.items()})


def _recent_runs(query: RunQuery, limit: int) -> list[dict[str, Any]]:
    """`limit` runs matching `query`, from its page on (one more than a page tells whether another follows)."""
    from include.company_sync.runtime import Runtime
    from include.company_sync.state import StateStore

    state = StateStore(Runtime.from_env().state_url)
    try:
        state.create_all()
        frame = state.recent_runs(
            query.dag_id,
            limit=limit,
            status=query.status,
            since=datetime.combine(query.since, time(), UTC) if query.since else None,
            until=datetime.combine(query.until + timedelta(days=1), time(), UTC) if query.until else None,
            offset=(query.page - 1) * PAGE_SIZE,
        )
    finally:
        state.dispose()
    return [
        {k: (None if v is None or (isinstance(v, float) and v != v) else v) for k, v in row.items()}
        for row in frame.astype(object).to_dict("records")
    ]


def _day(text: str | None, name: str) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise HTTPException(400, f"{name}: a date as YYYY-MM-DD") from None


app = FastAPI(title="Sync reports", docs_url=None, redoc_url=None, openapi_url=None)


@app.get("/", response_class=HTMLResponse)
async def index(
    request: Request,
    dag_id: str | None = None,
    status: str | None = None,
    since: str | None = None,
    until: str | None = None,
    page: int = 1,
) -> HTMLResponse:
    dag_id, status = dag_id or None, status or None  # the form sends empty values for "any"
    await _authorize(request, "GET", dag_id)
    if dag_id is not None and dag_id not in REPORTED_DAGS:
        raise HTTPException(404, f"not a sync DAG: {dag_id}")
    if status is not None and status not in RUN_STATUSES:
        raise HTTPException(400, f"status: one of {', '.join(RUN_STATUSES)}")
    query = RunQuery(dag_id, status, _day(since, "since"), _day(until, "until"), max(1, page))
    runs = await run_in_threadpool(_recent_runs, query, PAGE_SIZE + 1)
    more, runs = len(runs) > PAGE_SIZE, runs[:PAGE_SIZE]
    root = await run_in_threadpool(_reports_root)
    files = await run_in_threadpool(_report_files, root, {r["dag_id"] for r in runs})
    page = render(
        "runs.html",
        prefix=URL_PREFIX,
        dags=REPORTED_DAGS,
        dag_id=dag_id,
        statuses=RUN_STATUSES,
        query=query,
        previous=query.params(page=query.page - 1) if query.page > 1 else None,
        next=query.params(page=query.page + 1) if more else None,
        headings=RUN_COLUMNS,
        runs=[_run_row(r, files) for r in runs],
    )
    return HTMLResponse(page)


@app.get("/icon.svg")
async def icon() -> Response:
    return Response((TEMPLATES / "icon.svg").read_text(), media_type="image/svg+xml")


@app.get("/runs/{dag}/{run}/{path:path}")
async def report_file(request: Request, dag: str, run: str, path: str) -> Response:
    """A file of one run's report folder (report.html, report.json, errors.csv, data_docs/…), read from where
    the tasks wrote it (a local folder or object storage)."""
    await _authorize(request, "GET", dag if dag in REPORTED_DAGS else None)
    root = await run_in_threadpool(_reports_root)
    target = await run_in_threadpool(_report_target, root, dag, run, path)
    if target is None:
        raise HTTPException(404, "no such report file")
    content = await run_in_threadpool(target.read_bytes)
    media_type = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
    return Response(content, media_type=media_type)


def _ids(form: dict[str, list[str]], key: str, pattern: re.Pattern) -> list[str]:
    values = [v.strip() for raw in form.get(key, []) for v in re.split(r"[\s,]+", raw) if v.strip()]
    bad = [v for v in values if not pattern.match(v)]
    if bad:
        raise HTTPException(400, f"{key}: not ids: {', '.join(bad[:5])}")
    if len(values) > MAX_IDS:
        raise HTTPException(400, f"{key}: at most {MAX_IDS} ids per resync")
    return list(dict.fromkeys(values))


def trigger(dag_id: str, conf: dict[str, Any], user_name: str | None, note: str) -> str:
    """Create a DagRun of `dag_id` (`company_resync`, `company_sync_rollback`) through Airflow's own trigger
    function, as the UI's trigger does; returns its run id."""
    from airflow.api.common.trigger_dag import trigger_dag
    from airflow.utils.types import DagRunTriggeredByType

    dag_run = trigger_dag(
        dag_id, triggered_by=DagRunTriggeredByType.UI, conf=conf, triggering_user_name=user_name, note=note
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
        run_id = await run_in_threadpool(trigger, RESYNC_DAG, conf, name, f"Resync of failed records from {source}")
    except (ValueError, LookupError) as exc:  # DagNotFound is a LookupError-like AirflowNotFoundException
        raise HTTPException(409, f"could not trigger {RESYNC_DAG}: {exc}") from exc
    log.info("sync reports: %s triggered %s %s with %s", name, RESYNC_DAG, run_id, json.dumps(conf))
    airflow_run = f"/dags/{RESYNC_DAG}/runs/{quote(run_id, safe='')}"
    page = render(
        "resync_triggered.html", dag=RESYNC_DAG, run_id=run_id, conf=conf, airflow_run=airflow_run, prefix=URL_PREFIX
    )
    return HTMLResponse(page)


def _run_id_field(form: dict[str, list[str]]) -> str:
    run_id = (form.get("run_id") or [""])[0].strip()
    if not run_id or len(run_id) > MAX_RUN_ID or any(ch in run_id for ch in "\x00\r\n"):
        raise HTTPException(400, "run_id: the Airflow run id of a finished run")
    return run_id


@app.post("/rollback", response_class=HTMLResponse)
async def rollback(request: Request) -> HTMLResponse:
    """Trigger `company_sync_rollback` for a run: a dry-run preview, or (`dry_run=false`) the real rollback. The
    caller needs permission to trigger that DAG; the DAG's prepare refuses a bad run id with the reason."""
    user = await _authorize(request, "POST", ROLLBACK_DAG)
    form = parse_qs((await request.body()).decode(), keep_blank_values=False)
    conf = {"run_id": _run_id_field(form), "dry_run": (form.get("dry_run") or ["true"])[0] != "false"}
    name = getattr(user, "get_name", lambda: None)()
    note = f"{'Preview of a rollback' if conf['dry_run'] else 'Rollback'} of {conf['run_id']} from Sync reports"
    try:
        run_id = await run_in_threadpool(trigger, ROLLBACK_DAG, conf, name, note)
    except (ValueError, LookupError) as exc:
        raise HTTPException(409, f"could not trigger {ROLLBACK_DAG}: {exc}") from exc
    log.info("sync reports: %s triggered %s %s with %s", name, ROLLBACK_DAG, run_id, json.dumps(conf))
    airflow_run = f"/dags/{ROLLBACK_DAG}/runs/{quote(run_id, safe='')}"
    page = render(
        "rollback_triggered.html",
        dag=ROLLBACK_DAG,
        run_id=run_id,
        conf=conf,
        airflow_run=airflow_run,
        prefix=URL_PREFIX,
    )
    return HTMLResponse(page)


def release_holds(run_id: str) -> int:
    from include.company_sync.runtime import Runtime
    from include.company_sync.state import StateStore

    state = StateStore(Runtime.from_env().state_url)
    try:
        return state.release_run_holds(run_id)
    finally:
        state.dispose()


@app.post("/release", response_class=HTMLResponse)
async def release(request: Request) -> HTMLResponse:
    """Release the records a rollback run put on hold (needs permission to trigger the rollback DAG)."""
    user = await _authorize(request, "POST", ROLLBACK_DAG)
    form = parse_qs((await request.body()).decode(), keep_blank_values=False)
    run_id = _run_id_field(form)
    released = await run_in_threadpool(release_holds, run_id)
    log.info(
        "sync reports: %s released %d record(s) held by %s", getattr(user, "get_name", lambda: None)(), released, run_id
    )
    return HTMLResponse(render("holds_released.html", run_id=run_id, released=released, prefix=URL_PREFIX))


# --- extra link ----------------------------------------------------------------------------------------
class SyncReportLink(BaseOperatorLink):
    """ "Sync report" on the report task of the sync DAGs (a global link: no change to the operators)."""

    name = "Sync report"

    def get_link(self, operator, *, ti_key) -> str:
        if ti_key.dag_id not in REPORTED_DAGS or ti_key.task_id != REPORT_TASK:
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
