"""Throughput of the Salesforce sandbox through simple-salesforce: query paging (query_all) and sObject
Collections upserts (200 records per call). Run: `.venv/bin/python benchmarks/bench_sandbox_salesforce.py [N]`.

Targets (design.md): query paging >= 5,000 records/s, collection upserts >= 2,000 records/s.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import requests
from simple_salesforce import Salesforce

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from include.sandbox.server import SALESFORCE_TOKEN, start_sandbox  # noqa: E402


def main(n: int = 20_000) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        sandbox = start_sandbox(Path(tmp), salesforce_port=0, hubspot_port=0)
        try:
            session = requests.Session()
            session.verify = str(sandbox.ca_path)
            session.trust_env = False
            sf = Salesforce(
                instance_url=sandbox.salesforce_url, session_id=SALESFORCE_TOKEN, session=session, version="59.0"
            )
            rows = []

            started = time.perf_counter()
            for start in range(0, n, 200):
                records = [
                    {
                        "attributes": {"type": "Account"},
                        "Name": f"Bench {i}",
                        "Website": f"b{i}.example",
                        "Industry": "Technology",
                        "AnnualRevenue": i * 10.0,
                        "HubSpot_Company_ID__c": str(i),
                    }
                    for i in range(start, min(start + 200, n))
                ]
                results = sf.restful(
                    "composite/sobjects/Account/HubSpot_Company_ID__c",
                    method="PATCH",
                    json={"allOrNone": False, "records": records},
                )
                assert all(r["success"] for r in results)
            elapsed = time.perf_counter() - started
            rows.append(("collection upsert (create), 200/call", n, elapsed))

            started = time.perf_counter()
            for start in range(0, n, 200):
                records = [
                    {"attributes": {"type": "Account"}, "Name": f"Bench {i} v2", "HubSpot_Company_ID__c": str(i)}
                    for i in range(start, min(start + 200, n))
                ]
                results = sf.restful(
                    "composite/sobjects/Account/HubSpot_Company_ID__c",
                    method="PATCH",
                    json={"allOrNone": False, "records": records},
                )
                assert all(r["success"] and not r["created"] for r in results)
            elapsed = time.perf_counter() - started
            rows.append(("collection upsert (update), 200/call", n, elapsed))

            query = (
                "SELECT Id, Name, Website, Industry, AnnualRevenue, OwnerId, Owner.Email, SystemModstamp, "
                "HubSpot_Company_ID__c FROM Account"
            )
            started = time.perf_counter()
            result = sf.query_all(query)
            elapsed = time.perf_counter() - started
            assert len(result["records"]) == n
            rows.append(("query_all paging (2,000/page)", n, elapsed))

            started = time.perf_counter()
            got = sum(len(page.splitlines()) - 1 for page in sf.bulk2.Account.query(query, wait=0.05))
            elapsed = time.perf_counter() - started
            assert got == n
            rows.append(("bulk2 query job (incl. 0.05 s poll wait)", n, elapsed))
        finally:
            sandbox.stop()

    print(f"{'operation':<42} {'records':>8} {'seconds':>8} {'records/s':>10}")
    for name, count, seconds in rows:
        print(f"{name:<42} {count:>8} {seconds:>8.2f} {count / seconds:>10.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 20_000))
