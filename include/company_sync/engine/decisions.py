"""One decision per input record: (system, record_id, action, reason, rule, message), ``schemas.OUTPUTS``.

The first decision set for a record wins, so each side is decided in priority order: rejected pairs, pairs
(linked > updated > unchanged), creates (R2/R3a/R3b/R8 accounts, R5/R8 companies, or their rejection), then the
skips: deleted (R2's "deleted accounts never create"), linked pairs with no change, R7 alone, counterparts
missing, R9 duplicate candidates (also inside one run: ``duplicates.py``), R5/R6 do-not-create, R3 existing
accounts, and "not changed in the window". Each record also carries its warnings (``warning``: an invalid website).
``company_sync_off`` is R1's: every record skipped. Reasons and their rules: ``reasons.py``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pac

from . import schemas
from ._util import STR, _arrow, as_str, cat_from_codes, pick_labels, take
from .cells import conform_output, string_frame
from .creates import Creates
from .criteria import Criteria
from .eligibility import AccountEligibility, LinkState, Window
from .fields import PairOutcome, Pairs
from .matching import Matches
from .prepare import Records
from .reasons import RULE_OF_REASON, Action, Reason, rule_of

DUPLICATE_MESSAGE = (
    "R9: another record holds this domain or id (see duplicate_candidates, which names the winner): not created"
)


class DecisionBuilder:
    """First decision set for a record wins.

    Each column is kept as an index per record into a pool of arrow string chunks (a constant is stored once,
    a per-record array as its distinct values), so a million decisions never become Python objects and the
    columns come out as ``category`` codes without building a million strings.
    """

    COLS = ("action", "reason", "rule", "msg")

    def __init__(self, n: int):
        self.done = np.zeros(n, dtype=bool)
        self.idx = {c: np.full(n, -1, dtype=np.int32) for c in self.COLS}
        self.pool: dict[str, list] = {c: [] for c in self.COLS}
        self.size = dict.fromkeys(self.COLS, 0)

    def _add(self, col: str, chunk) -> int:
        off = self.size[col]
        if isinstance(chunk, pa.ChunkedArray):
            chunk = chunk.combine_chunks()
        self.pool[col].append(chunk.cast(pa.large_string()))
        self.size[col] += len(chunk)
        return off

    def _put(self, col: str, pos: np.ndarray, free: np.ndarray, v) -> None:
        if v is None:
            return  # stays NA
        if isinstance(v, str):
            self.idx[col][pos] = self._add(col, pa.array([str(v)]))
            return
        if isinstance(v, pd.Series) and v.dtype == STR:
            d = pac.dictionary_encode(_arrow(v).filter(pa.array(free)))  # pool its distinct values only
            codes = np.asarray(d.indices.fill_null(-1), dtype=np.int64)
            self.idx[col][pos] = np.where(codes >= 0, self._add(col, d.dictionary) + codes, -1)
            return
        # object arrays of a few distinct values (enums): str() each distinct value once, as astype(str) did
        codes, uniques = pd.factorize(np.asarray(v, dtype=object)[free], use_na_sentinel=True)  # NA stays NA
        off = self._add(col, pa.array([str(u) for u in uniques], pa.large_string()))
        self.idx[col][pos] = np.where(codes >= 0, off + codes, -1)

    def set(self, pos, action, reason, msg, rule=None):
        pos = np.asarray(pos, dtype=np.int64)
        if len(pos) == 0:
            return
        free = ~self.done[pos]
        p = pos[free]
        self.done[p] = True
        self._put("action", p, free, action)
        self._put("reason", p, free, reason)
        if rule is None:  # the rule cited by each reason, looked up once per distinct reason
            if isinstance(reason, str):
                rule = rule_of(reason)
            else:
                reasons = np.asarray(reason, dtype=object)
                distinct = np.asarray([rule_of(x) for x in pd.unique(reasons)], dtype=object)
                rule = distinct[pd.factorize(reasons, use_na_sentinel=False)[0]]
        self._put("rule", p, free, rule)
        self._put("msg", p, free, msg)

    def set_mask(self, mask, action, reason, msg):
        self.set(np.flatnonzero(mask), action, reason, msg)

    def _column(self, col: str) -> tuple[np.ndarray, pa.Array]:
        """(codes into the pool's distinct values, -1 = NA; those values)."""
        idx = self.idx[col]
        pool = pa.concat_arrays(self.pool[col]) if self.pool[col] else pa.array([], pa.large_string())
        d = pac.dictionary_encode(pool)
        pool_code = np.append(np.asarray(d.indices, dtype=np.int32), np.int32(-1))
        return pool_code[idx], d.dictionary  # idx -1 -> the appended -1

    def frame(self, system: str, ids: pd.Series, warning: pd.Series | None = None) -> dict:
        """The columns; ``warning``: per record, its warning codes (NA: none), e.g. an invalid website."""
        cols = {c: self._column(c) for c in self.COLS}
        cols["system"] = (np.zeros(len(ids), dtype=np.int32), pa.array([system], pa.large_string()))
        if warning is None:
            cols["warning"] = (np.full(len(ids), -1, dtype=np.int32), pa.array([], pa.large_string()))
        else:
            d = pac.dictionary_encode(_arrow(as_str(warning)).cast(pa.large_string()))
            cols["warning"] = (np.asarray(d.indices.fill_null(-1), dtype=np.int32), d.dictionary)
        return {"record_id": as_str(ids), **cols}

    @staticmethod
    def concat(parts: list[dict]) -> pd.DataFrame:
        """The decisions frame: each categorical column's codes remapped onto the union of the parts' values."""
        out = {"record_id": pd.concat([p["record_id"] for p in parts], ignore_index=True)}
        for col, name in (
            ("system", "system"),
            ("action", "action"),
            ("reason", "reason"),
            ("rule", "rule"),
            ("msg", "message"),
            ("warning", "warning"),
        ):
            values = pa.concat_arrays([p[col][1] for p in parts])
            d = pac.dictionary_encode(values)
            remap = np.asarray(d.indices, dtype=np.int32)
            codes, start = [], 0
            for p in parts:
                c, k = p[col][0], len(p[col][1])
                codes.append(np.where(c >= 0, remap[start : start + k][np.maximum(c, 0)] if k else -1, -1))
                start += k
            out[name] = cat_from_codes(np.concatenate(codes).astype(np.int32), d.dictionary)
        return pd.DataFrame(out)[list(schemas.OUTPUTS["decisions"])]


def company_sync_off(account_ids: pd.Series, company_ids: pd.Series) -> pd.DataFrame:
    """R1: every record skipped, nothing synced."""
    reason = Reason.R1_COMPANY_SYNC_OFF
    frames = []
    for system, ids in (("salesforce", account_ids), ("hubspot", company_ids)):
        frames.append(
            string_frame(
                system=system,
                record_id=ids,
                action=str(Action.SKIPPED),
                reason=str(reason),
                rule=RULE_OF_REASON[reason],
                message="company sync is off: nothing is synced",
                warning=None,
            )
        )
    return conform_output(pd.concat(frames, ignore_index=True), "decisions")


class PairDecisions(NamedTuple):
    action: np.ndarray
    reason: np.ndarray
    message: np.ndarray
    rejected_at: np.ndarray  # pair indices of the rejected pairs
    rejected_message: pd.Series  # their message (the writes, then what was refused)


def pair_decisions(
    pairs: Pairs, matches: Matches, outcome: PairOutcome, written: tuple[np.ndarray, np.ndarray], r7: np.ndarray
) -> PairDecisions:
    """Rejected > linked (a new pair) > updated > unchanged. ``written``: (HubSpot, Salesforce) write per pair;
    ``r7``: per company, R7 advances its stage."""
    hs_written, sf_written = written
    rejected, r7_pair = outcome.rejected, r7[pairs.company]
    action = pick_labels(
        [rejected, pairs.new, hs_written | sf_written | r7_pair],
        [Action.REJECTED, Action.LINKED, Action.UPDATED],
        Action.UNCHANGED,
    )
    reason = pick_labels(
        [hs_written | sf_written, r7_pair], [Reason.UPDATED, Reason.R7_LIFECYCLE_ADVANCED], Reason.UNCHANGED
    )
    reason[pairs.new] = matches.pair_reason  # the new pairs are the last ones
    reason[rejected] = outcome.reject_reason.to_numpy(dtype=object)[rejected]
    # templated (the pair's ids are the decision's record_id and new_links): four texts + rare rejections
    texts = np.empty(4, dtype=object)
    texts[:] = [f"{h} HubSpot write(s), {w} Salesforce write(s)" for h in (0, 1) for w in (0, 1)]
    message = texts[hs_written * 2 + sf_written]
    rejected_at = np.flatnonzero(rejected)
    rejected_message = pd.Series(message[rejected_at], dtype=STR) + take(outcome.reject_message, rejected_at).fillna(
        ""
    ).radd("; ")
    return PairDecisions(action, reason, message, rejected_at, rejected_message)


def _set_pairs(builder: DecisionBuilder, positions: np.ndarray, d: PairDecisions) -> None:
    if len(d.rejected_at):  # first set wins: the rejected pairs get their own message
        r = d.rejected_at
        builder.set(positions[r], d.action[r], d.reason[r], d.rejected_message)
    builder.set(positions, d.action, d.reason, d.message)


def _set_creates(builder: DecisionBuilder, creates: Creates, reason: np.ndarray, message: pd.Series, rule=None):
    rej = creates.rejections
    builder.set(
        creates.sources,
        pick_labels([rej.rejected], [Action.REJECTED], Action.CREATED),
        np.where(rej.rejected, rej.reason.to_numpy(dtype=object), reason),
        message + rej.reason_message.fillna("").radd("; ").where(rej.rejected, ""),
        rule=rule,
    )


def account_decisions(
    records: Records,
    window: Window,
    links: LinkState,
    eligibility: AccountEligibility,
    pairs: Pairs,
    pair_decided: PairDecisions,
    creates: Creates,
    duplicate_skip: np.ndarray,
    warning: pd.Series | None = None,
) -> dict:
    """The accounts' decisions, in priority order. ``duplicate_skip``: R9 inside one run, not created;
    ``warning``: per account (an invalid website)."""
    dec = DecisionBuilder(records.n_accounts)
    _set_pairs(dec, pairs.account, pair_decided)
    reason = eligibility.reason[creates.sources]
    _set_creates(dec, creates, reason, "create company from account (" + pd.Series(reason, dtype=STR) + ")")
    deleted = records.account_deleted
    dec.set_mask(
        deleted,
        Action.SKIPPED,
        Reason.DELETED,
        "deleted in Salesforce: never creates; its link is removed, the company is kept",
    )
    dec.set_mask(links.account_paired, Action.SKIPPED, Reason.NOT_CHANGED, "linked; neither side changed in the window")
    missing = links.account_linked & window.account_changed
    dec.set_mask(missing, Action.SKIPPED, Reason.COUNTERPART_MISSING, "linked company not among the inputs")
    dec.set_mask(duplicate_skip, Action.SKIPPED, Reason.R9_DUPLICATE_CANDIDATE, DUPLICATE_MESSAGE)
    dec.set_mask(
        window.account_changed & ~deleted & ~eligibility.eligible,
        Action.SKIPPED,
        Reason.R3_EXISTING_NOT_EDITED,
        "existing account (created before sync was enabled), not imported nor edited since",
    )
    dec.set_mask(
        np.ones(records.n_accounts, dtype=bool), Action.SKIPPED, Reason.NOT_CHANGED, "not changed in the window"
    )
    return dec.frame("salesforce", records.accounts["Id"], warning)


def company_decisions(
    records: Records,
    window: Window,
    links: LinkState,
    matches: Matches,
    criteria: Criteria,
    pairs: Pairs,
    pair_decided: PairDecisions,
    creates: Creates,
    r7: np.ndarray,
    warning: pd.Series | None = None,
) -> dict:
    """The companies' decisions, in priority order. ``r7``: per company, R7 advances its stage; ``warning``: per
    company (an invalid domain or website)."""
    dec = DecisionBuilder(records.n_companies)
    _set_pairs(dec, pairs.company, pair_decided)
    created = creates.sources
    resync = window.resync_company[created]
    reason = criteria.reason[created]
    reason[resync] = Reason.R8_MANUAL_RESYNC
    held = pd.Series(criteria.held[created], dtype=STR)
    _set_creates(
        dec,
        creates,
        reason,
        "create account from company; rules held: " + held,
        np.where(resync, "R8", criteria.held[created]),
    )
    dec.set_mask(
        links.company_lost_account,
        Action.SKIPPED,
        Reason.DELETED,
        "linked account deleted in Salesforce: link removed, company kept",
    )
    dec.set_mask(links.company_paired & r7, Action.UPDATED, Reason.R7_LIFECYCLE_ADVANCED, "lifecycle stage advanced")
    dec.set_mask(links.company_paired, Action.SKIPPED, Reason.NOT_CHANGED, "linked; neither side changed in the window")
    missing = links.company_linked & window.company_changed
    dec.set_mask(missing, Action.SKIPPED, Reason.COUNTERPART_MISSING, "linked account not among the inputs")
    dec.set_mask(matches.company_duplicate_skip, Action.SKIPPED, Reason.R9_DUPLICATE_CANDIDATE, DUPLICATE_MESSAGE)
    dec.set_mask(
        matches.company_missing,
        Action.SKIPPED,
        Reason.COUNTERPART_MISSING,
        "salesforceaccountid names an account not among the inputs",
    )
    not_created = matches.company_candidates & ~criteria.create & ~window.resync_company
    held = criteria.held[not_created]
    dec.set(
        np.flatnonzero(not_created),
        Action.SKIPPED,
        criteria.reason[not_created],
        "no account created; rules held: " + pd.Series(held, dtype=STR) + " (adopted: any do-not-create rule wins)",
        rule=held,
    )
    dec.set_mask(
        np.ones(records.n_companies, dtype=bool), Action.SKIPPED, Reason.NOT_CHANGED, "not changed in the window"
    )
    return dec.frame("hubspot", records.companies["id"], warning)


def decisions_frame(account_part: dict, company_part: dict) -> pd.DataFrame:
    return DecisionBuilder.concat([account_part, company_part])
