"""Latency of every sandbox endpoint the sync calls, through real HTTP, at a given seed size.

    .venv/bin/python benchmarks/bench_sandbox_endpoints.py --seed 1000 [--seed 100000 ...] [--calls 7]
        [--json benchmarks/results/bench_sandbox_endpoints.json] [--latency realistic]

For each seed: starts `python -m include.sandbox serve --seed N` in a subprocess (free ports, temporary
state directory), waits until it answers and its first snapshot is written, then times each call
`--calls` times (median, min, max in ms) with plain `requests` sessions (keep-alive, like the clients).
Reads use the shapes the connectors send (include/company_sync/connectors/*.py): HubSpot window
searches on `hs_lastmodifieddate` (200 a page, the cap probe at after=9999), `IN` on `domain`, list
pages, batch reads by id / unique property, associations, list memberships, owners; Salesforce COUNT()
and SOQL windows on `SystemModstamp`, `Id IN`, `HubSpot_Company_ID__c IN`, `AccountId IN` (300 values),
queryMore, Users, collections upsert/update (200), Bulk 2.0 ingest and query jobs. Writes touch
distinct records each call. Rate limits are switched off (`/__sandbox_hs/config`). The sandbox's RSS
(VmRSS and VmHWM from /proc) is reported after the calls.

The contact-driven reads of issue #11 are timed too (`bench_sandbox_contacts.py`: contacts windows and
searches by Salesforce ids, join-order memberships, 1,000-id association reads, Contact and Lead SOQL
windows). With `--latency SPEC` the sandbox serves with that simulated latency
(include/sandbox/latency.py): each row then also has the sandbox's own time per call (median and max of
the `X-Sandbox-Own-Ms` answers), and `bench_sandbox_contacts.concurrency` times N calls sent at once.

The sandbox runs with `SANDBOX_OWN_CPU=1`: every answer carries `X-Sandbox-Own-Cpu-Ms`, the CPU time
its thread spent on the call (handling and encoding). Each row has its median and max per operation
(summed over the operation's HTTP calls): on a machine shared with other work, wall times measure the
load as much as the sandbox; CPU times do not.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[1]
HS_TOKEN = {"Authorization": "Bearer sandbox-hubspot-token"}
SF_TOKEN = {"Authorization": "Bearer sandbox-salesforce-token"}
SF = "/services/data/v59.0"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (/proc/PID/stat): on a shared machine the seed's
    CPU time says more than its wall time."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rss(pid: int) -> dict[str, int]:
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(("VmRSS", "VmHWM")):
            out[line.split(":")[0]] = int(line.split()[1]) // 1024
    return out


OWN_MS: list[float] = []  # X-Sandbox-Own-Ms of the answers since the last `measure` began
OWN_CPU_MS: list[float] = []  # X-Sandbox-Own-Cpu-Ms of the answers of the current operation


class Served:
    def __init__(self, seed: int, state_dir: Path, latency: str | None = None):
        self.sf_port, self.hs_port = _free_port(), _free_port()
        self.state_dir = state_dir
        started = time.perf_counter()
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "include.sandbox",
                "serve",
                "--seed",
                str(seed),
                "--state-dir",
                str(state_dir),
                "--salesforce-port",
                str(self.sf_port),
                "--hubspot-port",
                str(self.hs_port),
                *(["--latency", latency] if latency else []),
            ],
            cwd=ROOT,
            env={**os.environ, "SANDBOX_OWN_CPU": "1"},  # X-Sandbox-Own-Cpu-Ms on every answer
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.hs = requests.Session()
        self.hs.trust_env = False
        self.hs.headers.update(HS_TOKEN)
        self.sf = requests.Session()
        self.sf.trust_env = False
        self.sf.headers.update(SF_TOKEN)
        self.sf.verify = str(state_dir / "ca.pem")
        for session in (self.hs, self.sf):
            session.hooks["response"].append(_record_cpu)
        self.hs_url = f"http://127.0.0.1:{self.hs_port}"
        self.sf_url = f"https://127.0.0.1:{self.sf_port}"
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"sandbox exited with {self.proc.returncode}")
            try:
                self.hs.get(f"{self.hs_url}/crm/v3/owners", timeout=5)
                self.sf.get(f"{self.sf_url}{SF}/limits", timeout=5)
                break
            except requests.RequestException:
                time.sleep(0.5)
        self.seed_seconds = time.perf_counter() - started
        self.seed_cpu_seconds = _cpu_seconds(self.proc.pid)
        self.seed_rss = _rss(self.proc.pid)
        self.wait_snapshots()
        self.snapshot_seconds = time.perf_counter() - started
        self.snapshot_cpu_seconds = _cpu_seconds(self.proc.pid)
        self.snapshot_rss = _rss(self.proc.pid)
        self.hs.post(
            f"{self.hs_url}/__sandbox_hs/config",
            json={"ten_second_limit": None, "search_per_second": None, "daily_limit": None},
            timeout=10,
        )
        self.sf.post(f"{self.sf_url}/__sandbox_sf/rules", json={"daily_api_limit": 10**9}, timeout=10)

    def wait_snapshots(self, quiet: float = 3.0, limit: float = 1800) -> None:
        """Until both state files exist and have not changed for `quiet` seconds (the post-seed snapshot)."""
        files = [self.state_dir / "hubspot.pickle", self.state_dir / "salesforce.pickle"]
        deadline = time.monotonic() + limit
        last, since = None, time.monotonic()
        while time.monotonic() < deadline:
            now = tuple((f.stat().st_mtime_ns, f.stat().st_size) if f.exists() else None for f in files)
            if now != last:
                last, since = now, time.monotonic()
            elif None not in now and time.monotonic() - since >= quiet:
                return
            time.sleep(0.25)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=600)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def _record_cpu(response: requests.Response, *args: Any, **kwargs: Any) -> None:
    """Response hook of both sessions: every answer's CPU time (polls and CSV results included)."""
    cpu = response.headers.get("X-Sandbox-Own-Cpu-Ms")
    if cpu is not None:
        OWN_CPU_MS.append(float(cpu))


