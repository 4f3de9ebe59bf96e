"""Moved: the task layer is `include/company_sync/tasks/`, one module per stage (see its `__init__`).

Kept, for now, only for two callers outside that change; remove once they import from `tasks`:
`benchmarks/bench_hubspot_load.py` (the chunk sender: `tasks.writes.send_chunks`, `WRITE_WORKERS`) and
`tests/unit/test_validation.py` (`validate_inputs` with a run descriptor dict: `tasks.validate.validate_inputs`
with a `RunSpec`).
"""

from __future__ import annotations

from typing import Any

from include.company_sync.tasks.writes import WRITE_CHUNK, WRITE_WORKERS
from include.company_sync.tasks.writes import send_chunks as _send_chunks

__all__ = ["WRITE_CHUNK", "WRITE_WORKERS", "_send_chunks", "validate_inputs"]

# What a run descriptor dict may leave out here (the old callers pass only ids, mode and settings).
_DEFAULTS = {
    "dry_run": False,
    "full_scan": False,
    "window_start": None,
    "window_end": None,
    "window": "",
    "enabled": True,
    "enabled_at": None,
}


def validate_inputs(run_data: dict[str, Any], inputs: dict[str, Any]) -> dict[str, Any]:
    from include.company_sync.tasks import validate
    from include.company_sync.tasks.spec import CompletedInputs, InputFrames, RunSpec

    spec = RunSpec.from_xcom({**_DEFAULTS, **run_data})
    completed = CompletedInputs(InputFrames.from_xcom(inputs["frames"]), counts={}, api_calls={}, missing_ids={})
    return validate.validate_inputs(spec, completed).to_xcom()
