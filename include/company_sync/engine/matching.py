"""R9 matching: candidate pairs per step, the oldest target wins, a target takes at most one source.

Works on integer positions (rows of the prepared frames), never on string joins, so that 1M x 1M matches in
well under a second per step.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ._util import as_str, lookup, shared_codes
from .domains import matchable_domain


@dataclass
class StepResult:
    src: np.ndarray  # winning source positions
    tgt: np.ndarray  # their target positions
    dup_src: np.ndarray  # duplicate-candidate rows: source position
    dup_matched: np.ndarray  # target it got (-1 none)
    dup_cand: np.ndarray  # the other / taken target
    dup_kind: np.ndarray  # "several_candidates" | "target_taken"
    losers: np.ndarray  # sources whose best target went to an older source


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
    return StepResult(
        src=win_s,
        tgt=win_t,
        dup_src=first.dup_src,
        dup_matched=got[first.dup_src],
        dup_cand=first.dup_cand,
        dup_kind=first.dup_kind,
        losers=first.losers[got[first.losers] < 0],
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
    best_of = {}
    o_s, o_t = cs[~first], ct[~first]
    order2 = np.lexsort((src_rank[bs], bt))
    bs2, bt2 = bs[order2], bt[order2]
    firstt = np.r_[True, bt2[1:] != bt2[:-1]] if len(bt2) else np.zeros(0, dtype=bool)
    win_s, win_t = bs2[firstt], bt2[firstt]
    lose_s, lose_t = bs2[~firstt], bt2[~firstt]
    del best_of
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
    changed record (or that a changed record points at), and records sharing a matchable normalised domain.
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

    def _final(parts, exclude):
        s = pd.concat([as_str(p) for p in parts], ignore_index=True).dropna()
        s = s[lookup(exclude, s) < 0]
        return pd.Series(np.sort(s.unique().astype(object)), dtype="str")

    return _final(want_a, a_id), _final(want_c, c_id)
