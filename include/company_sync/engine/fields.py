"""The field rules on the pairs (linked, or newly matched by R9), and the owners.

The four sync rules of a mapping (``settings.SyncRule``; ``dont_sync`` mappings never reach the engine):

- ``prefer_salesforce_unless_blank``: a Salesforce value overwrites HubSpot; a blank Salesforce value takes the
  HubSpot one, unless Salesforce *cleared* it (the last synced value was non-blank and HubSpot still holds it):
  then HubSpot is cleared;
- ``always_use_salesforce``: never HubSpot -> Salesforce; a blank Salesforce value clears HubSpot only if it was
  cleared (there was a synced value);
- ``two_way``: three-way merge against the last synced value (``base_values``); both changed -> the more recent
  record modification wins (tie -> Salesforce), reported in ``conflicts``.

Owners (``owner_maps``): active users <-> owners by email (case-insensitive) and full name; an unmatched owner
is left alone (never a rejection); OwnerId is never cleared. A value the target would refuse rejects that
record's whole field write (the link id and R7 stage still go). The company ``domain`` follows the website
written to it. Which pairs are considered: ``considered_pairs``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd

from include.company_sync.settings import SyncRule

from . import schemas
from ._util import choose, const_cat, same, take, take_rows
from .cells import Cells, Rejections, concat_pos, kept, pos_frame, strings
from .domains import DomainKeys
from .eligibility import LinkState, Window
from .matching import Matches
from .prepare import Records
from .reasons import RejectCode
from .values import Converted, hubspot_to_salesforce, salesforce_to_hubspot


class OwnerMaps(NamedTuple):
    owner_of_user: dict[str, str]  # Salesforce User Id -> HubSpot owner id
    user_of_owner: dict[str, str]


def owner_maps(sf_users: pd.DataFrame | None, hs_owners: pd.DataFrame | None) -> OwnerMaps:
    """Active Salesforce users <-> HubSpot owners by exact email (case-insensitive) and name (two-way)."""
    users, owners = schemas.conform(sf_users, "sf_users"), schemas.conform(hs_owners, "hs_owners")
    users = users[users["IsActive"].to_numpy(dtype=bool)]

    def key(email: pd.Series, first: pd.Series, last: pd.Series) -> pd.Series:
        return email.str.strip().str.lower() + "|" + (first.fillna("") + " " + last.fillna("")).str.strip().str.lower()

    user_key = key(users["Email"], users["FirstName"], users["LastName"])
    owner_key = key(owners["email"], owners["firstName"], owners["lastName"])
    left = pd.DataFrame({"k": user_key.to_numpy(), "user": users["Id"].to_numpy()}).dropna()
    right = pd.DataFrame({"k": owner_key.to_numpy(), "owner": owners["id"].to_numpy()}).dropna()
    m = left.merge(right, on="k").sort_values(["user", "owner"])
    m = m.drop_duplicates("user").drop_duplicates("owner")
    return OwnerMaps(dict(zip(m["user"], m["owner"], strict=True)), dict(zip(m["owner"], m["user"], strict=True)))


class Pairs(NamedTuple):
    """The pairs the field rules run on: linked pairs that changed (or that R7 writes to), then the new ones."""

    account: np.ndarray
    company: np.ndarray
    new: np.ndarray  # True for the pairs R9 made in this plan (the last ones)

    def __len__(self) -> int:
        return len(self.account)


def considered_pairs(window: Window, links: LinkState, matches: Matches, r7_linked: np.ndarray) -> Pairs:
    """A linked pair is considered when either side changed in the window, or R7 writes to its company (it is
    written anyway: its fields go in the same write, so the next run has nothing left to do)."""
    r7 = np.zeros(len(window.company_changed), dtype=bool)
    r7[r7_linked] = True
    linked_account, linked_company = links.pair_account, links.pair_company
    considered = window.account_changed[linked_account] | window.company_changed[linked_company] | r7[linked_company]
    return Pairs(
        account=np.r_[linked_account[considered], matches.pair_account],
        company=np.r_[linked_company[considered], matches.pair_company],
        new=np.r_[np.zeros(considered.sum(), dtype=bool), np.ones(len(matches.pair_account), dtype=bool)],
    )


def base_values(records: Records, pairs: Pairs) -> pd.DataFrame:
    """The last synced value of each (pair, field): (pos, field, value). An account is in at most one pair, so
    no join is needed."""
    na = records.n_accounts
    pair_of_account = np.full(na + 1, -1, dtype=np.int64)  # position na: "no account"
    pair_of_account[pairs.account] = np.arange(len(pairs))
    pos = pair_of_account[np.where(records.synced_account >= 0, records.synced_account, na)]
    hit = pos >= 0
    hit[hit] = pairs.company[pos[hit]] == records.synced_company[hit]
    rows = records.synced_values[hit].assign(pos=pos[hit])
    return rows.sort_values("synced_at", ascending=False, na_position="last").drop_duplicates(["pos", "field"])


def _directions(rule: SyncRule, S: Converted, H: Converted, B: Converted, sf_newer: np.ndarray):
    """The sync rule on one field: (values agree, write to HubSpot, write to Salesforce, conflict)."""
    n = len(sf_newer)
    sf_na, hs_na = S.canon.isna().to_numpy(), H.canon.isna().to_numpy()
    s_ok = S.error.isna().to_numpy() & ~S.unmatched
    eq = (sf_na & hs_na) | (s_ok & same(S.other, H.canon))
    b_nn = B.canon.notna().to_numpy()
    no_conflict = np.zeros(n, dtype=bool)
    if rule is SyncRule.ALWAYS_USE_SALESFORCE:
        to_hs = ~eq & (~sf_na | b_nn)  # a value always overwrites; cleared in SF -> cleared in HS
        return eq, to_hs, np.zeros(n, dtype=bool), no_conflict  # never to Salesforce, even when SF is blank
    if rule is SyncRule.PREFER_SALESFORCE_UNLESS_BLANK:
        cleared = sf_na & ~hs_na & b_nn & same(H.canon, B.other)  # SF had the agreed value, now blank
        to_hs = ~eq & (~sf_na | cleared)
        to_sf = ~eq & sf_na & ~hs_na & ~cleared  # HS fills a blank SF
        return eq, to_hs, to_sf, no_conflict
    sf_chg = ~same(S.canon, B.canon)  # two_way: three-way merge against the last synced value
    hs_chg = ~same(H.canon, B.other)
    both = sf_chg & hs_chg
    to_sf = ~eq & ((hs_chg & ~sf_chg) | (both & ~sf_newer))
    return eq, ~eq & ~to_sf, to_sf, ~eq & both


class _FieldValues(NamedTuple):
    """One mapping's values on the pairs: Salesforce (S), HubSpot (H), last synced (B, base)."""

    S: Converted
    H: Converted
    B: Converted
    base: pd.Series
    has_base: np.ndarray


