"""The Sync reports page's rollback actions (issue #16): which rows offer "Roll back this run…", "Confirm roll
back" and "Release held records", and what the POSTs trigger or release, after asking the auth manager."""

from __future__ import annotations

import asyncio

import pandas as pd
import pytest
from airflow.sdk import ObjectStoragePath
from fastapi import HTTPException

from plugins import sync_reports as plugin


def row(dag_id="company_sync", status="success", dry_run=False, counts=None, run_id="manual__1"):
    return {"dag_id": dag_id, "run_id": run_id, "status": status, "dry_run": dry_run, "counts": counts}


ROLLED_BACK = {"rolled_back": {"dag_id": "company_sync", "run_id": "manual__x"}}
ACTIONS = [
    ("finished sync run", row(), "rollback", "Roll back this run…", {"run_id": "manual__1", "dry_run": "true"}),
    ("failed import", row("salesforce_account_import", "failed"), "rollback", "Roll back this run…", None),
    ("running run", row(status="running"), None, None, None),
    ("dry run", row(dry_run=True), None, None, None),
    ("rollback preview", row(plugin.ROLLBACK_DAG, dry_run=True, counts=ROLLED_BACK), "rollback", "Confirm roll back",
     {"run_id": "manual__x", "dry_run": "false"}),
    ("rollback", row(plugin.ROLLBACK_DAG, counts=ROLLED_BACK), "release", "Release held records",
     {"run_id": "manual__1"}),
    ("failed rollback", row(plugin.ROLLBACK_DAG, "failed", counts=ROLLED_BACK), None, None, None),
]  # fmt: skip


@pytest.mark.parametrize(("name", "r", "path", "label", "fields"), ACTIONS, ids=[a[0] for a in ACTIONS])
def test_which_rows_offer_which_action(name, r, path, label, fields):
    actions = plugin._actions(r)
    if path is None:
        assert actions == []
        return
    [(got_path, got_label, got_fields, question)] = actions
    assert (got_path, got_label) == (path, label)
    assert fields is None or got_fields == fields
    assert (question is not None) == (label != "Roll back this run…")  # the real writes ask first


class Body:
    def __init__(self, text: str):
        self.text = text

    async def body(self) -> bytes:
        return self.text.encode()


def test_rollback_post_asks_for_trigger_permission_and_triggers_the_dag(monkeypatch):
    asked, triggered = [], []

    async def allow(request, method, dag_id=None):
        asked.append((method, dag_id))
        return None

    monkeypatch.setattr(plugin, "_authorize", allow)
    monkeypatch.setattr(plugin, "trigger", lambda dag, conf, user, note: triggered.append(conf) or "manual__rb")
    page = asyncio.run(plugin.rollback(Body("run_id=manual__1&dry_run=true"))).body.decode()
    assert asked == [("POST", "company_sync_rollback")]
    assert triggered == [{"run_id": "manual__1", "dry_run": True}]
    assert "manual__rb" in page and "Rollback preview triggered" in page
    asyncio.run(plugin.rollback(Body("run_id=manual__1&dry_run=false")))
    assert triggered[-1] == {"run_id": "manual__1", "dry_run": False}
    with pytest.raises(HTTPException, match="run_id"):
        asyncio.run(plugin.rollback(Body("dry_run=false")))


def test_refused_permission_triggers_nothing(monkeypatch):
    async def refuse(request, method, dag_id=None):
        raise HTTPException(403, f"Not allowed to trigger runs of {dag_id}")

    monkeypatch.setattr(plugin, "_authorize", refuse)
    monkeypatch.setattr(plugin, "trigger", lambda *a: pytest.fail("triggered"))
    with pytest.raises(HTTPException, match="company_sync_rollback"):
        asyncio.run(plugin.rollback(Body("run_id=manual__1")))


def test_release_post_releases_the_rollbacks_holds(monkeypatch, tmp_path):
    from include.company_sync.state import StateStore

    monkeypatch.setenv("COMPANY_SYNC_STATE_URL", f"sqlite:///{tmp_path / 'state.db'}")
    state = StateStore(f"sqlite:///{tmp_path / 'state.db'}")
    state.hold(pd.DataFrame({"system": ["hubspot"], "record_id": ["1"]}), "manual__rb", "manual__x")

    async def allow(request, method, dag_id=None):
        return None

    monkeypatch.setattr(plugin, "_authorize", allow)
    page = asyncio.run(plugin.release(Body("run_id=manual__rb"))).body.decode()
    assert "1 record held" in page
    assert state.holds().empty
    state.dispose()


def test_runs_page_shows_the_action_buttons(monkeypatch, tmp_path):
    async def allow(request, method, dag_id=None):
        return None

    runs = [
        {**row(), "started_at": "2026-11-28T02:00:01+00:00"},
        {
            **row(plugin.ROLLBACK_DAG, counts=ROLLED_BACK, run_id="manual__rb"),
            "started_at": "2026-11-28T03:00:00+00:00",
        },
    ]
    monkeypatch.setattr(plugin, "_authorize", allow)
    monkeypatch.setattr(plugin, "_recent_runs", lambda query, limit: runs)
    monkeypatch.setattr(plugin, "_reports_root", lambda: ObjectStoragePath(tmp_path.as_uri()))
    page = asyncio.run(plugin.index(None)).body.decode()
    assert "action='/sync-reports/rollback'" in page and "Roll back this run…" in page
    assert "action='/sync-reports/release'" in page and "value='manual__rb'" in page
    assert (
        "<option selected>company_sync_rollback</option>"
        in asyncio.run(plugin.index(None, dag_id=plugin.ROLLBACK_DAG)).body.decode()
    )
