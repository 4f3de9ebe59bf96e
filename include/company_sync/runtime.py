"""Where a deployment keeps its state, staging and reports, and which connections it uses.

Infrastructure, not integration behaviour (that is `company_sync_settings`): read from the environment so
that the same DAGs run on a laptop (defaults under the project folder) and on Celery/Kubernetes workers
(`COMPANY_SYNC_STATE_URL=postgresql+psycopg2://…`, `COMPANY_SYNC_STAGING_URL=s3://bucket/prefix`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(os.environ.get("COMPANY_SYNC_HOME") or Path(__file__).resolve().parents[2])


@dataclass(frozen=True)
class Runtime:
    state_url: str
    staging_url: str
    reports_dir: Path
    salesforce_conn_id: str
    hubspot_conn_id: str
    # Circuit breaker: a run that would write to more than this share of the records it considered stops
    # before writing (only when it considered at least `breaker_min_records`).
    max_change_ratio: float
    breaker_min_records: int

    @classmethod
    def from_env(cls) -> Runtime:
        env = os.environ.get
        root = PROJECT_ROOT
        try:
            ratio = float(env("COMPANY_SYNC_MAX_CHANGE_RATIO", "0.9"))
            minimum = int(env("COMPANY_SYNC_BREAKER_MIN_RECORDS", "1000"))
        except ValueError as exc:
            raise ValueError(f"COMPANY_SYNC_MAX_CHANGE_RATIO / COMPANY_SYNC_BREAKER_MIN_RECORDS: {exc}") from exc
        if not 0 < ratio <= 1:
            raise ValueError(f"COMPANY_SYNC_MAX_CHANGE_RATIO must be in (0, 1], got {ratio}")
        return cls(
            state_url=env("COMPANY_SYNC_STATE_URL") or f"sqlite:///{root / '.state' / 'company_sync.db'}",
            staging_url=env("COMPANY_SYNC_STAGING_URL") or (root / ".staging").as_uri(),
            reports_dir=Path(env("COMPANY_SYNC_REPORTS_DIR") or root / ".reports"),
            salesforce_conn_id=env("COMPANY_SYNC_SALESFORCE_CONN_ID", "salesforce_default"),
            hubspot_conn_id=env("COMPANY_SYNC_HUBSPOT_CONN_ID", "hubspot_default"),
            max_change_ratio=ratio,
            breaker_min_records=minimum,
        )
