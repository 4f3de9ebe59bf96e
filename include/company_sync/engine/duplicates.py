"""R9 inside one run: records of one side sharing a matching key (domain) never all become records on the other.

The adopted R9 rule (``integration-rules.md``): among several candidates the oldest wins, the others are reported as
duplicate candidates, never merged. Inside one run, among the sources R9 left unmatched that would create a
record on the other side (accounts: R2/R3a/R3b/R8, ``matching.py``; companies: R5/R8, after ``criteria.py``):

1. a source whose domain a record of the other side among the inputs holds is not created (that record is taken:
   linked, or matched in this run, else R9 step 3 would have matched it): kind ``target_taken``, candidate_id =
   the holder (the oldest), winner_id = the record it is paired with;
2. else, a source whose domain a record of its own side holds that is paired (linked, or matched by R9 in this
   run) is not created: kind ``same_key_in_run``, winner_id = that record (the oldest), candidate_id = its
   partner. (An incremental run fetches the same side's records sharing a changed domain from the state store's
   mirror: ``matching.counterpart_keys``);
3. else the oldest source of each domain (CreatedDate / createdate, then id: R9's tie-break, ``prepare.py``)
   creates, the others are not created: kind ``same_key_in_run``, winner_id = the oldest, candidate_id NA (the
   winner creates it in this run).

The winner is thus linked first, then oldest, then lowest id: nothing a re-plan changes. The keys are the ones the
records hold once this run's field writes land (``post_write_codes``; the step runs after ``fields.resolve_pairs``):
a linked pair whose website changes in the run holds its new domain, not the old one, exactly as the next run
will see it, so applying a plan and planning again writes nothing. Only paired records are written to; the
sources (unmatched) keep their keys.

Adopted: the others get decision ``skipped`` with reason ``R9_duplicate_candidate`` and one
``duplicate_candidates`` row (step ``R9_duplicate_candidate``); they are not created. Once the winner's record
exists, a loser that changes again is case 1 (still reported, never created): one run reaches what the next
would. Vectorised: one sort per side over the creating sources.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import pandas as pd

from ._util import as_str, const_str, flags, shared_codes, take
from .cells import conform_output, string_frame
from .domains import DomainKeys, matchable_domain, url_fields
from .reasons import Reason

if TYPE_CHECKING:
    from .eligibility import LinkState
    from .fields import PairCells, Pairs
    from .matching import Matches
    from .prepare import Records

TARGET_TAKEN, SAME_KEY_IN_RUN = "target_taken", "same_key_in_run"


class Side(NamedTuple):
    """One side's records as R9 sees them: ids, domain key codes (shared across sides, -1 none), age ranks, and
    each record's partner on the other side (linked or matched in this run; -1 none)."""

    ids: pd.Series
    code: np.ndarray
    rank: np.ndarray
    partner: np.ndarray


class SameKey(NamedTuple):
    creates: np.ndarray  # the sources that still create
    skipped: np.ndarray  # the sources not created: duplicate candidates
    rows: pd.DataFrame | None  # their duplicate_candidates rows


