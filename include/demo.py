"""`make demo`: the product end to end against the sandbox.

1. start the sandbox, re-seeded with 2,000 Salesforce accounts and 2,000 HubSpot companies (overlapping
   domains, duplicates, contacts, leads, private contacts, messy values), and reset the sync state to match;
2. `salesforce_account_import`: the one-off import of existing accounts (R3a) a team runs after turning
   company sync on;
   Before the runs it seeds a few records the other system refuses, so the reports show Sync Health groups
   and the resync flow can be tried (README, "Try the resync"): a Salesforce validation rule (Phone must
   start with +) and a HubSpot company whose phone breaks it, one whose name is longer than Salesforce's
   255 characters, and one whose industry has no Salesforce value in the value map;
3. `company_sync`: a "sync now" run of the nightly two-way sync (both sides scanned the first time);
4. `company_sync` again: nothing changed, so nothing is written (the refused records are tried again);
5. print each run's summary and where its report is; stop the sandbox.

`python -m include.demo --fix-refusals` (with the sandbox running, e.g. under `make airflow`) plays the data
team fixing those records: the rule is relaxed, the name shortened, the industry changed.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

from include.company_sync.report import text_summary
from include.company_sync.runtime import default_reports_dir, default_state_file, project_home

ROOT = project_home()
SEED = int(os.environ.get("DEMO_SEED", "2000"))
LOG_DIR = ROOT / ".demo"
RUNS = ("salesforce_account_import", "company_sync", "company_sync")
SALESFORCE, HUBSPOT = "https://127.0.0.1:8701", "http://127.0.0.1:8702"
# Records each system refuses: (name, phone, industry) of HubSpot companies, each with one contact.
REFUSED = {
    "validation_rule": ("Demo Refused: Phone Rule Ltd", "555 0100 (front desk)", None),
    "too_long": ("Demo Refused: " + "Very Long Company Name " * 13, "+1 555 0101", None),
    "unmapped_picklist": ("Demo Refused: Crafts Unmapped Inc", "+1 555 0102", "ARTS_AND_CRAFTS"),
}
PHONE_RULE = {"field": "Phone", "pattern": r"^\+", "message": "Phone must start with + and the country code"}


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _start_sandbox() -> subprocess.Popen:
    if _port_open(8701) or _port_open(8702):
        sys.exit("demo: ports 8701/8702 are taken: stop the running sandbox (make sandbox / make airflow) first")
    log = (LOG_DIR / "sandbox.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "include.sandbox", "serve", "--state-dir", ".sandbox", "--seed", str(SEED)],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"demo: the sandbox exited early; see {LOG_DIR / 'sandbox.log'}")
        try:
            requests.get("http://127.0.0.1:8702/__sandbox/requests", timeout=1)
            return process
        except requests.ConnectionError:
            time.sleep(0.3)
    process.terminate()
    sys.exit("demo: the sandbox did not answer within 120 s")


def _write_calls() -> int:
    calls = 0
    for url in ("http://127.0.0.1:8702", "https://127.0.0.1:8701"):
        log = requests.get(f"{url}/__sandbox/requests", verify=False, timeout=10).json()["requests"]
        calls += sum(
            r["method"] in ("POST", "PATCH", "PUT", "DELETE")
            and not r["path"].endswith(("/search", "/batch/read"))
            and "/query" not in r["path"]
            for r in log
        )
        requests.delete(f"{url}/__sandbox/requests", verify=False, timeout=10)
    return calls


def _api(method: str, url: str, token: str, body: dict | None = None) -> dict:
    answer = requests.request(
        method, url, json=body, headers={"Authorization": f"Bearer {token}"}, verify=False, timeout=30
    )
    answer.raise_for_status()
    return answer.json() if answer.content else {}


def seed_refusals() -> None:
    """A few records each system refuses, created through the sandbox's APIs like a user's data."""
    from include.sandbox.server import HUBSPOT_TOKEN, SALESFORCE_TOKEN

    _api("POST", f"{SALESFORCE}/__sandbox_sf/rules", SALESFORCE_TOKEN, {"validation_rule": PHONE_RULE})
    for n, (name, phone, industry) in enumerate(REFUSED.values()):
        properties = {"name": name, "phone": phone, "domain": f"demo-refused-{n}.example"}
        company = _api(
            "POST",
            f"{HUBSPOT}/crm/v3/objects/companies",
            HUBSPOT_TOKEN,
            {"properties": properties | ({"industry": industry} if industry else {})},
        )["id"]
        contact = _api(
            "POST",
            f"{HUBSPOT}/crm/v3/objects/contacts",
            HUBSPOT_TOKEN,
            {"properties": {"email": f"buyer@demo-refused-{n}.example", "lifecyclestage": "customer"}},
        )["id"]
        _api(
            "PUT",
            f"{HUBSPOT}/crm/v4/objects/contacts/{contact}/associations/default/companies/{company}",
            HUBSPOT_TOKEN,
        )


def fix_refusals() -> None:
    """What the data team does after reading Sync Health: relax the rule, shorten the name, map the industry."""
    from include.sandbox.server import HUBSPOT_TOKEN, SALESFORCE_TOKEN

    _api("POST", f"{SALESFORCE}/__sandbox_sf/rules", SALESFORCE_TOKEN, {"validation_rule": None})
    domains = [f"demo-refused-{n}.example" for n in range(len(REFUSED))]
    search = {
        "filterGroups": [{"filters": [{"propertyName": "domain", "operator": "IN", "values": domains}]}],
        "properties": ["name", "industry"],
        "limit": 100,
    }
    for company in _api("POST", f"{HUBSPOT}/crm/v3/objects/companies/search", HUBSPOT_TOKEN, search)["results"]:
        properties = company["properties"]
        fixed = {}
        if len(properties.get("name") or "") > 255:
            fixed["name"] = "Demo Refused: Long Name Shortened"
        if properties.get("industry") == REFUSED["unmapped_picklist"][2]:
            fixed["industry"] = "COMPUTER_SOFTWARE"
        if fixed:
            _api("PATCH", f"{HUBSPOT}/crm/v3/objects/companies/{company['id']}", HUBSPOT_TOKEN, {"properties": fixed})
    print("demo: refused records fixed; resync them from their report's Sync Health (Resync these)")


def _shown(path: Path) -> Path:
    """`path` relative to the project when it is inside it."""
    return path.relative_to(ROOT) if path.is_relative_to(ROOT) else path


def _newest_report(dag_id: str) -> Path | None:
    reports = sorted((default_reports_dir() / dag_id).glob("*/report.json"), key=lambda p: p.stat().st_mtime)
    return reports[-1] if reports else None


def main() -> int:
    import urllib3

    urllib3.disable_warnings()
    LOG_DIR.mkdir(exist_ok=True)
    started = time.monotonic()
    print(f"demo: starting the sandbox with {SEED:,} accounts and {SEED:,} companies (state in .sandbox/)")
    sandbox = _start_sandbox()
    try:
        shutil.rmtree(default_state_file().parent, ignore_errors=True)  # the sandbox was re-seeded: start afresh
        seed_refusals()
        _write_calls()
        for step, dag_id in enumerate(RUNS, 1):
            log_path = LOG_DIR / f"{step}-{dag_id}.log"
            print(f"\ndemo: bin/airflow dags test {dag_id}  (log: {log_path.relative_to(ROOT)})", flush=True)
            t0 = time.monotonic()
            with log_path.open("w") as log:
                done = subprocess.run(
                    [str(ROOT / "bin" / "airflow"), "dags", "test", dag_id],
                    cwd=ROOT,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            report = _newest_report(dag_id)
            if done.returncode != 0 or report is None:
                print(log_path.read_text()[-4000:])
                print(f"demo: {dag_id} failed (exit {done.returncode}); full log in {log_path}")
                return 1
            document = json.loads(report.read_text())
            print(text_summary(document))
            print(
                f"{_write_calls()} write calls to the APIs, {time.monotonic() - t0:.0f} s; report: "
                f"{_shown(report.with_name('report.html'))}"
            )
        print(
            f"\ndemo: done in {time.monotonic() - started:.0f} s. Open the reports above in a browser, or run "
            "`make airflow` to trigger runs, backfills and resyncs from the Airflow UI."
        )
        return 0
    finally:
        sandbox.terminate()
        sandbox.wait(timeout=30)


if __name__ == "__main__":
    if sys.argv[1:] == ["--fix-refusals"]:
        import urllib3

        urllib3.disable_warnings()
        fix_refusals()
        sys.exit(0)
    sys.exit(main())
