"""The Sync reports plugin's pure parts: the extra link, URL segments, id parsing, its pages (the report's templates
and stylesheet); and its import stays light."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from airflow.sdk import ObjectStoragePath
from fastapi import HTTPException

from include.company_sync import identifiers, report_html
from include.company_sync.identifiers import safe_segment
from plugins import sync_reports as plugin


@pytest.mark.parametrize("run_id", ["scheduled__2026-11-28T02:00:00+00:00", "manual__x y/z", "backfill__a.b-c_d"])
def test_report_urls_use_the_report_folder_names(run_id):
    assert plugin.safe_segment is safe_segment  # the shared one, as the report folders are named
    assert (
        plugin.report_url("company_sync", run_id)
        == f"/sync-reports/runs/company_sync/{safe_segment(run_id)}/report.html"
    )


@pytest.mark.parametrize(
    "dag_id, task_id, expected",
    [
        ("company_sync", "report", "/sync-reports/runs/company_sync/manual__1/report.html"),
        ("company_resync", "report", "/sync-reports/runs/company_resync/manual__1/report.html"),
        ("company_sync", "plan", ""),
        ("other_dag", "report", ""),
    ],
)
def test_extra_link_only_on_the_report_task_of_sync_dags(dag_id, task_id, expected):
    ti_key = SimpleNamespace(dag_id=dag_id, task_id=task_id, run_id="manual__1")
    assert plugin.SyncReportLink().get_link(None, ti_key=ti_key) == expected


def test_resync_ids_use_the_shared_id_patterns():
    assert (plugin.ACCOUNT_ID, plugin.HUBSPOT_ID) == (identifiers.ACCOUNT_ID, identifiers.HUBSPOT_ID)


def test_resync_ids_are_split_checked_and_deduplicated():
    form = {"hubspot_company_ids": ["101, 102", "101"], "salesforce_account_ids": [""]}
    assert plugin._ids(form, "hubspot_company_ids", plugin.HUBSPOT_ID) == ["101", "102"]
    assert plugin._ids(form, "salesforce_account_ids", plugin.ACCOUNT_ID) == []
    with pytest.raises(HTTPException, match="not ids: 001x"):
        plugin._ids({"salesforce_account_ids": ["001x"]}, "salesforce_account_ids", plugin.ACCOUNT_ID)


def test_plugin_registers_app_view_and_link():
    p = plugin.SyncReportsPlugin
    assert p.fastapi_apps[0]["url_prefix"] == "/sync-reports"
    assert p.external_views[0]["href"] == "/sync-reports/" and p.external_views[0]["destination"] == "nav"
    assert isinstance(p.global_operator_extra_links[0], plugin.SyncReportLink)


def test_plugin_import_is_light():
    code = "import sys, plugins.sync_reports; print(any(m in sys.modules for m in ('pandas', 'great_expectations')))"
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root)
    assert out.stdout.strip() == "False"


def test_runs_page_uses_the_report_stylesheet_and_escapes_ids(monkeypatch, tmp_path):
    run_id = "manual__<b>x</b>"
    folder = tmp_path / "company_sync" / safe_segment(run_id)
    (folder / "data_docs" / "plan").mkdir(parents=True)
    (folder / "report.html").write_text("report")
    (folder / "data_docs" / "plan" / "index.html").write_text("docs")
    runs = [
        {
            "dag_id": "company_sync",
            "run_id": run_id,
            "started_at": "2026-11-28T02:00:01+00:00",
            "status": "success",
            "dry_run": True,
            "counts": {"decisions": {"hubspot": {"created": 1200}}, "write_errors": 0},
        }
    ]

    async def allow(request, method, dag_id=None):
        return None

    monkeypatch.setattr(plugin, "_authorize", allow)
    monkeypatch.setattr(plugin, "_recent_runs", lambda query, limit: runs)
    monkeypatch.setattr(plugin, "_reports_root", lambda: ObjectStoragePath(tmp_path.as_uri()))
    page = asyncio.run(plugin.index(None)).body.decode()
    assert report_html.STYLESHEET.read_text() in page
    assert "<b>x</b>" not in page and "manual__&lt;b&gt;x&lt;/b&gt;" in page
    assert "<td class='num'>1,200</td>" in page and "(dry run)" in page
    assert f"href='{plugin.report_url('company_sync', run_id)}'" in page
    assert "Data Docs: plan" in page and "Data Docs: extracts" not in page
    monkeypatch.setattr(plugin, "_recent_runs", lambda query, limit: [])
    assert "No sync runs recorded yet" in asyncio.run(plugin.index(None)).body.decode()
    assert "No runs match these filters" in asyncio.run(plugin.index(None, dag_id="company_resync")).body.decode()


def test_runs_page_filters_by_dag_status_and_days_and_pages(monkeypatch, tmp_path):
    """The filters reach the state store's query (both days included), 50 runs a page, links keep the filters."""
    from include.company_sync.state import StateStore

    monkeypatch.setenv("COMPANY_SYNC_STATE_URL", f"sqlite:///{tmp_path / 'state.db'}")
    monkeypatch.setenv("COMPANY_SYNC_REPORTS_DIR", str(tmp_path / "reports"))
    state = StateStore(f"sqlite:///{tmp_path / 'state.db'}")
    state.create_all()
    for i in range(60):  # 60 failed company_sync runs on Nov 1, 2 and 3; one success; one resync
        run_id = f"scheduled__{i:02d}"
        state.start_run(run_id=run_id, dag_id="company_sync", started_at=f"2026-11-0{1 + i // 20}T02:{i:02d}Z")
        state.finish_run(run_id, "failed", {"write_errors": i}, dag_id="company_sync")
    state.start_run(run_id="ok", dag_id="company_sync", started_at="2026-11-02T05:00Z")
    state.finish_run("ok", "success", {}, dag_id="company_sync")
    state.start_run(run_id="resync", dag_id="company_resync", started_at="2026-11-02T06:00Z")
    state.dispose()

    async def allow(request, method, dag_id=None):
        return None

    monkeypatch.setattr(plugin, "_authorize", allow)

    def runs(**query) -> tuple[list[str], str]:
        page = asyncio.run(plugin.index(None, **query)).body.decode()
        return [line.split("data-run='")[1].split("'")[0] for line in page.splitlines() if "data-run='" in line], page

    ids, page = runs(dag_id="company_sync", status="failed")
    assert len(ids) == 50 and ids[0] == "scheduled__59"  # newest first, one page
    assert "href='/sync-reports/?dag_id=company_sync&amp;status=failed&amp;page=2'" in page and "rel='prev'" not in page
    ids, page = runs(dag_id="company_sync", status="failed", page=2)
    assert ids == [f"scheduled__{i:02d}" for i in range(9, -1, -1)] and "rel='next'" not in page
    ids, _ = runs(since="2026-11-02", until="2026-11-02")  # one day, both ends included
    assert len(ids) == 22 and {"ok", "resync"} <= set(ids)
    ids, _ = runs(status="success")
    assert ids == ["ok"]
    for bad in ({"status": "done"}, {"since": "02/11/2026"}):
        with pytest.raises(HTTPException) as refused:
            asyncio.run(plugin.index(None, **bad))
        assert refused.value.status_code == 400


