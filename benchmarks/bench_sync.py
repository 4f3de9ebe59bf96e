"""End-to-end benchmark of the company-sync DAGs: real `airflow dags test` runs against the sandbox.

    .venv/bin/python benchmarks/bench_sync.py                     # 100,000 accounts, 10,000 changes a side
    .venv/bin/python benchmarks/bench_sync.py --quick             # 5,000 / 1,000 smoke run
    .venv/bin/python benchmarks/bench_sync.py --accounts 20000 --changes 2000

Not a test: it measures. Everything lives in a temporary directory (sandbox state, AIRFLOW_HOME with its own
SQLite metadata DB, the sync state store, staging and reports), the sandbox runs in its own process on free
ports, and the connections / settings reach `bin/airflow` through AIRFLOW_CONN_* / AIRFLOW_VAR_* env vars,
so the developer's `.airflow`, `.state`, `.staging`, `.reports` and `.sandbox` are never touched.

Scenarios (design.md "Performance targets", issues 6 and 11):
  0. no-rules  bench_import_baseline.py on a sandbox of its own with the same seed (skip: --no-baseline);
  1. import    `salesforce_account_import` of all N seeded accounts (the seed has N accounts and N companies,
               40 % of them sharing a domain), HubSpot at its real rate limit (190 calls / 10 s);
  1b. baseline a first `company_sync` ("sync now") after the import: both sides scanned the first time;
  2. nightly   C accounts changed in Salesforce (Phone, sObject Collections PATCH) and C other companies in
               HubSpot (description, batch/update) directly through the APIs, then `company_sync`;
  3. no-change `company_sync` again right after: must write nothing;
  4. contacts  C HubSpot contacts of linked companies change lifecycle stage and C/10 others join the inclusion
               list; no company or account changes; then `company_sync`;
  5. no-change `company_sync` again right after.
--import-only stops after 1 (for the latency run: the import's load phase against the call ceiling).

For each run: calls per endpoint on both systems (from the sandbox request log) against a computed minimum
(window searches + the batch reads the rules need at each endpoint's largest batch + writes; the formula is
in docs/benchmarks.md), write calls against their minimum (HubSpot ⌈N/100⌉, Salesforce ⌈N/200⌉ or Bulk API
jobs), 429s, the most HubSpot calls in any 10 s and during the load phase, wall time, and the peak RSS of the
`airflow dags test` process (tasks run in-process; /usr/bin/time -v, plus a psutil sampler of the tree).

The settings make `Description` two_way (the shipped default is prefer_salesforce_unless_blank) so that the
HubSpot-side changes flow to Salesforce, `max_change_ratio` 1.0 so the circuit breaker does not stop the
10k-change run, and `inclusion_list_id` the seed's "Salesforce inclusion list" (--no-inclusion-list: null);
everything else is the shipped default. --latency passes the sandbox's latency option (off, realistic,
HS[,SF] ms; include/sandbox/latency.py). Figures go to benchmarks/results/bench_sync.json (or --output), the
tables to the same name with .md.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

import requests
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from include.sandbox.server import HUBSPOT_TOKEN, SALESFORCE_TOKEN  # noqa: E402

PYTHON = ROOT / ".venv" / "bin" / "python"
AIRFLOW = ROOT / "bin" / "airflow"
WRITE_METHODS = {"POST", "PATCH", "PUT", "DELETE"}
HS_READ_SUFFIXES = ("/search", "/batch/read")
HS_CALLS_PER_10S = 190
HS_BATCH = 100
SF_BATCH = 200
SF_VERSION = "v59.0"


# --- helpers ---------------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def log(message: str) -> None:
    print(f"[{datetime.now().strftime('%H:%M:%S')}] {message}", flush=True)


def bench_settings(list_id: str | None = None) -> dict[str, Any]:
    catalogue = yaml.safe_load((ROOT / "include" / "company_sync" / "field_mappings.yaml").read_text())
    mappings = [dict(m) for m in catalogue["default_mappings"]]
    for m in mappings:
        if m["salesforce"] == "Description":
            m["rule"] = "two_way"
    return {
        "company_sync_enabled": True,
        "default_salesforce_object": "Contact",
        "inclusion_list_id": list_id,
        "field_mappings": mappings,
        "max_change_ratio": 1.0,
    }


class Sandbox:
    """The sandbox in its own process (so its CPU and memory are not the bench's nor the workers')."""

    def __init__(self, state_dir: Path, seed: int, log_path: Path, latency: str = "off"):
        self.state_dir = state_dir
        self.sf_port, self.hs_port = free_port(), free_port()
        self.sf_url = f"https://127.0.0.1:{self.sf_port}"
        self.hs_url = f"http://127.0.0.1:{self.hs_port}"
        self._log = log_path.open("w")
        self.process = subprocess.Popen(
            [
                str(PYTHON),
                "-m",
                "include.sandbox",
                "serve",
                "--state-dir",
                str(state_dir),
                "--seed",
                str(seed),
                "--salesforce-port",
                str(self.sf_port),
                "--hubspot-port",
                str(self.hs_port),
                "--latency",
                latency,
            ],
            cwd=ROOT,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self.http = requests.Session()
        self.http.trust_env = False  # REQUESTS_CA_BUNDLE on this machine would override `verify`

    @property
    def ca_path(self) -> Path:
        return self.state_dir / "ca.pem"

    def wait(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"bench: the sandbox exited early (see {self._log.name})")
            try:
                self.http.get(f"{self.hs_url}/__sandbox/requests", timeout=2)
                self.http.verify = str(self.ca_path)
                self.http.get(f"{self.sf_url}/__sandbox/requests", timeout=2)
                return
            except requests.RequestException:
                time.sleep(0.5)
        raise SystemExit(f"bench: the sandbox did not answer within {timeout:.0f} s")

    def url(self, system: str) -> str:
        return self.sf_url if system == "salesforce" else self.hs_url

    def clear_requests(self) -> None:
        for system in ("salesforce", "hubspot"):
            self.http.delete(f"{self.url(system)}/__sandbox/requests", timeout=60).raise_for_status()

    def requests_log(self) -> dict[str, list[dict[str, Any]]]:
        return {
            s: self.http.get(f"{self.url(s)}/__sandbox/requests", timeout=120).json()["requests"]
            for s in ("salesforce", "hubspot")
        }

    def hubspot_config(self, **config: Any) -> None:
        self.http.post(f"{self.hs_url}/__sandbox_hs/config", json=config, timeout=30).raise_for_status()

    def rss_mib(self) -> float | None:
        try:
            import psutil

            return psutil.Process(self.process.pid).memory_info().rss / 2**20
        except Exception:
            return None

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self._log.close()


# --- request-log accounting ------------------------------------------------------------------------------
def is_write(system: str, entry: dict[str, Any]) -> bool:
    if entry["method"] not in WRITE_METHODS:
        return False
    path = entry["path"]
    if system == "hubspot":
        return not path.endswith(HS_READ_SUFFIXES)
    # Salesforce: SOQL (/query, /queryAll) and Bulk API 2.0 query jobs (/jobs/query...) are reads.
    return "/query" not in path


def _at(entry: dict[str, Any]) -> float:
    return datetime.fromisoformat(entry["at"].replace("Z", "+00:00")).timestamp()


def max_in_window(times: list[float], width: float = 10.0) -> int:
    best, lo = 0, 0
    for hi, t in enumerate(times):
        while times[lo] <= t - width:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


def account_calls(system: str, entries: list[dict[str, Any]]) -> dict[str, Any]:
    writes = [e for e in entries if is_write(system, e)]
    statuses: dict[str, int] = {}
    for e in entries:
        statuses[str(e["status"])] = statuses.get(str(e["status"]), 0) + 1
    out: dict[str, Any] = {
        "total_calls": len(entries),
        "write_calls": len(writes),
        "read_calls": len(entries) - len(writes),
        "status_429": sum(e["status"] == 429 for e in entries),
        "errors_5xx": sum(500 <= int(e["status"]) < 600 for e in entries),
        "statuses": statuses,
    }
    kinds: dict[str, int] = {}
    for e in entries:
        path = re.sub(r"/v\d+\.\d+", "", e["path"])
        path = re.sub(r"/(?=[0-9A-Za-z]*\d)[0-9A-Za-z]{15,18}(?=/|$)", "/{id}", path)
        key = e["method"] + " " + re.sub(r"/\d+(?=/|$)", "/{id}", path)
        kinds[key] = kinds.get(key, 0) + 1
    out["by_endpoint"] = dict(sorted(kinds.items(), key=lambda kv: -kv[1]))
    if system == "salesforce":
        out["bulk_ingest_jobs"] = sum(
            e["method"] == "POST" and e["path"].rstrip("/").endswith("/jobs/ingest") for e in entries
        )
        out["bulk_query_jobs"] = sum(
            e["method"] == "POST" and e["path"].rstrip("/").endswith("/jobs/query") for e in entries
        )
        out["collection_write_calls"] = sum("/composite/sobjects" in e["path"] for e in writes)
        # One write "unit" per sObject Collections call, one per Bulk ingest job (its create/upload/close).
        out["write_units"] = (
            out["collection_write_calls"]
            + out["bulk_ingest_jobs"]
            + sum("/composite/sobjects" not in e["path"] and "/jobs/ingest" not in e["path"] for e in writes)
        )
    else:
        out["write_units"] = len(writes)
        times = sorted(_at(e) for e in entries)
        out["max_calls_in_any_10s"] = max_in_window(times) if times else 0
        if len(writes) >= 2:
            wt = sorted(_at(e) for e in writes)
            span = wt[-1] - wt[0]
            out["write_phase_seconds"] = round(span, 2)
            # every call (reads too) made while the writes were going counts against the same limit
            during = sum(wt[0] <= t <= wt[-1] for t in times)
            # a phase shorter than the limit's 10-second window is a burst the limit allows: no rate to report
            out["calls_per_10s_during_writes"] = round(during / span * 10, 1) if span >= 10 else None
        if out["status_429"]:
            t429 = sorted(_at(e) for e in entries if e["status"] == 429)
            bursts, last = 0, None
            for t in t429:
                if last is None or t - last > 1.0:
                    bursts += 1
                last = t
            out["bursts_429"] = bursts
    return out


# --- records written, from the run's report --------------------------------------------------------------
def _op_total(counts: dict[str, Any] | None, op: str) -> int:
    c = (counts or {}).get(op) or {}
    return int(c.get("succeeded", 0)) + int(c.get("failed", 0))


def records_written(report: dict[str, Any] | None) -> dict[str, dict[str, int]]:
    """Per system and operation, how many records the run sent (from the report's load counts)."""
    if not report:
        return {"hubspot": {}, "salesforce": {}}
    loads = report["summary"].get("loads") or {}
    hs_load, sf_load, link = loads.get("load_hubspot"), loads.get("load_salesforce"), loads.get("link_ids")
    hs = {op: _op_total(hs_load, op) for op in ("upsert", "update")}
    sf = {op: _op_total(sf_load, op) for op in ("upsert", "update")}
    # link_ids writes "link" on both systems (one operation name): the HubSpot id goes onto each account
    # that created a company (decisions: salesforce "created"), the rest are account ids onto HubSpot.
    link_total = _op_total(link, "link")
    sf_created = int(((report["summary"].get("decisions") or {}).get("salesforce") or {}).get("created", 0))
    sf["link"] = min(link_total, sf_created)
    hs["link"] = link_total - sf["link"]
    sf["attach (contacts)"] = _op_total(link, "attach")
    return {"hubspot": hs, "salesforce": sf}


# --- one DAG run -------------------------------------------------------------------------------------------
class TreeSampler(threading.Thread):
    """Peak RSS of a process and its descendants (summed), sampled every 0.25 s."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid, self.peak_tree, self.peak_single = pid, 0, 0
        self._halt = threading.Event()

    def run(self) -> None:
        try:
            import psutil
        except ImportError:
            return
        try:
            root = psutil.Process(self.pid)
        except psutil.Error:
            return
        while not self._halt.is_set():
            try:
                procs = [root, *root.children(recursive=True)]
                rss = []
                for p in procs:
                    try:
                        rss.append(p.memory_info().rss)
                    except psutil.Error:
                        pass
                self.peak_tree = max(self.peak_tree, sum(rss))
                self.peak_single = max(self.peak_single, max(rss, default=0))
            except psutil.Error:
                return
            self._halt.wait(0.25)

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=5)


def run_dag(dag_id: str, env: dict[str, str], tmp: Path, label: str, timeout: float) -> dict[str, Any]:
    log_path = tmp / "logs" / f"{label}.log"
    time_path = tmp / "logs" / f"{label}.time"
    command = [str(AIRFLOW), "dags", "test", dag_id]
    if Path("/usr/bin/time").exists():
        command = ["/usr/bin/time", "-v", "-o", str(time_path), *command]
    started = time.monotonic()
    with log_path.open("w") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        sampler = TreeSampler(process.pid)
        sampler.start()
        try:
            rc = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            rc = -9
        sampler.stop()
    wall = time.monotonic() - started
    max_rss_kib = None
    if time_path.exists():
        found = re.search(r"Maximum resident set size \(kbytes\): (\d+)", time_path.read_text())
        max_rss_kib = int(found.group(1)) if found else None
    reports = sorted((tmp / "reports" / dag_id).glob("*/report.json"), key=lambda p: p.stat().st_mtime)
    report = json.loads(reports[-1].read_text()) if reports else None
    return {
        "dag_id": dag_id,
        "exit_code": rc,
        "wall_seconds": round(wall, 1),
        "peak_rss_mib": round(max_rss_kib / 1024, 1) if max_rss_kib else None,
        "peak_rss_tree_sampled_mib": round(sampler.peak_tree / 2**20, 1) if sampler.peak_tree else None,
        "log": str(log_path),
        "report": report,
    }


def dag_run_seconds(report: dict[str, Any] | None) -> float | None:
    """From the DAG run's start (its run id) to its report: the wall time without `airflow dags test`'s own
    start-up (parsing, metadata DB) before the run begins."""
    found = re.search(r"(\d{4}-\d\d-\d\dT[\d:.]+\+00:00)", (report or {}).get("run_id") or "")
    if not found or not report.get("generated_at"):
        return None
    began = datetime.fromisoformat(found.group(1))
    return round((datetime.fromisoformat(report["generated_at"]) - began).total_seconds(), 1)


class Plan(NamedTuple):
    """What the bench knows before a run: the window it will have, and what the rules need to read."""

    full: bool
    counts: dict[str, dict[str, int]]
    needs: dict[str, int]
    list_on: bool


def scenario(
    name: str,
    dag_id: str,
    sandbox: Sandbox,
    env: dict[str, str],
    tmp: Path,
    timeout: float,
    n_label: int,
    plan: Plan,
) -> dict[str, Any]:
    log(f"{name}: bin/airflow dags test {dag_id} ...")
    sandbox.clear_requests()
    result = run_dag(dag_id, env, tmp, name, timeout)
    calls = sandbox.requests_log()
    report = result.pop("report")
    written = records_written(report)
    out: dict[str, Any] = {"scenario": name, "n": n_label, **result}
    out["status"] = report["status"] if report else "no report"
    out["window"] = (report or {}).get("window")
    out["dag_run_seconds"] = dag_run_seconds(report)
    out["decisions"] = (report or {}).get("summary", {}).get("decisions")
    out["records_considered"] = {k: sum(v.values()) for k, v in (out["decisions"] or {}).items()}
    out["write_errors"] = (report or {}).get("summary", {}).get("write_errors")
    out["planned_writes"] = (report or {}).get("summary", {}).get("planned_writes")
    out["api_calls_by_task_as_counted_by_product"] = (report or {}).get("api_calls")
    for system, batch in (("hubspot", HS_BATCH), ("salesforce", SF_BATCH)):
        stats = account_calls(system, calls[system])
        ops = written[system]
        n_written = sum(ops.values())
        stats["records_written"] = ops
        stats["records_written_total"] = n_written
        stats["minimum_write_calls"] = math.ceil(n_written / batch)
        stats["minimum_write_calls_per_operation"] = sum(math.ceil(v / batch) for v in ops.values())
        minimum = stats["minimum_write_calls"]
        stats["writes_over_minimum"] = round(stats["write_units"] / minimum, 3) if minimum else None
        out[system] = stats
    minimum = computed_minimum(plan.full, plan.counts, plan.needs, written, plan.list_on)
    out["window_counts"], out["needs"], out["minimum"] = plan.counts, plan.needs, minimum
    for system in ("hubspot", "salesforce"):
        floor = minimum[system]["total"]
        out[system]["minimum_calls"] = floor
        out[system]["calls_over_minimum"] = round(out[system]["total_calls"] / floor, 3) if floor else None
    hs = out["hubspot"]
    if hs.get("calls_per_10s_during_writes"):
        hs["share_of_call_ceiling_during_writes"] = round(hs["calls_per_10s_during_writes"] / HS_CALLS_PER_10S, 3)
    hs_rec = hs["records_written_total"]
    if hs.get("write_phase_seconds"):
        rate = hs_rec / hs["write_phase_seconds"]
        hs["records_per_s_during_writes"] = round(rate, 1)
        hs["share_of_ceiling"] = round(rate / (HS_CALLS_PER_10S / 10 * HS_BATCH), 3)
    total_rows = hs_rec + out["salesforce"]["records_written_total"]
    out["rows_written"] = total_rows
    out["rows_per_s"] = round(total_rows / result["wall_seconds"], 1) if result["wall_seconds"] else None
    out["n_per_s"] = round(n_label / result["wall_seconds"], 1) if result["wall_seconds"] else None
    out["sandbox_rss_mib"] = sandbox.rss_mib()
    if result["exit_code"] != 0 or out["status"] != "success":
        log(f"{name}: exit {result['exit_code']}, status {out['status']} (log: {result['log']})")
    log(
        f"{name}: {result['wall_seconds']} s, HubSpot {hs['total_calls']} calls (min {hs['minimum_calls']}),"
        f" Salesforce {out['salesforce']['total_calls']} calls (min {out['salesforce']['minimum_calls']});"
        f" HubSpot {hs['write_calls']} writes (min {hs['minimum_write_calls']})"
        f" / {hs['status_429']} 429s; Salesforce {out['salesforce']['write_calls']}"
        f" write calls, {out['salesforce']['bulk_ingest_jobs']} bulk jobs"
        f" (min {out['salesforce']['minimum_write_calls']})"
        f" / {out['salesforce']['total_calls']} calls; peak RSS {result['peak_rss_mib']} MiB"
    )
    return out


# --- changes made directly through the APIs ----------------------------------------------------------------
def salesforce_pairs(sandbox: Sandbox) -> list[tuple[str, str | None]]:
    http, url = sandbox.http, sandbox.sf_url
    headers = {"Authorization": f"Bearer {SALESFORCE_TOKEN}"}
    soql = "SELECT Id, HubSpot_Company_ID__c FROM Account ORDER BY Id"
    page = http.get(f"{url}/services/data/{SF_VERSION}/query", params={"q": soql}, headers=headers, timeout=120)
    page.raise_for_status()
    body = page.json()
    rows = list(body["records"])
    while not body.get("done", True) and body.get("nextRecordsUrl"):
        body = http.get(f"{url}{body['nextRecordsUrl']}", headers=headers, timeout=120).json()
        rows.extend(body["records"])
    return [(r["Id"], r.get("HubSpot_Company_ID__c")) for r in rows]


def make_changes(sandbox: Sandbox, changes: int) -> dict[str, Any]:
    """`changes` accounts get a new Phone in Salesforce; `changes` other, linked companies a new description in
    HubSpot. Rate limit lifted meanwhile (these are not the product's calls), restored afterwards."""
    t0 = time.monotonic()
    stamp = datetime.now(UTC).strftime("%H%M%S")
    pairs = salesforce_pairs(sandbox)
    linked = [(a, c) for a, c in pairs if c]
    accounts = [a for a, _ in pairs[:changes]]
    companies = [c for a, c in linked if a not in set(accounts)][:changes]
    sf_headers = {"Authorization": f"Bearer {SALESFORCE_TOKEN}", "Content-Type": "application/json"}
    sf_errors = 0
    for i in range(0, len(accounts), SF_BATCH):
        chunk = accounts[i : i + SF_BATCH]
        body = {
            "allOrNone": False,
            "records": [
                {"attributes": {"type": "Account"}, "id": a, "Phone": f"+1 555 {stamp[-4:]} {j:05d}"}
                for j, a in enumerate(chunk, i)
            ],
        }
        r = sandbox.http.patch(
            f"{sandbox.sf_url}/services/data/{SF_VERSION}/composite/sobjects",
            json=body,
            headers=sf_headers,
            timeout=120,
        )
        r.raise_for_status()
        sf_errors += sum(not x.get("success") for x in r.json())
    sandbox.hubspot_config(ten_second_limit=None)
    hs_errors = 0
    try:
        hs_headers = {"Authorization": f"Bearer {HUBSPOT_TOKEN}"}
        for i in range(0, len(companies), HS_BATCH):
            chunk = companies[i : i + HS_BATCH]
            body = {
                "inputs": [
                    {"id": c, "properties": {"description": f"bench change {stamp} #{j}"}}
                    for j, c in enumerate(chunk, i)
                ]
            }
            r = sandbox.http.post(
                f"{sandbox.hs_url}/crm/v3/objects/companies/batch/update", json=body, headers=hs_headers, timeout=120
            )
            if r.status_code >= 400:
                hs_errors += len(chunk)
                log(f"changes: HubSpot batch/update answered {r.status_code}: {r.text[:300]}")
    finally:
        sandbox.hubspot_config(ten_second_limit=HS_CALLS_PER_10S)
    time.sleep(1.5)  # the changes are strictly older than the run's window end
    done = {
        "salesforce_accounts_changed": len(accounts) - sf_errors,
        "hubspot_companies_changed": len(companies) - hs_errors,
        "accounts_seen": len(pairs),
        "linked_accounts": len(linked),
        "seconds": round(time.monotonic() - t0, 1),
    }
    log(f"changes: {done}")
    return done


# --- the computed minimum (docs/benchmarks.md "The minimum") ------------------------------------------------
HS_SEARCH_PAGE = 200
HS_ASSOCIATIONS_BATCH = 1_000
SF_QUERY_PAGE = 2_000
SF_IN_CHUNK = 300  # ids per `IN (...)` SOQL the connector sends (SalesforceConnector.ids_per_query)
HS_METADATA_CALLS = 3  # owners, the lifecyclestage definition, prepare's properties read (also its setup check)
SF_METADATA_CALLS = 2  # prepare's Account describe (mapping and setup checks), the users query
SF_BULK_QUERY_CALLS = 3
SF_BULK_INGEST_CALLS = 5
WINDOW_SOURCES = {
    "hubspot": (("companies", "hs_lastmodifieddate"), ("contacts", "lastmodifieddate")),
    "salesforce": ("Account", "Contact", "Lead"),
}


def _ceil(n: int, size: int) -> int:
    return math.ceil(n / size) if n > 0 else 0


def hubspot_api(sandbox: Sandbox, method: str, path: str, body: Any = None) -> Any:
    """A HubSpot call of the bench's own (made with the rate limit lifted by the caller)."""
    headers = {"Authorization": f"Bearer {HUBSPOT_TOKEN}"}
    r = sandbox.http.request(method, f"{sandbox.hs_url}{path}", json=body, headers=headers, timeout=120)
    if r.status_code >= 400 and r.status_code != 404:
        raise SystemExit(f"bench: HubSpot {method} {path} answered {r.status_code}: {r.text[:300]}")
    return r.json() if r.content else None


def salesforce_query(sandbox: Sandbox, soql: str) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {SALESFORCE_TOKEN}"}
    r = sandbox.http.get(f"{sandbox.sf_url}/services/data/{SF_VERSION}/query", params={"q": soql}, headers=headers)
    r.raise_for_status()
    return r.json()


def _sf_time(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def window_counts(sandbox: Sandbox, start: datetime | None, end: datetime) -> dict[str, dict[str, int]]:
    """How many records each window source returns for `[start, end)` (everything when start is None):
    counted by the bench before the run (its own writes would move records out of the window afterwards)."""
    out: dict[str, dict[str, int]] = {"hubspot": {}, "salesforce": {}}
    sandbox.hubspot_config(ten_second_limit=None)
    try:
        for object_type, prop in WINDOW_SOURCES["hubspot"]:
            filters = [{"propertyName": prop, "operator": "LT", "value": str(int(end.timestamp() * 1000))}]
            if start is not None:
                filters.append({"propertyName": prop, "operator": "GTE", "value": str(int(start.timestamp() * 1000))})
            body = {"filterGroups": [{"filters": filters}], "limit": 1, "properties": ["hs_object_id"]}
            out["hubspot"][object_type] = int(
                hubspot_api(sandbox, "POST", f"/crm/v3/objects/{object_type}/search", body)["total"]
            )
    finally:
        sandbox.hubspot_config(ten_second_limit=HS_CALLS_PER_10S)
    for sobject in WINDOW_SOURCES["salesforce"]:
        where = f"SystemModstamp < {_sf_time(end)}"
        if start is not None:
            where += f" AND SystemModstamp >= {_sf_time(start)}"
        out["salesforce"][sobject] = int(
            salesforce_query(sandbox, f"SELECT COUNT() FROM {sobject} WHERE {where}")["totalSize"]
        )
    return out


def computed_minimum(
    full: bool,
    counts: dict[str, dict[str, int]],
    needs: dict[str, int],
    written: dict[str, dict[str, int]],
    list_on: bool,
) -> dict[str, dict[str, int]]:
    """The fewest calls each system could have answered this run with (terms per system; see the docs)."""
    hs_w, sf_w = counts["hubspot"], counts["salesforce"]
    hs: dict[str, int] = {"metadata": HS_METADATA_CALLS}
    if full:  # every company, and every company's contacts (R5-R7 may need any of them)
        hs["window searches"] = _ceil(hs_w["companies"], HS_SEARCH_PAGE)
        hs["associations"] = _ceil(hs_w["companies"], HS_ASSOCIATIONS_BATCH)
        hs["contact batch reads"] = _ceil(hs_w["contacts"], HS_BATCH)
        hs["counterpart batch reads"] = 0
    else:
        hs["window searches"] = sum(max(1, _ceil(n, HS_SEARCH_PAGE)) for n in hs_w.values())
        hs["associations"] = _ceil(needs.get("contacts_to_companies", 0), HS_ASSOCIATIONS_BATCH) + _ceil(
            needs.get("companies_needing_contacts", 0), HS_ASSOCIATIONS_BATCH
        )
        hs["contact batch reads"] = _ceil(needs.get("contacts_to_read", 0), HS_BATCH)
        hs["counterpart batch reads"] = _ceil(needs.get("hubspot_records_by_id", 0), HS_BATCH)
    hs["list memberships"] = 1 if list_on else 0
    hs["writes"] = sum(_ceil(n, HS_BATCH) for n in written["hubspot"].values())
    sf: dict[str, int] = {"metadata": SF_METADATA_CALLS}
    # a Bulk API 2.0 query (create, poll, results) or ingest job (create, upload, close, poll, results) is a
    # fixed number of calls whatever its size: the cheaper of the two ways counts
    sf["window queries"] = sum(min(max(1, _ceil(n, SF_QUERY_PAGE)), SF_BULK_QUERY_CALLS) for n in sf_w.values())
    sf["counterpart IN queries"] = 0 if full else _ceil(needs.get("salesforce_records_by_id", 0), SF_IN_CHUNK)
    sf["writes"] = sum(min(_ceil(n, SF_BATCH), SF_BULK_INGEST_CALLS) for n in written["salesforce"].values())
    return {"hubspot": {**hs, "total": sum(hs.values())}, "salesforce": {**sf, "total": sum(sf.values())}}


# --- contacts-only changes -----------------------------------------------------------------------------------
def inclusion_list_id(sandbox: Sandbox) -> str | None:
    name = requests.utils.quote("Salesforce inclusion list")
    found = hubspot_api(sandbox, "GET", f"/crm/v3/lists/object-type-id/0-1/name/{name}")
    return str(found["list"]["listId"]) if found and "list" in found else None


def make_contact_changes(sandbox: Sandbox, changes: int, list_id: str | None) -> tuple[dict[str, Any], dict[str, int]]:
    """`changes` HubSpot contacts of linked companies get another lifecycle stage (one contact per company as far
    as possible), and `changes // 10` other contacts of linked companies join the inclusion list. No company or
    account is touched. Returns what was done and what the rules then need to read (for the minimum)."""
    t0 = time.monotonic()
    linked = [c for _, c in salesforce_pairs(sandbox) if c]
    joins_wanted = changes // 10 if list_id else 0
    sandbox.hubspot_config(ten_second_limit=None)
    try:
        contacts_of: dict[str, list[str]] = {}
        for i in range(0, len(linked), HS_ASSOCIATIONS_BATCH):
            body = {"inputs": [{"id": c} for c in linked[i : i + HS_ASSOCIATIONS_BATCH]]}
            answer = hubspot_api(sandbox, "POST", "/crm/v4/associations/companies/contacts/batch/read", body)
            for r in answer.get("results", []):
                contacts_of[str(r["from"]["id"])] = [str(t["toObjectId"]) for t in r["to"]]
        with_contacts = [c for c in linked if contacts_of.get(c)]
        picked: list[str] = []  # first contact of each company, then second ones, ...
        depth = 0
        while len(picked) < changes + joins_wanted and depth < 4:
            picked += [contacts_of[c][depth] for c in with_contacts if len(contacts_of[c]) > depth]
            depth += 1
        picked = list(dict.fromkeys(picked))
        staged, joiners = picked[:changes], picked[changes:]
        stages: dict[str, str | None] = {}
        for i in range(0, len(staged), HS_BATCH):
            body = {"properties": ["lifecyclestage"], "inputs": [{"id": c} for c in staged[i : i + HS_BATCH]]}
            for r in hubspot_api(sandbox, "POST", "/crm/v3/objects/contacts/batch/read", body).get("results", []):
                stages[str(r["id"])] = (r.get("properties") or {}).get("lifecyclestage")
        errors = 0
        for i in range(0, len(staged), HS_BATCH):
            inputs = [
                {
                    "id": c,
                    "properties": {"lifecyclestage": "customer" if stages.get(c) == "evangelist" else "evangelist"},
                }
                for c in staged[i : i + HS_BATCH]
            ]
            answer = hubspot_api(sandbox, "POST", "/crm/v3/objects/contacts/batch/update", {"inputs": inputs})
            errors += len(inputs) - len((answer or {}).get("results", []))
        joined: list[str] = []
        if list_id and joiners:
            members: set[str] = set()
            after = None
            while True:
                page = hubspot_api(
                    sandbox,
                    "GET",
                    f"/crm/v3/lists/{list_id}/memberships?limit=250" + (f"&after={after}" if after else ""),
                )
                members.update(str(m["recordId"]) for m in page.get("results", []))
                after = ((page.get("paging") or {}).get("next") or {}).get("after")
                if not after:
                    break
            joined = [c for c in joiners if c not in members][:joins_wanted]
            if joined:
                hubspot_api(sandbox, "PUT", f"/crm/v3/lists/{list_id}/memberships/add", joined)
    finally:
        sandbox.hubspot_config(ten_second_limit=HS_CALLS_PER_10S)
    company_of: dict[str, set[str]] = {}
    for company, contacts in contacts_of.items():
        for contact in contacts:
            company_of.setdefault(contact, set()).add(company)
    drivers = set(staged) | set(joined)
    driven = {co for c in drivers for co in company_of.get(c, ())}
    others = {c for co in driven for c in contacts_of.get(co, ())} - drivers
    time.sleep(1.5)  # the changes are strictly older than the run's window end
    done = {
        "hubspot_contacts_stage_changed": len(staged) - errors,
        "hubspot_list_joins": len(joined),
        "linked_companies_seen": len(linked),
        "companies_driven": len(driven),
        "other_contacts_of_driven_companies": len(others),
        "seconds": round(time.monotonic() - t0, 1),
    }
    needs = {
        "contacts_to_companies": len(drivers),
        "companies_needing_contacts": len(driven),
        "hubspot_records_by_id": len(driven),  # the driven companies: not in the company window
        "contacts_to_read": len(others),  # the drivers themselves come with the contact window search
        "salesforce_records_by_id": 0,  # R7 writes HubSpot only; a linked pair needs no new account read
    }
    log(f"contact changes: {done}")
    return done, needs


WINDOW_OVERLAP = timedelta(minutes=15)  # COMPANY_SYNC_WINDOW_OVERLAP_MINUTES' default, left unset


def window_end(result: dict[str, Any]) -> datetime:
    """The end of a run's window, from its report ("... window [start, end)")."""
    stamps = re.findall(r"\d{4}-\d\d-\d\dT[\d:.]+\+00:00", result.get("window") or "")
    if not stamps:
        raise SystemExit(f"bench: no window in the report of {result['scenario']!r}")
    return datetime.fromisoformat(stamps[-1])


def bench_env(sandbox: Sandbox, tmp: Path, list_id: str | None) -> dict[str, str]:
    """The environment of every `bin/airflow dags test`: connections, settings and stores in `tmp`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW_", "AIRFLOW__", "COMPANY_SYNC_"))}
    env.update(
        {
            "AIRFLOW_HOME": str(tmp / "airflow"),
            "AIRFLOW_CONN_SALESFORCE_DEFAULT": json.dumps(
                {
                    "conn_type": "salesforce",
                    "password": SALESFORCE_TOKEN,
                    "extra": {"instance_url": sandbox.sf_url, "version": "59.0", "ca_bundle": str(sandbox.ca_path)},
                }
            ),
            "AIRFLOW_CONN_HUBSPOT_DEFAULT": json.dumps(
                {"conn_type": "http", "host": sandbox.hs_url, "password": HUBSPOT_TOKEN}
            ),
            "AIRFLOW_VAR_COMPANY_SYNC_SETTINGS": json.dumps(bench_settings(list_id)),
            "COMPANY_SYNC_STATE_URL": f"sqlite:///{tmp / 'state' / 'company_sync.db'}",
            "COMPANY_SYNC_STAGING_URL": (tmp / "staging").as_uri(),
            "COMPANY_SYNC_REPORTS_DIR": str(tmp / "reports"),
        }
    )
    return env


def baseline_import(accounts: int, latency: str, tmp: Path) -> dict[str, Any]:
    """The no-rules import (bench_import_baseline.py) on a sandbox of its own with the same seed."""
    from benchmarks.bench_import_baseline import baseline_on_sandbox

    sandbox = Sandbox(tmp / "baseline-sandbox", accounts, tmp / "logs" / "baseline-sandbox.log", latency=latency)
    try:
        sandbox.wait(timeout=1800)
        log("0. no-rules import (bench_import_baseline) ...")
        out = baseline_on_sandbox(sandbox, HS_CALLS_PER_10S)
    finally:
        sandbox.stop()
    hs = out["hubspot"]
    if hs.get("calls_per_10s_during_writes"):
        hs["share_of_call_ceiling_during_writes"] = round(hs["calls_per_10s_during_writes"] / HS_CALLS_PER_10S, 3)
    log(
        f"0. no-rules import: {out['wall_seconds']} s, HubSpot {hs['total_calls']} calls,"
        f" Salesforce {out['salesforce']['total_calls']} calls"
    )
    return out


# --- the table -----------------------------------------------------------------------------------------------
def table(results: list[dict[str, Any]]) -> str:
    """One markdown row per run: calls against the computed minimum, writes, rate, wall time, memory."""
    head = (
        "run",
        "HS calls / min",
        "SF calls / min",
        "HS writes / min",
        "SF writes / min (HTTP, jobs)",
        "429s",
        "max HS/10s",
        "HS/10s in load",
        "wall s",
        "peak RSS MiB",
        "status",
    )
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in results:
        hs, sf = r["hubspot"], r["salesforce"]
        row = (
            r["scenario"],
            f"{hs['total_calls']} / {hs['minimum_calls']} = {hs['calls_over_minimum']}",
            f"{sf['total_calls']} / {sf['minimum_calls']} = {sf['calls_over_minimum']}",
            f"{hs['write_calls']} / {hs['minimum_write_calls']}",
            f"{sf['write_units']} / {sf['minimum_write_calls']} ({sf['write_calls']}, {sf['bulk_ingest_jobs']})",
            str(hs["status_429"]),
            str(hs.get("max_calls_in_any_10s", "")),
            str(hs.get("calls_per_10s_during_writes") or "-"),
            f"{r['wall_seconds']:.1f}",
            f"{r['peak_rss_mib']}" if r["peak_rss_mib"] else "-",
            r["status"],
        )
        rows.append("| " + " | ".join(row) + " |")
    return "\n".join(rows)


def minimum_table(results: list[dict[str, Any]]) -> str:
    """The minimum's terms per run (markdown), with the window counts they came from."""
    head = (
        "run",
        "window (HS companies, contacts; SF accounts, contacts, leads)",
        "HubSpot minimum",
        "Salesforce minimum",
    )
    rows = ["| " + " | ".join(head) + " |", "|---|---|---|---|"]
    for r in results:
        w = r["window_counts"]
        window = (
            ", ".join(str(v) for v in w["hubspot"].values())
            + "; "
            + ", ".join(str(v) for v in w["salesforce"].values())
        )
        terms = {s: " + ".join(f"{v} {k}" for k, v in r["minimum"][s].items() if k != "total" and v) for s in w}
        hs_total, sf_total = r["minimum"]["hubspot"]["total"], r["minimum"]["salesforce"]["total"]
        rows.append(
            f"| {r['scenario']} | {window} | {terms['hubspot']} = {hs_total} | {terms['salesforce']} = {sf_total} |"
        )
    return "\n".join(rows)


def endpoint_table(results: list[dict[str, Any]], system: str) -> str:
    """Calls per endpoint (rows) and run (columns), markdown."""
    endpoints: list[str] = []
    for r in results:
        endpoints += [e for e in r[system]["by_endpoint"] if e not in endpoints]
    rows = ["| endpoint | " + " | ".join(r["scenario"] for r in results) + " |", "|---" * (len(results) + 1) + "|"]
    for e in endpoints:
        rows.append(f"| `{e}` | " + " | ".join(str(r[system]["by_endpoint"].get(e, 0)) for r in results) + " |")
    rows.append("| **total** | " + " | ".join(str(r[system]["total_calls"]) for r in results) + " |")
    return "\n".join(rows)


def write_tables(results: list[dict[str, Any]], output: Path) -> str:
    tables = [table(results), minimum_table(results)]
    tables += [f"{system}:\n\n" + endpoint_table(results, system) for system in ("hubspot", "salesforce")]
    text = "\n\n".join(tables) + "\n"
    output.with_suffix(".md").write_text(text)
    return text


def retable(path: Path) -> int:
    """Recompute each run's minimum from the inputs the JSON keeps (window counts, needs, records written)."""
    document = json.loads(path.read_text())
    list_on = bool(document.get("inclusion_list_id"))
    for r in document["scenarios"]:
        written = {s: r[s]["records_written"] for s in ("hubspot", "salesforce")}
        r["minimum"] = computed_minimum(
            r["window"].startswith("full"), r["window_counts"], r["needs"], written, list_on
        )
        for system in ("hubspot", "salesforce"):
            floor = r["minimum"][system]["total"]
            r[system]["minimum_calls"] = floor
            r[system]["calls_over_minimum"] = round(r[system]["total_calls"] / floor, 3) if floor else None
    path.write_text(json.dumps(document, indent=2, default=str))
    print(write_tables(document["scenarios"], path))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=100_000, help="seed: N accounts and N companies")
    parser.add_argument("--changes", type=int, default=10_000, help="changes on each side for the nightly run")
    parser.add_argument("--quick", action="store_true", help="smoke run: 5,000 accounts, 1,000 changes")
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "results" / "bench_sync.json")
    parser.add_argument("--run-timeout", type=float, default=3600, help="seconds per DAG run")
    parser.add_argument("--latency", default="off", help="the sandbox's latency: off, realistic or HS[,SF] ms")
    parser.add_argument("--no-baseline", action="store_true", help="skip the no-rules import run side by side")
    parser.add_argument(
        "--no-inclusion-list", action="store_true", help="leave inclusion_list_id null (no list joins either)"
    )
    parser.add_argument(
        "--import-only", action="store_true", help="the no-rules import and the project's import, no sync runs"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (logs, reports)")
    parser.add_argument("--retable", type=Path, help="recompute the minimum and the tables of a results JSON")
    args = parser.parse_args()
    if args.retable:
        return retable(args.retable)
    if args.quick:
        args.accounts, args.changes = 5_000, 1_000
        if args.output == parser.get_default("output"):
            args.output = args.output.with_name("bench_sync_quick.json")

    import urllib3

    urllib3.disable_warnings()
    tmp = Path(tempfile.mkdtemp(prefix="bench-sync-"))
    (tmp / "logs").mkdir()
    log(f"bench: {args.accounts:,} accounts / companies, {args.changes:,} changes a side; work dir {tmp}")
    started = time.monotonic()
    t0 = time.monotonic()
    results: list[dict[str, Any]] = []
    meta: dict[str, Any] = {"latency": args.latency}
    if not args.no_baseline:
        meta["baseline_import"] = baseline_import(args.accounts, args.latency, tmp)
    t0 = time.monotonic()
    sandbox = Sandbox(tmp / "sandbox", args.accounts, tmp / "logs" / "sandbox.log", latency=args.latency)
    try:
        sandbox.wait(timeout=1800)
        sandbox.hubspot_config(ten_second_limit=HS_CALLS_PER_10S)
        meta["sandbox_seed_seconds"] = round(time.monotonic() - t0, 1)
        log(f"sandbox up (seeded in {meta['sandbox_seed_seconds']} s): {sandbox.sf_url}, {sandbox.hs_url}")
        list_id = None if args.no_inclusion_list else inclusion_list_id(sandbox)
        meta["inclusion_list_id"] = list_id
        env = bench_env(sandbox, tmp, list_id)
        (tmp / "state").mkdir()
        log("bench: preparing the temporary AIRFLOW_HOME (metadata DB) ...")
        prep = subprocess.run([str(AIRFLOW), "dags", "list"], cwd=ROOT, env=env, capture_output=True, text=True)
        if prep.returncode != 0:
            print(prep.stdout[-3000:], prep.stderr[-3000:])
            raise SystemExit("bench: bin/airflow dags list failed")

        def plan(previous: dict[str, Any] | None, needs: dict[str, int] | None = None) -> Plan:
            end = datetime.now(UTC) + timedelta(seconds=1)
            start = window_end(previous) - WINDOW_OVERLAP if previous else None
            return Plan(previous is None, window_counts(sandbox, start, end), needs or {}, bool(list_id))

        n, c, timeout = args.accounts, args.changes, args.run_timeout
        results.append(scenario("1. import", "salesforce_account_import", sandbox, env, tmp, timeout, n, plan(None)))
        if "baseline_import" in meta:
            meta["import_wall_over_baseline"] = round(
                results[-1]["wall_seconds"] / meta["baseline_import"]["wall_seconds"], 2
            )
        if args.import_only:
            return 0 if all(r["status"] == "success" for r in results) else 1
        results.append(scenario("1b. baseline sync", "company_sync", sandbox, env, tmp, timeout, 2 * n, plan(None)))
        meta["changes"] = make_changes(sandbox, c)
        needs = {
            "hubspot_records_by_id": meta["changes"]["salesforce_accounts_changed"],
            "salesforce_records_by_id": meta["changes"]["hubspot_companies_changed"],
        }
        nightly = plan(results[-1], needs)
        results.append(scenario("2. nightly sync", "company_sync", sandbox, env, tmp, timeout, 2 * c, nightly))
        results.append(scenario("3. no changes", "company_sync", sandbox, env, tmp, timeout, 0, plan(results[-1])))
        meta["contact_changes"], needs = make_contact_changes(sandbox, c, list_id)
        contacts = plan(results[-1], needs)
        results.append(scenario("4. contacts-only nightly", "company_sync", sandbox, env, tmp, timeout, c, contacts))
        results.append(scenario("5. no changes", "company_sync", sandbox, env, tmp, timeout, 0, plan(results[-1])))
    finally:
        sandbox.stop()
        document = {
            "benchmark": "bench_sync",
            "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "accounts": args.accounts,
            "changes_per_side": args.changes,
            "quick": args.quick,
            "machine": {
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
                "load_avg_at_end": os.getloadavg(),
            },
            "hubspot_rate_limit": f"{HS_CALLS_PER_10S} calls / 10 s",
            "settings": {
                "Description": "two_way",
                "max_change_ratio": 1.0,
                "inclusion_list_id": meta.get("inclusion_list_id"),
            },
            "total_seconds": round(time.monotonic() - started, 1),
            **meta,
            "scenarios": results,
        }
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(document, indent=2, default=str))
        if results:
            print()
            print(write_tables(results, args.output))
        print(f"\nfigures: {args.output}")
        if args.keep:
            print(f"work dir kept: {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0 if all(r["status"] == "success" for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
