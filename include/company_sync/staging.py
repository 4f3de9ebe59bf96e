"""Parquet staging of a run's frames, through Airflow's `ObjectStoragePath`.

Layout: `<base>/<dag_id>/<run id, made path-safe>/<name>.parquet`. The base is a URL: a local folder
(`file:///abs/path`; by default `runtime.default_staging_url()`, the project's `.staging/`) or object storage
(`s3://bucket/prefix`, `gs://...`) in production; nothing else changes. Tasks hand each other only the URL strings that
`write` returns (and counts) through XCom.

Frames round-trip with their pandas dtypes (`string`/`str`, `Int64`, `boolean`, `bool`,
`datetime64[ns|us, UTC]`, ...) through pyarrow's pandas metadata. A write is atomic where the
filesystem allows: the file is written under a temporary name beside its target and then moved into
place, so a reader never sees half a file (on object stores a single PUT is atomic already, and the
move is a copy + delete).
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from airflow.sdk import ObjectStoragePath

from include.company_sync.identifiers import safe_segment

SUFFIX = ".parquet"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class Staging:
    """Parquet files of one deployment's runs under `base`."""

    def __init__(self, base: str | None = None):
        if base is None:  # `$COMPANY_SYNC_STAGING_URL`, else `.staging/` under `$COMPANY_SYNC_HOME`
            from include.company_sync.runtime import default_staging_url

            base = default_staging_url()
        if "://" not in base:
            base = Path(base).resolve().as_uri()
        self.base = base.rstrip("/")
        self._root = ObjectStoragePath(self.base)

    def __repr__(self) -> str:
        return f"Staging({self.base!r})"

    def run_prefix(self, dag_id: str, run_id: str) -> ObjectStoragePath:
        """The folder holding one run's frames."""
        return self._root / safe_segment(dag_id) / safe_segment(run_id)

    def url(self, dag_id: str, run_id: str, name: str) -> str:
        """The URL `write` uses for a frame called `name` (letters, digits, `.`, `_`, `-`)."""
        if not _NAME.match(name):
            raise ValueError(f"staging name {name!r} must be letters, digits, '.', '_' or '-'")
        return str(self.run_prefix(dag_id, run_id) / f"{name}{SUFFIX}")

    def write(self, dag_id: str, run_id: str, name: str, df: pd.DataFrame) -> str:
        """Write `df` as Parquet and return its URL; writing the same name again replaces it."""
        url = self.url(dag_id, run_id, name)
        target = ObjectStoragePath(url)
        target.parent.mkdir(parents=True, exist_ok=True)
        table = pa.Table.from_pandas(df, preserve_index=None)
        tmp = target.parent / f".{target.name}.{uuid.uuid4().hex}.tmp"
        try:
            with tmp.open("wb") as f:
                pq.write_table(table, f, compression="zstd")
            tmp.rename(target)
        finally:
            if tmp.exists():
                tmp.unlink()
        return url

    def read(self, url: str, columns: list[str] | None = None) -> pd.DataFrame:
        """The frame written at `url` (optionally only some columns), with its dtypes."""
        with ObjectStoragePath(url).open("rb") as f:
            table = pq.read_table(f, columns=columns)
        return table.to_pandas()

    def exists(self, url: str) -> bool:
        return ObjectStoragePath(url).exists()

    def list_run(self, dag_id: str, run_id: str) -> list[str]:
        """URLs of the frames staged for a run, sorted."""
        prefix = self.run_prefix(dag_id, run_id)
        if not prefix.exists():
            return []
        return sorted(str(p) for p in prefix.iterdir() if p.name.endswith(SUFFIX) and not p.name.startswith("."))

    def remove_run(self, dag_id: str, run_id: str) -> bool:
        """Delete one run's folder (its staged frames); False when there was none."""
        prefix = self.run_prefix(dag_id, run_id)
        if not prefix.exists():
            return False
        prefix.fs.rm(prefix.path, recursive=True)
        return True

    def clean(
        self, dag_id: str, older_than: timedelta | datetime | pd.Timestamp, *, keep: tuple[str, ...] = ()
    ) -> list[str]:
        """Delete the run folders of `dag_id` whose newest file is older than the cutoff (run ids in `keep`
        are left alone).

        `older_than` is an age (timedelta, from now) or a moment. Returns the removed folder URLs.
        """
        cutoff = _cutoff(older_than)
        dag_root = self._root / safe_segment(dag_id)
        if not dag_root.exists():
            return []
        kept = {safe_segment(run_id) for run_id in keep}
        removed = []
        for run_dir in sorted(dag_root.iterdir(), key=str):
            if not run_dir.is_dir() or run_dir.name in kept:
                continue
            times = [_modified(p) for p in run_dir.rglob("*") if p.is_file()]
            if not times or max(times) < cutoff:
                run_dir.fs.rm(run_dir.path, recursive=True)
                removed.append(str(run_dir))
        return removed

    def clean_all(
        self, older_than: timedelta | datetime | pd.Timestamp, *, keep: tuple[tuple[str, str], ...] = ()
    ) -> list[str]:
        """`clean` for every DAG's folder under the base; `keep` holds (dag_id, run_id) pairs left alone."""
        if not self._root.exists():
            return []
        cutoff = _cutoff(older_than)
        removed = []
        for dag_root in sorted(self._root.iterdir(), key=str):
            if dag_root.is_dir():
                runs = tuple(run for dag, run in keep if safe_segment(dag) == dag_root.name)
                removed += self.clean(dag_root.name, cutoff, keep=runs)
        return removed


def _cutoff(older_than: timedelta | datetime | pd.Timestamp) -> pd.Timestamp:
    if isinstance(older_than, timedelta):
        return pd.Timestamp.now(tz="UTC") - older_than
    cutoff = pd.Timestamp(older_than)
    return cutoff.tz_localize("UTC") if cutoff.tzinfo is None else cutoff.tz_convert("UTC")


def _modified(path: ObjectStoragePath) -> pd.Timestamp:
    ts = pd.Timestamp(path.fs.modified(path.path))
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