def _field_values(records: Records, pairs: Pairs, m, base_rows: pd.DataFrame, owners: OwnerMaps) -> _FieldValues:
    n = len(pairs)
    S = salesforce_to_hubspot(m, take_rows(records.accounts[m.salesforce], pairs.account), owners.owner_of_user)
    H = hubspot_to_salesforce(m, take_rows(records.companies[m.hubspot], pairs.company), owners.user_of_owner)
    base = strings(None, n)
    has_base = np.zeros(n, dtype=bool)
    rows = base_rows[(base_rows["field"] == m.salesforce).to_numpy()]
    if len(rows):
        bp = rows["pos"].to_numpy()
        base[bp] = rows["value"].to_numpy()
        has_base[bp] = True
        B = salesforce_to_hubspot(m, base, owners.owner_of_user)
    else:  # no last-synced value for this field on any pair (common): converting blanks gives blanks
        B = Converted(base, base, base, np.zeros(n, dtype=bool))
    return _FieldValues(S, H, B, base, has_base)


def _conflict_rows(m, v: _FieldValues, conflict: np.ndarray, to_sf: np.ndarray) -> pd.DataFrame | None:
    cp = np.flatnonzero(conflict)
    if not len(cp):
        return None
    return pd.DataFrame(
        {
            "pos": cp,
            "field": const_cat(m.salesforce, len(cp)),
            "salesforce_value": take(v.S.canon, cp),
            "hubspot_value": take(v.H.canon, cp),
            "base_value": take(v.base, cp),
            "winner": np.where(to_sf[cp], "hubspot", "salesforce"),
            "kind": np.where(v.has_base[cp], "both_changed", "no_baseline"),
        }
    )


class PairCells(NamedTuple):
    """The field writes of the pairs, records with a refused value left out: (pos, field, value) each."""

    hubspot: pd.DataFrame
    salesforce: pd.DataFrame


class PairOutcome(NamedTuple):
    rejected: np.ndarray  # per pair: a target refused one of its values (nothing of that write is sent)
    reject_reason: pd.Series  # rejected_<CODE> (NA: not rejected)
    reject_message: pd.Series
    synced: pd.DataFrame  # (pos, field, value): what both sides hold once the surviving writes land
    conflicts: pd.DataFrame  # two_way fields both sides changed: pos, field, values, winner, kind


