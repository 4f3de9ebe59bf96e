"""The run report: totals, reasons, Sync Health groups with advice and resync ids, validation summary with
Data Docs links, the last runs' chart, and the JSON / CSV / HTML files."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

from include.company_sync import report as reporting
from include.company_sync import report_html
from include.company_sync.identifiers import safe_segment
from include.company_sync.state import StateStore

A1, A2, A3 = "001000000000001AAA", "001000000000002AAA", "001000000000003AAA"
DAG, RUN = "company_sync", "manual__2026-11-29T10:00:00+00:00"


def s(values) -> pd.Series:
    return pd.Series(values, dtype="str")


def result_rows(rows: list[tuple]) -> pd.DataFrame:
    """(operation, key, id, success, category, error_code, message)"""
    frame = pd.DataFrame(rows, columns=["operation", "key", "id", "success", "category", "error_code", "message"])
    return frame.assign(created=False, fields=None)


FRAMES = {
    "decisions": pd.DataFrame(
        {
            "system": s(["salesforce", "salesforce", "salesforce", "hubspot", "hubspot"]),
            "record_id": s([A1, A2, A3, "101", "102"]),
            "action": s(["created", "rejected", "skipped", "updated", "unchanged"]),
            "reason": s(
                ["R2_new_account", "rejected_STRING_TOO_LONG", "R3_existing_not_edited", "updated", "unchanged"]
            ),
            "rule": s(["R2", "field_rules", "R3", "field_rules", "field_rules"]),
            "message": s(["", "Name: 300 characters > 255", "", "", ""]),
        }
    ),
    "conflicts": pd.DataFrame(
        {
            "account_id": s([A1]),
            "company_id": s(["101"]),
            "field": s(["Phone"]),
            "salesforce_value": s(["1"]),
            "hubspot_value": s(["2"]),
            "base_value": s(["0"]),
            "winner": s(["hubspot"]),
            "kind": s(["both_changed"]),
        }
    ),
    "duplicate_candidates": pd.DataFrame(
        {"system": s(["hubspot"]), "record_id": s(["103"]), "matched_id": s([A1]), "candidate_id": s([A2])}
    ),
    "hs_results": result_rows(
        [
            ("create", A1, None, False, "property_values", "INVALID_OPTION", "industry: not an option"),
            ("update", "101", "101", False, "rate_limits", "429", "Too many requests"),
            ("update", "102", "102", True, None, None, None),
        ]
    ),
    "sf_results": result_rows([("update", A3, A3, False, "custom_code", "FIELD_CUSTOM_VALIDATION_EXCEPTION", "rule")]),
    "checks_inputs": pd.DataFrame(
        [
            {
                "frame": "sf_contacts",
                "expectation": "expect_column_values_to_match_regex",
                "column": "Email",
                "blocking": False,
                "success": False,
                "unexpected_count": 2,
                "examples": "nope",
            },
            {
                "frame": "sf_accounts",
                "expectation": "expect_column_values_to_be_unique",
                "column": "Id",
                "blocking": True,
                "success": True,
                "unexpected_count": 0,
                "examples": "",
            },
        ]
    ),
}
# What the tasks of the run returned, as XCom (tasks/spec.py): the plan's frames, loads' results, checks.
OUTPUTS = {
    "plan": {
        "frames": {n: n for n in ("decisions", "conflicts", "duplicate_candidates")},
        "decisions": {},
        "reasons": {"R2_new_account": 1},
        "writes": {"hubspot_creates": 1, "hubspot_updates": 2},
        "considered": 5,
    },
    "load_hubspot": {"results": "hs_results", "counts": {"update": {"succeeded": 1, "failed": 1}}},
    "load_salesforce": {"results": "sf_results", "counts": {"update": {"succeeded": 0, "failed": 1}}},
    "validate_inputs": {"checks": "checks_inputs", "warnings": 1},
}


def report_inputs(
    reports_dir, recent_runs: pd.DataFrame, task_states: dict[str, str], **changes
) -> reporting.ReportInputs:
    """The plain data of the run above (FRAMES and OUTPUTS), as the report task gathers it."""
    plain = {
        "dag_id": DAG,
        "run_id": RUN,
        "mode": "sync",
        "window": "window [a, b)",
        "dry_run": False,
        "enabled": True,
        "reports_dir": reports_dir,
        "task_states": task_states,
        "decisions": FRAMES["decisions"].copy(),
        "conflicts": FRAMES["conflicts"].copy(),
        "duplicate_candidates": FRAMES["duplicate_candidates"].copy(),
        "write_results": {"load_hubspot": FRAMES["hs_results"].copy(), "load_salesforce": FRAMES["sf_results"].copy()},
        "checks": {"validate_inputs": FRAMES["checks_inputs"].copy()},
        "planned_writes": OUTPUTS["plan"]["writes"],
        "reasons": OUTPUTS["plan"]["reasons"],
        "load_counts": {t: OUTPUTS[t]["counts"] for t in ("load_hubspot", "load_salesforce")},
        "recent_runs": recent_runs,
    }
    return reporting.ReportInputs(**{**plain, **changes})


@pytest.fixture
def run(tmp_path):
    """The state store holding this DAG's earlier runs, and where reports go."""
    state = StateStore(f"sqlite:///{tmp_path / 'state.db'}")
    state.create_all()
    for i, (status, written) in enumerate([("success", 5), ("failed", 0), ("success", 12)]):
        run_id = f"scheduled__2026-11-2{i}"
        state.start_run(run_id=run_id, dag_id=DAG, started_at=pd.Timestamp(f"2026-11-2{i}T02:00Z"))
        counts = {"decisions": {"hubspot": {"created": written, "updated": 1}}, "write_errors": i}
        state.finish_run(run_id, status, counts, dag_id=DAG)
    state.start_run(run_id=RUN, dag_id=DAG, started_at=pd.Timestamp("2026-11-29T10:00Z"))
    return SimpleNamespace(
        reports_dir=tmp_path / "reports", state=state, recent_runs=state.recent_runs(DAG, limit=reporting.HISTORY_RUNS)
    )


