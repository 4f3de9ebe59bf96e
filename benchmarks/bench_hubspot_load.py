"""HubSpot load throughput: the load task's chunk sender against the HubSpot sandbox at its real rate limit.

    .venv/bin/python benchmarks/bench_hubspot_load.py [N] [LATENCY_MS]   # default 40,000 companies, 300 ms

Sends N company upserts (⌈N/100⌉ batch calls) through `tasks.writes.send_chunks`, ledgering every chunk in a
SQLite state store as the load task does, once with one chunk in flight and once with `WRITE_WORKERS`
(the sandbox enforces HubSpot's 190 calls / 10 s; the connector's shared limiter keeps under it). The sandbox
answers in a few ms, HubSpot in hundreds: each batch call is delayed by LATENCY_MS (a sandbox fault) to stand
for that round trip. Prints records/s against the ceiling (1,900 records/s), calls and 429s. The rate-limit
window is drained between the runs.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CEILING = 1900  # records/s: 190 batch calls of 100 per 10 s


def main() -> None:
    from hubspot import HubSpot

    from include.company_sync.connectors.http_policy import HubSpotRateLimits, hubspot_retry
    from include.company_sync.connectors.hubspot import HubSpotConnector
    from include.company_sync.state import StateStore
    from include.company_sync.tasks.writes import WRITE_WORKERS, send_chunks
    from include.sandbox.server import start_sandbox

    n = int(sys.argv[1]) if len(sys.argv) > 1 else 40_000
    latency_ms = int(sys.argv[2]) if len(sys.argv) > 2 else 300
    with tempfile.TemporaryDirectory() as tmp:
        sandbox = start_sandbox(tmp, salesforce_port=0, hubspot_port=0)
        state = StateStore(f"sqlite:///{tmp}/state.db")
        try:
            requests.post(f"{sandbox.hubspot_url}/__sandbox/reset", json={"seed": 0}, timeout=60)
            for workers in (1, WRITE_WORKERS["hubspot"]):
                time.sleep(11)  # an empty rate-limit window for each run
                requests.delete(f"{sandbox.hubspot_url}/__sandbox/requests", timeout=60)
                if latency_ms:
                    fault = {
                        "count": -(-n // 100),
                        "method": "POST",
                        "latency_ms": latency_ms,
                        "path_prefix": "/crm/v3/objects/companies/batch/upsert",
                    }
                    requests.post(f"{sandbox.hubspot_url}/__sandbox/faults", json=fault, timeout=60)
                hs = HubSpotConnector(
                    HubSpot(access_token="sandbox-hubspot-token", host=sandbox.hubspot_url, retry=hubspot_retry()),
                    limits=HubSpotRateLimits(),
                )
                records = [
                    {"name": f"Load {workers}-{i}", "salesforceaccountid": f"001LD{workers:02d}{i:011d}"}
                    for i in range(n)
                ]
                chunks = [records[i : i + 100] for i in range(0, n, 100)]

                def ledger(landed, workers=workers):  # as the load task does: what landed meanwhile, in one write
                    result = pd.concat([r for _, r in landed], ignore_index=True)
                    state.append_ledger(
                        pd.DataFrame(
                            {
                                "run_id": f"bench-{workers}",
                                "dag_id": "bench",
                                "system": "hubspot",
                                "operation": "upsert",
                                "record_id": result["id"],
                                "source_id": result["key"],
                                "result": result["success"].map({True: "success", False: "failed"}),
                            }
                        )
                    )

                started = time.perf_counter()
                results = send_chunks(chunks, hs.upsert_companies, workers, ledger)
                seconds = time.perf_counter() - started
                ok = sum(int(r["success"].sum()) for r in results)
                log = requests.get(f"{sandbox.hubspot_url}/__sandbox/requests", timeout=60).json()
                log = log if isinstance(log, list) else log.get("requests", [])
                rate = n / seconds
                print(
                    f"{workers} in flight, {latency_ms} ms a call: {n:,} upserts in {seconds:.1f} s = {rate:,.0f} "
                    f"records/s ({rate / CEILING:.0%} of the {CEILING:,}/s ceiling); {ok:,} succeeded; "
                    f"{hs.calls.total} calls; {sum(r.get('status') == 429 for r in log)} 429s"
                )
        finally:
            sandbox.stop()


if __name__ == "__main__":
    main()
