"""A hand-written import with no rules, the yardstick for `salesforce_account_import` (issue 11, item 6).

    .venv/bin/python benchmarks/bench_import_baseline.py --accounts 20000           # on its own sandbox
    .venv/bin/python benchmarks/bench_sync.py --accounts 20000 --changes 2000      # runs it side by side

What it does, through the same official clients the project uses (simple-salesforce, hubspot-api-client):
read every Salesforce account (SOQL, queryMore pages of 2,000) and every HubSpot company (list pages of 100),
match the account's website domain to the company's domain in pandas (a plain many-to-many merge: no
dedupe of duplicate domains, no creation criteria, no owners, no field rules, no state, no report), update
each matched company once (batch update, 100 a call), create a company for every unmatched account (batch
create, 100 a call), and write the HubSpot ids back on the accounts (sObject Collections, 200 a call).
HubSpot writes run on 4 threads; the client's own retry honours 429 / Retry-After at HubSpot's 190 calls / 10 s.

It is not the project's behaviour (it duplicates domain matches the project rightly refuses): it is the
floor of wall time for moving the same data over the same APIs. Figures to
benchmarks/results/bench_import_baseline.json (or --output) when run on its own.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

HS_BATCH = 100
SF_BATCH = 200
HS_THREADS = 4
RATE_KEYS = ("max_calls_in_any_10s", "write_phase_seconds", "calls_per_10s_during_writes")
ACCOUNT_SOQL = "SELECT Id, Name, Website, Phone FROM Account"


def _domain(value: Any) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    host = re.sub(r"^[a-z][a-z0-9+.-]*://", "", value.strip().lower())
    host = re.split(r"[/?#]", host, maxsplit=1)[0].split("@")[-1].split(":")[0]
    host = host.removeprefix("www.").strip(".")
    return host or None


def _clients(sf_url: str, hs_url: str, ca_path: Path, sf_token: str, hs_token: str):
    import requests
    from hubspot import HubSpot
    from simple_salesforce import Salesforce
    from urllib3.util.retry import Retry

    session = requests.Session()
    session.trust_env = False
    session.verify = str(ca_path)
    sf = Salesforce(instance_url=sf_url, session_id=sf_token, session=session, version="59.0")
    retry = Retry(
        total=20,
        status_forcelist=(429, 502, 503, 504),
        allowed_methods=None,
        backoff_factor=0.5,
        respect_retry_after_header=True,
    )
    hs = HubSpot(access_token=hs_token, host=hs_url, retry=retry)
    return sf, hs


def run_baseline(sf_url: str, hs_url: str, ca_path: Path, sf_token: str, hs_token: str) -> dict[str, Any]:
    """The import; returns its wall time (and that of each phase) and the records it moved."""
    from hubspot.crm.companies import (
        BatchInputSimplePublicObjectBatchInput,
        BatchInputSimplePublicObjectBatchInputForCreate,
        SimplePublicObjectBatchInput,
        SimplePublicObjectBatchInputForCreate,
    )

    started = time.monotonic()
    sf, hs = _clients(sf_url, hs_url, ca_path, sf_token, hs_token)
    companies_api = hs.crm.companies.batch_api  # built once: each attribute access makes a new ApiClient
    basic_api = hs.crm.companies.basic_api

    accounts = pd.DataFrame(
        [{k: v for k, v in r.items() if k != "attributes"} for r in sf.query_all_iter(ACCOUNT_SOQL)],
        columns=["Id", "Name", "Website", "Phone"],
    )
    t_sf = time.monotonic()
    rows, after = [], None
    while True:
        page = basic_api.get_page(limit=HS_BATCH, after=after, properties=["domain", "name"])
        rows.extend({"company_id": c.id, "company_domain": (c.properties or {}).get("domain")} for c in page.results)
        after = page.paging.next.after if page.paging and page.paging.next else None
        if not after:
            break
    companies = pd.DataFrame(rows, columns=["company_id", "company_domain"])
    t_hs = time.monotonic()

    accounts["domain"] = accounts["Website"].map(_domain)
    companies["domain"] = companies["company_domain"].map(_domain)
    merged = accounts.merge(companies[companies["domain"].notna()], on="domain", how="left")
    matched = merged[merged["company_id"].notna()].drop_duplicates("company_id")
    unmatched = merged[merged["company_id"].isna()]
    t_match = time.monotonic()

    def props(row) -> dict[str, str]:
        out = {"name": row.Name or "", "salesforceaccountid": row.Id}
        if isinstance(row.Phone, str):
            out["phone"] = row.Phone
        if row.domain:
            out["domain"] = row.domain
        return out

    updates = [
        [SimplePublicObjectBatchInput(id=r.company_id, properties=props(r)) for r in chunk.itertuples()]
        for chunk in _chunks(matched, HS_BATCH)
    ]
    creates = [
        [SimplePublicObjectBatchInputForCreate(properties=props(r)) for r in chunk.itertuples()]
        for chunk in _chunks(unmatched, HS_BATCH)
    ]

    def update(inputs) -> list[tuple[str, str]]:
        result = companies_api.update(BatchInputSimplePublicObjectBatchInput(inputs=inputs))
        return [(c.properties.get("salesforceaccountid"), c.id) for c in result.results]

    def create(inputs) -> list[tuple[str, str]]:
        result = companies_api.create(BatchInputSimplePublicObjectBatchInputForCreate(inputs=inputs))
        return [(c.properties.get("salesforceaccountid"), c.id) for c in result.results]

    links: list[tuple[str, str]] = []
    with ThreadPoolExecutor(HS_THREADS) as pool:
        for done in [*pool.map(update, updates), *pool.map(create, creates)]:
            links.extend(done)
    t_hs_writes = time.monotonic()

    sf_errors = 0
    link_rows = [{"attributes": {"type": "Account"}, "id": a, "HubSpot_Company_ID__c": c} for a, c in links if a]
    for i in range(0, len(link_rows), SF_BATCH):
        answer = sf.restful(
            "composite/sobjects", method="PATCH", json={"allOrNone": False, "records": link_rows[i : i + SF_BATCH]}
        )
        sf_errors += sum(not r.get("success") for r in answer)
    finished = time.monotonic()
    return {
        "wall_seconds": round(finished - started, 1),
        "phases_seconds": {
            "read_salesforce": round(t_sf - started, 1),
            "read_hubspot": round(t_hs - t_sf, 1),
            "match": round(t_match - t_hs, 1),
            "write_hubspot": round(t_hs_writes - t_match, 1),
            "write_salesforce": round(finished - t_hs_writes, 1),
        },
        "accounts_read": len(accounts),
        "companies_read": len(companies),
        "companies_updated": len(matched),
        "companies_created": len(unmatched),
        "accounts_linked": len(link_rows),
        "salesforce_errors": sf_errors,
    }


def _chunks(frame: pd.DataFrame, size: int):
    for i in range(0, len(frame), size):
        yield frame.iloc[i : i + size]


def baseline_on_sandbox(sandbox, hs_limit: int) -> dict[str, Any]:
    """Run the baseline against a started `bench_sync.Sandbox`; adds the calls from its request log."""
    from benchmarks.bench_sync import account_calls
    from include.sandbox.server import HUBSPOT_TOKEN, SALESFORCE_TOKEN

    sandbox.hubspot_config(ten_second_limit=hs_limit)
    sandbox.clear_requests()
    out = run_baseline(sandbox.sf_url, sandbox.hs_url, sandbox.ca_path, SALESFORCE_TOKEN, HUBSPOT_TOKEN)
    calls = sandbox.requests_log()
    for system in ("hubspot", "salesforce"):
        stats = account_calls(system, calls[system])
        keep = ("total_calls", "read_calls", "write_calls", "status_429", "by_endpoint", *RATE_KEYS)
        out[system] = {k: stats[k] for k in keep if k in stats}
    return out


def main() -> int:
    from benchmarks.bench_sync import HS_CALLS_PER_10S, Sandbox, log

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=20_000, help="seed: N accounts and N companies")
    parser.add_argument("--latency", default="off", help="the sandbox's latency spec (off, realistic, HS[,SF])")
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "results" / "bench_import_baseline.json")
    args = parser.parse_args()
    import urllib3

    urllib3.disable_warnings()
    tmp = Path(tempfile.mkdtemp(prefix="bench-baseline-"))
    sandbox = Sandbox(tmp / "sandbox", args.accounts, tmp / "sandbox.log", latency=args.latency)
    try:
        sandbox.wait(timeout=1800)
        log(f"baseline import of {args.accounts:,} accounts ...")
        out = baseline_on_sandbox(sandbox, HS_CALLS_PER_10S)
    finally:
        sandbox.stop()
    document = {
        "benchmark": "bench_import_baseline",
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "accounts": args.accounts,
        "latency": args.latency,
        **out,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(document, indent=2, default=str))
    log(
        f"baseline: {out['wall_seconds']} s, HubSpot {out['hubspot']['total_calls']} calls,"
        f" Salesforce {out['salesforce']['total_calls']} calls; figures: {args.output}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