@pytest.fixture
def document(run):
    docs = reporting.data_docs_dir(run.reports_dir, DAG, RUN, "extracts")
    docs.mkdir(parents=True)
    (docs / "index.html").write_text("<html>gx</html>")
    return reporting.build(
        report_inputs(run.reports_dir, run.recent_runs, {"load_hubspot": "success", "report": "running"})
    )


def test_totals_per_side_and_action_and_reasons_with_rule_numbers(document):
    assert document["summary"]["decisions"]["salesforce"] == {
        "created": 1,
        "updated": 0,
        "linked": 0,
        "unchanged": 0,
        "skipped": 1,
        "rejected": 1,
    }
    assert document["summary"]["write_errors"] == 3
    rows = {r["reason"]: r for r in document["reasons_table"]}
    assert rows["R2_new_account"] == {
        "reason": "R2_new_account",
        "rule": "R2",
        "salesforce": 1,
        "hubspot": 0,
        "records": 1,
    }
    assert rows["R3_existing_not_edited"]["rule"] == "R3"


def test_what_happened_per_direction_each_record_once_and_skipped_by_reason(document):
    summary = document["summary"]
    assert summary["directions"] == {
        "salesforce_to_hubspot": {"created": 0, "updated": 1, "failed": 2},  # one update landed, two refused
        "hubspot_to_salesforce": {"created": 0, "updated": 0, "failed": 1},
    }
    assert summary["skipped"] == {"salesforce": {"R3_existing_not_edited": 1}}
    text = reporting.text_summary(document)
    assert text.splitlines()[:4] == [
        "Salesforce → HubSpot: 0 companies created, 1 updated, 2 failed",
        "HubSpot → Salesforce: 0 accounts created, 0 updated, 1 failed",
        "Linked (existing records matched, R9): 0 pairs",
        "Skipped 1 Salesforce accounts: 1 R3_existing_not_edited",
    ]


