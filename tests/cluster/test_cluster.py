"""`company_sync` on the multi-worker cluster (`bin/cluster`), triggered through Airflow's REST API.

Measures what the product does today on CeleryExecutor with two workers that share no folder: which task ran on
which worker, whether the run succeeded, and every failed try with its cause (printed, and written as JSON to
`COMPANY_SYNC_CLUSTER_FINDINGS` when set). Asserts only what already works: the run reaches the workers, the
tasks of one run land on both, the state tables exist in PostgreSQL, the staged Parquet objects exist in the S3
bucket. What does not work yet is listed in docs/cluster.md (issue #12).
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from include.devtools import cluster

pytestmark = pytest.mark.cluster

DAG_ID = "company_sync"
SEED = 200
RUN_TIMEOUT = 1200  # a clean run takes about 2 minutes; failing tries wait for their retries
TERMINAL = {"success", "failed"}


def _layout(env: dict[str, str]) -> cluster.Layout:
    return cluster.Layout(Path(env["COMPANY_SYNC_CLUSTER_DIR"]), int(env["COMPANY_SYNC_CLUSTER_PORT_BASE"]))


def _api(layout: cluster.Layout, method: str, path: str, **kwargs: Any) -> requests.Response:
    # simple auth manager with `simple_auth_manager_all_admins`: every request is an admin's, no token needed
    return requests.request(method, f"{layout.api_url}/api/v2{path}", timeout=30, **kwargs)


def _wait(what: str, check, timeout: float, interval: float = 3):
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = check()
        except requests.RequestException:  # a busy API server may time out one poll: ask again
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not reached in {timeout:.0f} s")
        time.sleep(interval)


def _seed(layout: cluster.Layout) -> None:
    """Both sandboxes back to the seed, as the brief's runs start."""
    ca = str(layout.ca_file)
    for url, verify in ((layout.salesforce_url, ca), (layout.hubspot_url, True)):
        requests.post(f"{url}/__sandbox/reset", json={"seed": SEED}, timeout=120, verify=verify).raise_for_status()


def _failure_causes(layout: cluster.Layout, run_id: str, ti: dict[str, Any]) -> list[str]:
    """The error events of every try of a task instance, from its log (remote logging: the S3 bucket)."""
    causes = []
    for attempt in range(1, max(ti["try_number"], 1) + 1):
        response = _api(
            layout,
            "GET",
            f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/{ti['task_id']}/logs/{attempt}",
            params={"full_content": "true"},
            headers={"Accept": "application/json"},
        )
        if not response.ok:
            causes.append(f"try {attempt}: log not readable ({response.status_code})")
            continue
        content = response.json().get("content") or []
        for event in content if isinstance(content, list) else []:
            if not isinstance(event, dict):
                continue
            for exc in event.get("error_detail") or []:
                causes.append(f"try {attempt}: {exc.get('exc_type')}: {str(exc.get('exc_value'))[:300]}")
            if not event.get("error_detail") and event.get("level") in ("error", "critical"):
                causes.append(f"try {attempt}: {str(event.get('event'))[:300]}")
    return causes


