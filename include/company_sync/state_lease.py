"""The write lease of the state store (one writer at a time across the three DAGs; issue #12): the lease row in
`leases`, its holder types and errors, and `LeaseMethods`, the `StateStore` methods that take, wait for, renew
and release it. The task layer's use of it: `tasks/lease.py`.

`acquire_lease` inserts the lease row, or takes it over when it expired (marking the previous holder's run
`abandoned`), in one write transaction (SQLite: BEGIN IMMEDIATE; PostgreSQL: the insert waits on a concurrent
insert of the same key, then `SELECT .. FOR UPDATE`), so two runs can never both hold it. Times are the
workers' clocks (UTC), which the TTL (minutes) leaves ample room for.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import timedelta

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from include.company_sync.state_schema import LEASE_COLUMNS, _now, _utc, insert_ignore_statement, leases_t, runs_t

LEASE_NAME = "company_sync_writer"  # the one lease the three DAGs share

log = logging.getLogger("include.company_sync.state")


@dataclass(frozen=True)
class LeaseHolder:
    """Who holds the lease, since when and until when (ids only: safe to log)."""

    dag_id: str
    run_id: str
    acquired_at: pd.Timestamp
    expires_at: pd.Timestamp

    def __str__(self) -> str:
        return f"{self.dag_id}/{self.run_id}"

    def is_run(self, dag_id: str, run_id: str) -> bool:
        return (self.dag_id, self.run_id) == (dag_id, run_id)


@dataclass(frozen=True)
class LeaseAttempt:
    acquired: bool
    holder: LeaseHolder  # this run when acquired, else the run holding it
    took_over: LeaseHolder | None = None  # the expired holder this run took the lease from


@dataclass(frozen=True)
class LeaseWait:
    """What `wait_for_lease` got: the lease, and whom it waited for and how long (0 when it was free)."""

    holder: LeaseHolder
    waited_seconds: float
    waited_for: str | None  # "<dag_id>/<run_id>" of the run(s) it waited for
    took_over: LeaseHolder | None = None


class LeaseTimeout(RuntimeError):
    """The lease stayed with another run for the whole wait."""

    def __init__(self, holder: LeaseHolder, waited_seconds: float):
        self.holder, self.waited_seconds = holder, waited_seconds
        super().__init__(
            f"another run holds the write lease: {holder} (since {holder.acquired_at:%Y-%m-%d %H:%M:%S} UTC, "
            f"until {holder.expires_at:%Y-%m-%d %H:%M:%S} UTC unless renewed); waited {waited_seconds:.0f} s"
        )


class LeaseLost(RuntimeError):
    """This run's lease expired and another run took it over (this run is marked `abandoned`)."""