def test_R7_roll_ups_are_their_own_direction_not_salesforce_to_hubspot(run):
    """A HubSpot update carrying only R7's lifecycle stage comes from HubSpot's contacts (the demo's sync had
    printed 305 such updates as "Salesforce → HubSpot")."""
    updates = pd.DataFrame(
        {
            "record_id": s(["101", "102", "102"]),
            "field": s(["lifecyclestage", "lifecyclestage", "phone"]),
            "value": s(["customer", "lead", "1"]),
        }
    )
    assert reporting.rollup_only(updates) == frozenset({"101"})  # 102 also carries a Salesforce value
    assert reporting.rollup_only(pd.DataFrame()) == frozenset()
    rolled = reporting.build(
        report_inputs(run.reports_dir, run.recent_runs, {"report": "running"}, rollup_ids=frozenset({"101", "102"}))
    )
    assert rolled["summary"]["directions"] == {
        "salesforce_to_hubspot": {"created": 0, "updated": 0, "failed": 1},
        "hubspot_to_salesforce": {"created": 0, "updated": 0, "failed": 1},
        "contacts_to_companies": {"created": 0, "updated": 1, "failed": 1},
    }
    assert "HubSpot contacts → companies (R7 lifecycle roll-up): 0 companies created, 1 updated, 1 failed" in (
        reporting.text_summary(rolled)
    )
    dry = reporting.build(
        report_inputs(
            run.reports_dir, run.recent_runs, {"report": "running"}, dry_run=True, rollup_ids=frozenset({"101"})
        )
    )
    assert dry["summary"]["directions"]["salesforce_to_hubspot"] == {"created": 1, "updated": 1, "failed": 0}
    assert dry["summary"]["directions"]["contacts_to_companies"] == {"created": 0, "updated": 1, "failed": 0}


@pytest.mark.parametrize(
    ("summary", "totals"),
    [
        # a pair is decided on both sides: linked once per pair, updates from the writes
        (
            {
                "decisions": {"salesforce": {"linked": 789, "updated": 4}, "hubspot": {"linked": 789, "updated": 4}},
                "directions": {"salesforce_to_hubspot": {"created": 632, "updated": 3}, "hubspot_to_salesforce": {}},
            },
            {"created": 632, "updated": 3, "linked": 789},
        ),
        # a report written before `directions`: its decisions
        (
            {"decisions": {"salesforce": {"created": 2, "linked": 5}, "hubspot": {"linked": 5}}},
            {"created": 2, "updated": 0, "linked": 5},
        ),
        ({}, {"created": 0, "updated": 0, "linked": 0}),
    ],
)  # fmt: skip
def test_run_totals_are_the_same_figures_everywhere(summary, totals):
    assert reporting.run_totals(summary) == totals


def test_a_dry_run_reports_what_it_would_write(run):
    dry = reporting.build(report_inputs(run.reports_dir, run.recent_runs, {"report": "running"}, dry_run=True))
    assert dry["summary"]["directions"]["salesforce_to_hubspot"] == {"created": 1, "updated": 2, "failed": 0}
    assert "1 companies would be created, 2 would be updated" in reporting.text_summary(dry)


def test_errors_are_grouped_like_sync_health_with_records_message_advice_and_resync_ids(document):
    health = {g["category"]: g for g in document["sync_health"]}
    assert list(health)[:7] == list(reporting.HEALTH_CATEGORIES)  # every group shown, empty ones too
    assert health["property_values"]["errors"] == 2  # a refused write and a value the plan rejected
    assert health["property_values"]["resync"] == {"hubspot_company_ids": [], "salesforce_account_ids": [A1, A2]}
    assert health["rate_limits"]["resync"] == {"hubspot_company_ids": ["101"], "salesforce_account_ids": []}
    assert health["custom_code"]["records"] == 1 and "validation rule" in health["custom_code"]["advice"]
    assert health["duplicates"]["errors"] == 0
    assert document["resync"] == {"hubspot_company_ids": ["101"], "salesforce_account_ids": [A1, A2, A3]}
    messages = {e["message"] for e in document["errors"]}
    assert {"industry: not an option", "Name: 300 characters > 255", "Too many requests"} <= messages


def test_validation_summary_links_the_data_docs(document):
    checks = document["checks"]
    assert (checks["total"], checks["warnings"], checks["blocking_failed"]) == (2, 1, 0)
    assert checks["data_docs"] == {"extracts": "data_docs/extracts/index.html"}


def test_history_holds_the_last_runs_oldest_first_with_this_run(document):
    history = document["history"]
    assert [h["status"] for h in history] == ["success", "failed", "success", "success"]
    assert history[0]["created"] == 5 and history[-1]["run_id"] == RUN
    assert history[-1]["write errors"] == 3


