"""Benchmark the sync engine's plan on N accounts x N companies (default 1,000,000).

    .venv/bin/python benchmarks/bench_engine.py [N] [--default-allocators]

Generates a realistic universe (about 40 % shared domains, links for half of the overlap, messy websites,
1.5 N contacts on each side with associations, owners), stages it as Parquet, then plans in a child process and
prints the plan's wall time, its CPU time (all threads; less sensitive to other load on the machine) and the
child's peak RSS (ru_maxrss; inputs included, generation excluded). The child tunes its allocators as the plan
task does (``runtime.lean_memory_for_planning``) unless ``--default-allocators`` is given.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

FRAMES = (
    "sf_accounts",
    "hs_companies",
    "sf_contacts",
    "sf_users",
    "hs_contacts",
    "hs_associations",
    "hs_owners",
    "links",
    "synced_values",
)
T0 = pd.Timestamp("2024-01-01", tz="UTC")


def _ids(prefix: str, n: int, width: int, start: int = 0) -> pd.Series:
    return pd.Series(np.char.add(prefix, np.char.zfill(np.arange(start, start + n).astype(str), width)), dtype="str")


def _messy(domains: np.ndarray, rng) -> pd.Series:
    k = rng.integers(0, 5, len(domains))
    pre = np.array(["https://www.", "http://", "", " WWW.", "https://user@"], dtype=object)[k]
    post = np.array(["/about", "", "/", "  ", ":443/x?y=1"], dtype=object)[rng.integers(0, 5, len(domains))]
    return pd.Series(pre + domains.astype(object) + post, dtype="str")


def _times(rng, n, lo="2022-01-01", hi="2024-06-01") -> pd.Series:
    a, b = pd.Timestamp(lo, tz="UTC").value, pd.Timestamp(hi, tz="UTC").value
    return pd.Series(pd.to_datetime(rng.integers(a, b, n), utc=True))


def generate(n: int, out: Path, seed: int = 7) -> None:
    rng = np.random.default_rng(seed)
    industries = np.array(["Banking", "Retail", "Technology", "Energy", "Media", "Insurance"], dtype=object)
    hs_ind = np.array(["BANKING", "RETAIL", "COMPUTER_SOFTWARE", "OIL_ENERGY", "MEDIA_PRODUCTION"], dtype=object)
    a_ids = _ids("001", n, 15)
    c_ids = _ids("", n, 10, start=10_000_000_000)
    a_dom = np.char.add(np.char.add("co", np.arange(n).astype(str)), ".com")
    overlap = int(0.4 * n)
    shared = rng.permutation(n)[:overlap]  # accounts whose domain a company shares
    c_dom = np.char.add(np.char.add("hs", np.arange(n).astype(str)), ".io").astype(object)
    c_dom[:overlap] = a_dom[shared]
    nusers = 300
    users = pd.DataFrame(
        {
            "Id": _ids("005", nusers, 15),
            "Email": _ids("u", nusers, 4) + "@corp.com",
            "FirstName": "U",
            "LastName": _ids("", nusers, 4),
            "IsActive": True,
        }
    )
    owners = pd.DataFrame(
        {
            "id": _ids("", nusers, 6, 500000),
            "email": _ids("U", nusers, 4) + "@CORP.com",
            "firstName": "u",
            "lastName": _ids("", nusers, 4),
        }
    )
    acc = pd.DataFrame(
        {
            "Id": a_ids,
            "CreatedDate": _times(rng, n),
            "SystemModstamp": _times(rng, n, "2023-06-01", "2024-06-01"),
            "IsDeleted": rng.random(n) < 0.01,
            "HubSpot_Company_ID__c": pd.Series([None] * n, dtype="str"),
            "changed": True,
            "Name": "Account " + a_ids,
            "Website": _messy(a_dom, rng),
            "Phone": pd.Series(np.char.add("+1 555 ", rng.integers(1000000, 9999999, n).astype(str)), dtype="str"),
            "Industry": pd.Series(industries[rng.integers(0, len(industries), n)], dtype="str"),
            "BillingCity": pd.Series(np.where(rng.random(n) < 0.5, "Paris", None), dtype="str"),
            "AnnualRevenue": np.where(rng.random(n) < 0.7, rng.integers(1, 1000, n) * 1000.0, np.nan),
            "NumberOfEmployees": np.where(rng.random(n) < 0.7, rng.integers(1, 5000, n).astype(float), np.nan),
            "Description": pd.Series(np.where(rng.random(n) < 0.2, "x" * 300, None), dtype="str"),
            "OwnerId": users["Id"].to_numpy()[rng.integers(0, nusers, n)],
        }
    )
    linked = shared[: overlap // 2]  # half of the overlap is already linked
    link_c = np.arange(overlap // 2)
    com = pd.DataFrame(
        {
            "id": c_ids,
            "createdate": _times(rng, n),
            "hs_lastmodifieddate": _times(rng, n, "2023-06-01", "2024-06-01"),
            "domain": pd.Series(np.where(rng.random(n) < 0.8, c_dom, None), dtype="str"),
            "salesforceaccountid": pd.Series([None] * n, dtype="str"),
            "hs_object_source": pd.Series(np.where(rng.random(n) < 0.3, "CONTACTS", "CRM_UI"), dtype="str"),
            "lifecyclestage": pd.Series(np.where(rng.random(n) < 0.5, "lead", None), dtype="str"),
            "changed": True,
            "name": "Company " + c_ids,
            "website": _messy(c_dom.astype(str), rng),
            "phone": pd.Series(np.where(rng.random(n) < 0.5, "+1 555 0000", None), dtype="str"),
            "industry": pd.Series(hs_ind[rng.integers(0, len(hs_ind), n)], dtype="str"),
            "annualrevenue": pd.Series(np.where(rng.random(n) < 0.5, "250000", None), dtype="str"),
            "numberofemployees": pd.Series(np.where(rng.random(n) < 0.5, "12.0", None), dtype="str"),
            "hubspot_owner_id": owners["id"].to_numpy()[rng.integers(0, nusers, n)],
        }
    )
    com.loc[link_c, "salesforceaccountid"] = a_ids.to_numpy()[linked]
    acc.loc[linked, "HubSpot_Company_ID__c"] = c_ids.to_numpy()[link_c]
    links = pd.DataFrame({"account_id": a_ids.to_numpy()[linked], "company_id": c_ids.to_numpy()[link_c]})
    synced = pd.DataFrame(
        {
            "account_id": links["account_id"],
            "company_id": links["company_id"],
            "field": "Name",
            "value": acc["Name"].to_numpy()[linked],
            "synced_at": T0,
        }
    )
    nct = int(1.5 * n)
    hc_ids = _ids("", nct, 10, start=20_000_000_000)
    emails = pd.Series(np.char.add(np.char.add("p", np.arange(nct).astype(str)), "@mail.example"), dtype="str")
    sc_ids = _ids("003", nct, 15)
    hs_contacts = pd.DataFrame(
        {
            "id": hc_ids,
            "email": emails,
            "lifecyclestage": pd.Series(
                np.array(["lead", "customer", "opportunity", "other", None], dtype=object)[rng.integers(0, 5, nct)],
                dtype="str",
            ),
            "salesforcecontactid": pd.Series(np.where(rng.random(nct) < 0.6, sc_ids, None), dtype="str"),
            "salesforceleadid": pd.Series(np.where(rng.random(nct) < 0.2, _ids("00Q", nct, 15), None), dtype="str"),
        }
    )
    sf_contacts = pd.DataFrame(
        {
            "Id": sc_ids,
            "Email": emails,
            "AccountId": pd.Series(
                np.where(rng.random(nct) < 0.95, a_ids.to_numpy()[rng.integers(0, n, nct)], None), dtype="str"
            ),
        }
    )
    assoc = pd.DataFrame({"company_id": c_ids.to_numpy()[rng.integers(0, n, nct)], "contact_id": hc_ids})
    frames = dict(
        sf_accounts=acc,
        hs_companies=com,
        sf_contacts=sf_contacts,
        sf_users=users,
        hs_contacts=hs_contacts,
        hs_associations=assoc,
        hs_owners=owners,
        links=links,
        synced_values=synced,
    )
    for name, df in frames.items():
        df.to_parquet(out / f"{name}.parquet", index=False)


def run_plan(staged: Path, lean: bool = True) -> dict:
    from include.company_sync.engine import PlanContext, SyncInputs, plan_sync
    from include.company_sync.runtime import lean_memory_for_planning
    from include.company_sync.settings import parse_settings

    memory = lean_memory_for_planning() if lean else "default allocators"  # as the plan task does
    t = time.perf_counter()
    frames = {name: pd.read_parquet(staged / f"{name}.parquet") for name in FRAMES}
    load_s = time.perf_counter() - t
    rss_loaded = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    ctx = PlanContext(
        settings=parse_settings({"company_sync_enabled": True}),
        now=pd.Timestamp.now(tz="UTC"),
        sync_enabled_at=T0,
        integration_user_id="005000000000000000",
    )
    t, cpu = time.perf_counter(), time.process_time()
    plan = plan_sync(SyncInputs(**frames), ctx)
    plan_s, plan_cpu_s = time.perf_counter() - t, time.process_time() - cpu
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "memory": memory,
        "load_s": round(load_s, 2),
        "plan_s": round(plan_s, 2),
        "plan_cpu_s": round(plan_cpu_s, 2),
        "peak_rss_mib": round(rss / 1024, 1),
        "rss_after_load_mib": round(rss_loaded / 1024, 1),
        "hubspot_creates": plan.hubspot_creates["record_id"].nunique(),
        "hubspot_updates": plan.hubspot_updates["record_id"].nunique(),
        "salesforce_creates": plan.salesforce_creates["record_id"].nunique(),
        "salesforce_updates": plan.salesforce_updates["record_id"].nunique(),
        "new_links": len(plan.new_links),
        "decisions": len(plan.decisions),
        "actions": plan.decisions["action"].value_counts().to_dict(),
    }


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        print(json.dumps(run_plan(Path(sys.argv[2]), lean="--default-allocators" not in sys.argv)))
        return
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    flags = [a for a in sys.argv[1:] if a.startswith("--")]
    n = int(args[0]) if args else 1_000_000
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        generate(n, Path(tmp))
        print(f"generated {n:,} accounts x {n:,} companies in {time.perf_counter() - t:.1f} s")
        out = subprocess.run(
            [sys.executable, __file__, "--child", tmp, *flags], check=True, capture_output=True, text=True
        )
        res = json.loads(out.stdout.strip().splitlines()[-1])
    print(
        f"plan: {res['plan_s']} s wall ({res['plan_cpu_s']} s CPU, all threads), peak RSS {res['peak_rss_mib']} MiB "
        f"(inputs loaded: {res['rss_after_load_mib']} MiB, load {res['load_s']} s)"
    )
    print(json.dumps({k: v for k, v in res.items() if k not in ("plan_s", "peak_rss_mib")}, indent=1))


if __name__ == "__main__":
    main()
