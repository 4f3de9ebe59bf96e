"""R7: a syncing company's lifecycle stage rolls up to the furthest stage among its associated contacts.

Never backwards; stages outside the configured order (``other``, unknown values) neither move a company nor
get moved. R7 applies to the companies that sync (linked, newly matched, or getting an account), whatever the
window; a linked company that R7 writes to has its fields resolved in the same write (``plan_sync``).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa

from ._util import from_arrow, map_values
from .prepare import Contacts, Records


class StageRanks(NamedTuple):
    """Stage ranks (their position in the order; -1 outside it), computed once per plan, and the associations
    the roll-up runs over."""

    stages: list[str]  # the ordered stages, ``other`` left out
    contact: np.ndarray  # per HubSpot contact
    company: np.ndarray  # per company
    company_known: np.ndarray  # the company's stage is in the order, or blank: R7 may move it
    assoc_company: np.ndarray  # per association: its company's position
    assoc_contact: np.ndarray  # per association: its HubSpot contact's position


def stage_ranks(records: Records, contacts: Contacts, lifecycle_stages: tuple[str, ...]) -> StageRanks:
    stages = [s for s in lifecycle_stages if s != "other"]
    rank = {s: str(i) for i, s in enumerate(stages)}
    contact = (
        pd.to_numeric(map_values(contacts.hs_contacts["lifecyclestage"].str.strip().str.lower(), rank), errors="coerce")
        .fillna(-1)
        .to_numpy(dtype=np.int64)
    )
    company_stage = records.companies["lifecyclestage"].str.strip().str.lower()
    company = pd.to_numeric(map_values(company_stage, rank), errors="coerce")
    known = company.notna().to_numpy() | company_stage.isna().to_numpy()
    company_rank = company.fillna(-1).to_numpy(dtype=np.int64)
    return StageRanks(stages, contact, company_rank, known, contacts.assoc_company, contacts.assoc_contact)


def lifecycle_advances(records: Records, ranks: StageRanks, syncing: np.ndarray) -> tuple[np.ndarray, pd.Series]:
    """(positions of the syncing companies whose stage advances, their new stage)."""
    assoc_company, assoc_contact = ranks.assoc_company, ranks.assoc_contact
    ok = (assoc_company >= 0) & (assoc_contact >= 0)
    ok[ok] = syncing[assoc_company[ok]]
    best = np.full(records.n_companies, -1, dtype=np.int64)
    if ok.any():
        np.maximum.at(best, assoc_company[ok], ranks.contact[assoc_contact[ok]])
    advances = np.flatnonzero(syncing & ranks.company_known & (best > ranks.company))
    return advances, from_arrow(pa.array(ranks.stages, pa.large_string()).take(best[advances]))


def syncing_companies(paired: np.ndarray, *positions: np.ndarray) -> np.ndarray:
    """R7's scope: the linked companies, and those at ``positions`` (newly matched, or getting an account)."""
    out = paired.copy()
    for pos in positions:
        out[pos] = True
    return out
