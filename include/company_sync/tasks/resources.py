"""What a task of one run works with: its settings, the state store, staging and the connectors."""

from __future__ import annotations

from functools import cached_property

import pandas as pd

from include.company_sync.runtime import Runtime
from include.company_sync.settings import Settings, parse_settings
from include.company_sync.staging import Staging
from include.company_sync.state import StateStore
from include.company_sync.tasks.spec import RunSpec


class RunResources:
    """The resources a task of the run `spec` uses, opened on first use (deployment settings from the
    environment, integration settings from the spec: what the run started with). The rollback's tasks use it
    too, with their `RollbackSpec` (every member but `settings` needs only the spec's `dag_id` and `run_id`)."""

    def __init__(self, spec: RunSpec, runtime: Runtime | None = None):
        self.spec = spec
        self.runtime = runtime or Runtime.from_env()

    @cached_property
    def settings(self) -> Settings:
        return parse_settings(self.spec.settings_json)

    @cached_property
    def state(self) -> StateStore:
        return StateStore(self.runtime.state_url)

    def renew_lease(self) -> None:
        """Renew the run's write lease (every task, when it starts: `tasks/lease.py`)."""
        from include.company_sync.tasks import lease

        lease.renew(self.state, self.spec.dag_id, self.spec.run_id)

    @cached_property
    def staging(self) -> Staging:
        return Staging(self.runtime.staging_url)

    def stage(self, name: str, df: pd.DataFrame) -> str:
        """Stage `df` as this run's frame `name`; returns its URL."""
        return self.staging.write(self.spec.dag_id, self.spec.run_id, name, df)

    def read(self, url: str | None) -> pd.DataFrame:
        """The frame staged at `url` (an empty frame for None)."""
        return self.staging.read(url) if url else pd.DataFrame()

    def writer(self):
        """The ledgered writer of this run: a retried task skips what an earlier try wrote (`tasks/writes.py`)."""
        from include.company_sync.tasks.writes import LedgeredWriter

        return LedgeredWriter(self.state, self.spec.run_id, self.spec.dag_id)

    def salesforce(self):
        from include.company_sync.connectors.salesforce import SalesforceConnector

        return SalesforceConnector.from_connection(self.runtime.salesforce_conn_id, policy=self.runtime.retry_policy())

    def hubspot(self):
        from include.company_sync.connectors.hubspot import HubSpotConnector

        return HubSpotConnector.from_connection(self.runtime.hubspot_conn_id, policy=self.runtime.retry_policy())


def distinct_ids(series: pd.Series | None) -> list[str]:
    """The distinct, non-blank values of `series` as strings, in first-seen order."""
    if series is None:
        return []
    return list(dict.fromkeys(str(v) for v in series.dropna() if str(v).strip()))
