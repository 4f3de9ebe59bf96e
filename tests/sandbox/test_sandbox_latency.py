"""The simulated latency (include/sandbox/latency.py): off by default; with it, a call takes at least the
latency, concurrent calls overlap (N calls in about one latency, not N), and the sandbox's own time stays
well under it."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from include.sandbox import latency
from include.sandbox.server import HUBSPOT_TOKEN, SALESFORCE_TOKEN, start_sandbox

HS_AUTH = {"Authorization": f"Bearer {HUBSPOT_TOKEN}"}
SF_AUTH = {"Authorization": f"Bearer {SALESFORCE_TOKEN}"}
SEARCH = {"filterGroups": [], "limit": 10}


@pytest.fixture
def slow_sandbox(tmp_path):
    running = start_sandbox(tmp_path, salesforce_port=0, hubspot_port=0, latency="400,250")
    no_limits = {"ten_second_limit": None, "search_per_second": None, "daily_limit": None}
    requests.post(f"{running.hubspot_url}/__sandbox_hs/config", json=no_limits, timeout=10).raise_for_status()
    yield running
    running.stop()


def _search(url: str) -> requests.Response:
    with requests.Session() as session:
        return session.post(f"{url}/crm/v3/objects/companies/search", json=SEARCH, headers=HS_AUTH, timeout=30)


def test_off_by_default(clean_sandbox, monkeypatch):
    assert clean_sandbox.hubspot.latency is None and clean_sandbox.salesforce.latency is None
    response = _search(clean_sandbox.hubspot_url)
    assert response.status_code == 200 and "X-Sandbox-Own-Ms" not in response.headers
    assert requests.get(f"{clean_sandbox.hubspot_url}/__sandbox/latency", timeout=10).json() == {"spec": "off"}


def test_a_call_takes_at_least_the_latency_and_the_sandbox_far_less(slow_sandbox):
    started = time.perf_counter()
    response = _search(slow_sandbox.hubspot_url)
    took = time.perf_counter() - started
    assert response.status_code == 200 and took >= 0.4
    assert float(response.headers["X-Sandbox-Own-Ms"]) < 100  # well under the 400 ms it simulates
    session = requests.Session()
    session.verify, session.trust_env = str(slow_sandbox.ca_path), False
    started = time.perf_counter()
    answer = session.get(
        f"{slow_sandbox.salesforce_url}/services/data/v59.0/query", params={"q": "SELECT Id FROM User"}, headers=SF_AUTH
    )
    assert answer.status_code == 200 and time.perf_counter() - started >= 0.25
    # control endpoints are not delayed
    started = time.perf_counter()
    requests.get(f"{slow_sandbox.hubspot_url}/__sandbox/requests", timeout=10)
    requests.get(f"{slow_sandbox.hubspot_url}/__sandbox_hs/config", timeout=10)
    assert time.perf_counter() - started < 0.4


def test_concurrent_calls_overlap(slow_sandbox):
    n = 8
    with ThreadPoolExecutor(n) as pool:
        started = time.perf_counter()
        answers = list(pool.map(lambda _: _search(slow_sandbox.hubspot_url), range(n)))
        took = time.perf_counter() - started
    assert all(a.status_code == 200 for a in answers)
    assert 0.4 <= took < 0.4 * 2.5, f"{n} concurrent calls took {took:.2f} s"  # serial would be 3.2 s


def test_set_at_run_time_and_from_the_environment(clean_sandbox, tmp_path, monkeypatch):
    url = clean_sandbox.hubspot_url
    try:
        assert requests.post(f"{url}/__sandbox/latency", json={"spec": "realistic"}, timeout=10).json() == {
            "spec": "realistic"
        }
        started = time.perf_counter()
        assert _search(url).status_code == 200
        assert time.perf_counter() - started >= 0.35 * latency.CLAMP[0]  # the search median, clamped below
        bad = requests.post(f"{url}/__sandbox/latency", json={"spec": "fast"}, timeout=10)
        assert bad.status_code == 400
    finally:
        requests.post(f"{url}/__sandbox/latency", json={"spec": "off"}, timeout=10)
    monkeypatch.setenv(latency.ENV, "120,80")
    running = start_sandbox(tmp_path, salesforce_port=0, hubspot_port=0)
    try:
        assert running.hubspot.latency.fixed_ms == 120 and running.salesforce.latency.fixed_ms == 80
    finally:
        running.stop()


@pytest.mark.parametrize(
    ("spec", "hubspot", "salesforce"),
    [("off", None, None), ("", None, None), ("250", 250, 250), ("300, 150", 300, 150), ("0,200", None, 200)],
)
def test_fixed_specs(spec, hubspot, salesforce):
    for api, expected in (("hubspot", hubspot), ("salesforce", salesforce)):
        parsed = latency.parse(spec, api)
        assert (parsed.fixed_ms if parsed else None) == expected


def test_realistic_profile_draws_around_each_endpoints_median():
    profile = latency.parse("realistic", "hubspot")
    median = profile.median_ms("POST", "/crm/v3/objects/contacts/search")
    draws = sorted(profile.draw_ms("POST", "/crm/v3/objects/contacts/search") for _ in range(2000))
    assert median == 350
    assert median * latency.CLAMP[0] <= draws[0] and draws[-1] <= median * latency.CLAMP[1]
    assert abs(draws[1000] - median) < median * 0.1
    assert profile.median_ms("GET", "/crm/v3/objects/companies") == 150
    sf = latency.parse("realistic", "salesforce")
    assert sf.median_ms("PATCH", "/services/data/v59.0/composite/sobjects/Account/HubSpot_Company_ID__c") == 400
    with pytest.raises(ValueError):
        latency.parse("1,2,3", "hubspot")
