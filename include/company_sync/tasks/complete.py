"""complete_inputs: everything planning needs beyond the changed records.

In an incremental sync, first the companies driven by Salesforce private contacts and leads (`changes.py`), then
echo suppression (`engine.echoes`): records whose only change is the last run's own writes are left out. Then
the counterparts of the changed records (through links, ids and the state store's domain mirror, so an
incremental run never scans a whole system; R9 step 3 through shared contacts' emails), and the contact side,
read only where a rule needs it: associations and contacts for unlinked companies (R5, R6, R9) and companies
driven by their contacts (R7); contacts of unlinked accounts (R9); the leads HubSpot contacts point at (R6b); the
inclusion-list membership of those contacts (R5c, R6c), when the extract read only the list's newest joins.
A linked pair whose own fields changed needs only its two records.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

import pandas as pd

from include.company_sync.connectors import hubspot as hs_columns
from include.company_sync.connectors import salesforce as sf_columns
from include.company_sync.state import StateStore
from include.company_sync.tasks import changes
from include.company_sync.tasks.failures import fail_fast
from include.company_sync.tasks.resources import RunResources, distinct_ids
from include.company_sync.tasks.spec import CompletedInputs, HubSpotExtract, InputFrames, RunSpec, SalesforceExtract

log = logging.getLogger(__name__)

ACCOUNT_ID, ACCOUNT_EXTERNAL_ID = "Id", sf_columns.EXTERNAL_ID_FIELD
COMPANY_ID, COMPANY_EXTERNAL_ID = "id", hs_columns.ID_PROPERTY


def mirror_rows(frame: pd.DataFrame, system: str) -> pd.DataFrame:
    """The matching keys of extracted records, for the state store's mirror (columns named by the connectors)."""
    from include.company_sync.engine import matchable_domain

    if system == "salesforce":
        columns, domain_columns = sf_columns.ACCOUNT_MIRROR_FIELDS, sf_columns.ACCOUNT_DOMAIN_FIELDS
    else:
        columns, domain_columns = hs_columns.COMPANY_MIRROR_COLUMNS, hs_columns.COMPANY_DOMAIN_PROPERTIES
    domain = None
    for column in (c for c in domain_columns if c in frame):
        found = matchable_domain(frame[column].astype("str"))
        domain = found if domain is None else domain.fillna(found)
    cols: dict[str, Any] = {name: frame.get(source) for name, source in columns.items() if name != "deleted"}
    cols["domain"] = domain
    cols["deleted"] = frame.get(columns["deleted"], False) if "deleted" in columns else False
    order = ["record_id", "domain", "external_id", "created_at", "modified_at", "deleted"]
    return pd.DataFrame({k: cols[k] for k in order if cols.get(k) is not None}).reset_index(drop=True)


def _union(primary: pd.DataFrame, extra: pd.DataFrame, key: str) -> pd.DataFrame:
    """Changed records first; counterparts (changed=False) only where not already present."""
    if extra.empty:
        return primary
    extra = extra[~extra[key].isin(primary[key])].assign(changed=False, contact_driven=False)
    return pd.concat([primary, extra], ignore_index=True) if not primary.empty else extra.reset_index(drop=True)


def _companies_sharing_contacts(sf, hs, changed_accounts: pd.DataFrame, links: pd.DataFrame) -> pd.Series:
    """R9 step 3 for incremental runs: ids of companies associated with a HubSpot contact that has the email
    of a contact of a changed, unlinked account (the mirror holds domains, not emails)."""
    unlinked = changed_accounts[
        changed_accounts[ACCOUNT_EXTERNAL_ID].isna() & ~changed_accounts[ACCOUNT_ID].isin(links["account_id"])
    ]
    if unlinked.empty:
        return pd.Series([], dtype="str")
    emails = distinct_ids(sf.contacts(account_ids=distinct_ids(unlinked[ACCOUNT_ID]))["Email"])
    if not emails:
        return pd.Series([], dtype="str")
    contacts = hs.contacts_by_emails(emails)
    if contacts.empty:
        return pd.Series([], dtype="str")
    return hs.associations(contact_ids=distinct_ids(contacts["id"]))["company_id"].astype("str")


