"""What the sync tasks hand each other through XCom: the run descriptor and each task's output, typed.

Every class here is a frozen dataclass of plain values (ids, URLs of staged frames, counts), serialised to
XCom by `to_xcom()` as JSON-safe data and read back by `from_xcom()`. Frames never travel through XCom; they
are staged as Parquet (`staging.py`) and named here by URL. Standard library only: `dag_wiring` imports
nothing heavy at parse time, and these are cheap to build anywhere (tests, the report).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from typing import Any, Literal

Mode = Literal["sync", "resync", "import"]
MODES: tuple[Mode, ...] = ("sync", "resync", "import")
Counts = dict[str, int]


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _moment(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def _ids(values: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in values or ())


@dataclass(frozen=True)
class RunSpec:
    """The run descriptor `prepare` fixes when a run starts, so a retried task does the same work as its
    first try: the window, the settings and the mode."""

    dag_id: str
    run_id: str
    mode: Mode
    dry_run: bool
    full_scan: bool
    window_start: datetime | None  # None: unbounded (a full scan)
    window_end: datetime
    window: str  # the window described for people (logs, the report)
    enabled: bool  # company sync on (R1)
    enabled_at: datetime | None  # when company sync was first seen on (R2/R3)
    settings_json: str  # the company_sync_settings Variable as read when the run started, its mappings checked
    account_ids: tuple[str, ...] = ()  # salesforce_account_import: the accounts chosen (empty = all)
    hubspot_company_ids: tuple[str, ...] = ()  # company_resync
    salesforce_account_ids: tuple[str, ...] = ()  # company_resync
    api_calls: dict[str, dict[str, int]] = field(default_factory=dict)  # prepare's schema reads, per system

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"unknown mode {self.mode!r}")

    @property
    def incremental_sync(self) -> bool:
        """A company_sync run over a window (not a full scan, not an import or a resync)."""
        return self.mode == "sync" and not self.full_scan

    @property
    def reads_every_account(self) -> bool:
        """The run's accounts are every account of the org: an import of all accounts, a full sync scan."""
        return (self.mode == "import" and not self.account_ids) or (self.mode == "sync" and self.full_scan)

    @property
    def chosen_account_ids(self) -> tuple[str, ...]:
        """The Salesforce accounts a run was asked for by id (import or resync)."""
        return self.account_ids or self.salesforce_account_ids

    def to_xcom(self) -> dict[str, Any]:
        data = asdict(self)
        for name in ("window_start", "window_end", "enabled_at"):
            data[name] = _iso(data[name])
        for name in ("account_ids", "hubspot_company_ids", "salesforce_account_ids"):
            data[name] = list(data[name])
        return data

    @classmethod
    def from_xcom(cls, data: dict[str, Any]) -> RunSpec:
        return cls(
            dag_id=str(data["dag_id"]),
            run_id=str(data["run_id"]),
            mode=data["mode"],
            dry_run=bool(data["dry_run"]),
            full_scan=bool(data["full_scan"]),
            window_start=_moment(data["window_start"]),
            window_end=_moment(data["window_end"]),
            window=str(data["window"]),
            enabled=bool(data["enabled"]),
            enabled_at=_moment(data["enabled_at"]),
            settings_json=str(data["settings_json"]),
            account_ids=_ids(data.get("account_ids")),
            hubspot_company_ids=_ids(data.get("hubspot_company_ids")),
            salesforce_account_ids=_ids(data.get("salesforce_account_ids")),
            api_calls=data.get("api_calls") or {},
        )


class PlainXCom:
    """to/from XCom for dataclasses of JSON-safe values (tuples travel as lists)."""

    def to_xcom(self) -> dict[str, Any]:
        return asdict(self)  # type: ignore[call-overload]

    @classmethod
    def from_xcom(cls, data: dict[str, Any]):
        return cls(**{f.name: data[f.name] for f in fields(cls) if f.name in data})  # type: ignore[arg-type]


@dataclass(frozen=True)
class SalesforceExtract(PlainXCom):
    """extract_salesforce: the accounts to consider and the org's users, staged; ids asked for but absent."""

    accounts: str
    users: str
    missing_ids: list[str]
    counts: Counts
    api_calls: Counts
    people: str | None = None  # private contacts and leads that changed (`changes.salesforce_drivers`)
    change_sources: Counts = field(default_factory=dict)
    warnings: dict[str, list[str]] = field(default_factory=dict)  # code -> record ids


@dataclass(frozen=True)
class HubSpotExtract(PlainXCom):
    """extract_hubspot: the companies to consider, owners, lifecycle stages and inclusion list members."""

    companies: str
    owners: str
    lifecycle_stages: str
    list_members: str
    missing_ids: list[str]
    counts: Counts
    api_calls: Counts
    change_sources: Counts = field(default_factory=dict)
    warnings: dict[str, list[str]] = field(default_factory=dict)  # code -> record ids


