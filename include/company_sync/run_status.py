"""A run's status, decided in one place for the report, the state store's runs table and the history chart."""

from __future__ import annotations

from collections.abc import Mapping

# Task states that mean the run could not do its job.
FAILED_TASK_STATES = ("failed", "upstream_failed")
# What the runs table may hold: `running` until `report` closes the run (or the failure callback marks it
# `failed`), `abandoned` when another run took its expired write lease over.
RUN_STATUSES = ("running", "success", "failed", "skipped", "abandoned")
# How the report labels each status (the state store keeps the status itself).
LABELS = {"skipped": "skipped: company sync is off (R1)"}


def failed_tasks(task_states: Mapping[str, str]) -> list[str]:
    """The tasks that failed or could not run because an upstream task failed, sorted."""
    return sorted(t for t, s in task_states.items() if s in FAILED_TASK_STATES)


def run_status(task_states: Mapping[str, str], enabled: bool) -> str:
    """`failed` when a task failed, `skipped` when company sync is off (R1: nothing was synced), else
    `success`. `task_states` are the run's other tasks' states (the report task's own left out)."""
    if failed_tasks(task_states):
        return "failed"
    return "success" if enabled else "skipped"


def status_label(status: str) -> str:
    """The status as the report shows it."""
    return LABELS.get(status, status)