class _Counterparts:
    """Fetches the records on either side that the changed records may pair with."""

    def __init__(self, run: RunResources, sf, hs, links: pd.DataFrame):
        from include.company_sync.connectors.hubspot import extract_company_properties
        from include.company_sync.connectors.salesforce import extract_account_fields

        self.run, self.sf, self.hs, self.links = run, sf, hs, links
        self.state: StateStore = run.state
        self.fields = extract_account_fields(run.settings)
        self.props = extract_company_properties(run.settings)

    def read_unmirrored_sides(self, accounts, companies) -> tuple[pd.DataFrame, pd.DataFrame, set[str]]:
        """Never scanned a side before (first import or resync)? Read it whole once to seed the mirror."""
        read_whole, end = set(), pd.Timestamp(self.run.spec.window_end)
        for system in ("salesforce", "hubspot"):
            if self.state.mirror_size(system) == 0:
                read_whole.add(system)
                log.info("%s: no matching mirror yet, reading every record once", system)
                if system == "salesforce":
                    accounts = _union(accounts, self.sf.accounts_changed(self.fields, None, end), ACCOUNT_ID)
                else:
                    companies = _union(companies, self.hs.companies_changed(self.props, None, end), COMPANY_ID)
        return accounts, companies, read_whole

    def mirror_matches(self, changed_a: pd.DataFrame, changed_c: pd.DataFrame) -> pd.DataFrame:
        """Mirror rows on both sides sharing a domain or an id with the changed records."""
        keys_a, keys_c = mirror_rows(changed_a, "salesforce"), mirror_rows(changed_c, "hubspot")
        domains = distinct_ids(pd.concat([keys_a["domain"], keys_c["domain"]]))
        sf_rows = self.state.mirror(
            "salesforce",
            domains=domains,
            ids=distinct_ids(changed_c.get(COMPANY_EXTERNAL_ID)),
            external_ids=distinct_ids(changed_c[COMPANY_ID]),
        )
        hs_rows = self.state.mirror(
            "hubspot",
            domains=domains,
            ids=distinct_ids(changed_a.get(ACCOUNT_EXTERNAL_ID)),
            external_ids=distinct_ids(changed_a[ACCOUNT_ID]),
        )
        return pd.concat([sf_rows, hs_rows], ignore_index=True)

    def add(self, accounts: pd.DataFrame, companies: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
        from include.company_sync.engine import counterpart_keys

        accounts, companies, read_whole = self.read_unmirrored_sides(accounts, companies)
        changed_a, changed_c = accounts[accounts["changed"]], companies[companies["changed"]]
        mirror = self.mirror_matches(changed_a, changed_c)
        account_ids, company_ids = counterpart_keys(changed_a, changed_c, self.links, mirror)
        known_accounts, known_companies = set(accounts[ACCOUNT_ID]), set(companies[COMPANY_ID])
        account_ids = [i for i in distinct_ids(account_ids) if i not in known_accounts]
        if "hubspot" not in read_whole:  # every company is loaded already otherwise
            sharing = _companies_sharing_contacts(self.sf, self.hs, changed_a, self.links)
            company_ids = distinct_ids(pd.concat([pd.Series(distinct_ids(company_ids), dtype="str"), sharing]))
        company_ids = [i for i in company_ids if i not in known_companies]
        accounts = _union(accounts, self.sf.accounts_by_ids(account_ids, self.fields), ACCOUNT_ID)
        companies = _union(companies, self.hs.companies_by_ids(company_ids, self.props), COMPANY_ID)
        log.info("counterparts fetched: %d accounts, %d companies", len(account_ids), len(company_ids))
        return accounts, companies


def _linked(frame: pd.DataFrame, key: str, link_column: str, linked_ids: pd.Series) -> pd.Series:
    """Records linked in the state store or carrying the other side's id."""
    return frame[key].isin(linked_ids) | frame[link_column].notna()


def _contact_side_needed(
    accounts: pd.DataFrame, companies: pd.DataFrame, links: pd.DataFrame, everything: bool
) -> tuple[list[str], list[str]]:
    """(accounts whose contacts, companies whose associations the rules read). `everything`: every record
    (full scans, imports, resyncs, where each record is planned whole)."""
    if everything:
        return distinct_ids(accounts[ACCOUNT_ID]), distinct_ids(companies[COMPANY_ID])
    unlinked_a = ~_linked(accounts, ACCOUNT_ID, ACCOUNT_EXTERNAL_ID, links["account_id"])
    driven = companies.get("contact_driven", pd.Series(False, index=companies.index)).fillna(False).astype(bool)
    wanted_c = ~_linked(companies, COMPANY_ID, COMPANY_EXTERNAL_ID, links["company_id"]) | driven
    return distinct_ids(accounts.loc[unlinked_a.to_numpy(dtype=bool), ACCOUNT_ID]), distinct_ids(
        companies.loc[wanted_c.to_numpy(dtype=bool), COMPANY_ID]
    )


def _list_members_of(run: RunResources, hs, hubspot: HubSpotExtract, contact_ids: list[str]) -> pd.DataFrame | None:
    """Inclusion-list membership of the contacts R5c/R6c look at (those of unlinked companies), for an
    incremental sync whose extract read only the newest joins: the batch membership read (100 contacts a call),
    or the whole list when that is fewer calls (250 members a page). None when the extract's members serve."""
    from include.company_sync.connectors.hubspot_lists import MEMBERSHIP_BATCH, MEMBERSHIP_PAGE

    list_id = run.settings.inclusion_list_id
    sources = hubspot.change_sources
    if not list_id or not run.spec.incremental_sync or sources.get("list_read_whole", 1):
        return None
    joined = run.read(hubspot.list_members)
    already = set(joined["contact_id"].dropna())
    wanted = [i for i in contact_ids if i not in already]
    by_record = -(-len(wanted) // MEMBERSHIP_BATCH)
    whole = -(-int(sources.get("list_size", 0)) // MEMBERSHIP_PAGE)
    if by_record <= whole:
        members = hs.list_memberships(list_id, wanted) if wanted else joined.iloc[0:0]
    else:
        members = hs.list_members(list_id)
    log.info(
        "inclusion list: membership of %d contacts read %s",
        len(wanted),
        f"by record ({by_record} calls)" if by_record <= whole else f"from the whole list ({whole} pages)",
    )
    return pd.concat([joined[["contact_id"]], members[["contact_id"]]], ignore_index=True).drop_duplicates()


def _contacts_and_leads(
    sf, hs, account_ids: list[str], company_ids: list[str], every_account: bool = False
) -> dict[str, pd.DataFrame]:
    """Associations, contacts on both sides and leads. The Salesforce contacts are read in a second thread
    while HubSpot's are: two systems, two rate limits, so the slower side sets the time, not their sum. When
    `account_ids` are every account of the org, every contact is read in one query (one Bulk job at scale,
    instead of one per 4,000 account ids)."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="sf-contacts") as pool:
        salesforce_side = pool.submit(sf.contacts, None if every_account else account_ids)  # None: every contact
        associations = hs.associations(company_ids)
        hs_contacts = hs.contacts_by_ids(distinct_ids(associations["contact_id"]))
        by_account = salesforce_side.result()
    # the Salesforce contacts HubSpot contacts are synced to: private ones (R5b), other accounts'
    synced = set(distinct_ids(hs_contacts.get("salesforcecontactid")))
    if every_account:  # they came with the rest, with private ones no HubSpot contact points at: left out
        keep = by_account["AccountId"].isin(account_ids) | by_account["Id"].isin(synced)
        sf_contacts = by_account[keep.to_numpy(dtype=bool)].reset_index(drop=True)
    else:
        missing = sorted(synced - set(distinct_ids(by_account["Id"])))
        sf_contacts = by_account
        if missing:  # read only then: nothing to add, nothing to copy
            others = sf.contacts(ids=missing)
            sf_contacts = pd.concat([by_account, others], ignore_index=True).drop_duplicates("Id")
    return {
        "sf_contacts": sf_contacts,
        "sf_leads": sf.leads(distinct_ids(hs_contacts.get("salesforceleadid"))),
        "hs_contacts": hs_contacts,
        "hs_associations": associations,
    }


def _drive_from_people(run: RunResources, hs, salesforce: SalesforceExtract, companies, props, warnings):
    """Companies of the HubSpot contacts synced to Salesforce private contacts and leads that changed."""
    driven = changes.companies_of_people(hs, run.read(salesforce.people))
    run.stage(changes.PEOPLE_DRIVEN, driven.driven)  # for the report (`changes.keep_processed`)
    fetch = partial(hs.companies_by_ids, properties=props)
    companies = changes.add_driven(companies, driven.company_ids, fetch, COMPANY_ID, warnings, "companies_not_found")
    return companies, len(driven.company_ids)


def _without_echoes(run: RunResources, accounts, companies, links, salesforce, hubspot):
    """The window's records minus the echoes of the last run's writes (`engine.echoes`); records driven by
    contacts are always kept."""
    from include.company_sync.engine.echoes import echoes
    from include.company_sync.engine.fields import owner_maps

    owners = owner_maps(run.read(salesforce.users), run.read(hubspot.owners))
    synced = run.state.synced_values(
        distinct_ids(accounts[ACCOUNT_ID])
        + distinct_ids(links["account_id"][links["company_id"].isin(companies[COMPANY_ID])])
    )
    found = echoes(accounts, companies, links, synced, run.settings, owners)
    keep_a = ~found.accounts | accounts["contact_driven"].fillna(False).to_numpy(dtype=bool)
    keep_c = ~found.companies | companies["contact_driven"].fillna(False).to_numpy(dtype=bool)
    dropped = (int((~keep_a).sum()), int((~keep_c).sum()))
    log.info("echo suppression: %d accounts and %d companies changed only by the last sync's writes", *dropped)
    return accounts[keep_a].reset_index(drop=True), companies[keep_c].reset_index(drop=True), dropped


@fail_fast()
def complete_inputs(spec: RunSpec, salesforce: SalesforceExtract, hubspot: HubSpotExtract) -> CompletedInputs:
    """Everything planning needs: counterparts of the changed records (through links, ids and the domain
    mirror, so an incremental run never scans a whole system), associations, contacts and leads."""
    run = RunResources(spec)
    run.renew_lease()
    sf, hs = run.salesforce(), run.hubspot()
    accounts, companies = run.read(salesforce.accounts), run.read(hubspot.companies)
    links = run.state.links()
    sources = {"salesforce": dict(salesforce.change_sources), "hubspot": dict(hubspot.change_sources)}
    warnings = {k: list(v) for k, v in {**salesforce.warnings, **hubspot.warnings}.items()}
    if spec.incremental_sync:
        from include.company_sync.connectors.hubspot import extract_company_properties

        props = extract_company_properties(run.settings)
        companies, n = _drive_from_people(run, hs, salesforce, companies, props, warnings)
        sources["salesforce"]["companies_driven"] = n
        accounts, companies, (echo_a, echo_c) = _without_echoes(run, accounts, companies, links, salesforce, hubspot)
        sources["salesforce"]["echoes_skipped"], sources["hubspot"]["echoes_skipped"] = echo_a, echo_c
    if not (spec.mode == "sync" and spec.full_scan):  # a full sync scan has read both sides whole already
        accounts, companies = _Counterparts(run, sf, hs, links).add(accounts, companies)
    account_ids, company_ids = _contact_side_needed(accounts, companies, links, everything=not spec.incremental_sync)
    frames = {
        "sf_accounts": accounts,
        "hs_companies": companies,
        **_contacts_and_leads(sf, hs, account_ids, company_ids, spec.reads_every_account),
    }
    # R5c/R6c decide only for companies that may create an account: the unlinked ones (not R7's linked ones)
    unlinked = ~_linked(companies, COMPANY_ID, COMPANY_EXTERNAL_ID, links["company_id"])
    associations = frames["hs_associations"]
    of_unlinked = associations["company_id"].isin(companies.loc[unlinked.to_numpy(dtype=bool), COMPANY_ID])
    members = _list_members_of(run, hs, hubspot, distinct_ids(associations.loc[of_unlinked, "contact_id"]))
    list_members_url = hubspot.list_members if members is None else run.stage("hs_list_members_of_candidates", members)
    run.state.upsert_mirror("salesforce", mirror_rows(accounts, "salesforce"))
    run.state.upsert_mirror("hubspot", mirror_rows(companies, "hubspot"))
    log.info("inputs: %s", ", ".join(f"{len(f)} {name}" for name, f in frames.items()))
    urls = {name: run.stage(name, frame) for name, frame in frames.items()}
    return CompletedInputs(
        frames=InputFrames(
            **urls,
            sf_users=salesforce.users,
            hs_owners=hubspot.owners,
            lifecycle_stages=hubspot.lifecycle_stages,
            hs_list_members=list_members_url,
        ),
        counts={name: len(f) for name, f in frames.items()},
        api_calls={"salesforce": sf.calls.as_dict(), "hubspot": hs.calls.as_dict()},
        missing_ids={"salesforce": list(salesforce.missing_ids), "hubspot": list(hubspot.missing_ids)},
        change_sources=sources,
        warnings=warnings,
    )
