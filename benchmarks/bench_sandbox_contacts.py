"""The contact-driven reads and writes of issue #11 against a served sandbox, and (with a simulated
latency) how concurrent calls overlap. Used by `bench_sandbox_endpoints.py` (which starts the sandbox):

    .venv/bin/python benchmarks/bench_sandbox_endpoints.py --seed 1000 --only-contacts [--latency realistic]

`bench_contacts` times: HubSpot contacts window searches on `lastmodifieddate` / `hs_lastmodifieddate`,
searches `IN` 100 `salesforcecontactid` / `salesforceleadid` values, a join-order memberships page,
associations batch reads of 1,000 ids both ways, a 100-contact batch update and 100 default associations
(both move contacts' modification dates); Salesforce SOQL windows on Contact and Lead `SystemModstamp`, and
lead conversion (the sandbox's control endpoint). `concurrency` sends N identical calls at once from N
threads and reports the wall time next to one call's: about one latency when the calls overlap.
"""

from __future__ import annotations

import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
from bench_sandbox_endpoints import HS_TOKEN, SF, SF_TOKEN, Served, _ms, _ok, _soql_dt, measure

FIRST_COMPANY, FIRST_CONTACT = 20_000_000_001, 30_000_000_001


def _contacts_window(s: Served, prop: str) -> dict[str, Any]:
    newest = _ok(
        s.hs.post(
            f"{s.hs_url}/crm/v3/objects/contacts/search",
            json={"sorts": [{"propertyName": prop, "direction": "DESCENDING"}], "limit": 200, "properties": [prop]},
            timeout=600,
        )
    )
    lo = newest["results"][-1]["properties"][prop]
    lo_ms = _ms(datetime.fromisoformat(lo.replace("Z", "+00:00")))
    hi_ms = _ms(datetime.now(UTC) + timedelta(minutes=1))
    return {
        "filterGroups": [
            {
                "filters": [
                    {"propertyName": prop, "operator": "GTE", "value": str(lo_ms)},
                    {"propertyName": prop, "operator": "LT", "value": str(hi_ms)},
                ]
            }
        ],
        "sorts": [{"propertyName": prop, "direction": "ASCENDING"}],
        "properties": ["email", "lifecyclestage", "salesforcecontactid", "salesforceleadid", "associatedcompanyid"],
        "limit": 200,
    }


def _salesforce_ids(s: Served, prop: str, wanted: int = 100) -> list[str]:
    found: list[str] = []
    after = None
    while len(found) < wanted:
        params: dict[str, Any] = {"limit": 100, "properties": prop, **({"after": after} if after else {})}
        page = _ok(s.hs.get(f"{s.hs_url}/crm/v3/objects/contacts", params=params, timeout=600))
        found += [r["properties"][prop] for r in page["results"] if r["properties"].get(prop)]
        after = (page.get("paging") or {}).get("next", {}).get("after")
        if not after:
            break
    return found[:wanted]


