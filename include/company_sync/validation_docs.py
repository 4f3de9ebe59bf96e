"""The GX Data Docs of a run's validations: one site per stage, without record values, without GX's
megabytes of fonts and GIFs, and readable offline. Used by `validation.validate_frames`: GX builds the site into a
local temporary folder (its site builder writes to a filesystem), `localise` points its pages at the asset files
vendored in `static/datadocs/` (GX's templates load them from CDNs), `publish` copies the site into the run's
report folder through `ObjectStoragePath` (a local folder or object storage), and the temporary folder is
removed. docs/data-docs.md says where each vendored file comes from, its licence and the sizes."""

from __future__ import annotations

import logging
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

log = logging.getLogger(__name__)

SITE = "run"
VENDORED = Path(__file__).resolve().parent / "static" / "datadocs"  # the files, each package with its licence
SITE_VENDOR = "static/vendor"  # where a site keeps its copy, beside GX's own static/images and static/styles

# Every CDN asset of GX 1.24's page templates (render/view/templates: page.j2, index_page.j2,
# js_script_imports.j2), and the same file vendored (package-version/path; the npm packages of these versions).
CDN_ASSETS: dict[str, str] = {
    "https://code.jquery.com/jquery-3.7.1.min.js": "jquery-3.7.1/jquery.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/popper.js/1.12.9/umd/popper.min.js": "popper.js-1.12.9/popper.min.js",
    "https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css": "bootstrap-4.3.1/css/bootstrap.min.css",
    "https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js": "bootstrap-4.3.1/js/bootstrap.min.js",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.css": (
        "bootstrap-table-1.19.1/bootstrap-table.min.css"
    ),
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.js": (
        "bootstrap-table-1.19.1/bootstrap-table.min.js"
    ),
    "https://unpkg.com/bootstrap-table@1.19.1/dist/extensions/filter-control/bootstrap-table-filter-control.min.js": (
        "bootstrap-table-1.19.1/extensions/filter-control/bootstrap-table-filter-control.min.js"
    ),
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.css": (
        "bootstrap-table-1.19.0/extensions/filter-control/bootstrap-table-filter-control.css"
    ),
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.min.css": (
        "bootstrap-table-1.19.0/extensions/filter-control/bootstrap-table-filter-control.min.css"
    ),
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/css/bootstrap-datepicker.min.css": (
        "bootstrap-datepicker-1.9.0/css/bootstrap-datepicker.min.css"
    ),
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/js/bootstrap-datepicker.min.js": (
        "bootstrap-datepicker-1.9.0/js/bootstrap-datepicker.min.js"
    ),
    # the package's minified build of the same stylesheet (153 kB instead of 883 kB)
    "https://cdn.jsdelivr.net/npm/@forevolve/bootstrap-dark@1.1.0/dist/css/bootstrap-prefers-dark.css": (
        "bootstrap-dark-1.1.0/bootstrap-prefers-dark.min.css"
    ),
    "https://cdnjs.cloudflare.com/ajax/libs/font-awesome/6.6.0/css/all.min.css": (
        "fontawesome-free-6.6.0/css/all.min.css"
    ),
}
# Vega draws the charts of a few expectations (none of this project's suites); a page without a chart gets no
# Vega scripts, a page with one keeps them (its charts need the network: see docs/data-docs.md).
CHART_SCRIPTS = (
    "https://cdn.jsdelivr.net/npm/vega@5",
    "https://cdn.jsdelivr.net/npm/vega-lite@5",
    "https://cdn.jsdelivr.net/npm/vega-embed@6",
)
# GX's logos from its web-assets bucket (the navbar's, with a ?d= cache-buster, and the dark theme's in the
# default styles): the site's own static/images/logo-long.png, which GX copies into every site.
GX_LOGO = re.compile(
    r"https://great-expectations-web-assets\.s3\.us-east-2\.amazonaws\.com/(?:logo-long|full_logo_dark)\.png"
    r"(?:\?[^\"')\s]*)?"
)
SITE_LOGO = "static/images/logo-long.png"
# GX's own relative links to the site's images (the favicon), one level short on result pages: from the root.
SITE_IMAGES = re.compile(r'(?<=href=")(?:\.\./)*static/images/')

_TAG = re.compile(r"<(?:script|link)\b[^>]*>", re.IGNORECASE)
_URL_ATTR = re.compile(r'\b(src|href)="(https?://[^"]+)"')
# A vendored file needs no subresource integrity, and a page opened from disk (file://) cannot load a script
# marked crossorigin.
_SRI = re.compile(r'\s+(?:integrity="[^"]*"|crossorigin="[^"]*")')
_CHART_TAGS = re.compile("|".join(rf'<script src="{re.escape(url)}"></script>[ \t]*\n?' for url in CHART_SCRIPTS))
OFF_HOST_ASSET = re.compile(
    r"""<(?:script|img|iframe|source)\b[^>]*\bsrc=["']?https?://|<link\b[^>]*\bhref=["']?https?://|"""
    r"""url\(\s*["']?https?://|@import\s+["']?https?://""",
    re.IGNORECASE,
)


