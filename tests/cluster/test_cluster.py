"""`company_sync` and `company_resync` at the same time on the multi-worker cluster (`bin/cluster`), triggered
through Airflow's REST API against the seeded sandbox (issue #12, item 6).

Asserts: both runs succeed, their tasks land on both workers; no duplicate in either system (a company domain,
an account's HubSpot id or a company's Account Id held by more records than before the runs); every record
the runs created, and every record the resync was asked for, linked both ways; both reports and a Data Docs
page served by the Sync reports plugin on the API server (read from S3); the HubSpot-calling tasks of the two
runs never overlapping (the `hubspot_api` pool, one slot), with the 429s and the peak HubSpot calls per 10 s
counted from the sandbox's request log. "One waited for the other" reads the lease in report.json (wip-pg).

Findings (printed; JSON in `COMPANY_SYNC_CLUSTER_FINDINGS` when set) hold each run's tasks, workers, tries,
failures, seconds and the HubSpot figures, for docs/cluster.md. `COMPANY_SYNC_HUBSPOT_POOL_SLOTS=8` gives the
"before" measurement (HubSpot tasks free to overlap); the overlap and 429 assertions then only record.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from include.devtools import cluster

pytestmark = pytest.mark.cluster

DAGS = ("company_sync", "company_resync")
SEED = int(os.environ.get("COMPANY_SYNC_CLUSTER_SEED", "60"))
RESYNC_EACH = 8  # HubSpot companies and Salesforce accounts the resync is asked for
RUN_TIMEOUT = 1200  # failing tries wait for their retries (10 s here)
TERMINAL = {"success", "failed"}
HUBSPOT_TASKS = ("extract_hubspot", "complete_inputs", "load_hubspot", "link_ids")
POOL_SLOTS = int(os.environ.get("COMPANY_SYNC_HUBSPOT_POOL_SLOTS") or 1)
RESULTS: dict[str, Any] = {}  # the first test's findings, for the lease test


def _layout(env: dict[str, str]) -> cluster.Layout:
    return cluster.Layout(Path(env["COMPANY_SYNC_CLUSTER_DIR"]), int(env["COMPANY_SYNC_CLUSTER_PORT_BASE"]))


def _api(layout: cluster.Layout, method: str, path: str, **kwargs: Any) -> requests.Response:
    # simple auth manager with `simple_auth_manager_all_admins`: every request is an admin's, no token needed
    return requests.request(method, f"{layout.api_url}/api/v2{path}", timeout=30, **kwargs)


def _wait(what: str, check, timeout: float, interval: float = 2):
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


# --- the sandbox, read through its HTTP APIs ----------------------------------------------------------------
class Systems:
    def __init__(self, layout: cluster.Layout):
        from hubspot import HubSpot
        from simple_salesforce import Salesforce

        from include.sandbox.server import HUBSPOT_TOKEN, SALESFORCE_TOKEN

        self.layout = layout
        self.http = requests.Session()
        self.http.trust_env = False  # this machine's REQUESTS_CA_BUNDLE would override `verify`
        self.http.verify = str(layout.ca_file)
        self.sf = Salesforce(
            instance_url=layout.salesforce_url, session_id=SALESFORCE_TOKEN, session=self.http, version="59.0"
        )
        self.hs = HubSpot(access_token=HUBSPOT_TOKEN, host=layout.hubspot_url)

    def seed(self) -> None:
        """Both sandboxes back to the seed (which also empties their request logs)."""
        for url in (self.layout.salesforce_url, self.layout.hubspot_url):
            self.http.post(f"{url}/__sandbox/reset", json={"seed": SEED}, timeout=120).raise_for_status()

    def accounts(self) -> list[dict[str, Any]]:
        return self.sf.query_all("SELECT Id, Website, HubSpot_Company_ID__c FROM Account")["records"]

    def companies(self) -> list[dict[str, Any]]:
        page = self.hs.crm.companies.get_all(properties=["domain", "salesforceaccountid"])
        return [{"id": c.id, **c.properties} for c in page]

    def hubspot_requests(self) -> list[dict[str, Any]]:
        return self.http.get(f"{self.layout.hubspot_url}/__sandbox/requests", timeout=30).json()["requests"]


def _duplicates(values) -> Counter:
    counts = Counter(v.strip().lower() for v in values if v and str(v).strip())
    return Counter({v: n for v, n in counts.items() if n > 1})


def _snapshot(systems: Systems) -> dict[str, Any]:
    accounts, companies = systems.accounts(), systems.companies()
    return {
        "accounts": {a["Id"]: a.get("HubSpot_Company_ID__c") for a in accounts},
        "companies": {c["id"]: c.get("salesforceaccountid") for c in companies},
        "duplicates": {
            "company domains": _duplicates(c.get("domain") for c in companies),
            "account HubSpot ids": _duplicates(a.get("HubSpot_Company_ID__c") for a in accounts),
            "company Account Ids": _duplicates(c.get("salesforceaccountid") for c in companies),
        },
    }


def _resync_conf(before: dict[str, Any]) -> dict[str, list[str]]:
    """What the resync is asked for: unlinked HubSpot companies and unlinked Salesforce accounts of the seed,
    the records `company_sync` considers at the same time."""
    companies = sorted(c for c, account in before["companies"].items() if not account)[:RESYNC_EACH]
    accounts = sorted(a for a, company in before["accounts"].items() if not company)[:RESYNC_EACH]
    return {"hubspot_company_ids": companies, "salesforce_account_ids": accounts}


# --- Airflow's side ------------------------------------------------------------------------------------------
def _trigger_together(layout: cluster.Layout, confs: dict[str, dict[str, Any]]) -> dict[str, str]:
    """POST both dagRuns at the same moment (one thread each, released together); returns their run ids."""
    barrier, out, errors = threading.Barrier(len(confs)), {}, []

    def trigger(dag_id: str) -> None:
        barrier.wait()
        response = _api(layout, "POST", f"/dags/{dag_id}/dagRuns", json={"logical_date": None, "conf": confs[dag_id]})
        if response.ok:
            out[dag_id] = response.json()["dag_run_id"]
        else:
            errors.append(f"{dag_id}: {response.status_code} {response.text[:300]}")

    threads = [threading.Thread(target=trigger, args=(dag_id,)) for dag_id in confs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    return out


def _failure_causes(layout: cluster.Layout, dag_id: str, run_id: str, ti: dict[str, Any]) -> list[str]:
    """The error events of every try of a task instance, from its log (remote logging: the S3 bucket)."""
    causes = []
    for attempt in range(1, max(ti["try_number"], 1) + 1):
        response = _api(
            layout,
            "GET",
            f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{ti['task_id']}/logs/{attempt}",
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


def _when(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None


def _hubspot_overlaps(tis: dict[str, list[dict[str, Any]]]) -> list[str]:
    """Pairs of HubSpot-calling tasks of the two runs that ran at the same time."""
    spans = {
        dag_id: [
            (ti["task_id"], _when(ti["start_date"]), _when(ti["end_date"]))
            for ti in rows
            if ti["task_id"] in HUBSPOT_TASKS and ti["start_date"] and ti["end_date"]
        ]
        for dag_id, rows in tis.items()
    }
    a, b = DAGS
    return [
        f"{a}.{ta} {sa:%H:%M:%S}-{ea:%H:%M:%S} / {b}.{tb} {sb:%H:%M:%S}-{eb:%H:%M:%S}"
        for ta, sa, ea in spans[a]
        for tb, sb, eb in spans[b]
        if sa < eb and sb < ea
    ]


def _hubspot_load(log: list[dict[str, Any]], since: float) -> dict[str, Any]:
    """From the HubSpot sandbox's request log: API calls, 429 answers and the most calls in any 10 s."""
    calls = sorted(
        _when(r["at"]).timestamp()
        for r in log
        if not r["path"].startswith("/__sandbox") and _when(r["at"]).timestamp() >= since
    )
    peak, first = 0, 0
    for last, at in enumerate(calls):
        while at - calls[first] >= 10:
            first += 1
        peak = max(peak, last - first + 1)
    throttled = [r for r in log if r["status"] == 429 and _when(r["at"]).timestamp() >= since]
    return {"calls": len(calls), "429": len(throttled), "peak_calls_per_10s": peak}


