"""extract_salesforce and extract_hubspot: what changed in the run's window (or was chosen by id), staged.

An incremental sync also follows each side's change sources (`changes.py`): contacts, inclusion-list joins and
leads drive the records they belong to into the run, except those a successful run processed already (the same
id and version, read again in the window's overlap: `engine.processed`).

Both run in parallel. An error that cannot heal fails the task at once (`failures.fail_fast`), and each
extract's connector watches the other extract (`failures.SiblingWatch`, checked at every HTTP exchange):
when one fails without retry, the other stops reading at its next page or batch.
"""

from __future__ import annotations

import json
import logging
from functools import partial

import pandas as pd

from include.company_sync.connectors.hubspot_lists import members_frame
from include.company_sync.tasks import changes
from include.company_sync.tasks.failures import SiblingWatch, fail_fast
from include.company_sync.tasks.resources import RunResources, distinct_ids
from include.company_sync.tasks.spec import HubSpotExtract, RunSpec, SalesforceExtract

log = logging.getLogger(__name__)


def _when(value) -> pd.Timestamp | None:
    return None if value is None else pd.Timestamp(value)


@fail_fast()
def extract_salesforce(spec: RunSpec) -> SalesforceExtract:
    """Accounts changed in the window (or chosen by id), and the org's users for owner mapping."""
    from include.company_sync.connectors.salesforce import extract_account_fields

    run = RunResources(spec)
    run.renew_lease()
    sf = run.salesforce()
    sf.abort_check = SiblingWatch.for_current_task("extract_hubspot")
    fields = extract_account_fields(run.settings)
    start, end = _when(spec.window_start), _when(spec.window_end)
    if spec.mode == "sync":
        accounts = sf.accounts_changed(fields, start, end)
    elif spec.mode == "import":
        accounts = (
            sf.accounts_by_ids(list(spec.account_ids), fields)
            if spec.account_ids
            else sf.accounts_changed(fields, None, end)
        )
    else:
        accounts = sf.accounts_by_ids(list(spec.salesforce_account_ids), fields)
    missing = sorted(set(spec.chosen_account_ids) - set(distinct_ids(accounts.get("Id"))))
    if missing:
        log.warning("%d chosen Salesforce account(s) do not exist: %s", len(missing), ", ".join(missing[:20]))
    accounts = accounts.assign(changed=True, contact_driven=False)
    people, sources, warnings = pd.DataFrame({"id": [], "kind": []}, dtype="string"), {}, {}
    if spec.incremental_sync:
        stored, _ = changes.stored_pairs(run.state, spec.dag_id)  # drivers processed already: dropped
        drivers = changes.salesforce_drivers(sf, start, end, stored)
        run.stage(changes.SALESFORCE_DRIVEN, drivers.driven)  # for the report (`changes.keep_processed`)
        # an account's contacts matter only to R9's shared-contact step, i.e. to unlinked accounts: linked ones
        # are not driven (the sync's own contact attachments would otherwise come back every run)
        linked = set(distinct_ids(run.state.links()["account_id"]))
        unlinked = [i for i in drivers.account_ids if i not in linked]
        fetch = partial(sf.accounts_by_ids, fields=fields)
        accounts = changes.add_driven(accounts, unlinked, fetch, "Id", warnings, "accounts_not_visible")
        people, sources = drivers.people, {**drivers.counts, "accounts_driven": len(unlinked)}
    users = sf.users()
    log.info("Salesforce: %d accounts to consider, %d users (%s)", len(accounts), len(users), spec.window)
    return SalesforceExtract(
        accounts=run.stage("extract_sf_accounts", accounts),
        users=run.stage("sf_users", users),
        missing_ids=missing,
        counts={"accounts": len(accounts), "users": len(users)},
        api_calls=sf.calls.as_dict(),
        people=run.stage("sf_changed_people", people),
        change_sources=sources,
        warnings=warnings,
    )


