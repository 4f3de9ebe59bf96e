"""The plan: frames in, writes + decisions out. Pure pandas/numpy, vectorised (no per-record Python).

Order of work (design.md, "Data flow" step 4):
1. R1 gate; mode overrides of ``changed`` (import: the chosen accounts; resync: the chosen records).
2. Links from the state store; deleted accounts lose their link (reported, the company is never deleted).
3. Salesforce side: unlinked changed accounts eligible under R2/R3a/R3b/R8 are matched (R9: id, domain,
   contacts; oldest company wins, a company takes one account); the rest create companies.
4. HubSpot side: unlinked changed companies not matched above are matched to existing accounts (R9 mirrored:
   id, then domain; a company whose domain/id names an account that is already taken is *not* created but
   reported as a duplicate candidate); the rest go through R5/R6 (do-not-create wins) or R8 (resync).
5. Field rules on every linked pair with a change in the window (and every new match); creates carry all
   mapped values. Values the target would refuse reject that record's write (nothing else of it is sent).
6. R7 lifecycle roll-up for companies that sync (linked, matched, or getting an account).
7. One decision per input record; synced values to record once the writes succeed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pac

from include.company_sync.settings import FieldMapping, Settings, SyncRule

from . import schemas
from ._util import (
    CAT,
    STR,
    _arrow,
    as_str,
    cat_from_codes,
    const_str,
    first_per_group,
    lookup,
    map_values,
    rank_of,
    same,
    shared_codes,
    take,
    to_cat,
)
from .domains import matchable, normalize_domain
from .matching import pairs_on_codes, resolve_step
from .reasons import RULE_OF_REASON, Action, Reason, RejectCode
from .values import Converted, hubspot_to_salesforce, salesforce_to_hubspot

MODES = ("sync", "import", "resync")


@dataclass(frozen=True)
class PlanContext:
    settings: Settings
    now: pd.Timestamp
    sync_enabled_at: pd.Timestamp  # when company sync was first seen on; accounts created before are "existing"
    mode: str = "sync"  # sync | import (R3a) | resync (R8)
    integration_user_id: str | None = None  # OwnerId for new accounts whose HubSpot owner matches no user
    import_account_ids: tuple[str, ...] | None = None  # mode import: None = every input account
    resync_company_ids: tuple[str, ...] = ()  # mode resync
    resync_account_ids: tuple[str, ...] = ()  # mode resync

    def __post_init__(self):
        if self.mode not in MODES:
            raise ValueError(f"mode: must be one of {', '.join(MODES)}, got {self.mode!r}")


@dataclass
class SyncInputs:
    sf_accounts: pd.DataFrame | None = None
    hs_companies: pd.DataFrame | None = None
    sf_contacts: pd.DataFrame | None = None
    sf_leads: pd.DataFrame | None = None
    sf_users: pd.DataFrame | None = None
    hs_contacts: pd.DataFrame | None = None
    hs_associations: pd.DataFrame | None = None
    hs_list_members: pd.DataFrame | None = None
    hs_owners: pd.DataFrame | None = None
    lifecycle_stages: tuple[str, ...] = (
        "subscriber", "lead", "marketingqualifiedlead", "salesqualifiedlead", "opportunity", "customer", "evangelist",
    )
    links: pd.DataFrame | None = None
    synced_values: pd.DataFrame | None = None


def _empty(name: str) -> pd.DataFrame:
    return schemas.empty(schemas.OUTPUTS[name])


@dataclass
class Plan:
    """Every frame's schema is in ``schemas.OUTPUTS``."""

    hubspot_creates: pd.DataFrame = field(default_factory=lambda: _empty("hubspot_creates"))
    hubspot_updates: pd.DataFrame = field(default_factory=lambda: _empty("hubspot_updates"))
    salesforce_creates: pd.DataFrame = field(default_factory=lambda: _empty("salesforce_creates"))
    salesforce_updates: pd.DataFrame = field(default_factory=lambda: _empty("salesforce_updates"))
    contact_attachments: pd.DataFrame = field(default_factory=lambda: _empty("contact_attachments"))
    new_links: pd.DataFrame = field(default_factory=lambda: _empty("new_links"))
    removed_links: pd.DataFrame = field(default_factory=lambda: _empty("removed_links"))
    decisions: pd.DataFrame = field(default_factory=lambda: _empty("decisions"))
    conflicts: pd.DataFrame = field(default_factory=lambda: _empty("conflicts"))
    duplicate_candidates: pd.DataFrame = field(default_factory=lambda: _empty("duplicate_candidates"))
    synced_values: pd.DataFrame = field(default_factory=lambda: _empty("synced_values"))

    WRITE_FRAMES = ("hubspot_creates", "hubspot_updates", "salesforce_creates", "salesforce_updates")

    @property
    def write_count(self) -> int:
        return sum(len(getattr(self, f)) for f in self.WRITE_FRAMES)


# ---------------------------------------------------------------------------------------------- helpers
def _s(values, n: int | None = None) -> pd.Series:
    if np.isscalar(values) or values is None:
        return const_str(None if values is None else str(values), n)
    return pd.Series(np.asarray(values, dtype=object), dtype=STR) if not isinstance(values, pd.Series) else as_str(
        values
    )


def _frame(**cols) -> pd.DataFrame:
    n = max((len(v) for v in cols.values() if not np.isscalar(v) and v is not None), default=0)
    return pd.DataFrame({k: _s(v, n) for k, v in cols.items()})


def _writes(record_id, fld, value) -> pd.DataFrame:
    return _frame(record_id=record_id, field=fld, value=value)


def _owner_maps(users: pd.DataFrame, owners: pd.DataFrame) -> tuple[dict[str, str], dict[str, str]]:
    """Active Salesforce users <-> HubSpot owners by exact email (case-insensitive) and name (two-way)."""
    u = users[users["IsActive"].to_numpy(dtype=bool)]
    ukey = u["Email"].str.strip().str.lower() + "|" + (u["FirstName"].fillna("") + " " + u["LastName"].fillna(
        "")).str.strip().str.lower()
    okey = owners["email"].str.strip().str.lower() + "|" + (owners["firstName"].fillna("") + " " + owners[
        "lastName"].fillna("")).str.strip().str.lower()
    left = pd.DataFrame({"k": ukey.to_numpy(), "user": u["Id"].to_numpy()}).dropna()
    right = pd.DataFrame({"k": okey.to_numpy(), "owner": owners["id"].to_numpy()}).dropna()
    m = left.merge(right, on="k").sort_values(["user", "owner"])
    m = m.drop_duplicates("user").drop_duplicates("owner")
    return dict(zip(m["user"], m["owner"], strict=True)), dict(zip(m["owner"], m["user"], strict=True))


def _in(ids: pd.Series, chosen) -> np.ndarray:
    if not chosen:
        return np.zeros(len(ids), dtype=bool)
    return lookup(pd.Series(list(chosen), dtype=STR), ids) >= 0