def bench_hubspot_contacts(s: Served, calls: int, rows: list[dict]) -> None:
    hs, url, n = s.hs, s.hs_url, s.n  # type: ignore[attr-defined]
    search = f"{url}/crm/v3/objects/contacts/search"
    for prop in ("lastmodifieddate", "hs_lastmodifieddate"):
        body = _contacts_window(s, prop)
        measure(
            f"HS contacts search: window of ~200 on {prop}",
            calls,
            lambda i, body=body: f"total {_ok(hs.post(search, json=body, timeout=600))['total']}",
            rows,
        )
    for prop in ("salesforcecontactid", "salesforceleadid"):
        values = _salesforce_ids(s, prop)
        body = {
            "filterGroups": [{"filters": [{"propertyName": prop, "operator": "IN", "values": values}]}],
            "properties": ["email", prop],
            "limit": 100,
        }
        measure(
            f"HS contacts search: {prop} IN ({len(values)})",
            calls,
            lambda i, body=body: f"total {_ok(hs.post(search, json=body, timeout=600))['total']}",
            rows,
        )
    measure(
        "HS list memberships join-order page (250, from the middle)",
        calls,
        lambda i: len(
            _ok(
                hs.get(
                    f"{url}/crm/v3/lists/1/memberships/join-order",
                    params={"limit": 250, "after": str(n // 4)},
                    timeout=600,
                )
            )["results"]
        ),
        rows,
    )
    middle_contact, middle_company = FIRST_CONTACT + n // 10, FIRST_COMPANY + n // 10  # ids that exist at any n
    for source, target, first in (("contacts", "companies", middle_contact), ("companies", "contacts", middle_company)):
        inputs = [{"id": str(first + k)} for k in range(1000)]
        measure(
            f"HS associations batch read {source}->{target} (1,000)",
            calls,
            lambda i, source=source, target=target, inputs=inputs: len(
                _ok(
                    hs.post(
                        f"{url}/crm/v4/associations/{source}/{target}/batch/read",
                        json={"inputs": inputs},
                        timeout=600,
                    )
                )["results"]
            ),
            rows,
        )

    def update(i: int) -> int:
        stage = ("lead", "customer")[i % 2]
        inputs = [
            {"id": str(middle_contact + n // 10 + k), "properties": {"lifecyclestage": stage}} for k in range(100)
        ]
        return len(
            _ok(hs.post(f"{url}/crm/v3/objects/contacts/batch/update", json={"inputs": inputs}, timeout=600))["results"]
        )

    measure("HS contacts batch update (100, moves lastmodifieddate)", calls, update, rows)

    def associate(i: int) -> int:
        inputs = [
            {"from": {"id": str(middle_contact + n // 5 + 100 * i + k)}, "to": {"id": str(middle_company + i)}}
            for k in range(100)
        ]
        return len(
            _ok(
                hs.post(
                    f"{url}/crm/v4/associations/contacts/companies/batch/associate/default",
                    json={"inputs": inputs},
                    timeout=600,
                )
            )["results"]
        )

    measure("HS associations batch default contacts->companies (100)", calls, associate, rows)


def bench_salesforce_contacts(s: Served, calls: int, rows: list[dict]) -> None:
    sf, url = s.sf, f"{s.sf_url}{SF}"

    def query(soql: str) -> dict:
        return _ok(sf.get(f"{url}/query", params={"q": soql}, timeout=600))

    end = _soql_dt(datetime.now(UTC) + timedelta(1))
    for sobject, fields in (
        ("Contact", "Id, AccountId, Email, SystemModstamp"),
        ("Lead", "Id, Email, IsConverted, ConvertedAccountId, ConvertedContactId, SystemModstamp"),
    ):
        newest = query(f"SELECT SystemModstamp FROM {sobject} ORDER BY SystemModstamp DESC LIMIT 200")["records"]
        lo = datetime.strptime(newest[-1]["SystemModstamp"][:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
        soql = f"SELECT {fields} FROM {sobject} WHERE SystemModstamp >= {_soql_dt(lo)} AND SystemModstamp < {end}"
        measure(
            f"SF query {sobject} window of ~200 on SystemModstamp",
            calls,
            lambda i, soql=soql: query(soql)["totalSize"],
            rows,
        )
    leads = [r["Id"] for r in query("SELECT Id FROM Lead WHERE IsConverted = false LIMIT 50")["records"]]
    control = requests.Session()
    control.trust_env, control.verify = False, sf.verify
    measure(
        "SF convert lead (sandbox control endpoint)",
        min(calls, len(leads)),
        lambda i: _ok(control.post(f"{s.sf_url}/__sandbox/convert-lead", json={"leadId": leads[i]}, timeout=600))[
            "createdAccount"
        ],
        rows,
    )


def bench_contacts(s: Served, calls: int, rows: list[dict]) -> None:
    bench_hubspot_contacts(s, calls, rows)
    bench_salesforce_contacts(s, calls, rows)


def _timed(fn) -> tuple[float, float | None]:
    started = time.perf_counter()
    response = fn()
    if response.status_code >= 400:
        raise RuntimeError(f"{response.status_code}: {response.text[:200]}")
    own = response.headers.get("X-Sandbox-Own-Ms")
    return (time.perf_counter() - started) * 1000, float(own) if own else None


def _overlap(name: str, call, token: dict[str, str], verify: Any, n: int) -> dict[str, Any]:
    sessions = []
    for _ in range(n):
        session = requests.Session()
        session.trust_env = False
        session.headers.update(token)
        if verify:
            session.verify = verify
        _timed(lambda session=session: call(session))  # connect (and TLS) outside the timing
        sessions.append(session)
    single = [_timed(lambda: call(sessions[0]))[0] for _ in range(5)]
    with ThreadPoolExecutor(n) as pool:
        started = time.perf_counter()
        timed = list(pool.map(lambda session: _timed(lambda: call(session)), sessions))
        wall = (time.perf_counter() - started) * 1000
    own = [o for _, o in timed if o is not None]
    one = statistics.median(single)
    row = {
        "call": name,
        "concurrent": n,
        "one_call_median_ms": round(one, 1),
        "wall_ms": round(wall, 1),
        "serial_would_be_ms": round(one * n, 1),
        "own_median_ms": round(statistics.median(own), 1) if own else None,
        "own_max_ms": round(max(own), 1) if own else None,
    }
    print(f"  {n} x {name}: wall {wall:.0f} ms, one call {one:.0f} ms, own {row['own_median_ms']} ms", flush=True)
    return row


def concurrency(s: Served, n: int = 16) -> list[dict]:
    """N identical calls at once (one session each) vs one call: wall time, and the sandbox's own time."""
    ids = [{"id": str(FIRST_COMPANY + k)} for k in range(100)]

    def hubspot(session: requests.Session) -> requests.Response:
        return session.post(
            f"{s.hs_url}/crm/v3/objects/companies/batch/read", json={"inputs": ids, "properties": ["name"]}, timeout=600
        )

    def salesforce(session: requests.Session) -> requests.Response:
        return session.get(f"{s.sf_url}{SF}/query", params={"q": "SELECT Id, Name FROM Account LIMIT 100"}, timeout=600)

    results = []
    for name, call, token, verify in (
        ("HS companies batch read (100 ids)", hubspot, HS_TOKEN, None),
        ("SF query Account LIMIT 100", salesforce, SF_TOKEN, s.sf.verify),
    ):
        results.append(_overlap(name, call, token, verify, n))
    return results