def _csv(path) -> pd.DataFrame:
    """A CSV the report wrote (an `ObjectStoragePath`: opened through it, pandas does not take it as a path)."""
    with path.open("r") as f:
        return pd.read_csv(f)


def test_files_json_csv_and_html(document, run):
    path = reporting.write(document, run.reports_dir)
    folder = path.parent
    assert folder == reporting.report_folder(run.reports_dir, DAG, RUN)
    assert json.loads((folder / "report.json").read_text())["run_id"] == RUN
    errors = _csv(folder / "errors.csv")
    assert list(errors.columns) == reporting.ERROR_COLUMNS and len(errors) == 4
    page = path.read_text()
    for text in (
        "What happened",
        "Salesforce → HubSpot",
        "Decisions per record considered",
        "Decisions by reason",
        "Sync health: errors by category",
        "Two-way conflicts",
        "Duplicate candidates",
        "data_docs/extracts/index.html",
        "<svg class='chart'",
        "action='../../../resync'",
        f"value='{A1},{A2},{A3}'",
        "Resync these",
        "Fix the value in the source record",
    ):
        assert text in page, text
    assert page.count("<g><title>") == 4  # one bar per run


def test_empty_run_still_writes_a_readable_report(run):
    empty = reporting.ReportInputs(DAG, RUN, "sync", "window [a, b)", False, True, run.reports_dir)
    document = reporting.build(empty)
    assert document["errors"] == [] and document["resync"] == {"hubspot_company_ids": [], "salesforce_account_ids": []}
    page = reporting.render_html(document)
    assert "Resync all failed records" not in page
    path = reporting.write(document, run.reports_dir)
    assert list(_csv(path.parent / "errors.csv").columns) == reporting.ERROR_COLUMNS


@pytest.mark.parametrize(
    "errors, expected",
    [
        ([{"key": A1, "id": None}], ([], [A1])),
        ([{"key": "101", "id": "101"}], (["101"], [])),
        ([{"key": A1, "id": "205"}, {"key": A1, "id": "205"}], (["205"], [A1])),  # created company, deduplicated
        ([{"key": "x", "id": ""}], ([], [])),
    ],
)
def test_resync_ids_by_id_format(errors, expected):
    ids = reporting.resync_ids(errors)
    assert (ids["hubspot_company_ids"], ids["salesforce_account_ids"]) == expected


def test_chart_handles_no_history_and_marks_failed_runs():
    assert "No earlier runs" in report_html.chart_svg([])
    rows = [
        reporting.history_row(f"r{i}", f"2026-11-{i + 10}T02:00", "failed" if i == 3 else "success", {})
        for i in range(40)
    ]
    svg = report_html.chart_svg(rows)
    assert svg.count("<circle") == 2  # the failed run and the legend


def test_a_run_stopped_by_a_blocking_check_still_reports_the_failed_checks(run, tmp_path, monkeypatch):
    """validate_inputs raised (no XCom): the report task reads the checks it staged before raising."""
    from include.company_sync.staging import Staging
    from include.company_sync.tasks.report import report_inputs as gather
    from include.company_sync.tasks.resources import RunResources
    from include.company_sync.tasks.spec import RunSpec, TaskOutputs

    monkeypatch.setenv("COMPANY_SYNC_STAGING_URL", (tmp_path / "staging").as_uri())
    monkeypatch.setenv("COMPANY_SYNC_STATE_URL", run.state.url)
    monkeypatch.setenv("COMPANY_SYNC_REPORTS_DIR", str(run.reports_dir))
    Staging().write(DAG, RUN, "checks_inputs", FRAMES["checks_inputs"])
    spec = RunSpec(DAG, RUN, "sync", False, False, None, pd.Timestamp("2026-11-29T10:00Z"), "w", True, None, "{}")
    states = {"validate_inputs": "failed", "plan": "upstream_failed"}
    document = reporting.build(gather(RunResources(spec), TaskOutputs.from_xcom({}), states))
    assert document["status"] == "failed" and document["failed_tasks"] == ["plan", "validate_inputs"]
    assert document["checks"]["total"] == 2 and document["checks"]["failed"][0]["column"] == "Email"
    assert [h["run_id"] for h in document["history"]][-1] == RUN  # the state store's runs, this one last


