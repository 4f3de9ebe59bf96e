"""Data Docs offline (issue #15 item 4): a site GX builds references no asset on another host, every local asset
it references is in the site, its result pages name their data asset; the vendored files are the ones GX's
templates pin, each package with its licence."""

from __future__ import annotations

import base64
import hashlib
import logging
import re
from pathlib import Path
from urllib.parse import unquote

import pytest

from include.company_sync import validation as v
from include.company_sync import validation_docs as docs
from tests.unit.test_validation import STAGES, clean_inputs

# An asset a page loads: a script, stylesheet, image or frame source, a CSS url() or @import.
ASSET_REF = re.compile(
    r"""<(?:script|img|iframe|source)\b[^>]*?\bsrc=["']([^"']+)["']"""
    r"""|<link\b[^>]*?\bhref=["']([^"']+)["']"""
    r"""|url\(\s*["']?([^"')]+)["']?\s*\)"""
    r"""|@import\s+["']([^"']+)["']""",
    re.IGNORECASE,
)
GX_TEMPLATES = Path(__import__("great_expectations").__file__).parent / "render" / "view" / "templates"


def asset_refs(text: str) -> list[str]:
    return [next(g for g in m.groups() if g) for m in ASSET_REF.finditer(text)]


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The extracts' Data Docs as a run writes them (one warning, so a result page shows a failure)."""
    frames = clean_inputs()
    frames["sf_contacts"].loc[1, "Email"] = "not-an-email"
    folder = tmp_path_factory.mktemp("reports") / "data_docs" / "extracts"
    v.validate_frames(v.input_check_frames(frames), v.input_suites(None, STAGES), docs_dir=folder, run_name="run-1")
    return folder


def pages(site: Path) -> list[Path]:
    return sorted([*site.rglob("*.html"), *site.glob("static/styles/*.css")])


def test_built_pages_reference_no_asset_outside_the_local_host(site):
    assert len(pages(site)) > 10
    off_host = {
        f"{page.relative_to(site)}: {ref}"
        for page in pages(site)
        for ref in asset_refs(page.read_text())
        if re.match(r"(?i)(https?:)?//", ref)
    }
    assert off_host == set()


def test_every_local_asset_of_a_page_is_in_the_site(site):
    missing = set()
    for page in pages(site):
        for ref in asset_refs(page.read_text()):
            if ref.startswith(("data:", "#")):
                continue
            target = (page.parent / unquote(ref.split("?")[0].split("#")[0])).resolve()
            if not target.is_file() or not target.is_relative_to(site.resolve()):
                missing.add(f"{page.relative_to(site)}: {ref}")
    assert missing == set()
    assert (site / docs.SITE_VENDOR / "jquery-3.7.1" / "jquery.min.js").is_file()


def test_result_pages_name_their_data_asset(site):
    results = sorted((site / "validations").rglob("*.html"))
    assert len(results) == len(list((site / "validations").iterdir()))  # one result page per suite
    for page in results:
        suite = page.relative_to(site / "validations").parts[0]
        text = page.read_text()
        assert f"Data asset: {suite}" in text, page.name
        assert "Data asset: None" not in text
    index = (site / "index.html").read_text()
    assert "'asset_name': 'sf_contacts'" in index


def test_pages_keep_no_failing_value_and_no_chart_scripts(site):
    for page in site.rglob("*.html"):
        text = page.read_text()
        assert "not-an-email" not in text
        assert "vega" not in text.lower()  # no chart on these pages, so no Vega scripts


def test_every_cdn_asset_of_gx_templates_is_vendored():
    """GX's templates (the installed version) load only assets this module maps; an upgrade that adds or moves
    one fails here."""
    refs = {
        ref
        for template in GX_TEMPLATES.glob("*.j2")
        for ref in asset_refs(template.read_text())
        if ref.startswith("http")
    }
    assert refs - set(docs.CDN_ASSETS) - set(docs.CHART_SCRIPTS) == set()
    assert set(docs.CDN_ASSETS) <= refs  # no stale mapping either
    for vendored in docs.CDN_ASSETS.values():
        assert (docs.VENDORED / vendored).is_file(), vendored


def test_vendored_files_are_the_ones_gx_pins():
    """Where GX's templates give a subresource-integrity hash, the vendored file has it: the same bytes."""
    imports = (GX_TEMPLATES / "js_script_imports.j2").read_text()
    pinned = re.findall(r'src="([^"]+)" integrity="(sha384-[^"]+)"', imports)
    assert len(pinned) == 2
    for url, integrity in pinned:
        data = (docs.VENDORED / docs.CDN_ASSETS[url]).read_bytes()
        assert "sha384-" + base64.b64encode(hashlib.sha384(data).digest()).decode() == integrity, url


def test_each_vendored_package_has_its_licence():
    packages = sorted(p for p in docs.VENDORED.iterdir() if p.is_dir())
    assert len(packages) == 8
    for package in packages:
        assert list(package.glob("LICENSE*")), f"{package.name} has no licence file"
    size = sum(f.stat().st_size for f in docs.VENDORED.rglob("*") if f.is_file())
    assert size < 1_200_000  # copied into every site: keep it small (docs/data-docs.md)


def test_localise_points_cdn_urls_at_the_site_and_keeps_charts_it_cannot_serve(tmp_path, caplog):
    (tmp_path / "validations" / "s").mkdir(parents=True)
    head = (
        '<script src="https://cdn.jsdelivr.net/npm/vega@5"></script>\n'
        '<script src="https://code.jquery.com/jquery-3.7.1.min.js"></script>\n'
        '<script src="https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js" '
        'integrity="sha384-x" crossorigin="anonymous"></script>\n'
        '<img src="https://great-expectations-web-assets.s3.us-east-2.amazonaws.com/logo-long.png?d=1"/>\n'
        '<link rel="shortcut icon" href="../static/images/favicon.ico"/>\n'
    )
    (tmp_path / "index.html").write_text(head)
    (tmp_path / "validations" / "s" / "r.html").write_text(head + "<script>vegaEmbed('#c', spec)</script>")
    with caplog.at_level(logging.WARNING, logger=docs.__name__):
        assert docs.localise(tmp_path) == 1  # the page with a chart still loads Vega from its CDN
    index = (tmp_path / "index.html").read_text()
    assert index == (
        '<script src="static/vendor/jquery-3.7.1/jquery.min.js"></script>\n'
        '<script src="static/vendor/bootstrap-4.3.1/js/bootstrap.min.js"></script>\n'
        '<img src="static/images/logo-long.png"/>\n'
        '<link rel="shortcut icon" href="static/images/favicon.ico"/>\n'
    )
    result = (tmp_path / "validations" / "s" / "r.html").read_text()
    assert 'src="../../static/vendor/jquery-3.7.1/jquery.min.js"' in result
    assert 'href="../../static/images/favicon.ico"' in result
    assert "https://cdn.jsdelivr.net/npm/vega@5" in result
    assert "validations/s/r.html" in caplog.text
    assert (tmp_path / docs.SITE_VENDOR / "fontawesome-free-6.6.0" / "webfonts" / "fa-solid-900.woff2").is_file()