def _ts_gt(s: pd.Series, t: pd.Timestamp, ge: bool = False) -> np.ndarray:
    r = (s >= t) if ge else (s > t)
    return r.fillna(False).to_numpy(dtype=bool)


@dataclass
class _Cells:
    """Long-form writes being assembled: pair/record position, field, value, error code + message."""

    pos: list = field(default_factory=list)
    fld: list = field(default_factory=list)
    val: list = field(default_factory=list)
    err: list = field(default_factory=list)
    msg: list = field(default_factory=list)

    def add(self, pos, fld: str, val: pd.Series, err: pd.Series | None = None, msg: pd.Series | None = None):
        n = len(pos)
        if n == 0:
            return
        self.pos.append(np.asarray(pos, dtype=np.int64))
        self.fld.append(const_str(fld, n))
        self.val.append(as_str(val))
        self.err.append(as_str(err, n) if err is not None else _s(None, n))
        self.msg.append(as_str(msg, n) if msg is not None else _s(None, n))

    def frame(self) -> pd.DataFrame:
        if not self.pos:
            return pd.DataFrame({"pos": np.zeros(0, np.int64), "field": _s([]), "value": _s([]), "err": _s([]),
                                 "msg": _s([])})
        return pd.DataFrame({
            "pos": np.concatenate(self.pos), "field": pd.concat(self.fld, ignore_index=True),
            "value": pd.concat(self.val, ignore_index=True), "err": pd.concat(self.err, ignore_index=True),
            "msg": pd.concat(self.msg, ignore_index=True),
        })


def _reject_msg(m: FieldMapping, side: str, raw: pd.Series, err: pd.Series) -> pd.Series:
    """Messages only for the cells that carry an error (NA elsewhere)."""
    target = "Salesforce" if side == "sf" else "HubSpot"
    name = m.salesforce if side == "sf" else m.hubspot
    out = _s(None, len(err))
    bad = err.notna().to_numpy()
    if bad.any():
        out[bad] = (err[bad] + ": " + target + " " + name + " refuses '" + raw[bad].fillna("").str.slice(0, 60)
                    + "'").to_numpy()
    return out


def _first_error(cells: pd.DataFrame, n: int) -> tuple[np.ndarray, pd.Series, pd.Series]:
    """Per position: rejected?, first error code, its message."""
    bad = cells[cells["err"].notna().to_numpy()]
    rej = np.zeros(n, dtype=bool)
    code = _s(None, n)
    msg = _s(None, n)
    if len(bad):
        bad = bad.drop_duplicates("pos")
        p = bad["pos"].to_numpy()
        rej[p] = True
        code[p] = bad["err"].to_numpy()
        msg[p] = bad["msg"].to_numpy()
    return rej, code, msg