def _inclusion_list(run: RunResources, hs, list_id: str | None, spec: RunSpec) -> tuple[pd.DataFrame, dict[str, int]]:
    """The inclusion list's members this run reads here, and counts for the report.

    An incremental sync reads only the joins since its window start, from the newest read position kept in the
    state store that lies before it (`hubspot_lists`); R5c/R6c then read the membership of the contacts they
    look at (`complete.py`). An import only checks that the list exists: R5/R6 decide the window's unlinked
    companies, and an import's window holds none (it is driven by accounts). Every other run reads the whole
    list. Those that read keep the read positions for the next run.
    """
    if not list_id:
        return pd.DataFrame({"contact_id": pd.Series(dtype="str")}), {}
    if spec.mode == "import":
        hs.check_list(list_id)
        return members_frame([], []), {"list_pages_read": 1, "list_read_whole": 0}
    key = changes.list_position_key(list_id)
    stored = run.state.setting_value(key)
    since = _when(spec.window_start) if spec.incremental_sync else None
    read = hs.list_joins(list_id, since=since, checkpoints=json.loads(stored) if stored else [])
    run.state.put_setting_value(key, json.dumps(read.checkpoints))
    counts = {"list_size": read.total, "list_pages_read": read.pages, "list_read_whole": int(read.complete)}
    return read.members, counts


@fail_fast()
def extract_hubspot(spec: RunSpec) -> HubSpotExtract:
    """Companies changed in the window (or chosen by id), owners, lifecycle stages, inclusion list."""
    from include.company_sync.connectors.hubspot import extract_company_properties

    run = RunResources(spec)
    run.renew_lease()
    hs = run.hubspot()
    hs.abort_check = SiblingWatch.for_current_task("extract_salesforce")
    props = extract_company_properties(run.settings)
    if spec.mode == "sync":
        companies = hs.companies_changed(props, _when(spec.window_start), _when(spec.window_end))
    else:  # import drives from Salesforce only; companies come in as counterparts
        companies = hs.companies_by_ids(list(spec.hubspot_company_ids), props)
    missing = sorted(set(spec.hubspot_company_ids) - set(distinct_ids(companies.get("id"))))
    if missing:
        log.warning("%d chosen HubSpot company id(s) do not exist: %s", len(missing), ", ".join(missing[:20]))
    companies = companies.assign(changed=True, contact_driven=False)
    list_id = run.settings.inclusion_list_id
    members, list_counts = _inclusion_list(run, hs, list_id, spec)
    sources, warnings = dict(list_counts), {}
    if spec.incremental_sync:
        stored, _ = changes.stored_pairs(run.state, spec.dag_id)  # drivers processed already: dropped
        drivers = changes.hubspot_drivers(hs, _when(spec.window_start), _when(spec.window_end), members, stored)
        run.stage(changes.HUBSPOT_DRIVEN, drivers.driven)  # for the report (`changes.keep_processed`)
        fetch = partial(hs.companies_by_ids, properties=props)
        companies = changes.add_driven(companies, drivers.company_ids, fetch, "id", warnings, "companies_not_found")
        sources.update(drivers.counts)
    owners = hs.owners()
    stages = pd.DataFrame({"stage": hs.lifecycle_stages()})
    log.info(
        "HubSpot: %d companies to consider, %d owners, %d lifecycle stages, inclusion list %s (%d members read)",
        len(companies),
        len(owners),
        len(stages),
        list_id or "none: every contact qualifies",
        len(members),
    )
    return HubSpotExtract(
        companies=run.stage("extract_hs_companies", companies),
        owners=run.stage("hs_owners", owners),
        lifecycle_stages=run.stage("lifecycle_stages", stages),
        list_members=run.stage("hs_list_members", members),
        missing_ids=missing,
        counts={"companies": len(companies), "owners": len(owners)},
        api_calls=hs.calls.as_dict(),
        change_sources=sources,
        warnings=warnings,
    )
