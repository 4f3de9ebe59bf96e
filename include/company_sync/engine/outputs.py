"""The Plan's frames, from the stages' positions: ids become category codes over the input id columns.

- the update frames: the pairs' field cells (``fields.py``), the other system's id a new pair (R9) carries in
  the same write, and the R7 stage (``lifecycle.py``);
- ``synced_values``: what both sides hold once the writes land, per pair and field (the creates' other id is
  NA until the upsert answers);
- ``conflicts`` (two_way), ``new_links`` (R9), ``removed_links`` (deleted accounts).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._util import as_str, concat_cat, flags, same, stack_positions, take
from .cells import concat_writes, conform_output, string_frame, write_frame
from .creates import Creates
from .eligibility import LinkState
from .fields import PairCells, PairOutcome, Pairs
from .matching import Matches
from .prepare import Records


def _new_pair_without(ids_here: pd.Series, ids_there: pd.Series, pairs: Pairs, here, there) -> np.ndarray:
    """New pairs whose record ``here`` does not yet hold the other record's id (so the write carries it)."""
    held = ids_here.take(here).reset_index(drop=True)
    return pairs.new & ~same(held, ids_there.take(there).reset_index(drop=True))


def update_frames(records: Records, pairs: Pairs, cells: PairCells, r7: tuple[np.ndarray, pd.Series]):
    """-> (hubspot_updates, salesforce_updates, (per pair: a HubSpot field write, a Salesforce field write))."""
    account_id, company_id = records.accounts["Id"], records.companies["id"]
    hs_pos, sf_pos = cells.hubspot["pos"].to_numpy(), cells.salesforce["pos"].to_numpy()
    r7_pos, r7_stage = r7
    link_hs = _new_pair_without(
        records.companies["salesforceaccountid"], account_id, pairs, pairs.company, pairs.account
    )
    hubspot_updates = concat_writes(
        [
            write_frame(records.company_key(pairs.company[hs_pos]), cells.hubspot["field"], cells.hubspot["value"]),
            write_frame(
                records.company_key(pairs.company[link_hs]),
                "salesforceaccountid",
                take(account_id, pairs.account[link_hs]),
            ),
            write_frame(records.company_key(r7_pos), "lifecyclestage", r7_stage),
        ],
        "hubspot_updates",
    )
    link_sf = _new_pair_without(
        records.accounts["HubSpot_Company_ID__c"], company_id, pairs, pairs.account, pairs.company
    )
    salesforce_updates = concat_writes(
        [
            write_frame(
                records.account_key(pairs.account[sf_pos]), cells.salesforce["field"], cells.salesforce["value"]
            ),
            write_frame(
                records.account_key(pairs.account[link_sf]),
                "HubSpot_Company_ID__c",
                take(company_id, pairs.company[link_sf]),
            ),
        ],
        "salesforce_updates",
    )
    return hubspot_updates, salesforce_updates, (flags(len(pairs), hs_pos), flags(len(pairs), sf_pos))


def synced_values(records: Records, pairs: Pairs, outcome: PairOutcome, hs_creates: Creates, sf_creates: Creates):
    """The ids repeat once per field: kept as category codes; the creates' other side comes from the upserts."""
    parts = (outcome.synced, hs_creates.synced, sf_creates.synced)
    pair_rows, hs_rows, sf_rows = (f["pos"].to_numpy() for f in parts)
    return pd.DataFrame(
        {
            "account_id": records.account_key(
                stack_positions(pairs.account[pair_rows], hs_creates.sources[hs_rows], -len(sf_rows))
            ),
            "company_id": records.company_key(
                stack_positions(pairs.company[pair_rows], -len(hs_rows), sf_creates.sources[sf_rows])
            ),
            "field": concat_cat([f["field"] for f in parts]),
            "value": as_str(pd.concat([f["value"] for f in parts], ignore_index=True)),
        },
        copy=False,
    )


def conflicts(records: Records, pairs: Pairs, outcome: PairOutcome) -> pd.DataFrame:
    rows = outcome.conflicts
    if len(rows):
        at = rows["pos"].to_numpy()
        rows = rows.assign(
            account_id=records.account_key(pairs.account[at]), company_id=records.company_key(pairs.company[at])
        )
    return conform_output(rows, "conflicts")


def new_links(records: Records, matches: Matches) -> pd.DataFrame:
    return string_frame(
        account_id=take(records.accounts["Id"], matches.pair_account),
        company_id=take(records.companies["id"], matches.pair_company),
        reason=matches.pair_reason,
    )


def removed_links(links: LinkState) -> pd.DataFrame:
    return string_frame(
        account_id=links.removed["account_id"], company_id=links.removed["company_id"], reason="deleted"
    )