# ---------------------------------------------------------------------------------------------- the plan
def plan_sync(inputs: SyncInputs, ctx: PlanContext) -> Plan:
    st = ctx.settings
    maps = st.synced_mappings
    A = schemas.conform(inputs.sf_accounts, "sf_accounts", tuple(m.salesforce for m in maps))
    C = schemas.conform(inputs.hs_companies, "hs_companies", tuple(m.hubspot for m in maps) + ("website",))
    na, nc = len(A), len(C)
    a_id, c_id = A["Id"], C["id"]
    a_changed = A["changed"].to_numpy(dtype=bool).copy()
    c_changed = C["changed"].to_numpy(dtype=bool).copy()
    imp = np.zeros(na, dtype=bool)
    rs_a, rs_c = np.zeros(na, dtype=bool), np.zeros(nc, dtype=bool)
    if ctx.mode == "import":
        imp = np.ones(na, dtype=bool) if ctx.import_account_ids is None else _in(a_id, ctx.import_account_ids)
        a_changed, c_changed = imp.copy(), np.zeros(nc, dtype=bool)
    elif ctx.mode == "resync":
        rs_a, rs_c = _in(a_id, ctx.resync_account_ids), _in(c_id, ctx.resync_company_ids)
        a_changed, c_changed = rs_a.copy(), rs_c.copy()

    if not st.company_sync_enabled:  # R1: nothing at all
        return Plan(decisions=_decisions_all(a_id, c_id, Action.SKIPPED, Reason.R1_COMPANY_SYNC_OFF,
                                             "company sync is off: nothing is synced"))

    a_deleted = A["IsDeleted"].to_numpy(dtype=bool)

    # ---- links (state store)
    L = schemas.conform(inputs.links, "links").drop_duplicates("account_id").drop_duplicates("company_id")
    la, lc = lookup(a_id, L["account_id"]), lookup(c_id, L["company_id"])
    a_linked, c_linked = np.zeros(na, dtype=bool), np.zeros(nc, dtype=bool)
    a_linked[la[la >= 0]] = True
    c_linked[lc[lc >= 0]] = True
    del_link = (la >= 0) & a_deleted[np.maximum(la, 0)] if na else np.zeros(len(L), dtype=bool)
    removed = L[del_link]
    c_lost_account = np.zeros(nc, dtype=bool)
    lost_c = lookup(c_id, removed["company_id"])
    c_lost_account[lost_c[lost_c >= 0]] = True
    both = (la >= 0) & (lc >= 0) & ~del_link
    ex_a, ex_c = la[both], lc[both]
    a_has_pair, c_has_pair = np.zeros(na, dtype=bool), np.zeros(nc, dtype=bool)
    a_has_pair[ex_a] = True
    c_has_pair[ex_c] = True

    # ---- ranks & domains
    c_rank = rank_of([C["createdate"], c_id])
    a_rank = rank_of([A["CreatedDate"], a_id])
    # each domain column is normalised once; the website only where the domain gives no key
    a_web = normalize_domain(A["Website"]) if "Website" in A else _s(None, na)
    a_dom = matchable(a_web)
    c_dom_norm = normalize_domain(C["domain"])
    c_dom = matchable(c_dom_norm)
    no_dom = np.flatnonzero(c_dom.isna().to_numpy())
    if len(no_dom):
        c_dom = c_dom.copy()
        c_dom.iloc[no_dom] = matchable(normalize_domain(C["website"].take(no_dom))).to_numpy()
    url_sf = next((m.salesforce for m in maps if m.kind == "url"), None)
    a_url = None if url_sf is None else a_web if url_sf == "Website" else normalize_domain(A[url_sf])
    a_dc, c_dc = shared_codes(a_dom, c_dom)

    # ---- Salesforce side: eligibility (R2, R3a, R3b, R8) and matching (R9)
    created_after = _ts_gt(A["CreatedDate"], ctx.sync_enabled_at, ge=True)
    edited_after = _ts_gt(A["SystemModstamp"], ctx.sync_enabled_at)
    eligible = created_after | imp | edited_after | rs_a
    a_src = a_changed & ~a_deleted & ~a_linked & eligible
    a_src_reason = np.select([rs_a, imp, created_after], [Reason.R8_MANUAL_RESYNC, Reason.R3A_IMPORTED,
                                                         Reason.R2_NEW_ACCOUNT], Reason.R3B_EDITED_AFTER_ENABLE)

    free_a, free_c = a_src.copy(), ~c_linked
    m_a, m_c, m_r = [], [], []
    dups: list[pd.DataFrame] = []

    def _take(res, reason, src_is_account: bool):
        s, t = (res.src, res.tgt) if src_is_account else (res.tgt, res.src)
        m_a.append(s)
        m_c.append(t)
        m_r.append(np.full(len(s), reason, dtype=object))
        free_a[s] = False
        free_c[t] = False
        if len(res.dup_src):
            src_ids, tgt_ids = (a_id, c_id) if src_is_account else (c_id, a_id)
            dups.append(_frame(system="salesforce" if src_is_account else "hubspot",
                               record_id=src_ids.to_numpy()[res.dup_src],
                               matched_id=np.where(res.dup_matched >= 0, tgt_ids.to_numpy()[np.maximum(
                                   res.dup_matched, 0)] if len(tgt_ids) else None, None),
                               candidate_id=tgt_ids.to_numpy()[res.dup_cand], step=str(reason), kind=res.dup_kind))

    # step 2: id (company.salesforceaccountid = Account Id, or Account.HubSpot_Company_ID__c = company id)
    c_sfid_pos = lookup(a_id, C["salesforceaccountid"])
    a_hsid_pos = lookup(c_id, A["HubSpot_Company_ID__c"])
    cs = np.r_[c_sfid_pos[c_sfid_pos >= 0], np.flatnonzero(a_hsid_pos >= 0)]
    ct = np.r_[np.flatnonzero(c_sfid_pos >= 0), a_hsid_pos[a_hsid_pos >= 0]]
    _take(resolve_step(cs, ct, free_a, free_c, a_rank, c_rank, nc), Reason.R9_LINKED_BY_ID, True)
    # step 3: domain
    cs, ct = pairs_on_codes(a_dc, free_a, c_dc, free_c)
    _take(resolve_step(cs, ct, free_a, free_c, a_rank, c_rank, nc), Reason.R9_LINKED_BY_DOMAIN, True)
    # step 4: shared contacts by email
    cts = _Contacts(inputs, c_id)
    if free_a.any():
        SC, HC, as_c, as_h = cts.SC, cts.HC, cts.as_c, cts.as_h
        sc_a = lookup(a_id, SC["AccountId"])
        as_email = take(HC["email"].str.strip().str.lower(), as_h)
        e_sf, e_hs = shared_codes(SC["Email"].str.strip().str.lower(), as_email)
        s_ok = (sc_a >= 0)
        s_ok[s_ok] = free_a[sc_a[s_ok]]
        t_ok = (as_c >= 0)
        t_ok[t_ok] = free_c[as_c[t_ok]]
        ps, pt = pairs_on_codes(e_sf, s_ok, e_hs, t_ok)
        _take(resolve_step(sc_a[ps] if len(ps) else ps, as_c[pt] if len(pt) else pt, free_a, free_c, a_rank,
                           c_rank, nc), Reason.R9_LINKED_BY_CONTACTS, True)
    a_create = a_src & free_a

    # ---- HubSpot side: mirrored matching, then R5/R6/R8
    c_src = c_changed & ~c_linked & free_c
    acct_free = ~a_linked & ~a_deleted & ~a_create
    for s_ in m_a:
        acct_free[s_] = False
    c_dupskip = np.zeros(nc, dtype=bool)
    c_missing = c_src & C["salesforceaccountid"].notna().to_numpy() & (c_sfid_pos < 0) & ~rs_c
    c_src_m = c_src & ~c_missing
    # id step (mirror)
    cs = np.r_[np.flatnonzero(c_sfid_pos >= 0), a_hsid_pos[a_hsid_pos >= 0]]
    ct = np.r_[c_sfid_pos[c_sfid_pos >= 0], np.flatnonzero(a_hsid_pos >= 0)]
    live = ct >= 0
    if na:
        live &= ~a_deleted[np.maximum(ct, 0)]
    has_id = np.zeros(nc, dtype=bool)
    has_id[cs[live]] = True
    res = resolve_step(cs, ct, c_src_m.copy(), acct_free.copy(), c_rank, a_rank, na)
    _take(res, Reason.R9_LINKED_BY_ID, False)
    c_src_m[res.src] = False
    acct_free[res.tgt] = False
    c_dupskip |= c_src_m & has_id
    c_src_m &= ~has_id
    # domain step (mirror): any live account with the domain blocks the create
    cs, ct = pairs_on_codes(c_dc, c_src_m, a_dc, ~a_deleted)
    has_dom = np.zeros(nc, dtype=bool)
    has_dom[cs] = True
    res = resolve_step(cs, ct, c_src_m.copy(), acct_free.copy(), c_rank, a_rank, na)
    _take(res, Reason.R9_LINKED_BY_DOMAIN, False)
    c_src_m[res.src] = False
    acct_free[res.tgt] = False
    c_dupskip |= c_src_m & has_dom
    c_src_m &= ~has_dom
    if (c_dupskip & has_dom).any() or (c_dupskip & has_id).any():
        ds = np.flatnonzero(c_dupskip)
        dups.append(_frame(system="hubspot", record_id=c_id.to_numpy()[ds], matched_id=None,
                           candidate_id=None, step=str(Reason.R9_DUPLICATE_CANDIDATE), kind="target_taken"))
    c_cand = c_src_m

    crit = _criteria(inputs, st, C, cts, c_cand)
    c_create = c_cand & (crit["create"] | rs_c)

    # ---- pairs
    new_a = np.concatenate(m_a).astype(np.int64) if m_a else np.zeros(0, np.int64)
    new_c = np.concatenate(m_c).astype(np.int64) if m_c else np.zeros(0, np.int64)
    new_r = np.concatenate(m_r) if m_r else np.zeros(0, dtype=object)
    # A linked company that R7 writes to is written anyway: resolve its fields in the same write, so the
    # next run (which sees it changed) has nothing left to do.
    r7_ex = np.zeros(nc, dtype=bool)
    r7_ex[_lifecycle(inputs, C, cts, c_has_pair)[0]] = True
    considered_ex = a_changed[ex_a] | c_changed[ex_c] | r7_ex[ex_c]
    pa = np.r_[ex_a[considered_ex], new_a]
    pc = np.r_[ex_c[considered_ex], new_c]
    p_new = np.r_[np.zeros(considered_ex.sum(), dtype=bool), np.ones(len(new_a), dtype=bool)]
    owner_of_user, user_of_owner = _owner_maps(schemas.conform(inputs.sf_users, "sf_users"),
                                               schemas.conform(inputs.hs_owners, "hs_owners"))
    res_pairs = _resolve_pairs(A, C, pa, pc, maps, inputs, ctx, owner_of_user, user_of_owner, a_url, c_dom_norm)

    # ---- creates
    hs_cr = _hubspot_creates(A, np.flatnonzero(a_create), maps, owner_of_user, a_url)
    sf_cr = _salesforce_creates(C, np.flatnonzero(c_create), maps, user_of_owner, ctx.integration_user_id,
                                c_rank)

    # ---- R7 lifecycle for companies that sync
    syncing = c_has_pair.copy()
    syncing[new_c] = True
    syncing[np.flatnonzero(c_create)[~sf_cr["rejected"]]] = True
    lc_pos, lc_val = _lifecycle(inputs, C, cts, syncing)

    # ---- HubSpot updates
    hs_parts = [_writes(take(c_id, pc[res_pairs["hs"]["pos"].to_numpy()]), res_pairs["hs"]["field"],
                        res_pairs["hs"]["value"])]
    link_hs = p_new & ~same(C["salesforceaccountid"].take(pc).reset_index(drop=True), a_id.take(pa).reset_index(
        drop=True))
    hs_parts.append(_writes(take(c_id, pc[link_hs]), "salesforceaccountid", take(a_id, pa[link_hs])))
    hs_parts.append(_writes(take(c_id, lc_pos), "lifecyclestage", lc_val))
    hubspot_updates = _conform_out(pd.concat(hs_parts, ignore_index=True), "hubspot_updates")
    sf_parts = [_writes(take(a_id, pa[res_pairs["sf"]["pos"].to_numpy()]), res_pairs["sf"]["field"],
                        res_pairs["sf"]["value"])]
    link_sf = p_new & ~same(A["HubSpot_Company_ID__c"].take(pa).reset_index(drop=True),
                            c_id.take(pc).reset_index(drop=True))
    sf_parts.append(_writes(take(a_id, pa[link_sf]), "HubSpot_Company_ID__c", take(c_id, pc[link_sf])))
    salesforce_updates = _conform_out(pd.concat(sf_parts, ignore_index=True), "salesforce_updates")

    # ---- decisions
    npair = len(pa)
    p_hs_w = np.zeros(npair, dtype=bool)
    p_hs_w[res_pairs["hs"]["pos"].to_numpy()] = True
    p_sf_w = np.zeros(npair, dtype=bool)
    p_sf_w[res_pairs["sf"]["pos"].to_numpy()] = True
    p_rej = res_pairs["rej"]
    c_lc = np.zeros(nc, dtype=bool)
    c_lc[lc_pos] = True

    a_dec = _DecisionBuilder(na)
    c_dec = _DecisionBuilder(nc)
    # pair-level decisions (rejected > linked > updated > unchanged)
    p_reason = np.where(p_rej, "rej", np.where(p_new, "new", np.where(p_hs_w | p_sf_w, Reason.UPDATED, np.where(
        c_lc[pc], Reason.R7_LIFECYCLE_ADVANCED, Reason.UNCHANGED))))
    p_action = np.select([p_rej, p_new, p_hs_w | p_sf_w | c_lc[pc]], [Action.REJECTED, Action.LINKED,
                                                                      Action.UPDATED], Action.UNCHANGED)
    p_reason = np.where(p_rej, res_pairs["rej_reason"].to_numpy(dtype=object),
                        np.where(p_new, np.r_[np.full(considered_ex.sum(), "", dtype=object), new_r], p_reason))
    # templated (the pair's ids are the decision's record_id and new_links): four texts + rare rejections
    p_msg = pd.Series(np.array([f"{h} HubSpot write(s), {w} Salesforce write(s)" for h in (0, 1) for w in (0, 1)],
                               dtype=object)[p_hs_w * 2 + p_sf_w], dtype=STR)
    if p_rej.any():
        p_msg = p_msg.mask(p_rej, p_msg + res_pairs["rej_msg"].fillna("").radd("; "))
    a_dec.set(pa, p_action, p_reason, p_msg)
    c_dec.set(pc, p_action, p_reason, p_msg)
    # creates
    ca = np.flatnonzero(a_create)
    a_dec.set(ca, np.where(hs_cr["rejected"], Action.REJECTED, Action.CREATED),
              np.where(hs_cr["rejected"], hs_cr["rej_reason"].to_numpy(dtype=object), a_src_reason[ca]),
              ("create company from account (" + pd.Series(a_src_reason[ca], dtype=STR) + ")"
               + hs_cr["rej_msg"].fillna("").radd("; ").where(hs_cr["rejected"], "")))
    cc = np.flatnonzero(c_create)
    cre_reason = np.where(rs_c[cc], Reason.R8_MANUAL_RESYNC, crit["reason"][cc])
    c_dec.set(cc, np.where(sf_cr["rejected"], Action.REJECTED, Action.CREATED),
              np.where(sf_cr["rejected"], sf_cr["rej_reason"].to_numpy(dtype=object), cre_reason),
              ("create account from company; rules held: " + pd.Series(crit["held"][cc], dtype=STR)
               + sf_cr["rej_msg"].fillna("").radd("; ").where(sf_cr["rejected"], "")),
              rule=np.where(rs_c[cc], "R8", crit["held"][cc]))
    # skips, in priority order (first set wins)
    a_dec.set_mask(a_deleted, Action.SKIPPED, Reason.DELETED,
                   "deleted in Salesforce: never creates; its link is removed, the company is kept")
    c_dec.set_mask(c_lost_account, Action.SKIPPED, Reason.DELETED,
                   "linked account deleted in Salesforce: link removed, company kept")
    a_dec.set_mask(a_has_pair, Action.SKIPPED, Reason.NOT_CHANGED, "linked; neither side changed in the window")
    c_dec.set_mask(c_has_pair & c_lc, Action.UPDATED, Reason.R7_LIFECYCLE_ADVANCED, "lifecycle stage advanced")
    c_dec.set_mask(c_has_pair, Action.SKIPPED, Reason.NOT_CHANGED, "linked; neither side changed in the window")
    a_dec.set_mask(a_linked & a_changed, Action.SKIPPED, Reason.COUNTERPART_MISSING,
                   "linked company not among the inputs")
    c_dec.set_mask(c_linked & c_changed, Action.SKIPPED, Reason.COUNTERPART_MISSING,
                   "linked account not among the inputs")
    c_dec.set_mask(c_dupskip, Action.SKIPPED, Reason.R9_DUPLICATE_CANDIDATE,
                   "an account with this domain/id already exists and is linked elsewhere: not created, reported")
    c_dec.set_mask(c_missing, Action.SKIPPED, Reason.COUNTERPART_MISSING,
                   "salesforceaccountid names an account not among the inputs")
    nc_m = c_cand & ~c_create
    c_dec.set(np.flatnonzero(nc_m), Action.SKIPPED, crit["reason"][nc_m],
              "no account created; rules held: " + pd.Series(crit["held"][nc_m], dtype=STR)
              + " (adopted: any do-not-create rule wins)", rule=crit["held"][nc_m])
    a_dec.set_mask(a_changed & ~a_deleted & ~eligible, Action.SKIPPED, Reason.R3_EXISTING_NOT_EDITED,
                   "existing account (created before sync was enabled), not imported nor edited since")
    a_dec.set_mask(np.ones(na, dtype=bool), Action.SKIPPED, Reason.NOT_CHANGED, "not changed in the window")
    c_dec.set_mask(np.ones(nc, dtype=bool), Action.SKIPPED, Reason.NOT_CHANGED, "not changed in the window")
    decisions = _DecisionBuilder.concat([a_dec.frame("salesforce", a_id), c_dec.frame("hubspot", c_id)])

    # ---- the rest
    new_links = _frame(account_id=take(a_id, new_a), company_id=take(c_id, new_c), reason=new_r)
    removed_links = _frame(account_id=removed["account_id"], company_id=removed["company_id"], reason="deleted")
    att = sf_cr["attach"](inputs, crit["private_pairs"])
    sp, hp, fp = (res_pairs["synced"]["pos"].to_numpy(), hs_cr["synced"]["pos"].to_numpy(),
                  sf_cr["synced"]["pos"].to_numpy())
    synced = pd.concat([res_pairs["synced"].assign(account_id=take(a_id, pa[sp]), company_id=take(c_id, pc[sp])),
                        hs_cr["synced"].assign(account_id=take(a_id, ca[hp]), company_id=const_str(None, len(hp))),
                        sf_cr["synced"].assign(account_id=const_str(None, len(fp)), company_id=take(c_id, cc[fp]))],
                       ignore_index=True)
    synced_values = pd.DataFrame({"account_id": synced["account_id"], "company_id": synced["company_id"],
                                  "field": to_cat(synced["field"]), "value": as_str(synced["value"])})
    del synced
    synced_values["synced_at"] = pd.Series(pd.DatetimeIndex([ctx.now]).repeat(len(synced_values)),
                                           dtype=schemas.TS)
    conflicts = res_pairs["conflicts"]
    if len(conflicts):
        conflicts = conflicts.assign(account_id=take(a_id, pa[conflicts["pos"].to_numpy()]),
                                     company_id=take(c_id, pc[conflicts["pos"].to_numpy()]))
    conflicts = _conform_out(conflicts, "conflicts")
    return Plan(
        hubspot_creates=_conform_out(_writes(hs_cr["cells"]["record_id"], hs_cr["cells"]["field"],
                                             hs_cr["cells"]["value"]), "hubspot_creates"),
        hubspot_updates=hubspot_updates,
        salesforce_creates=_conform_out(_writes(sf_cr["cells"]["record_id"], sf_cr["cells"]["field"],
                                                sf_cr["cells"]["value"]), "salesforce_creates"),
        salesforce_updates=salesforce_updates,
        contact_attachments=att,
        new_links=new_links,
        removed_links=removed_links,
        decisions=decisions,
        conflicts=conflicts,
        duplicate_candidates=_conform_out(pd.concat(dups, ignore_index=True) if dups else None,
                                          "duplicate_candidates"),
        synced_values=synced_values,
    )