class LeaseMethods:
    """The lease methods of `state.StateStore` (which provides `engine`, `_write`, `_renewed`, `run_status`)."""

    def lease(self, name: str = LEASE_NAME) -> LeaseHolder | None:
        """Who holds the lease now (an expired lease not yet taken over still shows its last holder)."""
        with self.engine.connect() as conn:
            return self._lease_row(conn, name)

    @staticmethod
    def _lease_row(conn: Connection, name: str, for_update: bool = False) -> LeaseHolder | None:
        stmt = sa.select(*(leases_t.c[c] for c in LEASE_COLUMNS)).where(leases_t.c.name == name)
        row = conn.execute(stmt.with_for_update() if for_update else stmt).first()
        if row is None:
            return None
        return LeaseHolder(row.dag_id, row.run_id, _utc(row.acquired_at), _utc(row.expires_at))

    def acquire_lease(self, dag_id: str, run_id: str, ttl: timedelta, now=None, name: str = LEASE_NAME) -> LeaseAttempt:
        """One attempt, in one write transaction: take the lease when nobody holds it, renew it when this run
        holds it, take it over when its holder let it expire (that run is marked `abandoned`); else report
        who holds it."""
        now = _utc(now) if now is not None else _now()
        mine = {"dag_id": dag_id, "run_id": run_id, "renewed_at": now, "expires_at": now + ttl}
        insert = insert_ignore_statement(self.engine.dialect.name, leases_t)
        for _ in range(5):  # only repeats when the holder released it between our insert and our read
            with self._write() as conn:
                if insert is not None:
                    # PostgreSQL: a concurrent insert of the same name makes this one wait for its outcome.
                    if conn.execute(insert, [{"name": name, "acquired_at": now, **mine}]).rowcount == 1:
                        return LeaseAttempt(True, LeaseHolder(dag_id, run_id, now, now + ttl))
                holder = self._lease_row(conn, name, for_update=True)
                if holder is None:
                    if insert is None:  # a dialect without ON CONFLICT: the write transaction serialises
                        conn.execute(leases_t.insert(), [{"name": name, "acquired_at": now, **mine}])
                        return LeaseAttempt(True, LeaseHolder(dag_id, run_id, now, now + ttl))
                    continue
                if holder.is_run(dag_id, run_id):
                    conn.execute(leases_t.update().where(leases_t.c.name == name).values(**mine))
                    return LeaseAttempt(True, LeaseHolder(dag_id, run_id, holder.acquired_at, now + ttl))
                if holder.expires_at > now:
                    return LeaseAttempt(False, holder)
                conn.execute(leases_t.update().where(leases_t.c.name == name).values(acquired_at=now, **mine))
                self._close_if_running(conn, holder.dag_id, holder.run_id, "abandoned", now)
                log.warning(
                    "write lease: %s let it expire at %s (killed or stuck); %s takes it over and marks that run "
                    "abandoned",
                    holder,
                    holder.expires_at,
                    f"{dag_id}/{run_id}",
                )
                return LeaseAttempt(True, LeaseHolder(dag_id, run_id, now, now + ttl), took_over=holder)
        raise RuntimeError("write lease: could not settle who holds it after 5 attempts")

    def wait_for_lease(
        self,
        dag_id: str,
        run_id: str,
        ttl: timedelta,
        wait: timedelta,
        poll_seconds: float = 5.0,
        log_every_seconds: float = 30.0,
        name: str = LEASE_NAME,
        sleep=time.sleep,
        clock=time.monotonic,
    ) -> LeaseWait:
        """Acquire the lease, polling every `poll_seconds` while another run holds it, logging every
        `log_every_seconds` who holds it and until when; `LeaseTimeout` after `wait`."""
        start = clock()
        waited_for: list[str] = []
        next_log = start
        while True:
            attempt = self.acquire_lease(dag_id, run_id, ttl, name=name)
            elapsed = clock() - start
            if attempt.acquired:
                if waited_for:
                    log.info("write lease acquired after waiting %.0f s for %s", elapsed, ", ".join(waited_for))
                return LeaseWait(attempt.holder, elapsed if waited_for else 0.0, ", ".join(waited_for) or None,
                                 attempt.took_over)  # fmt: skip
            holder = attempt.holder
            if str(holder) not in waited_for:
                waited_for.append(str(holder))
            if elapsed >= wait.total_seconds():
                raise LeaseTimeout(holder, elapsed)
            if clock() >= next_log:
                log.info(
                    "waiting for the write lease: held by %s until %s (unless renewed); waited %.0f s of %.0f s",
                    holder,
                    f"{holder.expires_at:%Y-%m-%d %H:%M:%S} UTC",
                    elapsed,
                    wait.total_seconds(),
                )
                next_log = clock() + log_every_seconds
            sleep(max(0.0, min(poll_seconds, wait.total_seconds() - elapsed)))

    def renew_lease(
        self, dag_id: str, run_id: str, ttl: timedelta | None = None, at_most_every: float = 0.0, name=LEASE_NAME
    ) -> LeaseHolder | None:
        """Push this run's lease expiry to now + `ttl` (default: `COMPANY_SYNC_LEASE_TTL_MINUTES`), at most
        every `at_most_every` seconds for this store. Returns the holder afterwards (None: nobody).

        Raises `LeaseLost` when another run took the lease over from this one (this run was marked `abandoned`
        then: its view of the state is stale). Held by another run otherwise, or by nobody (a task called
        outside a DAG run, or a run whose lease was released), it logs a warning and goes on."""
        clock = time.monotonic()
        if at_most_every and self._renewed is not None and clock - self._renewed < at_most_every:
            return None
        if ttl is None:
            from include.company_sync.runtime import lease_ttl

            ttl = lease_ttl()
        now = _now()
        with self._write() as conn:
            changed = conn.execute(
                leases_t.update()
                .where(leases_t.c.name == name, leases_t.c.dag_id == dag_id, leases_t.c.run_id == run_id)
                .values(renewed_at=now, expires_at=now + ttl)
            ).rowcount
            holder = self._lease_row(conn, name)
        self._renewed = clock
        if changed:
            return holder
        if self.run_status(run_id, dag_id) == "abandoned":
            raise LeaseLost(
                f"{dag_id}/{run_id}: this run's write lease expired and "
                f"{holder if holder else 'another run'} took it over (this run is marked abandoned); "
                "its work would be planned on stale state: trigger a new run"
            )
        log.warning("write lease: %s does not hold it (held by %s); going on", f"{dag_id}/{run_id}", holder or "nobody")
        return holder

    def release_lease(self, dag_id: str, run_id: str, name: str = LEASE_NAME) -> bool:
        """Give the lease up if this run holds it (idempotent). Returns whether it was held."""
        with self._write() as conn:
            stmt = leases_t.delete().where(
                leases_t.c.name == name, leases_t.c.dag_id == dag_id, leases_t.c.run_id == run_id
            )
            return conn.execute(stmt).rowcount > 0

    @staticmethod
    def _close_if_running(conn: Connection, dag_id: str, run_id: str, status: str, at) -> int:
        stmt = (
            runs_t.update()
            .where(runs_t.c.dag_id == dag_id, runs_t.c.run_id == run_id, runs_t.c.status == "running")
            .values(status=status, finished_at=at)
        )
        return conn.execute(stmt).rowcount
