"""The creates: companies from accounts (R2, R3a, R3b, R8), accounts from companies (R5, R8).

A create carries every mapped value its direction may move (the field rules, ``fields.py``): to HubSpot every
mapping moves Salesforce values; to Salesforce only ``prefer_salesforce_unless_blank`` and ``two_way`` move
HubSpot values onto a blank account. Owners: an unmatched owner leaves the new company without one; a new
account whose HubSpot owner is blank or unmatched gets the integration user. Name is required on an account.
A value the target would refuse rejects the whole create. The upsert keys (``salesforceaccountid`` = Account
Id, ``HubSpot_Company_ID__c`` = company id) make a retried load idempotent.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd

from include.company_sync.settings import SyncRule

from ._util import take, take_rows
from .cells import Cells, Rejections, concat_pos, kept, leading_cells, pos_frame, write_frame
from .domains import DomainKeys
from .fields import OwnerMaps
from .prepare import Records
from .reasons import RejectCode
from .values import hubspot_to_salesforce, salesforce_to_hubspot


class Creates(NamedTuple):
    sources: np.ndarray  # positions of the source records (accounts / companies), in create order
    writes: pd.DataFrame  # the write frame (record_id = the upsert key)
    rejections: Rejections  # per create
    synced: pd.DataFrame  # (pos into ``sources``, field, value): the synced values once the create lands

    @property
    def sent(self) -> np.ndarray:
        """Positions of the source records whose create is sent."""
        return self.sources[~self.rejections.rejected]


def hubspot_creates(records: Records, creates: np.ndarray, maps, owners: OwnerMaps, keys: DomainKeys) -> Creates:
    """Companies created from the accounts ``creates`` (a mask); the domain is the website's."""
    sources = np.flatnonzero(creates)
    cells, shared, converted = Cells(), [], []
    # fields whose HubSpot value is the canonical Salesforce one (text, url, number) come first: their cells are
    # then also the synced values (a slice, not a copy); picklists and owners are mapped, so taken apart
    for m in sorted(maps, key=lambda m: m.kind in ("picklist", "owner")):
        S = salesforce_to_hubspot(m, take_rows(records.accounts[m.salesforce], sources), owners.owner_of_user)
        put = np.flatnonzero(S.canon.notna().to_numpy() & ~S.unmatched)
        cells.add(put, m.hubspot, S.other, S.error, S.canon, "HubSpot " + m.hubspot)
        (shared if m.kind not in ("picklist", "owner") else converted).append((m.salesforce, put, S.canon))
    all_cells, bad = cells.frame()
    rejections = Rejections.of(bad, len(sources))
    refused = rejections.rejected
    cells_kept = kept(all_cells, refused)
    sf_name = {m.hubspot: m.salesforce for m in maps}
    synced = [leading_cells(cells_kept, refused, [put for _, put, _ in shared], [sf_name[h] for h in cells.fields])]
    parts = [
        cells_kept[["pos", "field", "value"]],
        pos_frame(np.flatnonzero(~refused), "salesforceaccountid", take(records.accounts["Id"], sources)),
    ]
    web = [m.hubspot for m in maps if m.kind == "url"]
    if web:
        website_at = cells_kept["pos"].to_numpy()[(cells_kept["field"] == web[0]).to_numpy()]
        domain = take(keys.account_url, sources[website_at])  # normalised once, upstream
        has = domain.notna().to_numpy()
        parts.append(pos_frame(website_at[has], "domain", domain[has].reset_index(drop=True), aligned=True))
    out = concat_pos(parts)
    synced += [pos_frame(put[~refused[put]], fld, canon) for fld, put, canon in converted]
    writes = write_frame(records.account_key(sources[out["pos"].to_numpy()]), out["field"], out["value"])
    return Creates(sources, writes, rejections, concat_pos(synced))


def salesforce_creates(
    records: Records, creates: np.ndarray, maps, owners: OwnerMaps, integration_user_id: str | None
) -> Creates:
    """Accounts created from the companies ``creates`` (a mask)."""
    sources = np.flatnonzero(creates)
    cells, converted, fallback = Cells(), [], []
    has_name = np.zeros(len(sources), dtype=bool)
    for m in maps:
        if m.rule not in (SyncRule.PREFER_SALESFORCE_UNLESS_BLANK, SyncRule.TWO_WAY):
            continue
        H = hubspot_to_salesforce(m, take_rows(records.companies[m.hubspot], sources), owners.user_of_owner)
        has_value = H.canon.notna().to_numpy() & ~H.unmatched
        put = np.flatnonzero(has_value)
        cells.add(put, m.salesforce, H.other, H.error, H.canon, "Salesforce " + m.salesforce)
        converted.append(put)
        if m.salesforce == "Name":
            has_name = has_value
        if m.kind == "owner" and integration_user_id:
            fallback.append((np.flatnonzero(~has_value), m.salesforce))
    for without, fld in fallback:  # after the mapped cells, which are then also the synced values (a slice)
        cells.add(without, fld, integration_user_id)
    cells.add(
        np.flatnonzero(~has_name),
        "Name",
        None,
        RejectCode.REQUIRED_FIELD_MISSING.value,
        msg="REQUIRED_FIELD_MISSING: the company has no name for the required Account Name",
    )
    all_cells, bad = cells.frame()
    rejections = Rejections.of(bad, len(sources))
    cells_kept = kept(all_cells, rejections.rejected)
    sent = np.flatnonzero(~rejections.rejected)
    key = pos_frame(sent, "HubSpot_Company_ID__c", take(records.companies["id"], sources))
    out = concat_pos([cells_kept[["pos", "field", "value"]], key])
    synced = leading_cells(cells_kept, rejections.rejected, converted, cells.fields)
    writes = write_frame(records.company_key(sources[out["pos"].to_numpy()]), out["field"], out["value"])
    return Creates(sources, writes, rejections, concat_pos([synced]))