def _conform_out(df: pd.DataFrame | None, name: str) -> pd.DataFrame:
    cols = schemas.OUTPUTS[name]
    if df is None or len(df) == 0:
        return schemas.empty(cols)
    conv = {STR: as_str, CAT: to_cat}
    return pd.DataFrame({c: conv.get(d, lambda s: s)(df[c]) for c, (d, _) in cols.items()})


class _DecisionBuilder:
    """First decision set for a record wins.

    Each column is kept as an index per record into a pool of arrow string chunks (a constant is stored once,
    a per-record array as its distinct values), so a million decisions never become Python objects and the
    columns come out as ``category`` codes without building a million strings.
    """

    COLS = ("action", "reason", "rule", "msg")

    def __init__(self, n: int):
        self.done = np.zeros(n, dtype=bool)
        self.idx = {c: np.full(n, -1, dtype=np.int64) for c in self.COLS}
        self.pool: dict[str, list] = {c: [] for c in self.COLS}
        self.size = dict.fromkeys(self.COLS, 0)

    def _add(self, col: str, chunk) -> int:
        off = self.size[col]
        if isinstance(chunk, pa.ChunkedArray):
            chunk = chunk.combine_chunks()
        self.pool[col].append(chunk.cast(pa.large_string()))
        self.size[col] += len(chunk)
        return off

    def _put(self, col: str, p: np.ndarray, free: np.ndarray, v) -> None:
        if v is None:
            return  # stays NA
        if isinstance(v, str):
            self.idx[col][p] = self._add(col, pa.array([str(v)]))
            return
        if col == "msg" and not isinstance(v, pd.Series):
            v = pd.Series(np.asarray(v, dtype=object), dtype=STR)  # NA messages stay NA
        if isinstance(v, pd.Series) and v.dtype == STR:
            d = pac.dictionary_encode(_arrow(v).filter(pa.array(free)))  # pool its distinct values only
            codes = np.asarray(d.indices.fill_null(-1), dtype=np.int64)
            self.idx[col][p] = np.where(codes >= 0, self._add(col, d.dictionary) + codes, -1)
            return
        # object arrays of a few distinct values (enums): str() each distinct value once, as astype(str) did
        codes, uniques = pd.factorize(np.asarray(v, dtype=object)[free], use_na_sentinel=False)
        self.idx[col][p] = self._add(col, pa.array([str(u) for u in uniques], pa.large_string())) + codes

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
            rule = _rule_of(reason) if isinstance(reason, str) else np.asarray(
                [_rule_of(x) for x in pd.unique(np.asarray(reason, dtype=object))], dtype=object)[
                pd.factorize(np.asarray(reason, dtype=object), use_na_sentinel=False)[0]]
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

    def frame(self, system: str, ids: pd.Series) -> dict:
        cols = {c: self._column(c) for c in self.COLS}
        cols["system"] = (np.zeros(len(ids), dtype=np.int32), pa.array([system], pa.large_string()))
        return {"record_id": as_str(ids), **cols}

    @staticmethod
    def concat(parts: list[dict]) -> pd.DataFrame:
        """The decisions frame: each categorical column's codes remapped onto the union of the parts' values."""
        out = {"record_id": pd.concat([p["record_id"] for p in parts], ignore_index=True)}
        for col, name in (("system", "system"), ("action", "action"), ("reason", "reason"), ("rule", "rule"),
                          ("msg", "message")):
            values = pa.concat_arrays([p[col][1] for p in parts])
            d = pac.dictionary_encode(values)
            remap = np.asarray(d.indices, dtype=np.int32)
            codes, start = [], 0
            for p in parts:
                c, k = p[col][0], len(p[col][1])
                codes.append(np.where(c >= 0, remap[start:start + k][np.maximum(c, 0)] if k else -1, -1))
                start += k
            out[name] = cat_from_codes(np.concatenate(codes).astype(np.int32), d.dictionary)
        return pd.DataFrame(out)[list(schemas.OUTPUTS["decisions"])]


