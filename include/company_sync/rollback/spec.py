"""What the rollback tasks hand each other through XCom (plain, JSON-safe values; frames are staged)."""

from __future__ import annotations

from dataclasses import dataclass, field

from include.company_sync.tasks.spec import PlainXCom

ROLLBACK_DAG_ID = "company_sync_rollback"
ROLLED_BACK_DAGS = ("company_sync", "company_resync", "salesforce_account_import")


@dataclass(frozen=True)
class RollbackSpec(PlainXCom):
    """The rollback run (`dag_id`, `run_id`) and the run it undoes (`target_dag_id`, `target_run_id`)."""

    dag_id: str
    run_id: str
    target_dag_id: str
    target_run_id: str
    target_started_at: str  # ISO moment
    dry_run: bool


@dataclass(frozen=True)
class Extracted(PlainXCom):
    """The ledger rows of the target run and the records they name, as they are now (staged URLs)."""

    ledger: str
    companies: str
    accounts: str
    contacts: str
    counts: dict[str, int]
    api_calls: dict[str, int]


@dataclass(frozen=True)
class RollbackPlanned(PlainXCom):
    """The staged plan: write frames, decisions, holds and the state changes; counts."""

    frames: dict[str, str]
    writes: dict[str, int]
    decisions: dict[str, int]  # reason -> n
    unlink_account_ids: list[str] = field(default_factory=list)
    restore_synced_account_ids: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class RollbackLoaded(PlainXCom):
    dry_run: bool = False
    counts: dict[str, dict[str, int]] = field(default_factory=dict)  # operation -> succeeded/failed
    api_calls: int = 0