def test_include_never_imports_plugins():
    """`plugins/` registers what `include/` defines (the HubSpot hook, the report pages), never the reverse."""
    root = Path(__file__).resolve().parents[2]
    offenders = [
        str(path.relative_to(root))
        for path in (root / "include").rglob("*.py")
        if any(
            line.strip().startswith(("from plugins", "import plugins", "from hubspot_hook", "import hubspot_hook"))
            for line in path.read_text().splitlines()
        )
    ]
    assert offenders == []


@pytest.fixture
def served(monkeypatch, tmp_path):
    """The plugin reading a memory:// object store (as `s3://` on a cluster): one run's report and Data Docs."""
    from airflow.sdk.io import attach
    from fsspec.implementations.memory import MemoryFileSystem

    fs = MemoryFileSystem()
    attach("memory", fs=fs)
    bucket = f"plugin-{tmp_path.name}".replace("_", "-")
    root = ObjectStoragePath(f"memory://{bucket}/reports")
    folder = root / "company_sync" / "manual__1"
    (folder / "data_docs" / "extracts").mkdir(parents=True, exist_ok=True)
    (folder / "report.html").write_text("<html>report</html>")
    (folder / "errors.csv").write_text("source,target\n")
    (folder / "data_docs" / "extracts" / "index.html").write_text("<html>docs</html>")
    (root / "secret.txt").write_text("not a report file")

    async def allow(request, method, dag_id=None):
        return None

    monkeypatch.setattr(plugin, "_authorize", allow)
    monkeypatch.setenv("COMPANY_SYNC_REPORTS_URL", str(root))
    yield root
    fs.rm(f"/{bucket}", recursive=True)