def _rule_of(reason) -> str:
    return "field_rules" if str(reason).startswith("rejected_") else RULE_OF_REASON.get(reason, "field_rules")


def _decisions_all(a_id, c_id, action, reason, msg) -> pd.DataFrame:
    frames = []
    for system, ids in (("salesforce", a_id), ("hubspot", c_id)):
        n = len(ids)
        frames.append(_frame(system=_s(system, n), record_id=ids, action=_s(str(action), n),
                             reason=_s(str(reason), n), rule=_s(RULE_OF_REASON[reason], n), message=_s(msg, n)))
    return _conform_out(pd.concat(frames, ignore_index=True), "decisions")


# ---------------------------------------------------------------------------------------------- R5 / R6
_CRIT = ("R5a", "R5b", "R5c", "R6a", "R6b", "R6c")


class _Contacts:
    """The contact-side inputs conformed once, with the association positions (company, HubSpot contact) that
    matching, R5/R6 and R7 all need: each lookup hashes over a million ids, so it is done once."""

    def __init__(self, inputs: SyncInputs, c_id: pd.Series):
        self.SC = schemas.conform(inputs.sf_contacts, "sf_contacts")
        self.HC = schemas.conform(inputs.hs_contacts, "hs_contacts")
        self.AS = schemas.conform(inputs.hs_associations, "hs_associations")
        self.as_c = lookup(c_id, self.AS["company_id"])
        self.as_h = lookup(self.HC["id"], self.AS["contact_id"])
        self.lifecycle: tuple | None = None  # R7 ranks, filled on first use


