"""Benchmark of undoing a run (issue #16): roll back a 20,000-account `salesforce_account_import` with
`company_sync_rollback`, real `airflow dags test` runs against the sandbox (HubSpot at its real rate limit).

    .venv/bin/python benchmarks/bench_rollback.py                 # 20,000 accounts
    .venv/bin/python benchmarks/bench_rollback.py --accounts 2000

Not a test: it measures. Like bench_sync.py (whose sandbox process, environment and call accounting it reuses),
everything lives in a temporary directory. Steps: seed N accounts and N companies; import every account
(`salesforce_account_import`: creates the companies that match none, links the others); roll the import back
(`company_sync_rollback`, `dry_run` false). For the rollback: wall time, calls per endpoint on both systems, and
its write calls against the minimum for what it wrote (HubSpot ⌈N/100⌉ per operation: batch/update, batch/archive;
Salesforce ⌈N/200⌉ per operation: contacts, account updates (or Bulk API 2.0 jobs), deletes). Figures go to
benchmarks/results/bench_rollback.json (or --output).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.bench_sync import (  # noqa: E402
    AIRFLOW,
    HS_CALLS_PER_10S,
    Sandbox,
    account_calls,
    bench_env,
    inclusion_list_id,
    log,
    run_dag,
)

HS_BATCH, SF_BATCH = 100, 200


def rollback(env: dict[str, str], tmp: Path, run_id: str, timeout: float) -> dict[str, Any]:
    """`airflow dags test company_sync_rollback -c {run_id, dry_run: false}`; the wall time and its report."""
    conf = json.dumps({"run_id": run_id, "dry_run": False})
    log_path = tmp / "logs" / "rollback.log"
    started = time.monotonic()
    with log_path.open("w") as out:
        rc = subprocess.run(
            [str(AIRFLOW), "dags", "test", "company_sync_rollback", "-c", conf],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=timeout,
        ).returncode
    wall = time.monotonic() - started
    reports = sorted((tmp / "reports" / "company_sync_rollback").glob("*/report.json"), key=lambda p: p.stat().st_mtime)
    return {
        "exit_code": rc,
        "wall_seconds": round(wall, 1),
        "log": str(log_path),
        "report": json.loads(reports[-1].read_text()) if reports else None,
    }


def minimum_writes(report: dict[str, Any]) -> dict[str, int]:
    """⌈records / batch⌉ per operation the rollback wrote (its ledgered results)."""
    loads = report["summary"]["loads"]
    out = {}
    for task, batch in (("load_hubspot", HS_BATCH), ("load_salesforce", SF_BATCH)):
        ops = loads.get(task) or {}
        out[task] = sum(math.ceil((c["succeeded"] + c["failed"]) / batch) for c in ops.values())
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=20_000, help="seed: N accounts and N companies")
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "results" / "bench_rollback.json")
    parser.add_argument("--run-timeout", type=float, default=3600)
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (logs, reports)")
    args = parser.parse_args()

    import urllib3

    urllib3.disable_warnings()
    tmp = Path(tempfile.mkdtemp(prefix="bench-rollback-"))
    (tmp / "logs").mkdir()
    (tmp / "state").mkdir()
    document: dict[str, Any] = {"benchmark": "bench_rollback", "accounts": args.accounts}
    sandbox = Sandbox(tmp / "sandbox", args.accounts, tmp / "logs" / "sandbox.log")
    try:
        t0 = time.monotonic()
        sandbox.wait(timeout=1800)
        sandbox.hubspot_config(ten_second_limit=HS_CALLS_PER_10S)
        document["sandbox_seed_seconds"] = round(time.monotonic() - t0, 1)
        env = bench_env(sandbox, tmp, inclusion_list_id(sandbox))
        subprocess.run([str(AIRFLOW), "dags", "list"], cwd=ROOT, env=env, capture_output=True, check=True)
        log(f"import of {args.accounts:,} accounts ...")
        imported = run_dag("salesforce_account_import", env, tmp, "import", args.run_timeout)
        report = imported.pop("report") or {}
        document["import"] = {**imported, "status": report.get("status"), "run_id": report.get("run_id")}
        log(f"import: {imported['wall_seconds']} s, {report.get('status')}; rolling it back ...")
        sandbox.clear_requests()
        undone = rollback(env, tmp, report["run_id"], args.run_timeout)
        calls = sandbox.requests_log()
        undo_report = undone.pop("report") or {}
        minimum = minimum_writes(undo_report) if undo_report else {}
        hs, sf = account_calls("hubspot", calls["hubspot"]), account_calls("salesforce", calls["salesforce"])
        document["rollback"] = {
            **undone,
            "summary": undo_report.get("summary"),
            "hubspot": hs,
            "salesforce": sf,
            "minimum_write_calls": minimum,
            "hubspot_writes_over_minimum": round(hs["write_units"] / minimum["load_hubspot"], 3)
            if minimum.get("load_hubspot")
            else None,
            "salesforce_writes_over_minimum": round(sf["write_units"] / minimum["load_salesforce"], 3)
            if minimum.get("load_salesforce")
            else None,
        }
        log(
            f"rollback: {undone['wall_seconds']} s; HubSpot {hs['total_calls']} calls, {hs['write_units']} writes "
            f"(min {minimum.get('load_hubspot')}); Salesforce {sf['total_calls']} calls, {sf['write_units']} write "
            f"units (min {minimum.get('load_salesforce')}); 429s {hs['status_429']}"
        )
    finally:
        sandbox.stop()
        document["generated_at"] = datetime.now(UTC).isoformat(timespec="seconds")
        document["machine"] = {"cpus": os.cpu_count(), "load_avg_at_end": os.getloadavg()}
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(document, indent=2, default=str))
        print(f"figures: {args.output}")
        if args.keep:
            print(f"work dir kept: {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0 if (document.get("rollback") or {}).get("exit_code") == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
