"""link_ids: each system's id written onto the records just created in the other, private contacts attached to
their new accounts (the adopted R5b rule), and the links and last-synced values recorded in the state store."""

from __future__ import annotations

import logging

import pandas as pd

from include.company_sync.connectors.hubspot import ID_PROPERTY
from include.company_sync.connectors.salesforce import EXTERNAL_ID_FIELD
from include.company_sync.tasks.failures import fail_fast
from include.company_sync.tasks.load import replaced, summarise
from include.company_sync.tasks.resources import RunResources, distinct_ids
from include.company_sync.tasks.spec import Loaded, Planned, RunSpec

log = logging.getLogger(__name__)


def created_pairs(results: pd.DataFrame, key_is: str) -> pd.DataFrame:
    """(account_id, company_id) of the records a load upserted successfully."""
    if results.empty:
        return pd.DataFrame({"account_id": pd.Series(dtype="str"), "company_id": pd.Series(dtype="str")})
    ok = results[(results["operation"] == "upsert") & results["success"]]
    key, new_id = ok["key"].astype("str"), ok["id"].astype("str")
    pairs = (
        {"account_id": key, "company_id": new_id} if key_is == "account" else {"account_id": new_id, "company_id": key}
    )
    return pd.DataFrame(pairs).reset_index(drop=True)


def failed_keys(results: pd.DataFrame) -> set[str]:
    return set() if results.empty else set(distinct_ids(results.loc[~results["success"], "key"]))


def _write_back(
    run: RunResources, planned: Planned, new_companies: pd.DataFrame, new_accounts: pd.DataFrame
) -> tuple[list[pd.DataFrame], dict[str, int]]:
    """The created records' counterpart ids, and private contacts attached to the accounts just created."""
    sf, hs = run.salesforce(), run.hubspot()
    attachments = run.read(planned.frames.contact_attachments).merge(new_accounts, on="company_id")
    write = run.writer().write
    sf_links = [{"Id": a, EXTERNAL_ID_FIELD: c} for a, c in new_companies.itertuples(index=False)]
    hs_links = [{"id": c, ID_PROPERTY: a} for a, c in new_accounts.itertuples(index=False)]
    attached = [{"Id": r.contact_id, "AccountId": r.account_id} for r in attachments.itertuples(index=False)]
    # the ledger keeps the id fields these writes replace (what the plan's inputs held), for a rollback
    frames = [
        write(
            "salesforce",
            "link",
            sf_links,
            "Id",
            sf.update_accounts,
            replaced(run, "sf_accounts", "Id", sf_links, "Id"),
        ),
        write(
            "hubspot",
            "link",
            hs_links,
            "id",
            hs.update_companies,
            replaced(run, "hs_companies", "id", hs_links, "id"),
        ),
        write(
            "salesforce",
            "attach",
            attached,
            "Id",
            sf.update_contacts,
            replaced(run, "sf_contacts", "Id", attached, "Id"),
        ),
    ]
    return frames, {"salesforce": sf.calls.total, "hubspot": hs.calls.total}


def _synced_values(run: RunResources, planned: Planned, new_companies, new_accounts, failed: set[str]):
    """The values both sides now agree on, with the ids of records created by this run filled in."""
    synced = run.read(planned.frames.synced_values)
    if synced.empty:
        return synced
    synced = synced.astype({"account_id": "str", "company_id": "str"})  # category ids: filled below
    by_company = dict(zip(new_accounts["company_id"], new_accounts["account_id"], strict=True))
    by_account = dict(zip(new_companies["account_id"], new_companies["company_id"], strict=True))
    synced["account_id"] = synced["account_id"].fillna(synced["company_id"].map(by_company))
    synced["company_id"] = synced["company_id"].fillna(synced["account_id"].map(by_account))
    synced = synced.dropna(subset=["account_id", "company_id"])
    return synced[~synced["account_id"].isin(failed) & ~synced["company_id"].isin(failed)]


@fail_fast()
def link_ids(spec: RunSpec, planned: Planned, hubspot: Loaded, salesforce: Loaded) -> Loaded:
    """Write each system's id onto the records just created in the other, attach private contacts to their
    new accounts (adopted R5b rule), and record links and last-synced values in the state store."""
    if spec.dry_run:
        log.info("dry run: no ids written back, state store unchanged")
        return Loaded(dry_run=True)
    run = RunResources(spec)
    run.renew_lease()
    hs_results, sf_results = run.read(hubspot.results), run.read(salesforce.results)
    new_companies = created_pairs(hs_results, key_is="account")  # company created from an account
    new_accounts = created_pairs(sf_results, key_is="company")  # account created from a company
    frames, calls = _write_back(run, planned, new_companies, new_accounts)

    # State: links for matches whose writes landed and for created pairs; values both sides now agree on.
    failed_hs, failed_sf = failed_keys(hs_results), failed_keys(sf_results)
    matched = run.read(planned.frames.new_links)
    matched = matched[~matched["company_id"].isin(failed_hs) & ~matched["account_id"].isin(failed_sf)]
    links = pd.concat([matched[["account_id", "company_id"]], new_companies, new_accounts], ignore_index=True)
    run.state.upsert_links(links, spec.run_id)
    removed = run.read(planned.frames.removed_links)
    if not removed.empty:
        run.state.remove_links(distinct_ids(removed["account_id"]))
    synced = _synced_values(run, planned, new_companies, new_accounts, failed_hs | failed_sf)
    if not synced.empty:
        run.state.keep_synced_before(spec.run_id, synced)  # what these values replace, for a rollback
        run.state.record_synced_values(synced)
    log.info(
        "linked %d pairs (%d matched, %d companies and %d accounts created); %d synced values recorded",
        len(links),
        len(matched),
        len(new_companies),
        len(new_accounts),
        len(synced),
    )
    summary = summarise(run, "link_results", frames, calls)
    return Loaded(results=summary.results, counts=summary.counts, api_calls=summary.api_calls, links=len(links))