def _criteria(inputs: SyncInputs, st: Settings, C: pd.DataFrame, cts: _Contacts, cand: np.ndarray) -> dict:
    """Each creation rule as its own vectorised boolean test over the candidate companies."""
    nc = len(C)
    HC, SC = cts.HC, cts.SC
    as_c = cts.as_c
    keep = as_c >= 0
    keep[keep] = cand[as_c[keep]]
    AS, as_c, as_h = cts.AS[keep].reset_index(drop=True), as_c[keep], cts.as_h[keep]
    hc_sfc = lookup(SC["Id"], HC["salesforcecontactid"])
    sc_private = SC["AccountId"].isna().to_numpy()
    private_h = (hc_sfc >= 0) & sc_private[np.maximum(hc_sfc, 0)] if len(SC) else np.zeros(len(HC), dtype=bool)
    lead_h = (HC["salesforceleadid"].notna() & HC["salesforcecontactid"].isna()).to_numpy()
    has = as_h >= 0
    private_row = has & private_h[np.maximum(as_h, 0)] if len(HC) else np.zeros(len(AS), dtype=bool)
    lead_row = has & lead_h[np.maximum(as_h, 0)] if len(HC) else np.zeros(len(AS), dtype=bool)
    listed = st.inclusion_list_id is not None
    if listed:
        LM = schemas.conform(inputs.hs_list_members, "hs_list_members")
        in_list_row = lookup(LM["contact_id"], AS["contact_id"]) >= 0
    else:
        in_list_row = np.ones(len(AS), dtype=bool)  # no list: every contact qualifies
    n = np.bincount(as_c, minlength=nc)
    n_priv = np.bincount(as_c, weights=private_row, minlength=nc)
    n_lead = np.bincount(as_c, weights=lead_row, minlength=nc)
    n_list = np.bincount(as_c, weights=in_list_row, minlength=nc)
    r5a = ((C["hs_object_source"] == "CONTACTS").to_numpy(dtype=bool)
           & (st.default_salesforce_object == "Contact"))
    r5b = n_priv > 0
    r5c = n_list > 0
    r6a = n == 0
    r6b = (n > 0) & (n_lead == n)
    r6c = listed & (n_list == 0)
    flags = (r5a, r5b, r5c, r6a, r6b, r6c)
    create = (r5a | r5b | r5c) & ~(r6a | r6b | r6c)
    code = sum(f.astype(np.int64) << i for i, f in enumerate(flags))
    names = np.array(["+".join(r for i, r in enumerate(_CRIT) if k >> i & 1) or "none" for k in range(64)],
                     dtype=object)
    reason = np.select(
        [create & r5a, create & r5b, create & r5c, r6a, r6b, r6c],
        [Reason.R5A_AUTO_CREATED_COMPANY, Reason.R5B_PRIVATE_CONTACT, Reason.R5C_INCLUSION_LIST,
         Reason.R6A_NO_CONTACTS, Reason.R6B_ONLY_LEADS, Reason.R6C_NOT_IN_INCLUSION_LIST],
        Reason.R5_NO_CREATE_RULE,
    ).astype(object)
    pr = np.flatnonzero(private_row)
    private_pairs = pd.DataFrame({"c_pos": as_c[pr], "contact_id": as_str(HC["salesforcecontactid"]).to_numpy()[
        as_h[pr]] if len(pr) else np.zeros(0, dtype=object)})
    return {"create": create, "reason": reason, "held": names[code], "private_pairs": private_pairs}


# ---------------------------------------------------------------------------------------------- field rules
def _base_values(inputs: SyncInputs, a_id, c_id, pa, pc) -> pd.DataFrame:
    SV = schemas.conform(inputs.synced_values, "synced_values")
    SV = SV.sort_values("synced_at", ascending=False, na_position="last").drop_duplicates(
        ["account_id", "company_id", "field"])
    pkey = a_id.take(pa).reset_index(drop=True) + "\x1f" + c_id.take(pc).reset_index(drop=True)
    skey = SV["account_id"] + "\x1f" + SV["company_id"]
    return SV.assign(pos=lookup(pkey, skey)).query("pos >= 0")