def _plugin_pages(layout: cluster.Layout, dag_id: str, run_id: str) -> dict[str, Any]:
    """What the Sync reports plugin on the API server serves of one run (read from the S3 bucket)."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", run_id)
    base = f"{layout.api_url}/sync-reports/runs/{dag_id}/{safe}"
    page = requests.get(f"{layout.api_url}/sync-reports/", params={"dag_id": dag_id}, timeout=30)
    report = requests.get(f"{base}/report.html", timeout=30)
    docs = requests.get(f"{base}/data_docs/extracts/index.html", timeout=30)
    document = requests.get(f"{base}/report.json", timeout=30)
    return {
        "list_status": page.status_code,
        "report_linked": bool(re.search(rf"href=['\"][^'\"]*{re.escape(safe)}/report\.html", page.text)),
        "data_docs_linked": bool(
            re.search(rf"href=['\"][^'\"]*{re.escape(safe)}/data_docs/\w+/index\.html", page.text)
        ),
        "report_status": report.status_code,
        "report_names_run": run_id in report.text,
        "data_docs_status": docs.status_code,
        "data_docs_is_gx": "great expectations" in docs.text.lower() or "data docs" in docs.text.lower(),
        "document": document.json() if document.ok else None,
    }


def _s3_keys(layout: cluster.Layout, prefix: str) -> list[str]:
    import boto3

    client = boto3.client(
        "s3",
        endpoint_url=layout.s3_url,
        aws_access_key_id="cluster-access-key",
        aws_secret_access_key="cluster-secret-key",
        region_name="us-east-1",
    )
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=cluster.BUCKET, Prefix=prefix)
    return sorted(obj["Key"] for page in pages for obj in page.get("Contents", []))


def _record(findings: dict[str, Any]) -> None:
    text = json.dumps(findings, indent=1, sort_keys=True, default=str)
    print(text)
    target = os.environ.get("COMPANY_SYNC_CLUSTER_FINDINGS")
    if target:
        Path(target).write_text(text + "\n")


# --- the test ------------------------------------------------------------------------------------------------
def test_sync_and_resync_at_once_on_two_workers(cluster_env):
    layout = _layout(cluster_env)
    systems = Systems(layout)
    findings: dict[str, Any] = {"seed": SEED, "hubspot_pool_slots": POOL_SLOTS}

    for dag_id in DAGS:  # parsed by the dag-processor (paused at creation: nothing ran before the seed)
        _wait(f"{dag_id} parsed", lambda d=dag_id: _api(layout, "GET", f"/dags/{d}").ok, 300)
    systems.seed()
    before = _snapshot(systems)
    confs = {"company_sync": {}, "company_resync": _resync_conf(before)}
    for dag_id in DAGS:  # no scheduled run comes (COMPANY_SYNC_CLUSTER_NO_SCHEDULE): only the two triggered
        assert _api(layout, "PATCH", f"/dags/{dag_id}", json={"is_paused": False}).ok
    since = time.time()
    started = time.monotonic()
    run_ids = _trigger_together(layout, confs)

    runs = {}
    for dag_id, run_id in run_ids.items():
        path = f"/dags/{dag_id}/dagRuns/{run_id}"
        runs[dag_id] = _wait(
            f"{dag_id} {run_id} finished",
            lambda p=path: (r := _api(layout, "GET", p).json())["state"] in TERMINAL and r,
            RUN_TIMEOUT,
        )
    findings["seconds_to_both_done"] = round(time.monotonic() - started)
    hubspot_log = systems.hubspot_requests()  # before the checks below read HubSpot
    tis = {
        dag_id: _api(layout, "GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances").json()["task_instances"]
        for dag_id, run_id in run_ids.items()
    }
    for dag_id, run_id in run_ids.items():
        findings[dag_id] = {
            "run_id": run_id,
            "state": runs[dag_id]["state"],
            "tasks": {
                ti["task_id"]: {"state": ti["state"], "worker": ti["hostname"] or None, "tries": ti["try_number"]}
                for ti in tis[dag_id]
            },
            "failures": {
                ti["task_id"]: _failure_causes(layout, dag_id, run_id, ti)
                for ti in tis[dag_id]
                if ti["state"] in ("failed", "upstream_failed") or ti["try_number"] > 1
            },
        }
        pages = _plugin_pages(layout, dag_id, run_id)
        document = pages.pop("document") or {}
        findings[dag_id]["plugin"] = pages
        findings[dag_id]["report"] = {
            "status": document.get("status"),
            "summary": document.get("summary"),
            "lease": document.get("lease"),
        }
    findings["hubspot"] = _hubspot_load(hubspot_log, since) | {"overlapping_tasks": _hubspot_overlaps(tis)}
    after = _snapshot(systems)
    findings["records"] = {
        "accounts": [len(before["accounts"]), len(after["accounts"])],
        "companies": [len(before["companies"]), len(after["companies"])],
    }
    findings["reports_in_s3"] = len(_s3_keys(layout, "reports/"))
    RESULTS.update(findings)
    _record(findings)

    # both runs succeed, on both workers
    for dag_id in DAGS:
        assert findings[dag_id]["state"] == "success", (dag_id, findings[dag_id]["failures"])
    workers = {t["worker"] for d in DAGS for t in findings[d]["tasks"].values() if t["worker"]}
    assert workers == set(cluster.WORKERS), f"the runs' tasks all ran on {workers}"

    # no duplicate in either system: nothing held by more records than before the runs
    for what, counts in after["duplicates"].items():
        grown = {v: n for v, n in counts.items() if n > before["duplicates"][what].get(v, 0)}
        assert not grown, f"{what} duplicated by the runs: {len(grown)}"

    # every record the runs created, and every record the resync was asked for, is linked both ways
    accounts, companies = after["accounts"], after["companies"]
    new_accounts = set(accounts) - set(before["accounts"])
    new_companies = set(companies) - set(before["companies"])
    assert new_accounts or new_companies, "the runs created nothing: the seed gives them work"
    eligible_accounts = new_accounts | set(confs["company_resync"]["salesforce_account_ids"])
    eligible_companies = new_companies | set(confs["company_resync"]["hubspot_company_ids"])
    unlinked = sorted(a for a in eligible_accounts if not accounts[a] or companies.get(accounts[a]) != a)
    unlinked += sorted(c for c in eligible_companies if not companies[c] or accounts.get(companies[c]) != c)
    assert not unlinked, f"{len(unlinked)} records not linked both ways, e.g. {unlinked[:5]}"

    # both reports and a Data Docs page, through the plugin on the API server (from the S3 bucket)
    for dag_id in DAGS:
        pages = findings[dag_id]["plugin"]
        assert pages["list_status"] == 200 and pages["report_linked"] and pages["data_docs_linked"], pages
        assert pages["report_status"] == 200 and pages["report_names_run"], pages
        assert pages["data_docs_status"] == 200 and pages["data_docs_is_gx"], pages
        assert findings[dag_id]["report"]["summary"]["write_errors"] == 0, findings[dag_id]["report"]

    # one HubSpot budget: with the pool's one slot, no HubSpot-calling tasks of the two runs overlap
    if POOL_SLOTS == 1:
        assert not findings["hubspot"]["overlapping_tasks"], findings["hubspot"]
        assert findings["hubspot"]["peak_calls_per_10s"] <= 190, findings["hubspot"]


def test_one_run_waited_for_the_other(cluster_env):
    """The lease (one writer at a time): exactly one of the two runs' reports says it waited."""
    if not RESULTS:
        pytest.skip("the runs did not complete")
    leases = {dag_id: RESULTS[dag_id]["report"]["lease"] for dag_id in DAGS}
    assert all(lease is not None for lease in leases.values()), leases
    waited = [dag_id for dag_id, lease in leases.items() if float(lease["waited_seconds"]) > 0]
    assert len(waited) == 1, leases
