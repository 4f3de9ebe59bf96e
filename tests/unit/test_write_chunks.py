"""Chunks sent in parallel by the load tasks: every landed chunk is ledgered, a failure stops new sends and
leaves exactly the chunks that did not land for the task's retry (the e2e fault tests drive the real thing)."""

from __future__ import annotations

import threading
import time

import pandas as pd
import pytest

from include.company_sync.pipeline import _send_chunks


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

    def on_landed(part, result):
        threads.add(threading.get_ident())
        ledgered.append(part[0]["id"])

    results = _send_chunks(_chunks(9), send, workers, on_landed)

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

    _send_chunks(_chunks(8), send, 4, lambda part, result: None)
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
        _send_chunks(_chunks(40), send, 2, lambda part, result: ledgered.append(part[0]["id"]))

    assert "1-0" not in ledgered
    assert set(ledgered) == set(started) - {"1-0"}  # whatever was in flight landed and is in the ledger
    assert len(started) < 40  # the rest was never sent: the task's retry sends it


def test_no_chunks():
    assert _send_chunks([], lambda part: _result(part), 4, lambda part, result: None) == []
