"""Which records a run considers, and which accounts may create companies (R1, R2, R3a, R3b, R8).

- R1: company sync off -> nothing at all (``company_sync_on``; the decisions are ``decisions.company_sync_off``).
- The window: the ``changed`` flags, replaced by the chosen ids in ``import`` mode (R3a: the chosen accounts)
  and ``resync`` mode (R8: the chosen accounts and companies).
- Links from the state store: a deleted account loses its link (reported; the company is never deleted).
- R2: an account created since company sync was enabled syncs; R3a: an imported existing account syncs;
  R3b: an existing account edited since then syncs; R8: a resynced account syncs. Other existing accounts are
  skipped (R3).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ._util import STR, flags, lookup, pick_labels
from .prepare import Records
from .reasons import Reason


def company_sync_on(settings) -> bool:
    """R1: with company sync off, nothing is synced at all."""
    return bool(settings.company_sync_enabled)


def _chosen(ids: pd.Series, chosen) -> np.ndarray:
    if not chosen:
        return np.zeros(len(ids), dtype=bool)
    return lookup(pd.Series(list(chosen), dtype=STR), ids) >= 0


def _after(s: pd.Series, t: pd.Timestamp, inclusive: bool = False) -> np.ndarray:
    r = (s >= t) if inclusive else (s > t)
    return r.fillna(False).to_numpy(dtype=bool)


@dataclass(frozen=True)
class Window:
    """What drives the plan: the records changed in the run's window, or the ones a mode chose."""

    account_changed: np.ndarray
    company_changed: np.ndarray
    imported: np.ndarray  # R3a: accounts chosen by an import
    resync_account: np.ndarray  # R8: records chosen by a resync
    resync_company: np.ndarray


def run_window(ctx, accounts: pd.DataFrame, companies: pd.DataFrame) -> Window:
    """The ``changed`` flags, or in ``import`` (R3a) / ``resync`` (R8) mode the chosen ids instead."""
    na, nc = len(accounts), len(companies)
    none_a, none_c = np.zeros(na, dtype=bool), np.zeros(nc, dtype=bool)
    if ctx.mode == "import":
        if ctx.import_account_ids is None:
            imported = np.ones(na, dtype=bool)
        else:
            imported = _chosen(accounts["Id"], ctx.import_account_ids)
        return Window(imported.copy(), none_c, imported, none_a, none_c.copy())
    if ctx.mode == "resync":
        resync_a = _chosen(accounts["Id"], ctx.resync_account_ids)
        resync_c = _chosen(companies["id"], ctx.resync_company_ids)
        return Window(resync_a.copy(), resync_c.copy(), none_a, resync_a, resync_c)
    return Window(
        accounts["changed"].to_numpy(dtype=bool).copy(),
        companies["changed"].to_numpy(dtype=bool).copy(),
        none_a,
        none_a.copy(),
        none_c,
    )


@dataclass(frozen=True)
class LinkState:
    """The state store's links after deletions: the pairs that stay, and the links a deleted account loses."""

    account_linked: np.ndarray  # has a link (before deletions)
    company_linked: np.ndarray
    removed: pd.DataFrame  # links of deleted accounts (account_id, company_id)
    company_lost_account: np.ndarray  # its linked account is deleted: the link goes, the company stays
    pair_account: np.ndarray  # the linked pairs with both records among the inputs, not deleted
    pair_company: np.ndarray
    account_paired: np.ndarray  # in one of those pairs
    company_paired: np.ndarray


def link_state(records: Records) -> LinkState:
    na, nc = records.n_accounts, records.n_companies
    link_account, link_company = records.link_account, records.link_company
    if na:
        deleted = (link_account >= 0) & records.account_deleted[np.maximum(link_account, 0)]
    else:
        deleted = np.zeros(len(records.links), dtype=bool)
    lost = link_company[deleted]
    kept = (link_account >= 0) & (link_company >= 0) & ~deleted
    return LinkState(
        account_linked=flags(na, link_account[link_account >= 0]),
        company_linked=flags(nc, link_company[link_company >= 0]),
        removed=records.links[deleted],
        company_lost_account=flags(nc, lost[lost >= 0]),
        pair_account=link_account[kept],
        pair_company=link_company[kept],
        account_paired=flags(na, link_account[kept]),
        company_paired=flags(nc, link_company[kept]),
    )


@dataclass(frozen=True)
class AccountEligibility:
    eligible: np.ndarray  # R2 | R3a | R3b | R8
    sources: np.ndarray  # changed, live, unlinked and eligible: matched (R9) or the source of a new company
    reason: np.ndarray  # per account, the rule that makes it eligible (a Reason)


def account_eligibility(records: Records, window: Window, links: LinkState, sync_enabled_at) -> AccountEligibility:
    """R2 (created since sync was enabled), R3a (imported), R3b (edited since), R8 (resynced)."""
    created_after = _after(records.accounts["CreatedDate"], sync_enabled_at, inclusive=True)
    edited_after = _after(records.accounts["SystemModstamp"], sync_enabled_at)
    eligible = created_after | window.imported | edited_after | window.resync_account
    sources = window.account_changed & ~records.account_deleted & ~links.account_linked & eligible
    reason = pick_labels(
        [window.resync_account, window.imported, created_after],
        [Reason.R8_MANUAL_RESYNC, Reason.R3A_IMPORTED, Reason.R2_NEW_ACCOUNT],
        Reason.R3B_EDITED_AFTER_ENABLE,
    )
    return AccountEligibility(eligible, sources, reason)