def resolve_pairs(
    records: Records, pairs: Pairs, maps, owners: OwnerMaps, keys: DomainKeys
) -> tuple[PairCells, PairOutcome]:
    """The field rules of every mapping over the pairs."""
    base_rows = base_values(records, pairs)
    sf_newer = (
        (
            records.accounts["SystemModstamp"].take(pairs.account).reset_index(drop=True)
            >= records.companies["hs_lastmodifieddate"].take(pairs.company).reset_index(drop=True)
        )
        .fillna(True)
        .to_numpy(dtype=bool)
    )
    hs_cells, sf_cells = Cells(), Cells()
    synced: list[tuple] = []  # per field: the values both sides will hold, if the write they need lands
    conflicts = []
    for m in maps:
        v = _field_values(records, pairs, m, base_rows, owners)
        S, H = v.S, v.H
        eq, to_hs, to_sf, conflict = _directions(m.rule, S, H, v.B, sf_newer)
        conflicts.append(_conflict_rows(m, v, conflict, to_sf))
        sf_na, hs_na = S.canon.isna().to_numpy(), H.canon.isna().to_numpy()
        to_hs &= ~(~sf_na & S.unmatched)  # unmatched owner: left alone
        to_sf &= ~((~hs_na & H.unmatched) | ((m.kind == "owner") & hs_na))  # ... and OwnerId is never cleared
        hs_cells.add(np.flatnonzero(to_hs), m.hubspot, S.other, S.error.where(~sf_na), S.canon, "HubSpot " + m.hubspot)
        sf_error = H.error.where(~hs_na)
        if m.salesforce == "Name":
            sf_error = sf_error.mask(hs_na, RejectCode.REQUIRED_FIELD_MISSING)
        sf_cells.add(np.flatnonzero(to_sf), m.salesforce, H.other, sf_error, H.canon, "Salesforce " + m.salesforce)
        # to_hs / to_sf / eq are exclusive: the value agreed on is H's when it goes to Salesforce, else S's;
        # kept only where it differs from the last synced value, with what it depends on (0 none, 1 the HubSpot
        # write, 2 the Salesforce write): the rejections are known once every field is through
        agreed = choose(to_sf, H.other, S.canon)
        rec = np.flatnonzero((eq | to_hs | to_sf) & ~same(agreed, v.B.canon))
        synced.append((rec, m.salesforce, take(agreed, rec), np.where(to_sf[rec], 2, to_hs[rec]).astype(np.int8)))
    return _pair_results(
        records, pairs, maps, keys, hs_cells, sf_cells, synced, [c for c in conflicts if c is not None]
    )


def _pair_results(records, pairs, maps, keys: DomainKeys, hs_cells: Cells, sf_cells: Cells, synced, conflicts):
    """The cells of the records no target refuses, the domain following the website, the agreed values."""
    n = len(pairs)
    (hs_kept, hs_bad), (sf_kept, sf_bad) = hs_cells.frame(), sf_cells.frame()
    hs_rej, sf_rej = Rejections.of(hs_bad, n), Rejections.of(sf_bad, n)
    hs_kept, sf_kept = kept(hs_kept, hs_rej.rejected), kept(sf_kept, sf_rej.rejected)
    web = [m.hubspot for m in maps if m.kind == "url"]
    if web and len(hs_kept):  # the company domain follows its website
        website_at = hs_kept["pos"].to_numpy()[(hs_kept["field"] == web[0]).to_numpy()]
        if len(website_at):
            # the written website is the canonical account value: its normalised form is the account url's
            new_domain = take(keys.account_url, pairs.account[website_at])
            differs = ~same(new_domain, take(keys.company_domain, pairs.company[website_at]))
            hs_kept = concat_pos(
                [
                    hs_kept,
                    pos_frame(website_at[differs], "domain", new_domain[differs].reset_index(drop=True), aligned=True),
                ]
            )
    parts = []  # synced values: what both sides hold once the surviving writes land
    for rec, fld, value, needs in synced:
        ok = (needs == 0) | ((needs == 1) & ~hs_rej.rejected[rec]) | ((needs == 2) & ~sf_rej.rejected[rec])
        agreed = value if ok.all() else value[ok].reset_index(drop=True)  # no copy when nothing was refused
        parts.append(pos_frame(rec[ok], fld, agreed, aligned=True))
    rejections = hs_rej.either(sf_rej)
    cells = PairCells(
        hs_kept[["pos", "field", "value"]].reset_index(drop=True),
        sf_kept[["pos", "field", "value"]].reset_index(drop=True),
    )
    return cells, PairOutcome(
        rejected=rejections.rejected,
        reject_reason=rejections.reason,
        reject_message=rejections.reason_message,
        synced=concat_pos(parts),
        conflicts=pd.concat(conflicts, ignore_index=True) if conflicts else pd.DataFrame(),
    )