def _at(values: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """``values[idx]``, -1 where ``idx`` is -1."""
    if len(values) == 0:
        return np.full(len(idx), -1, dtype=np.int64)
    return np.where(idx >= 0, values[np.maximum(idx, 0)], -1)


def oldest_per_code(
    code: np.ndarray, mask: np.ndarray, rank: np.ndarray, n_codes: int, wanted: np.ndarray | None = None
) -> np.ndarray:
    """Per key code: the position of the oldest (lowest rank) masked record holding it (-1: none); only the
    ``wanted`` codes (a mask over the codes) are looked at when given."""
    out = np.full(n_codes, -1, dtype=np.int64)
    pos = np.flatnonzero(mask & (code >= 0))
    if wanted is not None and len(pos):
        pos = pos[wanted[code[pos]]]
    if len(pos):
        order = np.lexsort((rank[pos], code[pos]))
        p = pos[order]
        c = code[p]
        first = np.r_[True, c[1:] != c[:-1]]
        out[c[first]] = p[first]
    return out


def same_key_duplicates(
    src: Side, tgt: Side, creates: np.ndarray, matched: np.ndarray, holds: np.ndarray, system: str
) -> SameKey:
    """R9 inside one run for the sources ``creates`` of one side (``system``): which still create, which are
    duplicate candidates. ``matched``: sources R9 matched in this run; ``holds``: the other side's records that
    count as holding their domain (live ones)."""
    skipped = np.zeros(len(creates), dtype=bool)
    c = np.flatnonzero(creates & (src.code >= 0))
    if len(c) == 0:
        return SameKey(creates, skipped, None)
    n_codes = int(max(src.code.max(initial=-1), tgt.code.max(initial=-1))) + 1
    k = src.code[c]
    wanted = np.zeros(n_codes, dtype=bool)
    wanted[k] = True  # only the creators' domains are sorted
    holder = oldest_per_code(tgt.code, holds, tgt.rank, n_codes, wanted)[k]  # 1
    matched_winner = oldest_per_code(src.code, matched, src.rank, n_codes, wanted)[k]  # 2
    creator_winner = oldest_per_code(src.code, creates, src.rank, n_codes, wanted)[k]  # 3
    taken = holder >= 0
    by_match = ~taken & (matched_winner >= 0)
    lost = taken | by_match | (creator_winner != c)
    winner = np.where(taken, _at(tgt.partner, holder), np.where(by_match, matched_winner, creator_winner))
    candidate = np.where(taken, holder, np.where(by_match, _at(src.partner, matched_winner), -1))
    skipped[c[lost]] = True
    rows = None
    if lost.any():
        rows = string_frame(
            system=system,
            record_id=take(src.ids, c[lost]),
            matched_id=None,
            candidate_id=take(tgt.ids, candidate[lost]),
            winner_id=take(src.ids, winner[lost]),
            step=str(Reason.R9_DUPLICATE_CANDIDATE),
            kind=np.where(taken[lost], TARGET_TAKEN, SAME_KEY_IN_RUN).astype(object),
        )
    return SameKey(creates & ~skipped, skipped, rows)


def partners(na: int, nc: int, accounts: np.ndarray, companies: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(per account its company, per company its account) from the pairs (positions; -1 none)."""
    account_partner = np.full(na, -1, dtype=np.int64)
    company_partner = np.full(nc, -1, dtype=np.int64)
    account_partner[accounts] = companies
    company_partner[companies] = accounts
    return account_partner, company_partner


def superseded(rows: pd.DataFrame, system: str, skipped_ids: pd.Series) -> np.ndarray:
    """The matching steps' ``target_taken`` rows of sources that ended up not created (their own row says it)."""
    return (
        (rows["system"] == system)
        & (rows["kind"] == TARGET_TAKEN)
        & rows["matched_id"].isna()
        & (rows["step"] != str(Reason.R9_DUPLICATE_CANDIDATE))
        & rows["record_id"].isin(skipped_ids)
    ).to_numpy(dtype=bool)


def duplicate_frame(parts: list[pd.DataFrame], same_key: SameKey, system: str, ids: pd.Series) -> pd.DataFrame:
    """The duplicate candidates so far plus a side's R9-inside-one-run rows (which supersede the matching steps'
    ``target_taken`` rows of the sources that end up not created)."""
    if same_key.rows is not None:
        parts = [*parts, same_key.rows]
    frame = pd.concat(parts, ignore_index=True) if parts else None
    if frame is not None and same_key.skipped.any():
        frame = frame[~superseded(frame, system, take(ids, np.flatnonzero(same_key.skipped)))]
    return conform_output(frame, "duplicate_candidates")


def post_write_codes(
    keys: DomainKeys, records: Records, pairs: Pairs, cells: PairCells, maps
) -> tuple[np.ndarray, np.ndarray]:
    """(account codes, company codes): the R9 keys once this run's pair writes land. A Salesforce ``Website``
    write rekeys its account; a HubSpot ``domain`` / website write its company (its domain first, then its
    website, as ``domains.domain_keys``). Only the written records are checked again; without such a write the
    codes are the matching steps' own."""
    _, web_property = url_fields(maps)
    sf, hs = cells.salesforce, cells.hubspot
    sf_web = sf[(sf["field"] == "Website").to_numpy(dtype=bool)]
    hs_web = hs[hs["field"].isin(["domain", web_property]).to_numpy(dtype=bool)]
    if not len(sf_web) and not len(hs_web):
        return keys.account_code, keys.company_code
    account_key, company_key = keys.account_key, keys.company_key
    if len(sf_web):
        account_key = account_key.copy()
        account_key.iloc[pairs.account[sf_web["pos"].to_numpy()]] = matchable_domain(sf_web["value"]).to_numpy()
    if len(hs_web):
        at = pairs.company[hs_web["pos"].to_numpy()]
        written = np.unique(at)
        columns = {}
        for name in ("domain", web_property):  # the written value, else the record's own
            own = records.companies[name] if name in records.companies else const_str(None, records.n_companies)
            col = take(as_str(own), written).to_numpy(dtype=object)
            mine = (hs_web["field"] == name).to_numpy(dtype=bool)
            col[np.searchsorted(written, at[mine])] = hs_web["value"].to_numpy(dtype=object)[mine]
            columns[name] = pd.Series(col, dtype="str")
        company_key = company_key.copy()
        company_key.iloc[written] = (
            matchable_domain(columns["domain"]).fillna(matchable_domain(columns[web_property])).to_numpy()
        )
    account_code, company_code = shared_codes(account_key, company_key)
    return account_code, company_code


def same_run_duplicates(
    records: Records, codes: tuple[np.ndarray, np.ndarray], links: LinkState, matches: Matches, company_creates
) -> tuple[Matches, np.ndarray]:
    """R9 inside one run on both sides, on the keys after this run's writes (``codes``: ``post_write_codes``):
    of the accounts that would create companies (``matches.account_creates``) and of the companies that would
    create accounts (``company_creates``, after R5/R6/R8), the ones that lose are skipped and reported.
    -> (matches with the creates, skips and rows updated, the company creates left)."""
    account_code, company_code = codes
    account_partner, company_partner = partners(
        records.n_accounts,
        records.n_companies,
        np.r_[links.pair_account, matches.pair_account],
        np.r_[links.pair_company, matches.pair_company],
    )
    accounts = Side(records.accounts["Id"], account_code, records.account_rank, account_partner)
    companies = Side(records.companies["id"], company_code, records.company_rank, company_partner)
    sf = same_key_duplicates(
        accounts,
        companies,
        matches.account_creates,
        matched=flags(records.n_accounts, matches.pair_account) | (links.account_linked & ~records.account_deleted),
        holds=np.ones(records.n_companies, dtype=bool),
        system="salesforce",
    )
    hs = same_key_duplicates(
        companies,
        accounts,
        company_creates,
        matched=flags(records.n_companies, matches.pair_company) | (links.company_linked & ~links.company_lost_account),
        holds=~records.account_deleted,
        system="hubspot",
    )
    if not sf.skipped.any() and not hs.skipped.any():
        return matches, company_creates
    duplicates = duplicate_frame([matches.duplicates], sf, "salesforce", records.accounts["Id"])
    duplicates = duplicate_frame([duplicates], hs, "hubspot", records.companies["id"])
    matches = replace(
        matches,
        account_creates=sf.creates,
        account_duplicate_skip=sf.skipped,
        company_duplicate_skip=matches.company_duplicate_skip | hs.skipped,
        duplicates=duplicates,
    )
    return matches, hs.creates
