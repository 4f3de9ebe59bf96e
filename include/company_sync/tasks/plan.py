"""plan: the engine's plan of the run (`plan_sync`, pure pandas) from the staged inputs and the state store."""

from __future__ import annotations

import json
import logging
from dataclasses import replace
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


def hold_filter(run: RunResources, frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Issue #16: drop the accounts and companies a rollback put on hold from the inputs, and return their
    decisions (skipped, `held_by_rollback`). `company_resync` plans the records it is asked for whatever their
    hold, and releases them (not in a dry run)."""
    from include.company_sync.rollback.planning import HELD_BY_ROLLBACK

    spec, out = run.spec, []
    if spec.mode == "resync":  # asked for by id: planned whatever their hold, released by a real resync
        for system, chosen in (("salesforce", spec.salesforce_account_ids), ("hubspot", spec.hubspot_company_ids)):
            released = run.state.release_holds(system, chosen) if chosen and not spec.dry_run else 0
            if released:
                log.info("%s: %d record(s) held after a rollback released by this resync", system, released)
        return pd.DataFrame()
    for system, name, key in (("salesforce", "sf_accounts", "Id"), ("hubspot", "hs_companies", "id")):
        frame = frames[name]
        held = run.state.held_ids(system, distinct_ids(frame[key])) if not frame.empty else set()
        if held:
            frames[name] = frame[~frame[key].astype(str).isin(held)].reset_index(drop=True)
            out.append(pd.DataFrame({"system": system, "record_id": sorted(held)}))
    if not out:
        return pd.DataFrame()
    skipped = pd.concat(out, ignore_index=True)
    log.info("%d record(s) on hold after a rollback skipped (%s)", len(skipped), HELD_BY_ROLLBACK)
    return skipped.assign(
        action="skipped", reason=HELD_BY_ROLLBACK, rule="rollback", message="on hold after a rollback", warning=None
    )


def plan(spec: RunSpec, inputs: CompletedInputs) -> Planned:
    from include.company_sync.engine import SyncInputs, plan_sync
    from include.company_sync.runtime import lean_memory_for_planning

    log.info("memory: %s", lean_memory_for_planning())
    run = RunResources(spec)
    run.renew_lease()
    frames = {name: run.read(url) for name, url in inputs.frames.urls().items()}
    held = hold_filter(run, frames)  # records a rollback put on hold (issue #16) are not planned
    stages = tuple(frames.pop("lifecycle_stages")["stage"].astype(str))
    sync_inputs = SyncInputs(
        **frames,
        lifecycle_stages=stages,
        links=run.state.links(),
        synced_values=run.state.synced_values(distinct_ids(frames["sf_accounts"]["Id"])),
    )
    result = plan_sync(sync_inputs, _context(run))
    if not held.empty:
        result = replace(result, decisions=pd.concat([result.decisions.astype(object), held], ignore_index=True))
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
