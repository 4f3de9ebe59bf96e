"""The chunked, ledgered sender every writing task uses (the loads and link_ids).

`LedgeredWriter.write` sends a run's records to one system in chunks, several in flight at once
(`send_chunks`), and appends each chunk's per-record results to the state store's ledger as it lands, in the
task's own thread. Records an earlier try of the same task already wrote (successes in the ledger) are not
sent again, so a retried or killed task resumes where it stopped and never duplicates a write.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

import pandas as pd

from include.company_sync.progress import Progress
from include.company_sync.state import StateStore

log = logging.getLogger(__name__)

# Records per ledgered chunk: one HubSpot batch call; for Salesforce, large enough for Bulk API jobs.
WRITE_CHUNK = {"hubspot": 100, "salesforce": 10_000}
# Chunks in flight at once. A HubSpot batch call takes hundreds of ms to land: one at a time reaches a fraction
# of the 190 calls / 10 s that the shared limiter allows. Reaching it takes 19 calls/s x the call's round trip
# in flight: 8 at 400 ms (HubSpot's batch writes, docs/benchmarks.md), 10 at 500 ms; 12 leave the limiter, not
# the round trip, as the bound up to ~600 ms (benchmarks/bench_hubspot_load.py). The limiter keeps every
# worker inside the 10-second window, and `hubspot_hook.CONNECTION_POOL_SIZE` keeps a connection for each.
# Salesforce chunks are Bulk jobs, sent one after the other.
WRITE_WORKERS = {"hubspot": 12, "salesforce": 1}

Send = Callable[[list[dict]], pd.DataFrame]

SYSTEM_NAMES = {"hubspot": "HubSpot", "salesforce": "Salesforce"}
PAST_TENSE = {"upsert": "upserted", "update": "updated", "link": "linked", "attach": "attached"}


def send_chunks(
    chunks: list[list[dict]],
    send: Send,
    workers: int,
    on_landed: Callable[[list[tuple[list[dict], pd.DataFrame]]], None],
) -> list[pd.DataFrame]:
    """`send` each chunk, `workers` at a time, calling `on_landed` (the ledger) in this thread with every chunk
    that landed while its previous call ran, as `(chunk, result)` pairs: one ledger write for several chunks, so
    the task's thread keeps up with many workers (a ledger write costs tens of ms of CPU; at 19 calls/s one per
    chunk would be the bound, not the rate limit).

    On a failure nothing new is started; the chunks already in flight finish and are ledgered before the error
    is raised, so a retry of the task resends exactly the chunks that did not land. Results in chunk order."""
    results: list[pd.DataFrame | None] = [None] * len(chunks)
    error: BaseException | None = None
    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="write") as pool:
        futures = {pool.submit(send, part): i for i, part in enumerate(chunks)}
        pending = set(futures)
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            landed: list[tuple[list[dict], pd.DataFrame]] = []
            for future in sorted(done, key=futures.__getitem__):
                if future.cancelled():
                    continue
                i = futures[future]
                try:
                    results[i] = future.result()
                except Exception as exc:  # re-raised once the chunks in flight are ledgered
                    if error is None:
                        error = exc
                        for other in pending:
                            other.cancel()
                    continue
                landed.append((chunks[i], results[i]))
            if landed:
                on_landed(landed)
    if error is not None:
        raise error
    return [r for r in results if r is not None]


def _plain(value):
    """A frame cell as a JSON value: NA -> None, numpy numbers -> int/float, anything else -> str."""
    if value is None or (not isinstance(value, (str, list, dict)) and pd.isna(value)):
        return None
    if isinstance(value, (bool, int, float, str)):
        return value
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    return str(value)


def previous_values(frame: pd.DataFrame, id_column: str, records: list[dict], key: str) -> dict[str, dict]:
    """What each write replaces (the ledger's `old_value`): per record (by its `key` value), the values the
    extracted `frame` (what the plan saw, before writing) held for the fields the record writes. Records not in
    the frame, and fields it does not hold, are left out: their previous value is unknown."""
    if frame.empty or not records or id_column not in frame.columns:
        return {}
    wanted = {str(r[key]) for r in records}
    ids = frame[id_column].astype("string")
    rows = frame[ids.isin(wanted).fillna(False).to_numpy()].drop_duplicates(id_column)
    columns = sorted({f for r in records for f in r if f != key and f in rows.columns})
    held = {
        str(rid): dict(zip(columns, values, strict=True))
        for rid, *values in zip(rows[id_column].astype(str), *(rows[c].astype(object) for c in columns), strict=True)
    }
    return {
        str(r[key]): {f: _plain(held[str(r[key])][f]) for f in r if f in columns}
        for r in records
        if str(r[key]) in held
    }


def ledger_rows(
    run_id: str,
    dag_id: str,
    system: str,
    operation: str,
    results: pd.DataFrame,
    written: dict[str, dict],
    previous: dict[str, dict] | None = None,
) -> pd.DataFrame:
    """One ledger row per attempted record write (new values as JSON; the values they replaced, where known,
    as JSON too: `previous_values`)."""
    before = previous or {}
    return pd.DataFrame(
        {
            "run_id": run_id,
            "dag_id": dag_id,
            "system": system,
            "operation": operation,
            "record_id": results["id"].astype("str"),
            "source_id": results["key"].astype("str"),
            "field": None,
            "old_value": [
                json.dumps(before[k], default=str, sort_keys=True) if k in before else None for k in results["key"]
            ],
            "new_value": [json.dumps(written.get(k, {}), default=str, sort_keys=True) for k in results["key"]],
            "result": results["success"].map({True: "success", False: "failed"}),
            "error_category": results["category"],
            "error_code": results["error_code"],
            "message": results["message"],
            "at": pd.Timestamp.now(tz="UTC"),
        }
    )


class LedgeredWriter:
    """Writes of one run (`run_id` of `dag_id`), each ledgered in `state`."""

    def __init__(self, state: StateStore, run_id: str, dag_id: str):
        self.state, self.run_id, self.dag_id = state, run_id, dag_id

    def _not_yet_written(self, system: str, operation: str, records: list[dict], key: str) -> list[dict]:
        done = self.state.already_applied(self.run_id, system, operation, dag_id=self.dag_id)["source_id"]
        done_keys = {str(v) for v in done.dropna() if str(v).strip()}
        todo = [r for r in records if str(r[key]) not in done_keys]
        if len(todo) < len(records):
            log.info(
                "%s %s: %d record(s) already written by an earlier try of this run, skipped",
                system,
                operation,
                len(records) - len(todo),
            )
        return todo

    def write(
        self,
        system: str,
        operation: str,
        records: list[dict],
        key: str,
        send: Send,
        previous: dict[str, dict] | None = None,
    ) -> pd.DataFrame:
        """Send the records not already written by an earlier try of this task; ledger every result.

        `key` names the field that identifies a record (its source id); `previous` (by key) the values the
        writes replace (`previous_values`). Returns one result row per record sent, with the `operation`."""
        from include.company_sync.connectors.results import results_frame

        todo = self._not_yet_written(system, operation, records, key)
        progress = Progress(
            SYSTEM_NAMES.get(system, system), PAST_TENSE.get(operation, operation), len(todo), failures=True
        )

        def ledger(landed: list[tuple[list[dict], pd.DataFrame]]) -> None:  # as they land: a killed task resumes
            written = {str(r[key]): r for sent, _ in landed for r in sent}
            result = pd.concat([r for _, r in landed], ignore_index=True)
            rows = ledger_rows(self.run_id, self.dag_id, system, operation, result, written, previous)
            self.state.append_ledger(rows)
            progress.add(len(result), int((~result["success"].astype(bool)).sum()))
            self.state.renew_lease(self.dag_id, self.run_id, at_most_every=60)  # the write lease, in long loads

        size = WRITE_CHUNK[system]
        chunks = [todo[start : start + size] for start in range(0, len(todo), size)]
        landed = send_chunks(chunks, send, WRITE_WORKERS[system], ledger)
        results = pd.concat([results_frame([]), *landed], ignore_index=True)
        failed = results[~results["success"]]
        if todo:
            log.info(
                "%s%s",
                progress.line(),
                ""
                if failed.empty
                else " (" + ", ".join(f"{c}: {n}" for c, n in failed["category"].value_counts().items()) + ")",
            )
        return results.assign(operation=operation)