@contextmanager
def temporary_site() -> Iterator[Path]:
    """A local temporary folder for GX to build a site into, removed afterwards (also on error)."""
    site = Path(tempfile.mkdtemp(prefix="company-sync-data-docs-"))
    try:
        yield site
    finally:
        shutil.rmtree(site, ignore_errors=True)


def add_site(context, docs_dir: Path) -> None:
    """A Data Docs site in `docs_dir` on the (ephemeral) GX context."""
    context.add_data_docs_site(
        site_name=SITE,
        site_config={
            "class_name": "SiteBuilder",
            "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(docs_dir)},
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        },
    )


def prune_static(docs_dir: Path) -> None:
    """GX copies ~4 MB of fonts, logos and tutorial GIFs into every site; the pages read fine without them."""
    shutil.rmtree(docs_dir / "static" / "fonts", ignore_errors=True)
    for image in (docs_dir / "static" / "images").glob("*"):
        if image.suffix in (".gif", ".png") and image.stat().st_size > 50_000:
            image.unlink()


def localise(site: Path) -> int:
    """Make the site built in `site` readable offline: copy the vendored assets into it (`static/vendor`) and
    point its pages' CDN URLs at them by relative URLs, so they resolve wherever the site is read (a local folder,
    the Sync reports plugin, object storage). Returns the number of pages that still load an asset from another
    host (0 unless GX's templates changed, or a page draws a Vega chart); each is logged by its path."""
    shutil.copytree(VENDORED, site / SITE_VENDOR, dirs_exist_ok=True)
    off_host = 0
    for path in sorted([*site.rglob("*.html"), *site.glob("static/styles/*.css")]):
        relative = path.relative_to(site)
        text = _localised(path.read_text(encoding="utf-8"), "../" * (len(relative.parts) - 1))
        path.write_text(text, encoding="utf-8")
        if OFF_HOST_ASSET.search(text):
            off_host += 1
            log.warning("Data Docs page %s still loads an asset from another host", relative.as_posix())
    return off_host


def _localised(text: str, to_root: str) -> str:
    """`text` (a page or stylesheet `to_root` below the site's root) with its CDN assets pointed at the site's."""

    def local_tag(match: re.Match) -> str:
        tag = match.group(0)
        attr = _URL_ATTR.search(tag)
        vendored = CDN_ASSETS.get(attr.group(2)) if attr else None
        if vendored is None:
            return tag
        tag = tag.replace(attr.group(0), f'{attr.group(1)}="{to_root}{SITE_VENDOR}/{vendored}"')
        return _SRI.sub("", tag)

    text = _TAG.sub(local_tag, text)
    text = GX_LOGO.sub(to_root + SITE_LOGO, text)
    text = SITE_IMAGES.sub(to_root + "static/images/", text)
    if "vegaEmbed(" not in text:
        text = _CHART_TAGS.sub("", text)
    return text


def publish(site: Path, target) -> int:
    """Copy the site built in the local folder `site` to `target` (an `ObjectStoragePath`, a URL or a local
    folder), replacing what an earlier try of the task left there; returns the number of files copied."""
    from include.company_sync.report import reports_root

    dest = reports_root(target)
    if dest.exists():
        dest.fs.rm(dest.path, recursive=True)
    files = sorted(p for p in site.rglob("*") if p.is_file())
    for path in files:
        out = dest / path.relative_to(site).as_posix()
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(path.read_bytes())
    return len(files)


def prepare_stored_results(context) -> None:
    """The Data Docs render the stored results: keep the failing rows' ids there, not their values; and name
    each result's data asset (the frame), which GX's result page reads from the batch spec, where a dataframe
    asset's batch leaves none ("Data asset: None")."""
    store = context.validation_results_store
    for key in store.list_keys():
        stored = store.get(key)
        for res in stored.results:
            _drop_values(res.result or {})
        if stored.asset_name:
            stored.meta["batch_spec"] = {**(stored.meta.get("batch_spec") or {}), "data_asset_name": stored.asset_name}
        store.set(key, stored)


def _drop_values(result: dict) -> None:
    result.pop("partial_unexpected_list", None)
    result.pop("partial_unexpected_counts", None)
    keep = set(result.get("unexpected_index_column_names") or ())
    rows = result.get("partial_unexpected_index_list") or []
    result["partial_unexpected_index_list"] = [
        {k: v for k, v in row.items() if k in keep} if isinstance(row, dict) else row for row in rows
    ]
