"""load_hubspot and load_salesforce: the plan's writes, each create an upsert keyed on the other system's id
(so a retried task never duplicates), each chunk ledgered as it lands (`writes.LedgeredWriter`)."""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd

from include.company_sync.connectors.hubspot import ID_PROPERTY
from include.company_sync.connectors.salesforce import EXTERNAL_ID_FIELD
from include.company_sync.tasks.failures import fail_fast
from include.company_sync.tasks.resources import RunResources
from include.company_sync.tasks.spec import Loaded, Planned, RunSpec
from include.company_sync.tasks.writes import previous_values

log = logging.getLogger(__name__)


def dry_run_output(planned: Planned, names: tuple[str, ...]) -> Loaded:
    counts = {n: planned.writes[n] for n in names}
    log.info("dry run: would write %s; nothing sent", counts)
    return Loaded(dry_run=True, would_write=counts)


def summarise(run: RunResources, name: str, frames: list[pd.DataFrame], calls: dict[str, Any]) -> Loaded:
    """Stage the per-record results as `name`, with counts per operation."""
    results = pd.concat(frames, ignore_index=True)
    return Loaded(
        results=run.stage(name, results),
        counts={
            op: {"succeeded": int(g["success"].sum()), "failed": int((~g["success"]).sum())}
            for op, g in results.groupby("operation")
        },
        api_calls=calls,
    )


def extracted(run: RunResources, name: str, columns: list[str]) -> pd.DataFrame:
    """The `columns` (those it has) of the input frame `name` the plan read (staged by complete_inputs): what
    the records held before this run's writes. Empty when it is gone."""
    import pyarrow.parquet as pq
    from airflow.sdk import ObjectStoragePath

    url = run.staging.url(run.spec.dag_id, run.spec.run_id, name)
    if not run.staging.exists(url):
        return pd.DataFrame()
    with ObjectStoragePath(url).open("rb") as f:
        present = set(pq.read_schema(f).names)
    return run.staging.read(url, columns=[c for c in dict.fromkeys(columns) if c in present])


def replaced(run: RunResources, name: str, id_column: str, records: list[dict], key: str) -> dict[str, dict]:
    """The values `records` (keyed by `key`) replace, from the input frame `name`: the ledger's old values."""
    if not records:
        return {}
    fields = sorted({f for r in records for f in r if f != key})
    return previous_values(extracted(run, name, [id_column, *fields]), id_column, records, key)


@fail_fast()
def load_hubspot(spec: RunSpec, planned: Planned) -> Loaded:
    """Creates upsert on `salesforceaccountid` (= the Account Id), so a retried task never duplicates."""
    from include.company_sync.engine import hubspot_inputs

    if spec.dry_run:
        return dry_run_output(planned, ("hubspot_creates", "hubspot_updates"))
    run = RunResources(spec)
    run.renew_lease()
    hs = run.hubspot()
    creates = [
        {**r["properties"], ID_PROPERTY: r["id"]} for r in hubspot_inputs(run.read(planned.frames.hubspot_creates))
    ]
    updates = [{**r["properties"], "id": r["id"]} for r in hubspot_inputs(run.read(planned.frames.hubspot_updates))]
    write = run.writer().write
    frames = [
        write("hubspot", "upsert", creates, ID_PROPERTY, hs.upsert_companies),
        write(
            "hubspot",
            "update",
            updates,
            "id",
            hs.update_companies,
            replaced(run, "hs_companies", "id", updates, "id"),
        ),
    ]
    return summarise(run, "load_hubspot_results", frames, hs.calls.as_dict())


@fail_fast()
def load_salesforce(spec: RunSpec, planned: Planned) -> Loaded:
    """Creates upsert on `HubSpot_Company_ID__c` (= the company id), so a retried task never duplicates."""
    from include.company_sync.engine import salesforce_records

    if spec.dry_run:
        return dry_run_output(planned, ("salesforce_creates", "salesforce_updates"))
    run = RunResources(spec)
    run.renew_lease()
    sf = run.salesforce()
    creates = salesforce_records(run.read(planned.frames.salesforce_creates), run.settings, key_field=EXTERNAL_ID_FIELD)
    updates = salesforce_records(run.read(planned.frames.salesforce_updates), run.settings)
    write = run.writer().write
    frames = [
        write("salesforce", "upsert", creates, EXTERNAL_ID_FIELD, sf.upsert_accounts),
        write(
            "salesforce",
            "update",
            updates,
            "Id",
            sf.update_accounts,
            replaced(run, "sf_accounts", "Id", updates, "Id"),
        ),
    ]
    return summarise(run, "load_salesforce_results", frames, sf.calls.as_dict())