def test_the_report_task_reads_the_staged_frames_its_upstream_tasks_named(run, tmp_path, monkeypatch):
    """From XCom (typed outputs) and staging to the same document as from the plain data."""
    from include.company_sync.staging import Staging
    from include.company_sync.tasks.report import report_inputs as gather
    from include.company_sync.tasks.resources import RunResources
    from include.company_sync.tasks.spec import RunSpec, TaskOutputs

    monkeypatch.setenv("COMPANY_SYNC_STAGING_URL", (tmp_path / "staging").as_uri())
    monkeypatch.setenv("COMPANY_SYNC_STATE_URL", run.state.url)
    monkeypatch.setenv("COMPANY_SYNC_REPORTS_DIR", str(run.reports_dir))
    staging = Staging()
    urls = {name: staging.write(DAG, RUN, name, frame) for name, frame in FRAMES.items()}
    staged = {
        "plan": {**OUTPUTS["plan"], "frames": {n: urls.get(n, urls["decisions"]) for n in PLAN_FRAME_NAMES}},
        "load_hubspot": {**OUTPUTS["load_hubspot"], "results": urls["hs_results"]},
        "load_salesforce": {**OUTPUTS["load_salesforce"], "results": urls["sf_results"]},
        "validate_inputs": {**OUTPUTS["validate_inputs"], "checks": urls["checks_inputs"]},
    }
    spec = RunSpec(DAG, RUN, "sync", False, False, None, pd.Timestamp("2026-11-29T10:00Z"), "window [a, b)", True,
                   None, "{}")  # fmt: skip
    states = {"load_hubspot": "success"}
    gathered = reporting.build(gather(RunResources(spec), TaskOutputs.from_xcom(staged), states))
    plain = reporting.build(report_inputs(run.reports_dir, run.recent_runs, states))
    for key in ("status", "summary", "reasons", "reasons_table", "sync_health", "errors", "conflicts", "checks"):
        assert gathered[key] == plain[key], key


PLAN_FRAME_NAMES = (
    "hubspot_creates",
    "hubspot_updates",
    "salesforce_creates",
    "salesforce_updates",
    "contact_attachments",
    "new_links",
    "removed_links",
    "decisions",
    "conflicts",
    "duplicate_candidates",
    "synced_values",
)


@pytest.mark.parametrize(
    "states, enabled, status, label",
    [
        ({"load_hubspot": "success", "link_ids": "success"}, True, "success", "success"),
        ({"validate_plan": "failed", "load_hubspot": "upstream_failed"}, True, "failed", "failed"),
        ({"load_hubspot": "upstream_failed"}, True, "failed", "failed"),
        ({"extract_salesforce": "skipped"}, False, "skipped", "skipped: company sync is off (R1)"),
        ({"extract_salesforce": "failed"}, False, "failed", "failed"),
    ],
)
def test_one_function_decides_a_run_status_for_the_report_the_runs_table_and_the_chart(
    run, states, enabled, status, label
):
    from include.company_sync.run_status import run_status

    assert run_status(states, enabled) == status
    document = reporting.build(report_inputs(run.reports_dir, run.recent_runs, states, enabled=enabled))
    assert document["status"] == label
    assert document["history"][-1]["status"] == status  # this run's bar, as the runs table will hold it


def test_page_escapes_record_values_and_inlines_the_shared_stylesheet(document):
    document["conflicts"][0]["hubspot_value"] = "<script>alert('x')</script>"
    page = reporting.render_html(document)
    assert "<script>" not in page and "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in page
    assert report_html.STYLESHEET.read_text() in page


# --- where reports go: a configured URL, through ObjectStoragePath ---------------------------------------
@pytest.fixture
def memory_store(tmp_path):
    """An in-memory object store (fsspec's `memory://`, attached to Airflow's ObjectStoragePath) and a bucket
    URL of this test's own: the same code path as `s3://conn@bucket/prefix` on workers sharing no disk."""
    from airflow.sdk.io import attach
    from fsspec.implementations.memory import MemoryFileSystem

    fs = MemoryFileSystem()
    attach("memory", fs=fs)
    bucket = f"reports-{tmp_path.name}".replace("_", "-")
    yield f"memory://{bucket}/prefix"
    if fs.exists(f"/{bucket}"):
        fs.rm(f"/{bucket}", recursive=True)


