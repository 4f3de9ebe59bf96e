"""Echo suppression: a linked record whose only change since the last sync is the sync's own write.

A run's writes move the modification time of every record they touch, so the next window finds them all again.
The state store knows what the sync left on both sides: per linked pair and field the value both held once the
writes landed (``synced_values``), and the link ids. A record of the window whose mapped values still equal
those, and whose link id still names its partner, has nothing a rule would act on: planning it again would
write nothing. It is left out before any counterpart, association or contact is read for it.

The comparison is the one the field rules make (``fields._directions``: "changed since the last sync"), in
each system's canonical form, so a value the other system stores differently (a number, an owner id) is not
taken for a change. A record with no synced value for a field it holds, or any field changed, is kept.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd

from include.company_sync.settings import Settings

from . import schemas
from ._util import STR, same
from .fields import OwnerMaps
from .values import hubspot_to_salesforce, salesforce_to_hubspot


def _flag(frame: pd.DataFrame, column: str) -> np.ndarray:
    if column not in frame:
        return np.zeros(len(frame), dtype=bool)
    return frame[column].astype("boolean").fillna(False).to_numpy(dtype=bool)


class Echoes(NamedTuple):
    """Per input row: True where the record is an echo of the sync's own writes."""

    accounts: np.ndarray
    companies: np.ndarray


def _partner(ids: pd.Series, links: pd.DataFrame, own: str, other: str) -> pd.Series:
    """Each id's linked partner (NA when unlinked)."""
    partner = links.drop_duplicates(own).set_index(own)[other]
    return ids.astype(STR).map(partner).astype(STR)


def _base(ids: pd.Series, partner: pd.Series, synced: pd.DataFrame, field: str, key: str) -> pd.Series:
    """The last synced value of `field` for each row's pair (NA when none was recorded for that pair)."""
    rows = synced[(synced["field"].astype(STR) == field).to_numpy()]
    pair = rows[key].astype(STR) + "\x1f" + rows["account_id" if key == "company_id" else "company_id"].astype(STR)
    values = pd.Series(rows["value"].to_numpy(), index=pair.to_numpy()).astype(STR)
    values = values[~values.index.duplicated(keep="last")]
    wanted = ids.astype(STR) + "\x1f" + partner
    return wanted.map(values).astype(STR).reset_index(drop=True)


def echoes(
    accounts: pd.DataFrame,
    companies: pd.DataFrame,
    links: pd.DataFrame,
    synced_values: pd.DataFrame,
    settings: Settings,
    owners: OwnerMaps,
) -> Echoes:
    """Which accounts and companies of the window changed only by the sync's own writes."""
    maps = settings.synced_mappings
    archived = _flag(companies, "archived")
    accounts = schemas.conform(accounts, "sf_accounts", tuple(m.salesforce for m in maps))
    companies = schemas.conform(companies, "hs_companies", tuple(m.hubspot for m in maps))
    links = schemas.conform(links, "links")
    synced = schemas.conform(synced_values, "synced_values")

    account_ids = accounts["Id"].astype(STR).reset_index(drop=True)
    company_of = _partner(account_ids, links, "account_id", "company_id").reset_index(drop=True)
    account_echo = same(accounts["HubSpot_Company_ID__c"].astype(STR).reset_index(drop=True), company_of)
    account_echo &= company_of.notna().to_numpy() & ~accounts["IsDeleted"].fillna(False).to_numpy(dtype=bool)

    company_ids = companies["id"].astype(STR).reset_index(drop=True)
    account_of = _partner(company_ids, links, "company_id", "account_id").reset_index(drop=True)
    company_echo = same(companies["salesforceaccountid"].astype(STR).reset_index(drop=True), account_of)
    company_echo &= account_of.notna().to_numpy() & ~archived

    for m in maps:
        if account_echo.any():
            base = _base(account_ids, company_of, synced, m.salesforce, "account_id")
            S = salesforce_to_hubspot(m, accounts[m.salesforce].reset_index(drop=True), owners.owner_of_user)
            B = salesforce_to_hubspot(m, base, owners.owner_of_user)
            account_echo &= same(S.canon, B.canon)
        if company_echo.any():
            base = _base(company_ids, account_of, synced, m.salesforce, "company_id")
            H = hubspot_to_salesforce(m, companies[m.hubspot].reset_index(drop=True), owners.user_of_owner)
            B = salesforce_to_hubspot(m, base, owners.owner_of_user)
            company_echo &= same(H.canon, B.other)
    return Echoes(account_echo, company_echo)