def test_report_files_are_read_from_the_object_store(served, monkeypatch):
    assert str(plugin._reports_root()) == str(served)  # from COMPANY_SYNC_REPORTS_URL
    page = asyncio.run(plugin.report_file(None, "company_sync", "manual__1", "report.html"))
    assert page.body == b"<html>report</html>" and page.media_type == "text/html"
    docs = asyncio.run(plugin.report_file(None, "company_sync", "manual__1", "data_docs/extracts/index.html"))
    assert docs.body == b"<html>docs</html>"
    assert asyncio.run(plugin.report_file(None, "company_sync", "manual__1", "errors.csv")).media_type == "text/csv"
    runs = [{"dag_id": "company_sync", "run_id": "manual__1", "started_at": "2026-11-28T02:00:01+00:00",
             "status": "success", "counts": {}}]  # fmt: skip
    monkeypatch.setattr(plugin, "_recent_runs", lambda query, limit: runs)
    listing = asyncio.run(plugin.index(None)).body.decode()
    assert f"href='{plugin.report_url('company_sync', 'manual__1')}'" in listing
    assert "Data Docs: extracts" in listing and "Data Docs: plan" not in listing


@pytest.mark.parametrize(
    "dag, run, path",
    [
        ("company_sync", "manual__1", "../../secret.txt"),
        ("company_sync", "..", "secret.txt"),
        ("..", "company_sync", "manual__1/report.html"),
        ("company_sync", "manual__1", "data_docs/../../../secret.txt"),
        ("company_sync", "manual__1", "data_docs/extracts/"),  # a folder, not a file
        ("company_sync", "manual__1", "missing.html"),
        ("company_sync", "manual__1", "data_docs\\..\\..\\..\\secret.txt"),
    ],
)
def test_no_file_outside_the_run_folders_is_served(served, dag, run, path):
    with pytest.raises(HTTPException) as excinfo:
        asyncio.run(plugin.report_file(None, dag, run, path))
    assert excinfo.value.status_code == 404


def test_a_symlink_out_of_a_local_reports_folder_is_not_followed(monkeypatch, tmp_path):
    reports, outside = tmp_path / "reports", tmp_path / "outside.txt"
    folder = reports / "company_sync" / "manual__1"
    folder.mkdir(parents=True)
    outside.write_text("not a report file")
    (folder / "report.html").symlink_to(outside)
    (folder / "errors.csv").write_text("source\n")

    async def allow(request, method, dag_id=None):
        return None

    monkeypatch.setattr(plugin, "_authorize", allow)
    monkeypatch.delenv("COMPANY_SYNC_REPORTS_URL", raising=False)
    monkeypatch.setenv("COMPANY_SYNC_REPORTS_DIR", str(reports))  # the local form
    assert asyncio.run(plugin.report_file(None, "company_sync", "manual__1", "errors.csv")).body == b"source\n"
    with pytest.raises(HTTPException):
        asyncio.run(plugin.report_file(None, "company_sync", "manual__1", "report.html"))