def _ok(response: requests.Response) -> Any:
    own = response.headers.get("X-Sandbox-Own-Ms")
    if own is not None:
        OWN_MS.append(float(own))
    if response.status_code >= 400:
        raise RuntimeError(
            f"{response.request.method} {response.url[:120]} -> {response.status_code}: {response.text[:300]}"
        )
    return response.json() if response.content and "json" in response.headers.get("Content-Type", "") else None


def _ms(dt: datetime) -> int:
    return int(dt.timestamp() * 1000)


def _soql_dt(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def measure(name: str, calls: int, fn: Callable[[int], Any], rows: list[dict]) -> None:
    timings, cpu = [], []
    detail = None
    OWN_MS.clear()
    for i in range(calls):
        OWN_CPU_MS.clear()
        started = time.perf_counter()
        detail = fn(i)
        timings.append((time.perf_counter() - started) * 1000)
        cpu.append(sum(OWN_CPU_MS))  # every HTTP call of the operation (a Bulk job is several)
    rows.append(
        {
            "call": name,
            "median_ms": round(statistics.median(timings), 1),
            "min_ms": round(min(timings), 1),
            "max_ms": round(max(timings), 1),
            "calls": calls,
            "detail": detail,
        }
    )
    own = ""
    if any(cpu):
        rows[-1].update(cpu_median_ms=round(statistics.median(cpu), 1), cpu_max_ms=round(max(cpu), 1))
        own = f"  CPU {statistics.median(cpu):.1f} ms (max {max(cpu):.1f})"
    if OWN_MS:
        rows[-1].update(own_median_ms=round(statistics.median(OWN_MS), 1), own_max_ms=round(max(OWN_MS), 1))
        own += f"  own {statistics.median(OWN_MS):.1f} ms (max {max(OWN_MS):.1f})"
    print(
        f"  {name:62} {statistics.median(timings):9.1f} ms  (min {min(timings):.1f}, max {max(timings):.1f})"
        f"{own}  {detail if detail is not None else ''}",
        flush=True,
    )


def bench_hubspot(s: Served, calls: int, rows: list[dict]) -> None:
    hs, url = s.hs, s.hs_url
    search = f"{url}/crm/v3/objects/companies/search"
    props = ["name", "domain", "website", "phone", "salesforceaccountid", "hs_lastmodifieddate", "createdate"]
    now = datetime.now(UTC)
    # a window holding about 200 companies: the 200th most recent modification up to now
    newest = _ok(
        hs.post(
            search,
            json={
                "sorts": [{"propertyName": "hs_lastmodifieddate", "direction": "DESCENDING"}],
                "limit": 200,
                "properties": ["hs_lastmodifieddate"],
            },
            timeout=600,
        )
    )
    lo = newest["results"][-1]["properties"]["hs_lastmodifieddate"]
    lo_ms = _ms(datetime.fromisoformat(lo.replace("Z", "+00:00")))
    hi_ms = _ms(now + timedelta(minutes=1))

    def window(lo_ms: int, hi_ms: int, after: int | None = None, limit: int = 200) -> dict:
        body: dict[str, Any] = {
            "filterGroups": [
                {
                    "filters": [
                        {"propertyName": "hs_lastmodifieddate", "operator": "GTE", "value": str(lo_ms)},
                        {"propertyName": "hs_lastmodifieddate", "operator": "LT", "value": str(hi_ms)},
                    ]
                }
            ],
            "sorts": [{"propertyName": "hs_lastmodifieddate", "direction": "ASCENDING"}],
            "properties": props,
            "limit": limit,
        }
        if after is not None:
            body["after"] = str(after)
        return _ok(hs.post(search, json=body, timeout=600))

    measure(
        "HS companies search: window of ~200 (GTE/LT modified), 200/page",
        calls,
        lambda i: f"total {window(lo_ms, hi_ms)['total']}",
        rows,
    )
    measure(
        "HS companies search: whole history window, first 200",
        calls,
        lambda i: f"total {window(0, hi_ms)['total']}",
        rows,
    )
    measure(
        "HS companies search: cap probe (after=9999, limit=1)",
        calls,
        lambda i: f"total {window(0, hi_ms, after=9999, limit=1)['total']}",
        rows,
    )
    measure(
        "HS companies search: window + hs_object_id GT (keyset by id)",
        calls,
        lambda i: len(
            _ok(
                hs.post(
                    search,
                    json={
                        "filterGroups": [
                            {
                                "filters": [
                                    {"propertyName": "hs_lastmodifieddate", "operator": "GTE", "value": str(lo_ms)},
                                    {"propertyName": "hs_lastmodifieddate", "operator": "LT", "value": str(hi_ms)},
                                    {"propertyName": "hs_object_id", "operator": "GT", "value": "0"},
                                ]
                            }
                        ],
                        "sorts": [{"propertyName": "hs_object_id", "direction": "ASCENDING"}],
                        "properties": props,
                        "limit": 200,
                    },
                    timeout=600,
                )
            )["results"]
        ),
        rows,
    )
    measure(
        "HS companies search: EQ domain, no match",
        calls,
        lambda i: _ok(
            hs.post(
                search,
                json={
                    "filterGroups": [
                        {"filters": [{"propertyName": "domain", "operator": "EQ", "value": f"nomatch{i}.example"}]}
                    ],
                    "properties": props,
                    "limit": 200,
                },
                timeout=600,
            )
        )["total"],
        rows,
    )

    page = _ok(hs.get(f"{url}/crm/v3/objects/companies", params={"limit": 100, "properties": "domain"}, timeout=600))
    first_ids = [r["id"] for r in page["results"]]
    domains = [r["properties"].get("domain") for r in page["results"] if r["properties"].get("domain")]
    measure(
        "HS companies search: IN domain (100 values), sort hs_object_id",
        calls,
        lambda i: _ok(
            hs.post(
                search,
                json={
                    "filterGroups": [{"filters": [{"propertyName": "domain", "operator": "IN", "values": domains}]}],
                    "sorts": [{"propertyName": "hs_object_id", "direction": "ASCENDING"}],
                    "properties": props,
                    "limit": 200,
                },
                timeout=600,
            )
        )["total"],
        rows,
    )
    contacts_newest = _ok(
        hs.post(
            f"{url}/crm/v3/objects/contacts/search",
            json={
                "sorts": [{"propertyName": "lastmodifieddate", "direction": "DESCENDING"}],
                "limit": 200,
                "properties": ["lastmodifieddate"],
            },
            timeout=600,
        )
    )
    c_lo = _ms(
        datetime.fromisoformat(contacts_newest["results"][-1]["properties"]["lastmodifieddate"].replace("Z", "+00:00"))
    )
    measure(
        "HS contacts search: window of ~200 (GTE/LT lastmodifieddate)",
        calls,
        lambda i: _ok(
            hs.post(
                f"{url}/crm/v3/objects/contacts/search",
                json={
                    "filterGroups": [
                        {
                            "filters": [
                                {"propertyName": "lastmodifieddate", "operator": "GTE", "value": str(c_lo)},
                                {"propertyName": "lastmodifieddate", "operator": "LT", "value": str(hi_ms)},
                            ]
                        }
                    ],
                    "sorts": [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}],
                    "properties": ["email", "lifecyclestage", "lastmodifieddate"],
                    "limit": 200,
                },
                timeout=600,
            )
        )["total"],
        rows,
    )

    middle = str(int(first_ids[0]) + (len(first_ids) and 0) + s.n // 2)
    measure(
        "HS companies list page (100, from the middle)",
        calls,
        lambda i: len(
            _ok(
                hs.get(
                    f"{url}/crm/v3/objects/companies",
                    params={"limit": 100, "after": middle, "properties": ",".join(props)},
                    timeout=600,
                )
            )["results"]
        ),
        rows,
    )
    measure(
        "HS companies list page archived (100)",
        calls,
        lambda i: len(
            _ok(
                hs.get(
                    f"{url}/crm/v3/objects/companies",
                    params={"limit": 100, "archived": "true", "properties": "name"},
                    timeout=600,
                )
            )["results"]
        ),
        rows,
    )
    ids = [str(int(middle) + k) for k in range(100)]
    measure(
        "HS companies batch read (100 ids)",
        calls,
        lambda i: len(
            _ok(
                hs.post(
                    f"{url}/crm/v3/objects/companies/batch/read",
                    json={"inputs": [{"id": x} for x in ids], "properties": props},
                    timeout=600,
                )
            )["results"]
        ),
        rows,
    )
    contacts = _ok(hs.get(f"{url}/crm/v3/objects/contacts", params={"limit": 100, "properties": "email"}, timeout=600))[
        "results"
    ]
    emails = [c["properties"]["email"] for c in contacts if c["properties"].get("email")]
    measure(
        "HS contacts batch read by email (idProperty, 100)",
        calls,
        lambda i: len(
            _ok(
                hs.post(
                    f"{url}/crm/v3/objects/contacts/batch/read",
                    json={"inputs": [{"id": e} for e in emails], "idProperty": "email", "properties": ["email"]},
                    timeout=600,
                )
            )["results"]
        ),
        rows,
    )
    measure(
        "HS associations batch read companies->contacts (100)",
        calls,
        lambda i: len(
            _ok(
                hs.post(
                    f"{url}/crm/v4/associations/companies/contacts/batch/read",
                    json={"inputs": [{"id": x} for x in ids]},
                    timeout=600,
                )
            )["results"]
        ),
        rows,
    )
    measure(
        "HS list memberships page (250, from the middle)",
        calls,
        lambda i: len(
            _ok(
                hs.get(f"{url}/crm/v3/lists/1/memberships", params={"limit": 250, "after": str(s.n // 4)}, timeout=600)
            )["results"]
        ),
        rows,
    )
    measure(
        "HS owners page (100)",
        calls,
        lambda i: len(
            _ok(hs.get(f"{url}/crm/v3/owners", params={"limit": 100, "archived": "false"}, timeout=600))["results"]
        ),
        rows,
    )

    def upsert(i: int) -> int:
        inputs = [
            {
                "id": f"001BENCH{i:04d}{k:06d}",
                "idProperty": "salesforceaccountid",
                "properties": {"name": f"Bench {i} {k}", "city": "Paris"},
            }
            for k in range(100)
        ]
        return len(
            _ok(hs.post(f"{url}/crm/v3/objects/companies/batch/upsert", json={"inputs": inputs}, timeout=600))[
                "results"
            ]
        )

    measure("HS companies batch upsert on salesforceaccountid (100, create)", calls, upsert, rows)
    measure("HS companies batch upsert on salesforceaccountid (100, update)", calls, upsert, rows)
    measure(
        "HS companies batch read by salesforceaccountid (100)",
        calls,
        lambda i: len(
            _ok(
                hs.post(
                    f"{url}/crm/v3/objects/companies/batch/read",
                    json={
                        "inputs": [{"id": f"001BENCH{i:04d}{k:06d}"} for k in range(100)],
                        "idProperty": "salesforceaccountid",
                        "properties": props,
                    },
                    timeout=600,
                )
            )["results"]
        ),
        rows,
    )
    measure(
        "HS companies batch update by id (100)",
        calls,
        lambda i: len(
            _ok(
                hs.post(
                    f"{url}/crm/v3/objects/companies/batch/update",
                    json={
                        "inputs": [
                            {"id": str(int(first_ids[0]) + (i * 100 + k) % s.n), "properties": {"city": f"Berlin {i}"}}
                            for k in range(100)
                        ]
                    },
                    timeout=600,
                )
            )["results"]
        ),
        rows,
    )
    measure(
        "HS companies batch create (100)",
        calls,
        lambda i: len(
            _ok(
                hs.post(
                    f"{url}/crm/v3/objects/companies/batch/create",
                    json={
                        "inputs": [
                            {"properties": {"name": f"Created {i} {k}", "domain": f"created{i}x{k}.example"}}
                            for k in range(100)
                        ]
                    },
                    timeout=600,
                )
            )["results"]
        ),
        rows,
    )
    measure(
        "HS companies search after the writes: window of ~200",
        calls,
        lambda i: f"total {window(lo_ms, hi_ms)['total']}",
        rows,
    )


def bench_salesforce(s: Served, calls: int, rows: list[dict]) -> None:
    sf, url = s.sf, f"{s.sf_url}{SF}"

    def query(soql: str, all_rows: bool = True) -> dict:
        return _ok(sf.get(f"{url}/{'queryAll' if all_rows else 'query'}", params={"q": soql}, timeout=600))

    newest = query("SELECT SystemModstamp FROM Account ORDER BY SystemModstamp DESC LIMIT 200")["records"]
    lo = newest[-1]["SystemModstamp"]
    lo_dt = datetime.strptime(lo[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
    window = f"SystemModstamp >= {_soql_dt(lo_dt)} AND SystemModstamp < {_soql_dt(datetime.now(UTC) + timedelta(1))}"
    fields = (
        "Id, Name, Website, Phone, Industry, Type, BillingCity, BillingCountry, AnnualRevenue, "
        "NumberOfEmployees, OwnerId, SystemModstamp, IsDeleted, HubSpot_Company_ID__c"
    )
    measure(
        "SF COUNT() Account window of ~200 (queryAll)",
        calls,
        lambda i: query(f"SELECT COUNT() FROM Account WHERE {window}")["totalSize"],
        rows,
    )
    measure(
        "SF query Account window of ~200 (queryAll)",
        calls,
        lambda i: query(f"SELECT {fields} FROM Account WHERE {window}")["totalSize"],
        rows,
    )
    ids = [r["Id"] for r in query("SELECT Id FROM Account LIMIT 300")["records"]]
    id_list = ", ".join(f"'{x}'" for x in ids)
    measure(
        "SF query Account WHERE Id IN (300)",
        calls,
        lambda i: query(f"SELECT {fields} FROM Account WHERE Id IN ({id_list})")["totalSize"],
        rows,
    )
    measure(
        "SF query Contact WHERE AccountId IN (300)",
        calls,
        lambda i: query(f"SELECT Id, AccountId, Email FROM Contact WHERE AccountId IN ({id_list})", all_rows=False)[
            "totalSize"
        ],
        rows,
    )
    contact_ids = [r["Id"] for r in query("SELECT Id FROM Contact LIMIT 300")["records"]]
    measure(
        "SF query Contact WHERE Id IN (300)",
        calls,
        lambda i: query(
            "SELECT Id, AccountId, Email FROM Contact WHERE Id IN ({})".format(
                ", ".join(f"'{x}'" for x in contact_ids)
            ),
            all_rows=False,
        )["totalSize"],
        rows,
    )
    lead_ids = [r["Id"] for r in query("SELECT Id FROM Lead LIMIT 300")["records"]]
    measure(
        "SF query Lead WHERE Id IN (300)",
        calls,
        lambda i: query(
            "SELECT Id, Email, IsConverted FROM Lead WHERE Id IN ({})".format(", ".join(f"'{x}'" for x in lead_ids)),
            all_rows=False,
        )["totalSize"],
        rows,
    )
    measure(
        "SF query User (all)",
        calls,
        lambda i: query("SELECT Id, Email, FirstName, LastName, IsActive FROM User", all_rows=False)["totalSize"],
        rows,
    )

    def upsert(i: int) -> int:
        records = [
            {
                "attributes": {"type": "Account"},
                "Name": f"Bench {i} {k}",
                "Website": f"b{i}x{k}.example",
                "HubSpot_Company_ID__c": f"9{i:03d}{k:05d}",
            }
            for k in range(200)
        ]
        result = _ok(
            sf.patch(
                f"{url}/composite/sobjects/Account/HubSpot_Company_ID__c",
                json={"allOrNone": False, "records": records},
                timeout=600,
            )
        )
        return sum(1 for r in result if r["success"])

    measure("SF collections upsert Account on HubSpot_Company_ID__c (200, create)", calls, upsert, rows)
    measure("SF collections upsert Account on HubSpot_Company_ID__c (200, update)", calls, upsert, rows)
    ext = ", ".join(f"'9{0:03d}{k:05d}'" for k in range(200))
    measure(
        "SF query Account WHERE HubSpot_Company_ID__c IN (200)",
        calls,
        lambda i: query(f"SELECT {fields} FROM Account WHERE HubSpot_Company_ID__c IN ({ext})")["totalSize"],
        rows,
    )
    more_ids = [r["Id"] for r in query(f"SELECT Id FROM Account LIMIT {200 * calls} OFFSET 300")["records"]]
    measure(
        "SF collections update Account by Id (200)",
        calls,
        lambda i: sum(
            1
            for r in _ok(
                sf.patch(
                    f"{url}/composite/sobjects",
                    json={
                        "allOrNone": False,
                        "records": [
                            {"attributes": {"type": "Account"}, "Id": x, "Description": f"bench {i}"}
                            for x in more_ids[i * 200 : (i + 1) * 200]
                        ],
                    },
                    timeout=600,
                )
            )
            if r["success"]
        ),
        rows,
    )
    measure(
        "SF query Account window after the writes (queryAll)",
        calls,
        lambda i: query(f"SELECT {fields} FROM Account WHERE {window}")["totalSize"],
        rows,
    )

    def ingest(i: int) -> str:
        job = _ok(
            sf.post(
                f"{url}/jobs/ingest",
                json={
                    "object": "Account",
                    "operation": "upsert",
                    "externalIdFieldName": "HubSpot_Company_ID__c",
                    "contentType": "CSV",
                    "lineEnding": "LF",
                },
                timeout=600,
            )
        )
        csv = "Name,HubSpot_Company_ID__c\n" + "".join(f"Bulk {i} {k},8{i:03d}{k:05d}\n" for k in range(200))
        sf.put(
            f"{url}/jobs/ingest/{job['id']}/batches",
            data=csv.encode(),
            headers={"Content-Type": "text/csv"},
            timeout=600,
        ).raise_for_status()
        _ok(sf.patch(f"{url}/jobs/ingest/{job['id']}", json={"state": "UploadComplete"}, timeout=600))
        while (info := _ok(sf.get(f"{url}/jobs/ingest/{job['id']}", timeout=600)))["state"] not in (
            "JobComplete",
            "Failed",
            "Aborted",
        ):
            time.sleep(0.01)
        return f"{info['state']} {info.get('numberRecordsProcessed')}"

    measure("SF Bulk 2.0 ingest upsert job (200 rows: create, upload, close, poll)", calls, ingest, rows)

    def bulk_query(i: int) -> int:
        job = _ok(
            sf.post(
                f"{url}/jobs/query",
                json={"operation": "queryAll", "query": f"SELECT {fields} FROM Account WHERE {window}"},
                timeout=600,
            )
        )
        while _ok(sf.get(f"{url}/jobs/query/{job['id']}", timeout=600))["state"] != "JobComplete":
            time.sleep(0.01)
        result = sf.get(f"{url}/jobs/query/{job['id']}/results", params={"maxRecords": 50000}, timeout=600)
        result.raise_for_status()
        return int(result.headers.get("Sforce-NumberOfRecords", 0))

    measure("SF Bulk 2.0 query job, window of ~200 (create, poll, results)", calls, bulk_query, rows)
    locators = [
        query(f"SELECT {fields} FROM Account LIMIT 2400", all_rows=False).get("nextRecordsUrl") for _ in range(calls)
    ]
    measure(
        "SF queryMore (rows 2,001-2,400 of a cursor)",
        calls,
        lambda i: len(_ok(sf.get(f"{s.sf_url}{locators[i]}", timeout=600))["records"]),
        rows,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, action="append", required=True)
    parser.add_argument("--calls", type=int, default=7)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--label", default="")
    parser.add_argument("--latency", help="serve with this simulated latency (realistic, HS[,SF] ms)")
    parser.add_argument("--only-contacts", action="store_true", help="time only the contact-driven reads")
    args = parser.parse_args()
    # run as a script this module is __main__: the contacts module must share its globals (OWN_CPU_MS)
    sys.modules.setdefault("bench_sandbox_endpoints", sys.modules[__name__])
    from bench_sandbox_contacts import bench_contacts, concurrency

    results = []
    for n in args.seed:
        with tempfile.TemporaryDirectory(prefix="bench-sandbox-", ignore_cleanup_errors=True) as tmp:
            print(f"seed {n:,}: starting the sandbox", flush=True)
            served = Served(n, Path(tmp), args.latency)
            served.n = n  # type: ignore[attr-defined]
            print(
                f"  serving after {served.seed_seconds:.1f} s ({served.seed_cpu_seconds:.1f} CPU-s), RSS "
                f"{served.seed_rss}; snapshots written after {served.snapshot_seconds:.1f} s "
                f"({served.snapshot_cpu_seconds:.1f} CPU-s), RSS {served.snapshot_rss}",
                flush=True,
            )
            rows: list[dict] = []
            overlap: list[dict] = []
            try:
                if not args.only_contacts:
                    bench_hubspot(served, args.calls, rows)
                    bench_salesforce(served, args.calls, rows)
                bench_contacts(served, args.calls, rows)
                if args.latency:
                    overlap = concurrency(served)
                memory = _rss(served.proc.pid)
            finally:
                served.stop()
            print(f"  RSS after the calls: {memory}", flush=True)
            results.append(
                {
                    "seed": n,
                    "label": args.label,
                    "latency": args.latency or "off",
                    "seconds_to_serve": round(served.seed_seconds, 1),
                    "cpu_seconds_to_serve": round(served.seed_cpu_seconds, 1),
                    "rss_mib_at_serve": served.seed_rss,
                    "seconds_to_snapshot": round(served.snapshot_seconds, 1),
                    "cpu_seconds_to_snapshot": round(served.snapshot_cpu_seconds, 1),
                    "rss_mib_after_snapshot": served.snapshot_rss,
                    "rss_mib": memory,
                    "calls": rows,
                    "concurrency": overlap,
                    "python": sys.version.split()[0],
                    "cpus": os.cpu_count(),
                }
            )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