def _resolve_pairs(A, C, pa, pc, maps, inputs, ctx, owner_of_user, user_of_owner, a_url, c_dom_norm) -> dict:
    """Field rules per mapping over the pairs. ``a_url`` / ``c_dom_norm``: the accounts' url field and the
    companies' domain, already normalised (the company domain follows the website written to it)."""
    n = len(pa)
    base_rows = _base_values(inputs, A["Id"], C["id"], pa, pc)
    sf_newer = (A["SystemModstamp"].take(pa).reset_index(drop=True) >= C["hs_lastmodifieddate"].take(pc)
                .reset_index(drop=True)).fillna(True).to_numpy(dtype=bool)
    hs_cells, sf_cells = _Cells(), _Cells()
    keep: list[tuple] = []
    conflicts = []
    for m in maps:
        S = salesforce_to_hubspot(m, A[m.salesforce].take(pa).reset_index(drop=True), owner_of_user)
        H = hubspot_to_salesforce(m, C[m.hubspot].take(pc).reset_index(drop=True), user_of_owner)
        base = _s(None, n)
        has_base = np.zeros(n, dtype=bool)
        rows = base_rows[(base_rows["field"] == m.salesforce).to_numpy()]
        if len(rows):
            bp = rows["pos"].to_numpy()
            base[bp] = rows["value"].to_numpy()
            has_base[bp] = True
        # no last-synced value for this field on any pair (common): converting blanks gives blanks
        B = salesforce_to_hubspot(m, base, owner_of_user) if len(rows) else Converted(
            base, base, base, np.zeros(n, dtype=bool))
        sf_na, hs_na = S.canon.isna().to_numpy(), H.canon.isna().to_numpy()
        s_ok = S.error.isna().to_numpy() & ~S.unmatched
        eq = (sf_na & hs_na) | (s_ok & same(S.other, H.canon))
        b_nn = B.canon.notna().to_numpy()
        if m.rule is SyncRule.ALWAYS_USE_SALESFORCE:
            to_hs = ~eq & (~sf_na | b_nn)  # a value always overwrites; cleared in SF -> cleared in HS
            to_sf = np.zeros(n, dtype=bool)  # never, even when SF is blank
            conflict = np.zeros(n, dtype=bool)
        elif m.rule is SyncRule.PREFER_SALESFORCE_UNLESS_BLANK:
            cleared = sf_na & ~hs_na & b_nn & same(H.canon, B.other)  # SF had the agreed value, now blank
            to_hs = ~eq & (~sf_na | cleared)
            to_sf = ~eq & sf_na & ~hs_na & ~cleared  # HS fills a blank SF
            conflict = np.zeros(n, dtype=bool)
        else:  # two_way: three-way merge against the last synced value
            sf_chg = ~same(S.canon, B.canon)
            hs_chg = ~same(H.canon, B.other)
            both = sf_chg & hs_chg
            to_sf = ~eq & ((hs_chg & ~sf_chg) | (both & ~sf_newer))
            to_hs = ~eq & ~to_sf
            conflict = ~eq & both
        # to HubSpot
        drop_h = ~sf_na & S.unmatched  # unmatched owner: left alone
        wh = np.flatnonzero(to_hs & ~drop_h)
        err_h = S.error.where(~sf_na)
        hs_cells.add(wh, m.hubspot, S.other.iloc[wh], err_h.iloc[wh],
                     _reject_msg(m, "hs", S.canon.iloc[wh].reset_index(drop=True),
                                 err_h.iloc[wh].reset_index(drop=True)))
        # to Salesforce
        drop_s = (~hs_na & H.unmatched) | ((m.kind == "owner") & hs_na)  # never clear OwnerId
        err_s = H.error.where(~hs_na)
        if m.salesforce == "Name":
            err_s = err_s.mask(hs_na, RejectCode.REQUIRED_FIELD_MISSING)
        ws = np.flatnonzero(to_sf & ~drop_s)
        sf_cells.add(ws, m.salesforce, H.other.iloc[ws], err_s.iloc[ws],
                     _reject_msg(m, "sf", H.canon.iloc[ws].reset_index(drop=True),
                                 err_s.iloc[ws].reset_index(drop=True)))
        keep.append((m, to_hs & ~drop_h, to_sf & ~drop_s, eq, S.canon, H.other, B.canon))  # only what synced needs
        cp = np.flatnonzero(conflict)
        if len(cp):
            conflicts.append(pd.DataFrame({
                "pos": cp, "field": m.salesforce, "salesforce_value": S.canon.iloc[cp].to_numpy(),
                "hubspot_value": H.canon.iloc[cp].to_numpy(), "base_value": base.iloc[cp].to_numpy(),
                "winner": np.where(to_sf[cp], "hubspot", "salesforce"),
                "kind": np.where(has_base[cp], "both_changed", "no_baseline"),
            }))
    hs_f, sf_f = hs_cells.frame(), sf_cells.frame()
    hs_rej, hs_code, hs_msg = _first_error(hs_f, n)
    sf_rej, sf_code, sf_msg = _first_error(sf_f, n)
    hs_f = hs_f[~hs_rej[hs_f["pos"].to_numpy()]]
    sf_f = sf_f[~sf_rej[sf_f["pos"].to_numpy()]]
    # the company domain follows its website
    web = [m.hubspot for m in maps if m.kind == "url"]
    if web and len(hs_f):
        w = hs_f[(hs_f["field"] == web[0]).to_numpy()]
        if len(w):
            # the written website is the canonical account value: its normalised form is a_url's
            new_dom = a_url.take(pa[w["pos"].to_numpy()]).reset_index(drop=True)
            cur = c_dom_norm.take(pc[w["pos"].to_numpy()]).reset_index(drop=True)
            d = ~same(new_dom, cur)
            hs_f = pd.concat([hs_f, pd.DataFrame({"pos": w["pos"].to_numpy()[d], "field": _s("domain", d.sum()),
                                                  "value": new_dom[d].reset_index(drop=True)})], ignore_index=True)
    # synced values: what both sides hold once the surviving writes land
    synced = []
    for m, th, ts, eq, s_canon, h_other, b_canon in keep:
        ok_h = th & ~hs_rej
        ok_s = ts & ~sf_rej
        agreed = eq | ok_h | ok_s
        value = s_canon.mask(ok_s, h_other)
        rec = np.flatnonzero(agreed & ~same(value, b_canon))
        if len(rec):
            synced.append(_pos_frame(rec, m.salesforce, value))
    rej = hs_rej | sf_rej
    code = hs_code.fillna(sf_code)
    msg = hs_msg.fillna("").str.cat(sf_msg.fillna(""), sep=" ").str.strip()
    return {
        "hs": hs_f[["pos", "field", "value"]].reset_index(drop=True),
        "sf": sf_f[["pos", "field", "value"]].reset_index(drop=True),
        "rej": rej,
        "rej_reason": ("rejected_" + code).where(rej),
        "rej_msg": msg.where(rej),
        "synced": _concat_pos(synced),
        "conflicts": pd.concat(conflicts, ignore_index=True) if conflicts else pd.DataFrame(),
    }


def _pos_frame(pos: np.ndarray, fld: str, values: pd.Series) -> pd.DataFrame:
    """(pos, field, value) rows for one field, strings kept in arrow."""
    return pd.DataFrame({"pos": pos, "field": const_str(fld, len(pos)),
                         "value": values.iloc[pos].reset_index(drop=True)})


def _concat_pos(parts: list[pd.DataFrame]) -> pd.DataFrame:
    if not parts:
        return pd.DataFrame({"pos": np.zeros(0, np.int64), "field": _s([]), "value": _s([])})
    out = pd.concat(parts, ignore_index=True)
    out["value"] = as_str(out["value"])
    return out