@dataclass(frozen=True)
class InputFrames(PlainXCom):
    """URLs of the staged frames planning reads, by the name `SyncInputs` and the validation suites use."""

    sf_accounts: str
    hs_companies: str
    sf_contacts: str
    sf_leads: str
    hs_contacts: str
    hs_associations: str
    sf_users: str
    hs_owners: str
    lifecycle_stages: str
    hs_list_members: str

    def urls(self) -> dict[str, str]:
        return asdict(self)


@dataclass(frozen=True)
class CompletedInputs:
    """complete_inputs: every frame planning needs, with counts, API calls and the chosen ids not found."""

    frames: InputFrames
    counts: Counts
    api_calls: dict[str, Counts]
    missing_ids: dict[str, list[str]]
    # what drove records into the run besides their own changes, and what was left out (echoes), per side
    change_sources: dict[str, Counts] = field(default_factory=dict)
    warnings: dict[str, list[str]] = field(default_factory=dict)  # code -> record ids

    def to_xcom(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_xcom(cls, data: dict[str, Any]) -> CompletedInputs:
        return cls(
            frames=InputFrames.from_xcom(data["frames"]),
            counts=data["counts"],
            api_calls=data["api_calls"],
            missing_ids=data["missing_ids"],
            change_sources=data.get("change_sources", {}),
            warnings=data.get("warnings", {}),
        )


@dataclass(frozen=True)
class Checked(PlainXCom):
    """validate_inputs / validate_plan: the staged check results and how many checks warned."""

    checks: str
    warnings: int


@dataclass(frozen=True)
class PlanFrames(PlainXCom):
    """URLs of the staged frames of a plan, one per `SyncPlan` frame."""

    hubspot_creates: str
    hubspot_updates: str
    salesforce_creates: str
    salesforce_updates: str
    contact_attachments: str
    new_links: str
    removed_links: str
    decisions: str
    conflicts: str
    duplicate_candidates: str
    synced_values: str

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))


# The plan frames that are writes to a target system (their distinct `record_id`s are the planned writes).
WRITE_FRAMES = ("hubspot_creates", "hubspot_updates", "salesforce_creates", "salesforce_updates")


@dataclass(frozen=True)
class Planned:
    """plan: the staged plan, its decisions per side and action, reasons, planned writes per frame."""

    frames: PlanFrames
    decisions: dict[str, Counts]  # {system: {action: n}}
    reasons: Counts  # {reason: n}
    writes: Counts  # {write frame: distinct records}
    considered: int  # decisions made: one per record considered

    def to_xcom(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_xcom(cls, data: dict[str, Any]) -> Planned:
        return cls(
            frames=PlanFrames.from_xcom(data["frames"]),
            decisions=data["decisions"],
            reasons=data["reasons"],
            writes=data["writes"],
            considered=int(data["considered"]),
        )


@dataclass(frozen=True)
class Loaded(PlainXCom):
    """load_hubspot / load_salesforce / link_ids: the staged per-record results and their counts.

    A dry run sends nothing: `dry_run` is set, `would_write` holds the planned writes, and there are no
    results. `links` (link_ids only) counts the links recorded in the state store."""

    dry_run: bool = False
    results: str | None = None
    counts: dict[str, Counts] | None = None  # {operation: {"succeeded": n, "failed": n}}
    api_calls: dict[str, Any] | None = None
    would_write: Counts | None = None
    links: int | None = None


@dataclass(frozen=True)
class TaskOutputs:
    """What the report reads from the tasks that returned something (None: the task did not finish)."""

    salesforce: SalesforceExtract | None = None
    hubspot: HubSpotExtract | None = None
    inputs: CompletedInputs | None = None
    input_checks: Checked | None = None
    planned: Planned | None = None
    plan_checks: Checked | None = None
    loads: dict[str, Loaded] = field(default_factory=dict)  # by task id: load_hubspot, load_salesforce, link_ids

    @classmethod
    def from_xcom(cls, pulled: dict[str, Any]) -> TaskOutputs:
        """From `{task_id: XCom value}` of one run."""

        def typed(task_id: str, kind):
            value = pulled.get(task_id)
            return kind.from_xcom(value) if isinstance(value, dict) else None

        return cls(
            salesforce=typed("extract_salesforce", SalesforceExtract),
            hubspot=typed("extract_hubspot", HubSpotExtract),
            inputs=typed("complete_inputs", CompletedInputs),
            input_checks=typed("validate_inputs", Checked),
            planned=typed("plan", Planned),
            plan_checks=typed("validate_plan", Checked),
            loads={task_id: loaded for task_id in LOAD_TASKS if (loaded := typed(task_id, Loaded)) is not None},
        )


LOAD_TASKS = ("load_hubspot", "load_salesforce", "link_ids")
