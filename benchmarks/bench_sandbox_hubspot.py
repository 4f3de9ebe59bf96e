"""HubSpot sandbox throughput through hubspot-api-client, rate limits off.

    .venv/bin/python benchmarks/bench_sandbox_hubspot.py [--companies 20000] [--upserts 20000]

Starts a sandbox on free ports in a temporary directory, seeds it, then measures records/s for list
paging (`companies.get_all`, 100 a page) and batch upserts on `salesforceaccountid` (100 per call).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import requests
from hubspot import HubSpot

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from include.sandbox.server import HUBSPOT_TOKEN, start_sandbox  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--companies", type=int, default=20_000)
    parser.add_argument("--upserts", type=int, default=20_000)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as tmp:
        sandbox = start_sandbox(Path(tmp), salesforce_port=0, hubspot_port=0)
        try:
            url = sandbox.hubspot_url
            started = time.perf_counter()
            requests.post(f"{url}/__sandbox/reset", json={"seed": args.companies}, timeout=600).raise_for_status()
            rows.append(("seed (reset)", args.companies, time.perf_counter() - started))
            requests.post(
                f"{url}/__sandbox_hs/config",
                json={"ten_second_limit": None, "search_per_second": None, "daily_limit": None},
                timeout=10,
            ).raise_for_status()
            client = HubSpot(access_token=HUBSPOT_TOKEN, host=url)

            started = time.perf_counter()
            companies = client.crm.companies.get_all(properties=["name", "domain", "salesforceaccountid"])
            rows.append(("list paging (get_all)", len(companies), time.perf_counter() - started))

            calls, done = 0, 0
            started = time.perf_counter()
            while done < args.upserts:
                size = min(100, args.upserts - done)
                inputs = [
                    {
                        "id": f"001BENCH{done + i:010d}",
                        "idProperty": "salesforceaccountid",
                        "properties": {"name": f"Bench {done + i}", "city": "Paris", "numberofemployees": "12"},
                    }
                    for i in range(size)
                ]
                result = client.crm.companies.batch_api.upsert({"inputs": inputs})
                assert len(result.results) == size, result
                done, calls = done + size, calls + 1
            rows.append(("batch upsert, create (100/call)", done, time.perf_counter() - started))

            started = time.perf_counter()
            for start in range(0, done, 100):
                inputs = [
                    {
                        "id": f"001BENCH{start + i:010d}",
                        "idProperty": "salesforceaccountid",
                        "properties": {"city": "Berlin"},
                    }
                    for i in range(min(100, done - start))
                ]
                client.crm.companies.batch_api.upsert({"inputs": inputs})
            rows.append(("batch upsert, update (100/call)", done, time.perf_counter() - started))
        finally:
            sandbox.stop()
    print(f"{'measure':34} {'records':>9} {'seconds':>8} {'records/s':>10}")
    for name, count, seconds in rows:
        print(f"{name:34} {count:>9} {seconds:>8.2f} {count / seconds:>10.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
