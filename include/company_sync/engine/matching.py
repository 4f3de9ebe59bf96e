"""R9 matching (deduplication): candidate pairs per step, the oldest target wins, a target takes one source.

Salesforce side (``match_records``): each unlinked changed account eligible under R2/R3a/R3b/R8 is matched to
a free company by id (step 2: ``salesforceaccountid`` / ``HubSpot_Company_ID__c``), then by domain (step 3,
the normalised domain: ``domains.domain_keys``), then by shared contacts (step 4, email); a company takes one
account (the oldest wins, the others go on to the next step, and are reported). The rest create companies, one
per domain (R9 inside one run: ``duplicates.py``). HubSpot side, mirrored: id, then domain; a company whose
id/domain names an account that exists but is taken is *not* created (``R9_duplicate_candidate``); the rest go on
to R5/R6/R8 (``criteria.py``), then to ``duplicates.py`` too. Duplicates are reported in
``duplicate_candidates``, never merged.

Works on integer positions (rows of the prepared frames), never on string joins, so that 1M x 1M matches in
well under a second per step. ``counterpart_keys`` tells an incremental run which records to fetch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ._util import as_str, flags, lookup, pick_labels, shared_codes, take
from .cells import conform_output, string_frame
from .domains import DomainKeys, matchable_domain
from .duplicates import TARGET_TAKEN, oldest_per_code, partners
from .eligibility import AccountEligibility, LinkState, Window
from .prepare import Contacts, Records
from .reasons import Reason


@dataclass(frozen=True)
class StepResult:
    src: np.ndarray  # winning source positions
    tgt: np.ndarray  # their target positions
    dup_src: np.ndarray  # duplicate-candidate rows: source position
    dup_matched: np.ndarray  # target it got (-1 none)
    dup_cand: np.ndarray  # the other / taken target
    dup_kind: np.ndarray  # "several_candidates" | "target_taken"
    losers: np.ndarray  # sources whose best target went to an older source
    dup_winner: np.ndarray | None = None  # the source that got the candidate target (-1 none)


def resolve_step(
    cs: np.ndarray,
    ct: np.ndarray,
    src_free: np.ndarray,
    tgt_free: np.ndarray,
    src_rank: np.ndarray,
    tgt_rank: np.ndarray,
    n_tgt: int,
) -> StepResult:
    """Each free source takes its best (lowest-rank) free candidate; a target chosen by several sources goes
    to the lowest-rank source, and the sources that lost it try their next free candidate (rounds until no
    loser has one left), so one run reaches the pairing a second run would. Others are reported, never merged.
    """
    src_free, tgt_free = src_free.copy(), tgt_free.copy()
    first = _resolve_round(cs, ct, src_free, tgt_free, src_rank, tgt_rank, n_tgt)
    wins_s, wins_t, result = [first.src], [first.tgt], first
    while len(result.losers) and len(result.src):
        src_free[result.src] = False
        tgt_free[result.tgt] = False
        result = _resolve_round(cs, ct, src_free, tgt_free, src_rank, tgt_rank, n_tgt)
        wins_s.append(result.src)
        wins_t.append(result.tgt)
    win_s, win_t = np.concatenate(wins_s), np.concatenate(wins_t)
    got = np.full(len(src_free), -1, dtype=np.int64)
    got[win_s] = win_t
    owner = np.full(n_tgt, -1, dtype=np.int64)
    owner[win_t] = win_s
    return StepResult(
        src=win_s,
        tgt=win_t,
        dup_src=first.dup_src,
        dup_matched=got[first.dup_src],
        dup_cand=first.dup_cand,
        dup_kind=first.dup_kind,
        losers=first.losers[got[first.losers] < 0],
        dup_winner=owner[first.dup_cand] if n_tgt else np.full(len(first.dup_cand), -1, dtype=np.int64),
    )


def _resolve_round(
    cs: np.ndarray,
    ct: np.ndarray,
    src_free: np.ndarray,
    tgt_free: np.ndarray,
    src_rank: np.ndarray,
    tgt_rank: np.ndarray,
    n_tgt: int,
) -> StepResult:
    ok = (cs >= 0) & (ct >= 0)
    cs, ct = cs[ok], ct[ok]
    ok = src_free[cs] & tgt_free[ct]
    cs, ct = cs[ok], ct[ok]
    if len(cs):
        key = np.unique(cs.astype(np.int64) * max(n_tgt, 1) + ct)
        cs, ct = key // max(n_tgt, 1), key % max(n_tgt, 1)
    order = np.lexsort((tgt_rank[ct], cs))
    cs, ct = cs[order], ct[order]
    first = np.r_[True, cs[1:] != cs[:-1]] if len(cs) else np.zeros(0, dtype=bool)
    bs, bt = cs[first], ct[first]
    o_s, o_t = cs[~first], ct[~first]
    order2 = np.lexsort((src_rank[bs], bt))
    bs2, bt2 = bs[order2], bt[order2]
    firstt = np.r_[True, bt2[1:] != bt2[:-1]] if len(bt2) else np.zeros(0, dtype=bool)
    win_s, win_t = bs2[firstt], bt2[firstt]
    lose_s, lose_t = bs2[~firstt], bt2[~firstt]
    got = np.full(len(src_free), -1, dtype=np.int64)
    got[win_s] = win_t
    return StepResult(
        src=win_s,
        tgt=win_t,
        dup_src=np.r_[o_s, lose_s],
        dup_matched=np.r_[got[o_s], got[lose_s]],
        dup_cand=np.r_[o_t, lose_t],
        dup_kind=np.r_[
            np.full(len(o_s), "several_candidates", dtype=object), np.full(len(lose_s), "target_taken", dtype=object)
        ],
        losers=lose_s,
    )


def pairs_on_codes(src_codes: np.ndarray, src_mask: np.ndarray, tgt_codes: np.ndarray, tgt_mask: np.ndarray):
    """All (source, target) position pairs sharing a code (>= 0), among the masked rows."""
    s_pos = np.flatnonzero(src_mask & (src_codes >= 0))
    t_pos = np.flatnonzero(tgt_mask & (tgt_codes >= 0))
    left = pd.DataFrame({"k": src_codes[s_pos], "s": s_pos})
    right = pd.DataFrame({"k": tgt_codes[t_pos], "t": t_pos})
    m = left.merge(right, on="k", how="inner", sort=False)
    return m["s"].to_numpy(np.int64), m["t"].to_numpy(np.int64)


def counterpart_keys(
    changed_accounts: pd.DataFrame,
    changed_companies: pd.DataFrame,
    links: pd.DataFrame,
    mirror: pd.DataFrame,
) -> tuple[pd.Series, pd.Series]:
    """Which ids of the other system to fetch before planning an incremental run (no full scans).

    - ``changed_accounts``: Id, Website, HubSpot_Company_ID__c (the accounts changed in the window)
    - ``changed_companies``: id, domain, website, salesforceaccountid
    - ``links``: account_id, company_id
    - ``mirror``: the state store's key mirror: system ("salesforce"|"hubspot"), record_id, domain
      (normalised), external_id (HubSpot_Company_ID__c / salesforceaccountid), created
    Returns (account_ids, company_ids) to fetch: linked counterparts, records whose external id points at a
    changed record (or that a changed record points at), and records of either side sharing a matchable
    normalised domain (the same side's: R9 inside one run, ``duplicates.py``).
    Ids already among the changed records are left out. Sorted and unique.
    """
    a = changed_accounts.reset_index(drop=True)
    c = changed_companies.reset_index(drop=True)
    a_id, c_id = as_str(a.get("Id")), as_str(c.get("id"))
    mir = mirror.reset_index(drop=True)
    m_sys = as_str(mir.get("system"))
    m_acc, m_com = mir[(m_sys == "salesforce").to_numpy()], mir[(m_sys == "hubspot").to_numpy()]
    lk_a, lk_c = as_str(links.get("account_id")), as_str(links.get("company_id"))

    want_c = [
        lk_c[lookup(a_id, lk_a) >= 0],
        as_str(a.get("HubSpot_Company_ID__c")),
        as_str(m_com["record_id"])[lookup(a_id, as_str(m_com["external_id"])) >= 0],
    ]
    want_a = [
        lk_a[lookup(c_id, lk_c) >= 0],
        as_str(c.get("salesforceaccountid")),
        as_str(m_acc["record_id"])[lookup(c_id, as_str(m_acc["external_id"])) >= 0],
    ]

    a_dom = matchable_domain(as_str(a.get("Website"), len(a)))
    c_dom = matchable_domain(as_str(c.get("domain"), len(c))).fillna(matchable_domain(as_str(c.get("website"), len(c))))
    mc_dom, ma_dom = as_str(m_com["domain"]), as_str(m_acc["domain"])
    ad, cd, mcd, mad = shared_codes(a_dom, c_dom, mc_dom, ma_dom)
    s, t = pairs_on_codes(ad, np.ones(len(ad), bool), mcd, np.ones(len(mcd), bool))
    want_c.append(as_str(m_com["record_id"]).iloc[np.unique(t)])
    s, t = pairs_on_codes(cd, np.ones(len(cd), bool), mad, np.ones(len(mad), bool))
    want_a.append(as_str(m_acc["record_id"]).iloc[np.unique(t)])
    # R9 inside one run (duplicates.py): the same side's records sharing a changed record's domain
    s, t = pairs_on_codes(ad, np.ones(len(ad), bool), mad, np.ones(len(mad), bool))
    want_a.append(as_str(m_acc["record_id"]).iloc[np.unique(t)])
    s, t = pairs_on_codes(cd, np.ones(len(cd), bool), mcd, np.ones(len(mcd), bool))
    want_c.append(as_str(m_com["record_id"]).iloc[np.unique(t)])

    def _final(parts, exclude):
        s = pd.concat([as_str(p) for p in parts], ignore_index=True).dropna()
        s = s[lookup(exclude, s) < 0]
        return pd.Series(np.sort(s.unique().astype(object)), dtype="str")

    return _final(want_a, a_id), _final(want_c, c_id)


@dataclass(frozen=True)
class Matches:
    pair_account: np.ndarray  # the new pairs (account position, company position, R9 reason), step by step
    pair_company: np.ndarray
    pair_reason: np.ndarray
    account_creates: np.ndarray  # source accounts left unmatched: each creates a company
    company_candidates: np.ndarray  # changed unlinked companies left unmatched: R5/R6/R8 decide
    company_duplicate_skip: np.ndarray  # id/domain names an account that is taken: not created, reported
    company_missing: np.ndarray  # salesforceaccountid names an account not among the inputs
    duplicates: pd.DataFrame  # schemas.OUTPUTS["duplicate_candidates"]
    account_duplicate_skip: np.ndarray  # R9 inside one run: would create, but another record holds its domain
    #   (set by duplicates.same_run_duplicates, after the field writes; account_creates then loses them)


class _PairBook:
    """The pairs made so far, the records still free on each side, and the duplicates to report."""

    def __init__(self, records: Records, account_free: np.ndarray, company_free: np.ndarray):
        self.records = records
        self.account_free, self.company_free = account_free, company_free
        self.accounts: list[np.ndarray] = []
        self.companies: list[np.ndarray] = []
        self.reasons: list[np.ndarray] = []
        self.duplicates: list[pd.DataFrame] = []

    def take(self, step: StepResult, reason: Reason, account_side: bool) -> None:
        """Record a step's winners (``account_side``: the sources are accounts) and its duplicate candidates."""
        accounts, companies = (step.src, step.tgt) if account_side else (step.tgt, step.src)
        self.accounts.append(accounts)
        self.companies.append(companies)
        self.reasons.append(pick_labels([], [], reason, len(accounts)))
        self.account_free[accounts] = False
        self.company_free[companies] = False
        if len(step.dup_src):
            account_id, company_id = self.records.accounts["Id"], self.records.companies["id"]
            src_ids, tgt_ids = (account_id, company_id) if account_side else (company_id, account_id)
            self.duplicates.append(
                string_frame(
                    system="salesforce" if account_side else "hubspot",
                    record_id=take(src_ids, step.dup_src),
                    matched_id=take(tgt_ids, step.dup_matched),  # -1: none
                    candidate_id=take(tgt_ids, step.dup_cand),
                    winner_id=take(src_ids, step.dup_winner),  # the source that got the candidate (-1: none)
                    step=str(reason),
                    kind=step.dup_kind,
                )
            )


def _id_candidates(records: Records) -> tuple[np.ndarray, np.ndarray]:
    """(accounts, companies): the pairs an external id names (salesforceaccountid, HubSpot_Company_ID__c)."""
    by_sfid, by_hsid = records.company_sfid_account >= 0, records.account_hsid_company >= 0
    accounts = np.r_[records.company_sfid_account[by_sfid], np.flatnonzero(by_hsid)]
    companies = np.r_[np.flatnonzero(by_sfid), records.account_hsid_company[by_hsid]]
    return accounts, companies


def _contact_candidates(c: Contacts, account_free: np.ndarray, company_free: np.ndarray):
    """(accounts, companies) sharing a contact by email (R9 step 4), among the free records."""
    assoc_email = take(c.hs_contacts["email"].str.strip().str.lower(), c.assoc_contact)
    sf_code, hs_code = shared_codes(c.sf_contacts["Email"].str.strip().str.lower(), assoc_email)
    sf_ok = c.sf_contact_account >= 0
    sf_ok[sf_ok] = account_free[c.sf_contact_account[sf_ok]]
    hs_ok = c.assoc_company >= 0
    hs_ok[hs_ok] = company_free[c.assoc_company[hs_ok]]
    sf_rows, hs_rows = pairs_on_codes(sf_code, sf_ok, hs_code, hs_ok)
    accounts = c.sf_contact_account[sf_rows] if len(sf_rows) else sf_rows
    companies = c.assoc_company[hs_rows] if len(hs_rows) else hs_rows
    return accounts, companies


def _match_accounts(records: Records, contacts: Contacts, book: _PairBook, keys: DomainKeys) -> None:
    """Salesforce side: steps 2 (id), 3 (domain), 4 (contacts) for the free source accounts."""
    ranks = (records.account_rank, records.company_rank, records.n_companies)
    accounts, companies = _id_candidates(records)
    book.take(
        resolve_step(accounts, companies, book.account_free, book.company_free, *ranks), Reason.R9_LINKED_BY_ID, True
    )
    accounts, companies = pairs_on_codes(keys.account_code, book.account_free, keys.company_code, book.company_free)
    step = resolve_step(accounts, companies, book.account_free, book.company_free, *ranks)
    book.take(step, Reason.R9_LINKED_BY_DOMAIN, True)
    if book.account_free.any():
        accounts, companies = _contact_candidates(contacts, book.account_free, book.company_free)
        step = resolve_step(accounts, companies, book.account_free, book.company_free, *ranks)
        book.take(step, Reason.R9_LINKED_BY_CONTACTS, True)


def _mirror_step(records: Records, book: _PairBook, companies, accounts, sources, account_free, blocked, reason):
    """One HubSpot-side step: the sources matched leave; those whose key names a taken account are skipped.
    -> (sources left, accounts still free, sources skipped as duplicate candidates)."""
    step = resolve_step(
        companies, accounts, sources, account_free, records.company_rank, records.account_rank, records.n_accounts
    )
    book.take(step, reason, account_side=False)
    sources = sources & ~flags(records.n_companies, step.src)
    account_free = account_free & ~flags(records.n_accounts, step.tgt)
    return sources & ~blocked, account_free, sources & blocked


def _match_companies(records: Records, book: _PairBook, window: Window, links: LinkState, keys, account_creates):
    """HubSpot side, mirrored: id, then domain (any live account with the domain blocks the create).
    -> (candidates for R5/R6/R8, duplicate-candidate skips, companies whose account is missing)."""
    sources = window.company_changed & ~links.company_linked & book.company_free
    account_free = ~links.account_linked & ~records.account_deleted & ~account_creates
    for matched in book.accounts:
        account_free[matched] = False
    missing = sources & records.companies["salesforceaccountid"].notna().to_numpy() & (records.company_sfid_account < 0)
    missing &= ~window.resync_company
    sources = sources & ~missing
    accounts, companies = _id_candidates(records)
    live = accounts >= 0
    if records.n_accounts:
        live &= ~records.account_deleted[np.maximum(accounts, 0)]
    has_id = flags(records.n_companies, companies[live])
    step = (companies, accounts, sources, account_free, has_id, Reason.R9_LINKED_BY_ID)
    sources, account_free, skip_by_id = _mirror_step(records, book, *step)
    companies, accounts = pairs_on_codes(keys.company_code, sources, keys.account_code, ~records.account_deleted)
    has_domain = flags(records.n_companies, companies)
    step = (companies, accounts, sources, account_free, has_domain, Reason.R9_LINKED_BY_DOMAIN)
    sources, account_free, skip_by_domain = _mirror_step(records, book, *step)
    return sources, (skip_by_id, skip_by_domain), missing


def _taken_account_rows(records: Records, keys: DomainKeys, skips, account_partner: np.ndarray) -> pd.DataFrame:
    """The companies not created because their id / domain names a taken account: that account (by id: the one
    ``salesforceaccountid`` names; by domain: the oldest live one) and the company it is paired with."""
    skip_by_id, skip_by_domain = skips
    at = np.flatnonzero(skip_by_id | skip_by_domain)
    holder = np.where(skip_by_id[at], records.company_sfid_account[at], -1)
    by_domain = np.flatnonzero(skip_by_domain[at] & (holder < 0))
    if len(by_domain):
        n_codes = int(max(keys.account_code.max(initial=-1), keys.company_code.max(initial=-1))) + 1
        codes = keys.company_code[at[by_domain]]
        wanted = flags(n_codes, codes[codes >= 0])
        oldest = oldest_per_code(keys.account_code, ~records.account_deleted, records.account_rank, n_codes, wanted)
        holder[by_domain] = np.where(codes >= 0, oldest[np.maximum(codes, 0)], -1)
    winner = np.where(holder >= 0, account_partner[np.maximum(holder, 0)], -1) if len(account_partner) else holder
    return string_frame(
        system="hubspot",
        record_id=take(records.companies["id"], at),
        matched_id=None,
        candidate_id=take(records.accounts["Id"], holder),
        winner_id=take(records.companies["id"], winner),
        step=str(Reason.R9_DUPLICATE_CANDIDATE),
        kind=TARGET_TAKEN,
    )


def match_records(
    records: Records,
    contacts: Contacts,
    window: Window,
    links: LinkState,
    eligibility: AccountEligibility,
    keys: DomainKeys,
) -> Matches:
    book = _PairBook(records, eligibility.sources.copy(), ~links.company_linked)
    _match_accounts(records, contacts, book, keys)
    account_creates = eligibility.sources & book.account_free
    candidates, skips, missing = _match_companies(records, book, window, links, keys, account_creates)
    pair_account = np.concatenate(book.accounts).astype(np.int64) if book.accounts else np.zeros(0, np.int64)
    pair_company = np.concatenate(book.companies).astype(np.int64) if book.companies else np.zeros(0, np.int64)
    account_partner, company_partner = partners(
        records.n_accounts,
        records.n_companies,
        np.r_[links.pair_account, pair_account],
        np.r_[links.pair_company, pair_company],
    )
    duplicate_skip = skips[0] | skips[1]
    if duplicate_skip.any():
        book.duplicates.append(_taken_account_rows(records, keys, skips, account_partner))
    return Matches(
        pair_account=pair_account,
        pair_company=pair_company,
        pair_reason=np.concatenate(book.reasons) if book.reasons else np.zeros(0, dtype=object),
        account_creates=account_creates,  # R9 inside one run still to come (duplicates.same_run_duplicates)
        company_candidates=candidates,
        company_duplicate_skip=duplicate_skip,
        company_missing=missing,
        duplicates=conform_output(
            pd.concat(book.duplicates, ignore_index=True) if book.duplicates else None, "duplicate_candidates"
        ),
        account_duplicate_skip=np.zeros(records.n_accounts, dtype=bool),
    )
