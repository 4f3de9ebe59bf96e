"""The Data Docs of a real run, opened from the Sync reports page with the network cut (issue #15 item 4): every
request that leaves the local host is blocked and recorded, and none may be attempted. The index's tables are
filled by GX's scripts (jQuery, bootstrap-table: `$ is not defined` when they come from a CDN that cannot be
reached), styled by Bootstrap, with Font Awesome's icons; the result pages name their data asset."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest

LOCAL_HOSTS = {"127.0.0.1", "localhost", "[::1]", "::1"}
INDEX_TABLE = "table.ge-index-page-validation-results-table"
# GX's index (`bootstrap_table.j2`) binds `click-row.bs.table` on the table in `$(document).ready(...)`
CLICK_ROW_BOUND = """selector => {
    const table = document.querySelector(selector);
    const events = table && window.jQuery && window.jQuery._data(table, 'events');
    return !!(events && events['click-row']);
}"""


@pytest.fixture
def offline(page):
    """`page` with every request off the local host blocked and recorded, and its errors recorded."""
    seen = {"off_host": [], "errors": [], "failed": []}

    def local_only(route):
        url = route.request.url
        if url.startswith("data:") or urlsplit(url).hostname in LOCAL_HOSTS:
            route.continue_()
        else:
            seen["off_host"].append(url)
            route.abort()

    page.route("**/*", local_only)  # registered last, so it sees every request before the fixture's own
    page.on("pageerror", lambda error: seen["errors"].append(f"uncaught: {error}"))
    page.on("console", lambda msg: seen["errors"].append(msg.text) if msg.type == "error" else None)
    page.on("requestfailed", lambda request: seen["failed"].append(request.url))
    return page, seen


def _suites(standalone, stage: str) -> list[str]:
    """The suites validated at `stage`, from the site the run wrote (validations/<suite>/...)."""
    site = next((standalone.reports_dir / "company_sync").glob(f"*/data_docs/{stage}"))
    return sorted(p.name for p in (site / "validations").iterdir())


def _assets_loaded(page) -> dict:
    """What the vendored assets give a page: GX's scripts, Bootstrap's layout, Font Awesome's icons."""
    return page.evaluate(
        """async () => (await document.fonts.ready, {
            jquery: typeof window.jQuery === 'function',
            bootstrapTable: !!(window.jQuery && window.jQuery.fn.bootstrapTable),
            navbar: getComputedStyle(document.querySelector('nav.navbar')).display,
            icons: [...document.fonts].some(f => f.family.includes('Font Awesome') && f.status === 'loaded'),
        })"""
    )


@pytest.mark.parametrize("stage", ["extracts", "plan"])
def test_data_docs_work_with_the_network_cut(offline, standalone, stage):
    page, seen = offline
    suites = _suites(standalone, stage)
    assert suites

    # from the Sync reports page to the stage's Data Docs index
    page.goto(f"{standalone.url}/sync-reports/")
    page.locator(f"tr.run[data-run='{standalone.run_id}'] a.datadocs", has_text=stage).click()
    page.wait_for_url(re.compile(rf".*/data_docs/{stage}/index\.html$"))

    # a row per suite, filled in by GX's scripts, each naming its data asset
    rows = page.locator(f"{INDEX_TABLE} tbody tr")
    rows.first.wait_for()
    assert rows.count() == len(suites)
    texts = rows.all_inner_texts()
    for suite in suites:
        assert any(suite in text for text in texts), f"no row for {suite}"
    assert _assets_loaded(page) == {"jquery": True, "bootstrapTable": True, "navbar": "flex", "icons": True}

    # a result page, from the index's link: the data asset is the frame's name. GX draws the rows at once but
    # binds their click handler on document ready, so a click in between goes nowhere (a loaded machine does it)
    page.wait_for_function(CLICK_ROW_BOUND, arg=INDEX_TABLE)
    suite = "sf_contacts" if "sf_contacts" in suites else suites[0]
    page.locator(f"{INDEX_TABLE} tr[data-href*='validations/{suite}/'] td").first.click()  # GX's row link
    page.wait_for_url(re.compile(rf".*/validations/{suite}/.*\.html$"))
    body = page.inner_text("body")
    assert f"Data asset: {suite}" in body
    assert "Data asset: None" not in body
    assert _assets_loaded(page) == {"jquery": True, "bootstrapTable": True, "navbar": "flex", "icons": True}
    if suite == "sf_contacts":  # the Email warning the run recorded, without the failing value
        assert "Email" in body and "not-an-email" not in body

    assert seen["off_host"] == []
    assert seen["errors"] == []
    assert seen["failed"] == []
