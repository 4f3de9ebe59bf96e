"""Errors that cannot heal fail the task at once, and a failed extract stops its sibling.

* `fail_fast()` wraps a stage: a connector's `Unrecoverable` (401/403, a missing inclusion list, a mapped
  property or field that does not exist, a setup problem) becomes Airflow's `AirflowFailException`, so the
  task fails without spending its retries (and their waits from `retry_delay`). 429, 5xx and network
  errors are left alone: urllib3 retried them inside the call, and Airflow's task retries come next.
* `SiblingWatch` is how "the run stops before the other side is read further": the two extracts run in
  parallel, and each connector calls its `abort_check` at every HTTP exchange (between pages and batches).
  The watch asks Airflow for the sibling extract's task-instance state (one Task SDK call, through the API
  server, at most every `every` seconds) and raises `RunAborted` once it is `failed`; a sibling that is only
  `up_for_retry` may still heal, so reading goes on. Nothing is written for this: Airflow's own state is
  the run-level abort marker, so no store or file has to be cleaned up afterwards.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from include.company_sync.connectors.http_policy import RunAborted, Unrecoverable

log = logging.getLogger(__name__)

FAILED = "failed"


@contextmanager
def fail_fast() -> Iterator[None]:
    """Turn an `Unrecoverable` raised inside into `AirflowFailException` (no retry), with its message."""
    try:
        yield
    except Unrecoverable as exc:
        from airflow.sdk.exceptions import AirflowFailException

        log.error("%s: %s (not retried: it cannot heal by itself)", type(exc).__name__, exc)
        raise AirflowFailException(f"{type(exc).__name__}: {exc}") from exc


class SiblingWatch:
    """A connector's `abort_check`: raises `RunAborted` when task `sibling` of this run has failed for good."""

    def __init__(self, ti, sibling: str, every: float = 5.0):  # noqa: ANN001 - Airflow's RuntimeTaskInstance
        self.ti = ti
        self.sibling = sibling
        self.every = every
        self._next = 0.0
        self._lock = threading.Lock()  # batch reads call it from several threads; the Task SDK call is one at a time

    @classmethod
    def for_current_task(cls, sibling: str, every: float = 5.0) -> SiblingWatch | None:
        """The watch for the running Airflow task, or None outside a task (a plain function call)."""
        try:
            from airflow.sdk import get_current_context

            ti = get_current_context()["ti"]
        except Exception:  # no Airflow task context: nothing to watch
            return None
        return cls(ti, sibling, every)

    def sibling_state(self) -> str | None:
        states = self.ti.get_task_states(dag_id=self.ti.dag_id, task_ids=[self.sibling], run_ids=[self.ti.run_id])
        state = (states or {}).get(self.ti.run_id, {}).get(self.sibling)
        return None if state is None else str(getattr(state, "value", state))

    def __call__(self) -> None:
        with self._lock:
            now = time.monotonic()
            if now < self._next:
                return
            self._next = now + self.every
            try:
                state = self.sibling_state()
            except Exception as exc:  # the watch must never break the work it watches
                log.debug("could not read the state of %s: %r", self.sibling, exc)
                return
        if state == FAILED:
            raise RunAborted(
                f"{self.sibling} failed without retry in this run, so {self.ti.task_id} stops reading: "
                f"fix what {self.sibling}'s log says, then re-run",
                operation="abort_check",
            )