def test_company_sync_runs_on_both_workers(cluster_env):
    layout = _layout(cluster_env)
    findings: dict[str, Any] = {"dag_id": DAG_ID}

    # the dag-processor has stored the DAG (paused at creation: nothing ran before the seed)
    _wait("DAG parsed", lambda: _api(layout, "GET", f"/dags/{DAG_ID}").ok, 300)
    _seed(layout)
    started = time.monotonic()
    response = _api(layout, "POST", f"/dags/{DAG_ID}/dagRuns", json={"logical_date": None, "conf": {}})
    assert response.ok, response.text
    run_id = response.json()["dag_run_id"]
    assert _api(layout, "PATCH", f"/dags/{DAG_ID}", json={"is_paused": False}).ok

    run = _wait(
        f"run {run_id} finished",
        lambda: (r := _api(layout, "GET", f"/dags/{DAG_ID}/dagRuns/{run_id}").json())["state"] in TERMINAL and r,
        RUN_TIMEOUT,
        interval=5,
    )
    findings |= {"run_id": run_id, "state": run["state"], "seconds": round(time.monotonic() - started)}
    tis = _api(layout, "GET", f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances").json()["task_instances"]
    findings["tasks"] = {
        ti["task_id"]: {"state": ti["state"], "worker": ti["hostname"] or None, "tries": ti["try_number"]} for ti in tis
    }
    findings["failures"] = {
        ti["task_id"]: _failure_causes(layout, run_id, ti)
        for ti in tis
        if ti["state"] in ("failed", "upstream_failed") or ti["try_number"] > 1
    }
    findings["all_runs"] = [
        {"run_id": r["dag_run_id"], "run_type": r["run_type"], "state": r["state"]}
        for r in _api(layout, "GET", f"/dags/{DAG_ID}/dagRuns").json()["dag_runs"]
    ]
    findings["reports"] = _reports_visible(layout, run_id)
    findings["state_tables"] = _state_tables(layout)
    findings["staged_objects"] = _staged_objects(layout, run_id)
    _record(findings)

    # what already works on two workers with no shared folder
    workers = {t["worker"] for t in findings["tasks"].values() if t["worker"]}
    assert workers, "no task reached a worker"
    assert workers <= set(cluster.WORKERS), workers
    assert workers == set(cluster.WORKERS), f"the run's tasks all ran on {workers}"
    assert findings["tasks"]["prepare"]["state"] == "success"
    assert {"links", "runs", "ledger"} <= set(findings["state_tables"]), findings["state_tables"]
    assert any(key.endswith(".parquet") for key in findings["staged_objects"]), findings["staged_objects"]


def _reports_visible(layout: cluster.Layout, run_id: str) -> dict[str, Any]:
    """Where the run's report and Data Docs were written (each worker's own folder), and what the Sync reports
    page on the API server shows of them: the run's row, a link to its report, the report itself."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", run_id)
    written = {}
    for worker in cluster.WORKERS:
        folder = layout.part_dir(worker) / "reports" / DAG_ID / safe
        names = ["report.html", "data_docs/extracts/index.html", "data_docs/plan/index.html"]
        written[worker] = [name for name in names if (folder / name).exists()]
    page = requests.get(f"{layout.api_url}/sync-reports/", timeout=30)
    report = requests.get(f"{layout.api_url}/sync-reports/runs/{DAG_ID}/{safe}/report.html", timeout=30)
    return {
        "written_on": written,
        "list_status": page.status_code,
        "run_listed": f"data-run='{run_id}'" in page.text or f'data-run="{run_id}"' in page.text,
        "report_linked": bool(re.search(rf"href=['\"][^'\"]*{re.escape(safe)}/report\.html", page.text)),
        "report_status": report.status_code,
    }


def _state_tables(layout: cluster.Layout) -> list[str]:
    import sqlalchemy as sa

    engine = sa.create_engine(cluster.urls(layout, cluster.load_secrets(layout))["state_db"])
    try:
        return sorted(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def _staged_objects(layout: cluster.Layout, run_id: str) -> list[str]:
    import boto3

    client = boto3.client(
        "s3",
        endpoint_url=layout.s3_url,
        aws_access_key_id="cluster-access-key",
        aws_secret_access_key="cluster-secret-key",
        region_name="us-east-1",
    )
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=cluster.BUCKET, Prefix="staging/")
    return sorted(obj["Key"] for page in pages for obj in page.get("Contents", []))


def _record(findings: dict[str, Any]) -> None:
    text = json.dumps(findings, indent=1, sort_keys=True)
    print(text)
    target = os.environ.get("COMPANY_SYNC_CLUSTER_FINDINGS")
    if target:
        Path(target).write_text(text + "\n")