# ---------------------------------------------------------------------------------------------- creates
def _hubspot_creates(A: pd.DataFrame, ca: np.ndarray, maps, owner_of_user, a_url) -> dict:
    """Companies created from accounts (upsert key salesforceaccountid = Account Id). Every mapping that moves
    Salesforce values to HubSpot contributes its non-blank values; an unmatched owner leaves the company without
    one; a value HubSpot would refuse rejects the whole create."""
    n = len(ca)
    cells, conv = _Cells(), []
    for m in maps:
        S = salesforce_to_hubspot(m, A[m.salesforce].take(ca).reset_index(drop=True), owner_of_user)
        put = np.flatnonzero(S.canon.notna().to_numpy() & ~S.unmatched)
        cells.add(put, m.hubspot, S.other.iloc[put], S.error.iloc[put],
                  _reject_msg(m, "hs", S.canon.iloc[put].reset_index(drop=True),
                              S.error.iloc[put].reset_index(drop=True)))
        conv.append((m, put, S))
    f = cells.frame()
    rej, code, msg = _first_error(f, n)
    f = f[~rej[f["pos"].to_numpy()]]
    ok = np.flatnonzero(~rej)
    ids = take(A["Id"], ca)
    parts = [f[["pos", "field", "value"]], _pos_frame(ok, "salesforceaccountid", ids)]
    web = [m.hubspot for m in maps if m.kind == "url"]
    if web:
        w = f[(f["field"] == web[0]).to_numpy()]
        dom = a_url.take(ca[w["pos"].to_numpy()]).reset_index(drop=True)  # normalised once, upstream
        nn = dom.notna().to_numpy()
        parts.append(pd.DataFrame({"pos": w["pos"].to_numpy()[nn], "field": const_str("domain", int(nn.sum())),
                                   "value": dom[nn].reset_index(drop=True)}))
    out = _concat_pos(parts)
    synced = []
    for m, put, S in conv:
        p = put[~rej[put]]
        synced.append(_pos_frame(p, m.salesforce, S.canon))
    return {
        "cells": pd.DataFrame({"record_id": take(ids, out["pos"].to_numpy()), "field": out["field"],
                               "value": out["value"]}),
        "rejected": rej, "rej_reason": ("rejected_" + code).where(rej), "rej_msg": msg.where(rej),
        "synced": _concat_pos(synced),
    }


def _salesforce_creates(C: pd.DataFrame, cc: np.ndarray, maps, user_of_owner, integration_user_id,
                        c_rank: np.ndarray) -> dict:
    """Accounts created from companies (upsert key HubSpot_Company_ID__c = company id). Mappings that may move
    HubSpot values to Salesforce on a blank account (prefer_salesforce_unless_blank, two_way) contribute; an
    unmatched or blank owner falls back to the integration user; Name is required."""
    n = len(cc)
    cells, conv = _Cells(), []
    has_name = np.zeros(n, dtype=bool)
    for m in maps:
        if m.rule not in (SyncRule.PREFER_SALESFORCE_UNLESS_BLANK, SyncRule.TWO_WAY):
            continue
        H = hubspot_to_salesforce(m, C[m.hubspot].take(cc).reset_index(drop=True), user_of_owner)
        putm = H.canon.notna().to_numpy() & ~H.unmatched
        put = np.flatnonzero(putm)
        cells.add(put, m.salesforce, H.other.iloc[put], H.error.iloc[put],
                  _reject_msg(m, "sf", H.canon.iloc[put].reset_index(drop=True),
                              H.error.iloc[put].reset_index(drop=True)))
        conv.append((m, put, H))
        if m.salesforce == "Name":
            has_name = putm
        if m.kind == "owner" and integration_user_id:
            fb = np.flatnonzero(~putm)
            cells.add(fb, m.salesforce, _s(integration_user_id, len(fb)))
    miss = np.flatnonzero(~has_name)
    cells.add(miss, "Name", _s(None, len(miss)), _s(RejectCode.REQUIRED_FIELD_MISSING.value, len(miss)),
              _s("REQUIRED_FIELD_MISSING: the company has no name for the required Account Name", len(miss)))
    f = cells.frame()
    rej, code, msg = _first_error(f, n)
    f = f[~rej[f["pos"].to_numpy()]]
    ok = np.flatnonzero(~rej)
    ids = take(C["id"], cc)
    out = _concat_pos([f[["pos", "field", "value"]],
                       _pos_frame(ok, "HubSpot_Company_ID__c", ids)])
    synced = []
    for m, put, H in conv:
        p = put[~rej[put]]
        synced.append(_pos_frame(p, m.salesforce, H.other))

    def attach(inputs: SyncInputs, crit_pairs: pd.DataFrame | None = None) -> pd.DataFrame:
        return _attachments(C, cc[ok], crit_pairs, c_rank)

    return {
        "cells": pd.DataFrame({"record_id": take(ids, out["pos"].to_numpy()), "field": out["field"],
                               "value": out["value"]}),
        "rejected": rej, "rej_reason": ("rejected_" + code).where(rej), "rej_msg": msg.where(rej),
        "synced": _concat_pos(synced), "attach": attach, "created": cc[ok],
    }


def _attachments(C: pd.DataFrame, created: np.ndarray, private_pairs: pd.DataFrame | None,
                 rank: np.ndarray) -> pd.DataFrame:
    """Adopted rule: private Salesforce contacts (R5b) get AccountId = the new account of their company."""
    if private_pairs is None or len(private_pairs) == 0 or len(created) == 0:
        return _empty("contact_attachments")
    mask = np.zeros(len(C), dtype=bool)
    mask[created] = True
    pp = private_pairs[mask[private_pairs["c_pos"].to_numpy()]]
    pick = first_per_group(pd.factorize(pp["contact_id"])[0], rank[pp["c_pos"].to_numpy()])
    pp = pp[pick]
    return _frame(contact_id=pp["contact_id"], company_id=take(C["id"], pp["c_pos"].to_numpy()))


# ---------------------------------------------------------------------------------------------- R7 lifecycle
def _lifecycle(inputs: SyncInputs, C: pd.DataFrame, cts: _Contacts, syncing: np.ndarray):
    """A syncing company's stage advances to the furthest stage among its associated contacts, never backwards.
    Stages outside the given order (``other``, unknown) neither move a company nor get moved."""
    stages = [s for s in inputs.lifecycle_stages if s != "other"]
    nc = len(C)
    if cts.lifecycle is None:  # stage ranks do not depend on ``syncing``: computed on the first call only
        rank = {k: str(v) for k, v in {s: i for i, s in enumerate(stages)}.items()}
        h_rank = pd.to_numeric(map_values(cts.HC["lifecyclestage"].str.strip().str.lower(), rank),
                               errors="coerce").fillna(-1).to_numpy(dtype=np.int64)
        cur_s = C["lifecyclestage"].str.strip().str.lower()
        cur = pd.to_numeric(map_values(cur_s, rank), errors="coerce")
        cur_known = cur.notna().to_numpy() | cur_s.isna().to_numpy()
        cts.lifecycle = (h_rank, cur_known, cur.fillna(-1).to_numpy(dtype=np.int64))
    h_rank, cur_known, cur_r = cts.lifecycle
    as_c, as_h = cts.as_c, cts.as_h
    ok = (as_c >= 0) & (as_h >= 0)
    ok[ok] = syncing[as_c[ok]]
    best = np.full(nc, -1, dtype=np.int64)
    if ok.any():
        np.maximum.at(best, as_c[ok], h_rank[as_h[ok]])
    adv = np.flatnonzero(syncing & cur_known & (best > cur_r))
    return adv, _s(np.asarray(stages, dtype=object)[best[adv]] if len(adv) else [])
