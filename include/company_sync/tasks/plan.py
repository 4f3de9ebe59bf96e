"""plan: the engine's plan of the run (`plan_sync`, pure pandas) from the staged inputs and the state store."""

from __future__ import annotations

import json
import logging
from typing import Any

import pandas as pd

from include.company_sync.tasks.resources import RunResources, distinct_ids
from include.company_sync.tasks.spec import WRITE_FRAMES, CompletedInputs, PlanFrames, Planned, RunSpec

log = logging.getLogger(__name__)


def decision_counts(decisions: pd.DataFrame) -> dict[str, dict[str, int]]:
    """{system: {action: n}}."""
    out: dict[str, dict[str, int]] = {}
    for (system, action), n in decisions.groupby(["system", "action"]).size().items():
        out.setdefault(system, {})[action] = int(n)
    return out


def reason_counts(decisions: pd.DataFrame) -> dict[str, int]:
    """{reason: n}, by reason."""
    return {str(k): int(v) for k, v in decisions["reason"].value_counts().sort_index().items()}


def _context(run: RunResources) -> Any:
    from include.company_sync.engine import PlanContext

    spec = run.spec
    return PlanContext(
        settings=run.settings,
        now=pd.Timestamp(spec.window_end),
        sync_enabled_at=pd.Timestamp(spec.enabled_at),
        mode=spec.mode,
        import_account_ids=tuple(spec.account_ids) or None,
        resync_company_ids=tuple(spec.hubspot_company_ids),
        resync_account_ids=tuple(spec.salesforce_account_ids),
    )


def plan(spec: RunSpec, inputs: CompletedInputs) -> Planned:
    from include.company_sync.engine import SyncInputs, plan_sync
    from include.company_sync.runtime import lean_memory_for_planning

    log.info("memory: %s", lean_memory_for_planning())
    run = RunResources(spec)
    run.renew_lease()
    frames = {name: run.read(url) for name, url in inputs.frames.urls().items()}
    stages = tuple(frames.pop("lifecycle_stages")["stage"].astype(str))
    sync_inputs = SyncInputs(
        **frames,
        lifecycle_stages=stages,
        links=run.state.links(),
        synced_values=run.state.synced_values(distinct_ids(frames["sf_accounts"]["Id"])),
    )
    result = plan_sync(sync_inputs, _context(run))
    urls = {name: run.stage(f"plan_{name}", getattr(result, name)) for name in PlanFrames.names()}
    planned = Planned(
        frames=PlanFrames(**urls),
        decisions=decision_counts(result.decisions),
        reasons=reason_counts(result.decisions),
        writes={name: int(getattr(result, name)["record_id"].nunique()) for name in WRITE_FRAMES},
        considered=len(result.decisions),
    )
    log.info(
        "plan: %s", json.dumps({"decisions": planned.decisions, "reasons": planned.reasons, "writes": planned.writes})
    )
    return planned
