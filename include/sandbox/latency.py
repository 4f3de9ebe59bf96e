"""Simulated response times: the real APIs answer in 100-500 ms, the sandbox in milliseconds, so a sync
measured against the bare sandbox hides how much its calls overlap. With a latency set, every API call
(not the `/__sandbox*` control endpoints) takes at least a per-endpoint time before its answer goes out.

Specs (`serve --latency SPEC`, `serve --latency-ms HS[,SF]`, the `SANDBOX_LATENCY` environment variable,
or `POST /__sandbox/latency {"spec": SPEC}` at run time):

* `off` (or empty, or `0`): no added latency (the default);
* `realistic`: per endpoint, a time drawn around a median (log-normal, sigma 0.3, clamped to 0.5x-2.5x the
  median); the medians and their sources are in `docs/sandbox-performance.md`;
* `HS[,SF]`: a fixed time in milliseconds for every HubSpot (and Salesforce) call; one number sets both.

The wait happens in the request's own thread after the answer is computed and after every lock is
released, so concurrent calls overlap as on the real APIs; the sandbox's own time counts towards the
latency (a call takes `max(latency, own time)`). Each answer carries `X-Sandbox-Own-Ms`, the sandbox's
own time, so benchmarks can check that it stays well under the latency it simulates.
"""

from __future__ import annotations

import math
import random
import re
import threading
from dataclasses import dataclass

ENV = "SANDBOX_LATENCY"
SIGMA = 0.3
CLAMP = (0.5, 2.5)

# (methods or None for any, path regex, median ms); first match wins. See docs/sandbox-performance.md.
REALISTIC: dict[str, list[tuple[frozenset[str] | None, str, float]]] = {  # code-limits: declarative table
    "hubspot": [
        (frozenset({"POST"}), r"^/crm/v3/objects/[^/]+/search/?$", 350.0),
        (frozenset({"POST"}), r"^/crm/v3/objects/[^/]+/batch/(create|update|upsert|archive)/?$", 400.0),
        (frozenset({"POST"}), r"^/crm/v3/objects/[^/]+/batch/read/?$", 200.0),
        (frozenset({"POST"}), r"^/crm/v4/associations/[^/]+/[^/]+/batch/read/?$", 250.0),
        (frozenset({"POST"}), r"^/crm/v4/associations/", 350.0),
        (frozenset({"GET"}), r"^/crm/v3/lists/[^/]+/memberships", 200.0),
        (None, r"", 150.0),
    ],
    "salesforce": [
        (frozenset({"GET"}), r"^/services/data/v[\d.]+/query(All)?/?$", 250.0),
        (frozenset({"GET"}), r"^/services/data/v[\d.]+/query(All)?/", 200.0),
        (frozenset({"POST", "PATCH", "DELETE"}), r"^/services/data/v[\d.]+/composite/sobjects", 400.0),
        (None, r"^/services/data/v[\d.]+/jobs/", 300.0),
        (None, r"", 150.0),
    ],
}


@dataclass(frozen=True)
class Latency:
    """How long calls of one API take: a fixed time, or the realistic per-endpoint profile."""

    spec: str
    fixed_ms: float | None = None
    rules: tuple[tuple[frozenset[str] | None, re.Pattern[str], float], ...] = ()

    def median_ms(self, method: str, path: str) -> float:
        if self.fixed_ms is not None:
            return self.fixed_ms
        for methods, pattern, median in self.rules:
            if (methods is None or method in methods) and pattern.search(path):
                return median
        return 0.0

    def draw_ms(self, method: str, path: str) -> float:
        """This call's latency: the fixed time, or a draw around the endpoint's median."""
        median = self.median_ms(method, path)
        if self.fixed_ms is not None or median <= 0:
            return median
        with _RNG_LOCK:
            factor = math.exp(_RNG.gauss(0.0, SIGMA))
        return median * min(max(factor, CLAMP[0]), CLAMP[1])


_RNG = random.Random(20261201)
_RNG_LOCK = threading.Lock()


def parse(spec: str | None, api: str) -> Latency | None:
    """The latency of API `api` ("hubspot" / "salesforce") under `spec`; None when off. ValueError when
    the spec is not one of the forms above."""
    text = (spec or "").strip().lower()
    if text in ("", "off", "0", "none"):
        return None
    if text == "realistic":
        rules = tuple((m, re.compile(p), ms) for m, p, ms in REALISTIC[api])
        return Latency("realistic", rules=rules)
    parts = [p.strip() for p in text.split(",")]
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise ValueError(f"latency must be off, realistic, or HS[,SF] milliseconds; got {spec!r}") from None
    if len(values) not in (1, 2) or any(v < 0 for v in values):
        raise ValueError(f"latency must be off, realistic, or HS[,SF] milliseconds; got {spec!r}")
    ms = values[0] if api == "hubspot" or len(values) == 1 else values[1]
    return Latency(text, fixed_ms=ms) if ms > 0 else None
