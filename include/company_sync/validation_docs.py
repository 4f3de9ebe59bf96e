"""The GX Data Docs of a run's validations: one site per stage, without record values, without GX's
megabytes of fonts and GIFs. Used by `validation.validate_frames`: GX builds the site into a local temporary
folder (its site builder writes to a filesystem), `publish` copies it into the run's report folder through
`ObjectStoragePath` (a local folder or object storage), and the temporary folder is removed."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SITE = "run"


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


def drop_values_from_stored_results(context) -> None:
    """The Data Docs render the stored results: keep the failing rows' ids there, not their values."""
    store = context.validation_results_store
    for key in store.list_keys():
        stored = store.get(key)
        for res in stored.results:
            result = res.result or {}
            result.pop("partial_unexpected_list", None)
            result.pop("partial_unexpected_counts", None)
            keep = set(result.get("unexpected_index_column_names") or ())
            rows = result.get("partial_unexpected_index_list") or []
            result["partial_unexpected_index_list"] = [
                {k: v for k, v in row.items() if k in keep} if isinstance(row, dict) else row for row in rows
            ]
        store.set(key, stored)
