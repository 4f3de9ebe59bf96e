"""The chunked, ledgered sender of the writing tasks (`tasks/writes.py`): chunks sent in parallel, every landed
chunk ledgered, a failure stops new sends and leaves exactly the chunks that did not land for the task's retry,
which skips what the ledger says landed (the e2e fault tests drive the real thing)."""

from __future__ import annotations

import threading
import time

import pandas as pd
import pytest

from include.company_sync.progress import Progress, counted
from include.company_sync.state import StateStore
from include.company_sync.tasks.writes import LedgeredWriter, send_chunks


def _chunks(n: int, size: int = 2) -> list[list[dict]]:
    return [[{"id": f"{c}-{i}"} for i in range(size)] for c in range(n)]


def _result(part: list[dict]) -> pd.DataFrame:
    return pd.DataFrame({"key": [r["id"] for r in part], "success": True})


@pytest.mark.parametrize("workers", [1, 4])
def test_every_chunk_is_sent_once_and_ledgered_in_this_thread(workers):
    sent, ledgered, threads = [], [], set()
    lock = threading.Lock()

    def send(part):
        with lock:
            sent.append(part[0]["id"])
        time.sleep(0.01)
        return _result(part)

    def on_landed(landed):
        threads.add(threading.get_ident())
        ledgered.extend(part[0]["id"] for part, _ in landed)

    results = send_chunks(_chunks(9), send, workers, on_landed)

    assert sorted(sent) == sorted(ledgered) == [f"{c}-0" for c in range(9)]
    assert threads == {threading.get_ident()}  # the ledger (SQLite) is only touched by the task's thread
    assert [r["key"].iloc[0] for r in results] == [f"{c}-0" for c in range(9)]  # in chunk order


def test_chunks_really_overlap_with_several_workers():
    in_flight, peak = [0], [0]
    lock = threading.Lock()

    def send(part):
        with lock:
            in_flight[0] += 1
            peak[0] = max(peak[0], in_flight[0])
        time.sleep(0.2)  # long enough for the four to overlap even on a busy machine
        with lock:
            in_flight[0] -= 1
        return _result(part)

    send_chunks(_chunks(8), send, 4, lambda landed: None)
    assert peak[0] == 4


def test_a_failed_chunk_stops_new_sends_and_the_landed_ones_are_ledgered():
    started, ledgered = [], []
    lock = threading.Lock()

    def send(part):
        with lock:
            started.append(part[0]["id"])
        if part[0]["id"] == "1-0":
            raise ConnectionError("connection dropped")
        time.sleep(0.02)
        return _result(part)

    with pytest.raises(ConnectionError, match="dropped"):
        send_chunks(_chunks(40), send, 2, lambda landed: ledgered.extend(part[0]["id"] for part, _ in landed))

    assert "1-0" not in ledgered
    assert set(ledgered) == set(started) - {"1-0"}  # whatever was in flight landed and is in the ledger
    assert len(started) < 40  # the rest was never sent: the task's retry sends it


def test_no_chunks():
    assert send_chunks([], lambda part: _result(part), 4, lambda landed: None) == []


def _send_results(records: list[dict]) -> pd.DataFrame:
    """What a connector's write returns: one row per record."""
    ok = [not r["id"].startswith("bad") for r in records]
    return pd.DataFrame(
        {
            "key": [r["id"] for r in records],
            "id": [r["id"] for r in records],
            "success": ok,
            "category": [None if good else "property_values" for good in ok],
            "error_code": [None if good else "INVALID" for good in ok],
            "message": [None if good else "refused" for good in ok],
        }
    )


def test_ledgered_writer_ledgers_every_result_and_a_retry_sends_only_what_did_not_land(tmp_path):
    state = StateStore(f"sqlite:///{tmp_path / 'state.db'}")
    records = [{"id": f"{i:03d}"} for i in range(250)] + [{"id": "bad-1"}]
    calls: list[int] = []

    def flaky(part):
        calls.append(len(part))
        if len(calls) == 2:
            raise ConnectionError("connection dropped")
        return _send_results(part)

    writer = LedgeredWriter(state, "run-1", "company_sync")
    with pytest.raises(ConnectionError):
        writer.write("hubspot", "update", records, "id", flaky)
    first_try = state.ledger("run-1")
    landed = set(first_try.loc[first_try["result"] == "success", "source_id"])
    assert 0 < len(landed) < len(records)

    sent: list[str] = []

    def send(part):
        sent.extend(r["id"] for r in part)
        return _send_results(part)

    results = writer.write("hubspot", "update", records, "id", send)  # the task's retry
    assert set(sent) == {r["id"] for r in records} - landed  # nothing written is sent again; failures are
    assert set(results["operation"]) == {"update"} and not results.loc[results["key"] == "bad-1", "success"].any()
    ledger = state.ledger("run-1")
    assert set(ledger["source_id"]) == {r["id"] for r in records}
    assert set(ledger.loc[ledger["source_id"] == "bad-1", "result"]) == {"failed"}  # once per try that sent it
    assert (ledger["dag_id"] == "company_sync").all() and (ledger["system"] == "hubspot").all()
    state.dispose()


class _Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_progress_logs_running_totals_with_rate_at_most_every_interval(caplog):
    clock = _Clock()
    progress = Progress("HubSpot", "upserted", 12_127, failures=True, every=10.0, clock=clock)
    with caplog.at_level("INFO", logger="include.company_sync.progress"):
        for step in range(43):  # 43 chunks of 100, 1 s apart, one failure in the 5th
            clock.now += 1.0
            progress.add(100, failed=1 if step == 4 else 0)
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 4  # at 10, 20, 30, 40 s: not one line per chunk
    assert lines[0] == "HubSpot: 1,000/12,127 upserted, 1 failed, 100 rec/s"
    assert progress.line() == "HubSpot: 4,300/12,127 upserted, 1 failed, 100 rec/s"


def test_progress_is_silent_once_done_and_names_salesforce_updates(caplog):
    clock = _Clock()
    progress = Progress("Salesforce", "updated", 200, failures=True, every=0.0, clock=clock)
    with caplog.at_level("INFO", logger="include.company_sync.progress"):
        clock.now = 2.0
        progress.add(200)
    assert caplog.records == []  # the writer logs the final line itself
    assert progress.line() == "Salesforce: 200/200 updated, 0 failed, 100 rec/s"


def test_progress_of_a_read_without_a_known_total():
    clock = _Clock()
    progress = Progress("HubSpot", "companies read", clock=clock)
    clock.now = 4.0
    assert list(counted(range(1_000), progress)) == list(range(1_000))
    assert progress.line() == "HubSpot: 1,000 companies read, 250 rec/s"
