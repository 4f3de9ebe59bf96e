"""A real browser (headless Chromium from the distribution) against `airflow standalone`: the "Sync reports"
view lists the run, its report opens, the Data Docs open, and "Resync these" creates a company_resync run with
the failed records' ids. Set UPDATE_SCREENSHOT=1 to refresh docs/report.png (the README's screenshot)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import requests

from tests.unit.test_report import A1, A2, A3

SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "report.png"


def test_navigation_lists_the_sync_reports_view(standalone):
    plugins = requests.get(f"{standalone.url}/api/v2/plugins", timeout=30).json()["plugins"]
    plugin = next(p for p in plugins if p["name"] == "sync_reports")
    assert plugin["external_views"][0]["href"] == "/sync-reports/"
    assert plugin["global_operator_extra_links"]


def test_view_report_data_docs_and_resync(page, standalone, tmp_path):
    # the view lists the run with its counts
    page.goto(f"{standalone.url}/sync-reports/")
    row = page.locator(f"tr.run[data-run='{standalone.run_id}']")
    row.wait_for()
    assert "success" in row.inner_text()
    assert page.locator("tr.run").count() == 2
    # at 1280 px every link of the row is on screen, no horizontal scrolling (issue #15 item 7)
    for link in row.locator("a").all():
        box = link.bounding_box()
        assert box is not None and box["x"] + box["width"] <= 1280, (link.inner_text(), box)
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    # the filters: this run is a success of company_sync
    page.select_option("select[name=status]", "failed")
    page.click("form.filters button")
    page.wait_for_url(re.compile(r".*status=failed.*"))
    assert page.locator(f"tr.run[data-run='{standalone.run_id}']").count() == 0
    page.goto(f"{standalone.url}/sync-reports/")

    # its report
    row.locator("a.report").click()
    page.wait_for_url(re.compile(r".*/report\.html$"))
    page.get_by_role("heading", name="Sync health: errors by category").wait_for()
    assert "Property values" in page.inner_text("body")
    page.screenshot(path=str(tmp_path / "report.png"), full_page=False)
    if os.environ.get("UPDATE_SCREENSHOT"):
        SCREENSHOT.parent.mkdir(exist_ok=True)
        page.screenshot(path=str(SCREENSHOT), full_page=True)
    report_url = page.url

    # the Data Docs, rendered by GX
    page.locator("a.datadocs", has_text="extracts").click()
    page.wait_for_url(re.compile(r".*/data_docs/extracts/index\.html$"))
    # (the page's source names every validation; test_data_docs_offline.py checks the rendered table)
    link = re.search(r"validations/sf_contacts/[^\"']+\.html", page.content())
    assert link, "the Data Docs index lists no sf_contacts validation"
    page.goto(page.url.rsplit("/", 1)[0] + "/" + link.group(0))
    body = page.inner_text("body")
    # the Email check is rendered, the failing value is not (personal data stays out of the Data Docs)
    assert "sf_contacts" in body and "Email" in body
    assert "not-an-email" not in body

    # resync every failed record from the report
    page.goto(report_url)
    page.get_by_role("button", name=re.compile("Resync all failed records")).click()
    page.locator("#resync-run").wait_for()
    run_id = page.locator("#resync-run code").inner_text()

    dag_run = requests.get(f"{standalone.url}/api/v2/dags/company_resync/dagRuns/{run_id}", timeout=30).json()
    assert dag_run["conf"] == {"hubspot_company_ids": ["101"], "salesforce_account_ids": [A1, A2, A3]}
    assert dag_run["run_type"] == "manual"


def test_report_files_stay_inside_the_reports_folder(standalone):
    response = requests.get(f"{standalone.url}/sync-reports/runs/..%2F..%2Fetc/passwd/x", timeout=30)
    assert response.status_code == 404


def test_view_is_reachable_from_the_airflow_navigation(page, standalone):
    page.goto(f"{standalone.url}/")
    page.get_by_role("button", name=re.compile("Browse")).click()
    page.get_by_role("menuitem", name=re.compile("Sync reports")).click()
    page.wait_for_url(re.compile(r".*/plugin/sync-reports$"))
    page.frame_locator("iframe").locator(f"tr.run[data-run='{standalone.run_id}']").wait_for()
