"""Start and stop both sandbox APIs (in this process, on background threads)."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from include.sandbox import latency as latency_spec
from include.sandbox.http import SandboxApi, SandboxServer, make_server, serve_in_thread
from include.sandbox.seed import shared_universe
from include.sandbox.tls import server_context

log = logging.getLogger(__name__)

SALESFORCE_TOKEN = "sandbox-salesforce-token"
HUBSPOT_TOKEN = "sandbox-hubspot-token"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_SALESFORCE_PORT = 8701
DEFAULT_HUBSPOT_PORT = 8702
DEFAULT_STATE_DIR = Path(".sandbox")


@dataclass
class Sandbox:
    """Both APIs, serving. `salesforce_url` / `hubspot_url` are what clients point at."""

    state_dir: Path
    salesforce: SandboxApi
    hubspot: SandboxApi
    servers: tuple[SandboxServer, SandboxServer]

    @property
    def salesforce_url(self) -> str:
        host, port = self.servers[0].server_address[:2]
        return f"https://{host}:{port}"

    @property
    def hubspot_url(self) -> str:
        host, port = self.servers[1].server_address[:2]
        return f"http://{host}:{port}"

    @property
    def ca_path(self) -> Path:
        return self.state_dir / "ca.pem"

    def convert_lead(self, lead_id: str, account_id: str | None = None) -> dict:
        """Convert a Salesforce lead as `convertLead()` does (into `account_id`, or a new account named
        after the lead's Company): `{"leadId", "accountId", "contactId", "createdAccount"}`. Raises
        `include.sandbox.salesforce.convert.ConversionError`. Over HTTP: `POST /__sandbox/convert-lead`."""
        return self.salesforce.convert_lead(lead_id, account_id)

    def stop(self) -> None:
        for server in self.servers:
            server.shutdown()
            server.server_close()
        self.salesforce.close()
        self.hubspot.close()


def start_sandbox(
    state_dir: Path = DEFAULT_STATE_DIR,
    *,
    seed: int | None = None,
    host: str = DEFAULT_HOST,
    salesforce_port: int = DEFAULT_SALESFORCE_PORT,
    hubspot_port: int = DEFAULT_HUBSPOT_PORT,
    auto_associate: bool = True,
    latency: str | None = None,
) -> Sandbox:
    """Serve both APIs on background threads. `seed` resets both to that seed first; without it the
    state persisted in `state_dir` is served as it was left. Port 0 picks a free port. `latency` is a
    spec of `include/sandbox/latency.py` ("realistic", "HS[,SF]" ms, "off"); None reads the
    `SANDBOX_LATENCY` environment variable (unset: off)."""
    from include.sandbox.hubspot import HubSpotApi
    from include.sandbox.salesforce import SalesforceApi

    state_dir = Path(state_dir)
    state_dir.mkdir(parents=True, exist_ok=True)
    spec = os.environ.get(latency_spec.ENV) if latency is None else latency
    latencies = {api: latency_spec.parse(spec, api) for api in ("salesforce", "hubspot")}  # ValueError first
    tls = server_context(state_dir)
    salesforce = SalesforceApi(state_dir)
    hubspot = HubSpotApi(state_dir, auto_associate=auto_associate)
    salesforce.latency, hubspot.latency = latencies["salesforce"], latencies["hubspot"]
    if seed is not None:
        universe = shared_universe(seed) if seed else None  # built once for both halves
        salesforce.reset(seed)
        hubspot.reset(seed)
        del universe
    servers = (
        make_server(salesforce, host, salesforce_port, tls=tls),
        make_server(hubspot, host, hubspot_port),
    )
    for server in servers:
        serve_in_thread(server)
    sandbox = Sandbox(state_dir=state_dir, salesforce=salesforce, hubspot=hubspot, servers=servers)
    log.info(
        "Salesforce sandbox at %s (CA %s), HubSpot sandbox at %s, state in %s, latency %s",
        sandbox.salesforce_url,
        sandbox.ca_path,
        sandbox.hubspot_url,
        state_dir,
        spec or "off",
    )
    return sandbox
