"""Before any rule: the inputs conformed to their schemas (``schemas.INPUTS``), and every id looked up once.

Each id column is hashed a single time together with all its queries (``lookup_many``): at a million rows a
lookup is a hash pass, so the stages share these positions instead of joining on strings. The rows keep their
input order; a position is a row number of the conformed frame (-1: not among the inputs). No rule is decided
here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from include.company_sync.settings import Settings

from . import schemas
from ._util import lookup, lookup_many, rank_of, take_cat


def conform_records(inputs, settings: Settings) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(accounts, companies) with every schema column and the mapped fields (companies: also ``website``)."""
    maps = settings.synced_mappings
    accounts = schemas.conform(inputs.sf_accounts, "sf_accounts", tuple(m.salesforce for m in maps))
    companies = schemas.conform(inputs.hs_companies, "hs_companies", tuple(m.hubspot for m in maps) + ("website",))
    return accounts, companies


@dataclass(frozen=True)
class Contacts:
    """The contact-side inputs with the positions that matching (R9 step 4), R5/R6 and R7 all read."""

    sf_contacts: pd.DataFrame
    hs_contacts: pd.DataFrame
    associations: pd.DataFrame
    assoc_company: np.ndarray  # per association: position of its company
    assoc_contact: np.ndarray  # per association: position of its HubSpot contact
    sf_contact_account: np.ndarray  # per Salesforce contact: position of its AccountId
    converted_leads: frozenset[str] = frozenset()  # Lead Ids converted (R6b: no longer a lead)


@dataclass(frozen=True)
class Records:
    """The accounts and companies (rows in input order), their links and synced values, and the id lookups."""

    accounts: pd.DataFrame
    companies: pd.DataFrame
    links: pd.DataFrame  # the state store's links, one per account and per company
    synced_values: pd.DataFrame
    account_deleted: np.ndarray
    link_account: np.ndarray  # per link: position of its account
    link_company: np.ndarray  # per link: position of its company
    company_sfid_account: np.ndarray  # per company: position of the account its salesforceaccountid names
    account_hsid_company: np.ndarray  # per account: position of the company its HubSpot_Company_ID__c names
    synced_account: np.ndarray  # per synced value: position of its account
    synced_company: np.ndarray  # per synced value: position of its company
    account_rank: np.ndarray  # oldest first (CreatedDate, Id): R9's "oldest wins"
    company_rank: np.ndarray  # oldest first (createdate, id)
    account_categories: pd.Index | None  # the account ids, when distinct: output ids are codes over them
    company_categories: pd.Index | None

    @property
    def n_accounts(self) -> int:
        return len(self.accounts)

    @property
    def n_companies(self) -> int:
        return len(self.companies)

    def account_key(self, pos: np.ndarray) -> pd.Series:
        """The Account Ids at ``pos`` (-1: NA) as ``category`` (codes over the input ids when distinct)."""
        return take_cat(self.accounts["Id"], pos, self.account_categories)

    def company_key(self, pos: np.ndarray) -> pd.Series:
        return take_cat(self.companies["id"], pos, self.company_categories)


def _converted(inputs) -> frozenset[str]:
    leads = schemas.conform(getattr(inputs, "sf_leads", None), "sf_leads")
    return frozenset(leads.loc[leads["IsConverted"].fillna(False).to_numpy(dtype=bool), "Id"].dropna().astype(str))


def prepare(inputs, accounts: pd.DataFrame, companies: pd.DataFrame) -> tuple[Records, Contacts]:
    """(the records and their lookups, the contact side: only the rules read it, R9 step 4, R5/R6, R7)."""
    links = schemas.conform(inputs.links, "links").drop_duplicates("account_id").drop_duplicates("company_id")
    sf_contacts = schemas.conform(inputs.sf_contacts, "sf_contacts")
    hs_contacts = schemas.conform(inputs.hs_contacts, "hs_contacts")
    associations = schemas.conform(inputs.hs_associations, "hs_associations")
    synced = schemas.conform(inputs.synced_values, "synced_values")
    account_id, company_id = accounts["Id"], companies["id"]
    accounts_distinct, (link_account, company_sfid_account, sf_contact_account, synced_account) = lookup_many(
        account_id,
        links["account_id"],
        companies["salesforceaccountid"],
        sf_contacts["AccountId"],
        synced["account_id"],
    )
    companies_distinct, (link_company, account_hsid_company, assoc_company, synced_company) = lookup_many(
        company_id,
        links["company_id"],
        accounts["HubSpot_Company_ID__c"],
        associations["company_id"],
        synced["company_id"],
    )
    contacts = Contacts(
        sf_contacts=sf_contacts,
        hs_contacts=hs_contacts,
        associations=associations,
        assoc_company=assoc_company,
        assoc_contact=lookup(hs_contacts["id"], associations["contact_id"]),
        sf_contact_account=sf_contact_account,
        converted_leads=_converted(inputs),
    )
    records = Records(
        accounts=accounts,
        companies=companies,
        links=links,
        synced_values=synced,
        account_deleted=accounts["IsDeleted"].to_numpy(dtype=bool),
        link_account=link_account,
        link_company=link_company,
        company_sfid_account=company_sfid_account,
        account_hsid_company=account_hsid_company,
        synced_account=synced_account,
        synced_company=synced_company,
        account_rank=rank_of([accounts["CreatedDate"], account_id]),
        company_rank=rank_of([companies["createdate"], company_id]),
        account_categories=pd.Index(account_id) if accounts_distinct else None,
        company_categories=pd.Index(company_id) if companies_distinct else None,
    )
    return records, contacts