def test_the_reports_url_defaults_to_the_local_folder_and_follows_the_environment(monkeypatch, tmp_path):
    from include.company_sync import runtime

    for key in ("COMPANY_SYNC_REPORTS_URL", "COMPANY_SYNC_REPORTS_DIR"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("COMPANY_SYNC_HOME", str(tmp_path))
    assert runtime.default_reports_url() == (tmp_path / ".reports").as_uri()
    monkeypatch.setenv("COMPANY_SYNC_REPORTS_DIR", str(tmp_path / "reports"))  # the local form still works
    assert runtime.default_reports_url() == (tmp_path / "reports").as_uri()
    assert runtime.Runtime.from_env().reports_url == (tmp_path / "reports").as_uri()
    monkeypatch.setenv("COMPANY_SYNC_REPORTS_URL", "s3://aws_default@bucket/reports")  # the URL wins
    assert runtime.Runtime.from_env().reports_url == "s3://aws_default@bucket/reports"
    assert runtime.Runtime.from_env().reports_dir == tmp_path / "reports"
    monkeypatch.setenv("COMPANY_SYNC_REPORTS_URL", str(tmp_path / "plain"))  # a plain path: a local folder
    assert runtime.default_reports_url() == (tmp_path / "plain").as_uri()


def test_a_local_folder_and_its_file_url_are_one_place(tmp_path):
    by_path = reporting.report_folder(tmp_path / "reports", DAG, RUN)
    by_url = reporting.report_folder((tmp_path / "reports").as_uri(), DAG, RUN)
    assert by_path == by_url and str(by_url).startswith("file://")


def test_report_and_data_docs_go_to_object_storage_with_no_local_leftovers(memory_store, run, monkeypatch, tmp_path):
    from include.company_sync import validation
    from include.company_sync.runtime import Runtime
    from tests.unit.test_validation import STAGES, clean_inputs

    monkeypatch.setenv("COMPANY_SYNC_REPORTS_URL", memory_store)
    url = Runtime.from_env().reports_url
    assert url == memory_store

    private_tmp = tmp_path / "tmp"  # not the shared /tmp: other processes' Data Docs builds come and go there
    private_tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(private_tmp))

    def temp_sites() -> set[Path]:
        return set(private_tmp.glob("company-sync-data-docs-*"))

    before = temp_sites()
    frames = clean_inputs()
    validation.validate_frames(
        validation.input_check_frames(frames),
        validation.input_suites(None, STAGES),
        docs_dir=reporting.data_docs_dir(url, DAG, RUN, "extracts"),
        run_name=RUN,
    )
    assert temp_sites() == before  # GX's local build folder is gone
    folder = reporting.report_folder(url, DAG, RUN)
    index = folder / "data_docs" / "extracts" / "index.html"
    assert index.is_file() and "<html" in index.read_text().lower()
    assert not (folder / "data_docs" / "extracts" / "static" / "fonts").exists()  # pruned before the copy

    document = reporting.build(report_inputs(url, run.recent_runs, {"load_hubspot": "success"}))
    assert document["checks"]["data_docs"] == {"extracts": "data_docs/extracts/index.html"}
    path = reporting.write(document, url)
    assert str(path) == f"{memory_store}/{DAG}/{safe_segment(RUN)}/report.html"
    assert json.loads((path.parent / "report.json").read_text())["run_id"] == RUN
    assert len(_csv(path.parent / "errors.csv")) == 4 and "Resync these" in path.read_text()
    assert not (tmp_path / "reports").exists()  # nothing on the local disk


def test_a_retried_validation_replaces_the_data_docs_of_the_earlier_try(memory_store):
    from include.company_sync import validation_docs

    target = reporting.data_docs_dir(memory_store, DAG, RUN, "plan")
    (target / "validations").mkdir(parents=True, exist_ok=True)
    (target / "validations" / "stale.html").write_text("earlier try")
    site = Path(tempfile.mkdtemp())
    try:
        (site / "index.html").write_text("<html>new</html>")
        (site / "static").mkdir()
        (site / "static" / "style.css").write_text("body{}")
        assert validation_docs.publish(site, target) == 2
    finally:
        shutil.rmtree(site)
    assert (target / "index.html").read_text() == "<html>new</html>"
    assert (target / "static" / "style.css").is_file() and not (target / "validations" / "stale.html").exists()
