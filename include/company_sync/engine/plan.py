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

from include.company_sync.settings import Settings, SyncRule

from . import schemas
from ._util import (
    CAT,
    STR,
    _arrow,
    as_str,
    cat_from_codes,
    choose,
    concat_cat,
    const_cat,
    const_str,
    first_per_group,
    from_arrow,
    lookup,
    lookup_many,
    map_values,
    rank_of,
    same,
    shared_codes,
    take,
    take_cat,
    take_rows,
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
        "subscriber",
        "lead",
        "marketingqualifiedlead",
        "salesqualifiedlead",
        "opportunity",
        "customer",
        "evangelist",
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
    return (
        pd.Series(np.asarray(values, dtype=object), dtype=STR) if not isinstance(values, pd.Series) else as_str(values)
    )


def _frame(**cols) -> pd.DataFrame:
    n = max((len(v) for v in cols.values() if not np.isscalar(v) and v is not None), default=0)
    return pd.DataFrame({k: _s(v, n) for k, v in cols.items()})


def _writes(record_id, fld, value) -> pd.DataFrame:
    """A write frame: record_id, field (``category``; one name or a Series), value."""
    n = len(record_id)
    return pd.DataFrame(
        {
            "record_id": to_cat(record_id),
            "field": const_cat(fld, n) if isinstance(fld, str) else to_cat(fld),
            "value": _s(value, n),
        }
    )


def _concat_writes(parts: list[pd.DataFrame], name: str) -> pd.DataFrame:
    return _conform_out(
        pd.DataFrame(
            {
                "record_id": concat_cat([p["record_id"] for p in parts]),
                "field": concat_cat([p["field"] for p in parts]),
                "value": as_str(pd.concat([p["value"] for p in parts], ignore_index=True)),
            }
        ),
        name,
    )


def _owner_maps(users: pd.DataFrame, owners: pd.DataFrame) -> tuple[dict[str, str], dict[str, str]]:
    """Active Salesforce users <-> HubSpot owners by exact email (case-insensitive) and name (two-way)."""
    u = users[users["IsActive"].to_numpy(dtype=bool)]
    ukey = (
        u["Email"].str.strip().str.lower()
        + "|"
        + (u["FirstName"].fillna("") + " " + u["LastName"].fillna("")).str.strip().str.lower()
    )
    okey = (
        owners["email"].str.strip().str.lower()
        + "|"
        + (owners["firstName"].fillna("") + " " + owners["lastName"].fillna("")).str.strip().str.lower()
    )
    left = pd.DataFrame({"k": ukey.to_numpy(), "user": u["Id"].to_numpy()}).dropna()
    right = pd.DataFrame({"k": okey.to_numpy(), "owner": owners["id"].to_numpy()}).dropna()
    m = left.merge(right, on="k").sort_values(["user", "owner"])
    m = m.drop_duplicates("user").drop_duplicates("owner")
    return dict(zip(m["user"], m["owner"], strict=True)), dict(zip(m["owner"], m["user"], strict=True))


def _stack_positions(*parts) -> np.ndarray:
    """Concatenated int32 positions, filled in place; an int ``-k`` stands for ``k`` NA (-1) positions."""
    out = np.empty(sum(-p if isinstance(p, int) else len(p) for p in parts), dtype=np.int32)
    at = 0
    for p in parts:
        k = -p if isinstance(p, int) else len(p)
        out[at : at + k] = -1 if isinstance(p, int) else p
        at += k
    return out


def _pick(conds: list[np.ndarray], labels: list, default, n: int | None = None) -> np.ndarray:
    """``np.select`` for labels (enum strings), as an object array of references to them: numpy's own select
    would build a new string per row (70 MB for a million rows)."""
    table = np.empty(len(labels) + 1, dtype=object)
    table[:] = [*labels, default]
    if not conds:
        return table[np.full(n, len(labels), dtype=np.int8)]
    return table[np.select(conds, np.arange(len(labels)), len(labels))]


def _in(ids: pd.Series, chosen) -> np.ndarray:
    if not chosen:
        return np.zeros(len(ids), dtype=bool)
    return lookup(pd.Series(list(chosen), dtype=STR), ids) >= 0


def _ts_gt(s: pd.Series, t: pd.Timestamp, ge: bool = False) -> np.ndarray:
    r = (s >= t) if ge else (s > t)
    return r.fillna(False).to_numpy(dtype=bool)


class _Cells:
    """Long-form writes being assembled: (position, field, value) cells, and apart the few cells the target
    would refuse (position, error code, message). Field names stay small codes until the frame is built."""

    def __init__(self):
        self.fields: list[str] = []
        self.pos: list[np.ndarray] = []
        self.fld: list[np.ndarray] = []
        self.val: list[pd.Series] = []
        self.bad: list[pd.DataFrame] = []

    def add(
        self,
        pos,
        fld: str,
        values,
        err=None,
        refused: pd.Series | None = None,
        target: str = "",
        msg: str | None = None,
    ) -> None:
        """Cells ``pos`` of ``fld``. ``values`` / ``err`` / ``refused`` are full-length Series read at ``pos`` (or
        one value for every cell); ``err`` NA = fine. The message of a refused cell quotes ``refused``."""
        pos = np.asarray(pos, dtype=np.int64)
        n = len(pos)
        if n == 0:
            return
        if fld not in self.fields:
            self.fields.append(fld)
        self.pos.append(pos)
        self.fld.append(np.full(n, self.fields.index(fld), dtype=np.int16))
        self.val.append(take(values, pos) if isinstance(values, pd.Series) else const_str(values, n))
        if err is None:
            return
        if isinstance(err, str):
            bp, codes = pos, const_str(err, n)
        else:
            bp = pos[err.notna().to_numpy()[pos]]
            if len(bp) == 0:
                return
            codes = take(err, bp)
        text = (
            const_str(msg, len(bp))
            if msg is not None
            else (codes + ": " + target + " refuses '" + take(refused, bp).fillna("").str.slice(0, 60) + "'")
        )
        self.bad.append(pd.DataFrame({"pos": bp, "err": codes, "msg": text}))

    def frame(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """-> (cells: pos, field (category), value; refused cells: pos, err, msg)."""
        cells = pd.DataFrame(
            {
                "pos": np.concatenate(self.pos) if self.pos else np.zeros(0, np.int64),
                "field": cat_from_codes(np.concatenate(self.fld) if self.fld else np.zeros(0, np.int16), self.fields),
                "value": pd.concat(self.val, ignore_index=True) if self.val else _s([]),
            }
        )
        bad = (
            pd.concat(self.bad, ignore_index=True)
            if self.bad
            else pd.DataFrame({"pos": np.zeros(0, np.int64), "err": _s([]), "msg": _s([])})
        )
        return cells, bad


def _first_error(bad: pd.DataFrame, n: int) -> tuple[np.ndarray, pd.Series, pd.Series]:
    """Per position: rejected?, its first refused cell's error code and message."""
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
        return Plan(
            decisions=_decisions_all(
                a_id, c_id, Action.SKIPPED, Reason.R1_COMPANY_SYNC_OFF, "company sync is off: nothing is synced"
            )
        )

    a_deleted = A["IsDeleted"].to_numpy(dtype=bool)

    # ---- every id lookup at once: each id column is hashed a single time, together with all its queries
    L = schemas.conform(inputs.links, "links").drop_duplicates("account_id").drop_duplicates("company_id")
    cts = _Contacts(inputs)
    SV = schemas.conform(inputs.synced_values, "synced_values")
    a_distinct, (la, c_sfid_pos, sc_a, sv_a) = lookup_many(
        a_id, L["account_id"], C["salesforceaccountid"], cts.SC["AccountId"], SV["account_id"]
    )
    c_distinct, (lc, a_hsid_pos, cts.as_c, sv_c) = lookup_many(
        c_id, L["company_id"], A["HubSpot_Company_ID__c"], cts.AS["company_id"], SV["company_id"]
    )
    # the ids of rows in the outputs, as category codes over the input id columns (when those are distinct)
    a_cats, c_cats = (pd.Index(a_id) if a_distinct else None), (pd.Index(c_id) if c_distinct else None)

    def a_key(pos):
        return take_cat(a_id, pos, a_cats)

    def c_key(pos):
        return take_cat(c_id, pos, c_cats)

    # ---- links (state store)
    a_linked, c_linked = np.zeros(na, dtype=bool), np.zeros(nc, dtype=bool)
    a_linked[la[la >= 0]] = True
    c_linked[lc[lc >= 0]] = True
    del_link = (la >= 0) & a_deleted[np.maximum(la, 0)] if na else np.zeros(len(L), dtype=bool)
    removed = L[del_link]
    c_lost_account = np.zeros(nc, dtype=bool)
    lost_c = lc[del_link]
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
    a_src_reason = _pick(
        [rs_a, imp, created_after],
        [Reason.R8_MANUAL_RESYNC, Reason.R3A_IMPORTED, Reason.R2_NEW_ACCOUNT],
        Reason.R3B_EDITED_AFTER_ENABLE,
    )

    free_a, free_c = a_src.copy(), ~c_linked
    m_a, m_c, m_r = [], [], []
    dups: list[pd.DataFrame] = []

    def _take(res, reason, src_is_account: bool):
        s, t = (res.src, res.tgt) if src_is_account else (res.tgt, res.src)
        m_a.append(s)
        m_c.append(t)
        m_r.append(_pick([], [], reason, len(s)))
        free_a[s] = False
        free_c[t] = False
        if len(res.dup_src):
            src_ids, tgt_ids = (a_id, c_id) if src_is_account else (c_id, a_id)
            dups.append(
                _frame(
                    system="salesforce" if src_is_account else "hubspot",
                    record_id=take(src_ids, res.dup_src),
                    matched_id=take(tgt_ids, res.dup_matched),  # -1: none
                    candidate_id=take(tgt_ids, res.dup_cand),
                    step=str(reason),
                    kind=res.dup_kind,
                )
            )

    # step 2: id (company.salesforceaccountid = Account Id, or Account.HubSpot_Company_ID__c = company id)
    cs = np.r_[c_sfid_pos[c_sfid_pos >= 0], np.flatnonzero(a_hsid_pos >= 0)]
    ct = np.r_[np.flatnonzero(c_sfid_pos >= 0), a_hsid_pos[a_hsid_pos >= 0]]
    _take(resolve_step(cs, ct, free_a, free_c, a_rank, c_rank, nc), Reason.R9_LINKED_BY_ID, True)
    # step 3: domain
    cs, ct = pairs_on_codes(a_dc, free_a, c_dc, free_c)
    _take(resolve_step(cs, ct, free_a, free_c, a_rank, c_rank, nc), Reason.R9_LINKED_BY_DOMAIN, True)
    # step 4: shared contacts by email
    if free_a.any():
        SC, HC, as_c, as_h = cts.SC, cts.HC, cts.as_c, cts.as_h
        as_email = take(HC["email"].str.strip().str.lower(), as_h)
        e_sf, e_hs = shared_codes(SC["Email"].str.strip().str.lower(), as_email)
        s_ok = sc_a >= 0
        s_ok[s_ok] = free_a[sc_a[s_ok]]
        t_ok = as_c >= 0
        t_ok[t_ok] = free_c[as_c[t_ok]]
        ps, pt = pairs_on_codes(e_sf, s_ok, e_hs, t_ok)
        _take(
            resolve_step(sc_a[ps] if len(ps) else ps, as_c[pt] if len(pt) else pt, free_a, free_c, a_rank, c_rank, nc),
            Reason.R9_LINKED_BY_CONTACTS,
            True,
        )
        del as_email, e_sf, e_hs, as_c, as_h, ps, pt, s_ok, t_ok  # a million-row plan keeps only what later steps read
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
        dups.append(
            _frame(
                system="hubspot",
                record_id=take(c_id, ds),
                matched_id=None,
                candidate_id=None,
                step=str(Reason.R9_DUPLICATE_CANDIDATE),
                kind="target_taken",
            )
        )
    c_cand = c_src_m
    del a_web, a_dom, c_dom, a_dc, c_dc

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
    owner_of_user, user_of_owner = _owner_maps(
        schemas.conform(inputs.sf_users, "sf_users"), schemas.conform(inputs.hs_owners, "hs_owners")
    )
    base = _base_values(SV, sv_a, sv_c, pa, pc, na)
    del SV, sv_a, sv_c
    res_pairs = _resolve_pairs(A, C, pa, pc, maps, base, owner_of_user, user_of_owner, a_url, c_dom_norm)

    # ---- creates
    hs_cr = _hubspot_creates(A, np.flatnonzero(a_create), maps, owner_of_user, a_url, a_key)
    sf_cr = _salesforce_creates(
        C, np.flatnonzero(c_create), maps, user_of_owner, ctx.integration_user_id, c_rank, c_key
    )

    # ---- R7 lifecycle for companies that sync
    syncing = c_has_pair.copy()
    syncing[new_c] = True
    syncing[np.flatnonzero(c_create)[~sf_cr["rejected"]]] = True
    lc_pos, lc_val = _lifecycle(inputs, C, cts, syncing)
    del cts, base, a_url, c_dom_norm

    # ---- updates
    npair = len(pa)
    hs_w, sf_w = res_pairs.pop("hs"), res_pairs.pop("sf")
    p_hs_w = np.zeros(npair, dtype=bool)
    p_hs_w[hs_w["pos"].to_numpy()] = True
    p_sf_w = np.zeros(npair, dtype=bool)
    p_sf_w[sf_w["pos"].to_numpy()] = True
    hs_parts = [_writes(c_key(pc[hs_w["pos"].to_numpy()]), hs_w["field"], hs_w["value"])]
    link_hs = p_new & ~same(
        C["salesforceaccountid"].take(pc).reset_index(drop=True), a_id.take(pa).reset_index(drop=True)
    )
    hs_parts.append(_writes(c_key(pc[link_hs]), "salesforceaccountid", take(a_id, pa[link_hs])))
    hs_parts.append(_writes(c_key(lc_pos), "lifecyclestage", lc_val))
    hubspot_updates = _concat_writes(hs_parts, "hubspot_updates")
    sf_parts = [_writes(a_key(pa[sf_w["pos"].to_numpy()]), sf_w["field"], sf_w["value"])]
    link_sf = p_new & ~same(
        A["HubSpot_Company_ID__c"].take(pa).reset_index(drop=True), c_id.take(pc).reset_index(drop=True)
    )
    sf_parts.append(_writes(a_key(pa[link_sf]), "HubSpot_Company_ID__c", take(c_id, pc[link_sf])))
    salesforce_updates = _concat_writes(sf_parts, "salesforce_updates")
    del hs_w, sf_w, hs_parts, sf_parts

    # ---- decisions
    p_rej = res_pairs["rej"]
    c_lc = np.zeros(nc, dtype=bool)
    c_lc[lc_pos] = True

    a_dec = _DecisionBuilder(na)
    c_dec = _DecisionBuilder(nc)
    # pair-level decisions (rejected > linked > updated > unchanged)
    p_action = _pick(
        [p_rej, p_new, p_hs_w | p_sf_w | c_lc[pc]], [Action.REJECTED, Action.LINKED, Action.UPDATED], Action.UNCHANGED
    )
    p_reason = _pick([p_hs_w | p_sf_w, c_lc[pc]], [Reason.UPDATED, Reason.R7_LIFECYCLE_ADVANCED], Reason.UNCHANGED)
    p_reason[p_new] = new_r  # the new pairs are the last ones
    p_reason[p_rej] = res_pairs["rej_reason"].to_numpy(dtype=object)[p_rej]
    # templated (the pair's ids are the decision's record_id and new_links): four texts + rare rejections
    texts = np.empty(4, dtype=object)
    texts[:] = [f"{h} HubSpot write(s), {w} Salesforce write(s)" for h in (0, 1) for w in (0, 1)]
    p_msg = texts[p_hs_w * 2 + p_sf_w]
    if p_rej.any():  # first set wins: the rejected pairs get their own message
        r = np.flatnonzero(p_rej)
        rej_msg = pd.Series(p_msg[r], dtype=STR) + take(res_pairs["rej_msg"], r).fillna("").radd("; ")
        a_dec.set(pa[r], p_action[r], p_reason[r], rej_msg)
        c_dec.set(pc[r], p_action[r], p_reason[r], rej_msg)
    a_dec.set(pa, p_action, p_reason, p_msg)
    c_dec.set(pc, p_action, p_reason, p_msg)
    # creates
    ca = np.flatnonzero(a_create)
    a_dec.set(
        ca,
        _pick([hs_cr["rejected"]], [Action.REJECTED], Action.CREATED),
        np.where(hs_cr["rejected"], hs_cr["rej_reason"].to_numpy(dtype=object), a_src_reason[ca]),
        (
            "create company from account ("
            + pd.Series(a_src_reason[ca], dtype=STR)
            + ")"
            + hs_cr["rej_msg"].fillna("").radd("; ").where(hs_cr["rejected"], "")
        ),
    )
    cc = np.flatnonzero(c_create)
    cre_reason = crit["reason"][cc]
    cre_reason[rs_c[cc]] = Reason.R8_MANUAL_RESYNC
    c_dec.set(
        cc,
        _pick([sf_cr["rejected"]], [Action.REJECTED], Action.CREATED),
        np.where(sf_cr["rejected"], sf_cr["rej_reason"].to_numpy(dtype=object), cre_reason),
        (
            "create account from company; rules held: "
            + pd.Series(crit["held"][cc], dtype=STR)
            + sf_cr["rej_msg"].fillna("").radd("; ").where(sf_cr["rejected"], "")
        ),
        rule=np.where(rs_c[cc], "R8", crit["held"][cc]),
    )
    # skips, in priority order (first set wins)
    a_dec.set_mask(
        a_deleted,
        Action.SKIPPED,
        Reason.DELETED,
        "deleted in Salesforce: never creates; its link is removed, the company is kept",
    )
    c_dec.set_mask(
        c_lost_account,
        Action.SKIPPED,
        Reason.DELETED,
        "linked account deleted in Salesforce: link removed, company kept",
    )
    a_dec.set_mask(a_has_pair, Action.SKIPPED, Reason.NOT_CHANGED, "linked; neither side changed in the window")
    c_dec.set_mask(c_has_pair & c_lc, Action.UPDATED, Reason.R7_LIFECYCLE_ADVANCED, "lifecycle stage advanced")
    c_dec.set_mask(c_has_pair, Action.SKIPPED, Reason.NOT_CHANGED, "linked; neither side changed in the window")
    a_dec.set_mask(
        a_linked & a_changed, Action.SKIPPED, Reason.COUNTERPART_MISSING, "linked company not among the inputs"
    )
    c_dec.set_mask(
        c_linked & c_changed, Action.SKIPPED, Reason.COUNTERPART_MISSING, "linked account not among the inputs"
    )
    c_dec.set_mask(
        c_dupskip,
        Action.SKIPPED,
        Reason.R9_DUPLICATE_CANDIDATE,
        "an account with this domain/id already exists and is linked elsewhere: not created, reported",
    )
    c_dec.set_mask(
        c_missing,
        Action.SKIPPED,
        Reason.COUNTERPART_MISSING,
        "salesforceaccountid names an account not among the inputs",
    )
    nc_m = c_cand & ~c_create
    c_dec.set(
        np.flatnonzero(nc_m),
        Action.SKIPPED,
        crit["reason"][nc_m],
        "no account created; rules held: "
        + pd.Series(crit["held"][nc_m], dtype=STR)
        + " (adopted: any do-not-create rule wins)",
        rule=crit["held"][nc_m],
    )
    a_dec.set_mask(
        a_changed & ~a_deleted & ~eligible,
        Action.SKIPPED,
        Reason.R3_EXISTING_NOT_EDITED,
        "existing account (created before sync was enabled), not imported nor edited since",
    )
    a_dec.set_mask(np.ones(na, dtype=bool), Action.SKIPPED, Reason.NOT_CHANGED, "not changed in the window")
    c_dec.set_mask(np.ones(nc, dtype=bool), Action.SKIPPED, Reason.NOT_CHANGED, "not changed in the window")
    decisions = _DecisionBuilder.concat([a_dec.frame("salesforce", a_id), c_dec.frame("hubspot", c_id)])
    del a_dec, c_dec, p_action, p_reason, p_msg

    # ---- the rest
    new_links = _frame(account_id=take(a_id, new_a), company_id=take(c_id, new_c), reason=new_r)
    removed_links = _frame(account_id=removed["account_id"], company_id=removed["company_id"], reason="deleted")
    att = sf_cr["attach"](inputs, crit.pop("private_pairs"))
    del crit, sc_a, c_sfid_pos, a_hsid_pos, la, lc
    conflicts = res_pairs["conflicts"]
    if len(conflicts):
        conflicts = conflicts.assign(
            account_id=a_key(pa[conflicts["pos"].to_numpy()]),
            company_id=c_key(pc[conflicts["pos"].to_numpy()]),
        )
    conflicts = _conform_out(conflicts, "conflicts")
    hubspot_creates = _conform_out(hs_cr.pop("cells"), "hubspot_creates")
    salesforce_creates = _conform_out(sf_cr.pop("cells"), "salesforce_creates")
    # the ids repeat once per field: kept as category codes; the creates' other side comes from the upserts
    sv = (res_pairs.pop("synced"), hs_cr.pop("synced"), sf_cr.pop("synced"))
    sp, hp, fp = (f["pos"].to_numpy() for f in sv)
    synced_values = pd.DataFrame(
        {
            "account_id": a_key(_stack_positions(pa[sp], ca[hp], -len(fp))),
            "company_id": c_key(_stack_positions(pc[sp], -len(hp), cc[fp])),
            "field": concat_cat([f["field"] for f in sv]),
            "value": as_str(pd.concat([f["value"] for f in sv], ignore_index=True)),
        },
        copy=False,
    )
    return Plan(
        hubspot_creates=hubspot_creates,
        hubspot_updates=hubspot_updates,
        salesforce_creates=salesforce_creates,
        salesforce_updates=salesforce_updates,
        contact_attachments=att,
        new_links=new_links,
        removed_links=removed_links,
        decisions=decisions,
        conflicts=conflicts,
        duplicate_candidates=_conform_out(pd.concat(dups, ignore_index=True) if dups else None, "duplicate_candidates"),
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

    def _put(self, col: str, p: np.ndarray, free: np.ndarray, v) -> None:
        if v is None:
            return  # stays NA
        if isinstance(v, str):
            self.idx[col][p] = self._add(col, pa.array([str(v)]))
            return
        if isinstance(v, pd.Series) and v.dtype == STR:
            d = pac.dictionary_encode(_arrow(v).filter(pa.array(free)))  # pool its distinct values only
            codes = np.asarray(d.indices.fill_null(-1), dtype=np.int64)
            self.idx[col][p] = np.where(codes >= 0, self._add(col, d.dictionary) + codes, -1)
            return
        # object arrays of a few distinct values (enums): str() each distinct value once, as astype(str) did
        codes, uniques = pd.factorize(np.asarray(v, dtype=object)[free], use_na_sentinel=True)  # NA stays NA
        off = self._add(col, pa.array([str(u) for u in uniques], pa.large_string()))
        self.idx[col][p] = np.where(codes >= 0, off + codes, -1)

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
            rule = (
                _rule_of(reason)
                if isinstance(reason, str)
                else np.asarray([_rule_of(x) for x in pd.unique(np.asarray(reason, dtype=object))], dtype=object)[
                    pd.factorize(np.asarray(reason, dtype=object), use_na_sentinel=False)[0]
                ]
            )
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
        for col, name in (
            ("system", "system"),
            ("action", "action"),
            ("reason", "reason"),
            ("rule", "rule"),
            ("msg", "message"),
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


def _rule_of(reason) -> str:
    return "field_rules" if str(reason).startswith("rejected_") else RULE_OF_REASON.get(reason, "field_rules")


def _decisions_all(a_id, c_id, action, reason, msg) -> pd.DataFrame:
    frames = []
    for system, ids in (("salesforce", a_id), ("hubspot", c_id)):
        n = len(ids)
        frames.append(
            _frame(
                system=_s(system, n),
                record_id=ids,
                action=_s(str(action), n),
                reason=_s(str(reason), n),
                rule=_s(RULE_OF_REASON[reason], n),
                message=_s(msg, n),
            )
        )
    return _conform_out(pd.concat(frames, ignore_index=True), "decisions")


# ---------------------------------------------------------------------------------------------- R5 / R6
_CRIT = ("R5a", "R5b", "R5c", "R6a", "R6b", "R6c")


class _Contacts:
    """The contact-side inputs conformed once, with the association positions (company, HubSpot contact) that
    matching, R5/R6 and R7 all need: each lookup hashes over a million ids, so it is done once."""

    def __init__(self, inputs: SyncInputs):
        self.SC = schemas.conform(inputs.sf_contacts, "sf_contacts")
        self.HC = schemas.conform(inputs.hs_contacts, "hs_contacts")
        self.AS = schemas.conform(inputs.hs_associations, "hs_associations")
        self.as_c = np.zeros(0, dtype=np.int64)  # company position of each association: set by plan_sync
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
    r5a = (C["hs_object_source"] == "CONTACTS").to_numpy(dtype=bool) & (st.default_salesforce_object == "Contact")
    r5b = n_priv > 0
    r5c = n_list > 0
    r6a = n == 0
    r6b = (n > 0) & (n_lead == n)
    r6c = listed & (n_list == 0)
    flags = (r5a, r5b, r5c, r6a, r6b, r6c)
    create = (r5a | r5b | r5c) & ~(r6a | r6b | r6c)
    code = sum(f.astype(np.int64) << i for i, f in enumerate(flags))
    names = np.array(
        ["+".join(r for i, r in enumerate(_CRIT) if k >> i & 1) or "none" for k in range(64)], dtype=object
    )
    reason = _pick(
        [create & r5a, create & r5b, create & r5c, r6a, r6b, r6c],
        [
            Reason.R5A_AUTO_CREATED_COMPANY,
            Reason.R5B_PRIVATE_CONTACT,
            Reason.R5C_INCLUSION_LIST,
            Reason.R6A_NO_CONTACTS,
            Reason.R6B_ONLY_LEADS,
            Reason.R6C_NOT_IN_INCLUSION_LIST,
        ],
        Reason.R5_NO_CREATE_RULE,
    )
    pr = np.flatnonzero(private_row)
    private_pairs = pd.DataFrame(
        {
            "c_pos": as_c[pr],
            "contact_id": take(HC["salesforcecontactid"], as_h[pr]),
        }
    )
    return {"create": create, "reason": reason, "held": names[code], "private_pairs": private_pairs}


# ---------------------------------------------------------------------------------------------- field rules
def _base_values(
    SV: pd.DataFrame, sv_a: np.ndarray, sv_c: np.ndarray, pa: np.ndarray, pc: np.ndarray, na: int
) -> pd.DataFrame:
    """The last synced value of each (pair, field): (pos, field, value). ``sv_a`` / ``sv_c``: the account and
    company position of each synced-values row. An account is in at most one pair, so no join is needed."""
    pair_of_account = np.full(na + 1, -1, dtype=np.int64)  # position na: "no account"
    pair_of_account[pa] = np.arange(len(pa))
    pos = pair_of_account[np.where(sv_a >= 0, sv_a, na)]
    hit = pos >= 0
    hit[hit] = pc[pos[hit]] == sv_c[hit]
    rows = SV[hit].assign(pos=pos[hit])
    return rows.sort_values("synced_at", ascending=False, na_position="last").drop_duplicates(["pos", "field"])


def _resolve_pairs(A, C, pa, pc, maps, base_rows, owner_of_user, user_of_owner, a_url, c_dom_norm) -> dict:
    """Field rules per mapping over the pairs. ``base_rows``: the pairs' last synced values (``_base_values``).
    ``a_url`` / ``c_dom_norm``: the accounts' url field and the companies' domain, already normalised (the
    company domain follows the website written to it)."""
    n = len(pa)
    sf_newer = (
        (
            A["SystemModstamp"].take(pa).reset_index(drop=True)
            >= C["hs_lastmodifieddate"].take(pc).reset_index(drop=True)
        )
        .fillna(True)
        .to_numpy(dtype=bool)
    )
    hs_cells, sf_cells = _Cells(), _Cells()
    synced: list[tuple] = []  # per field: the values both sides will hold, if the write they need lands
    conflicts = []
    for m in maps:
        S = salesforce_to_hubspot(m, take_rows(A[m.salesforce], pa), owner_of_user)
        H = hubspot_to_salesforce(m, take_rows(C[m.hubspot], pc), user_of_owner)
        base = _s(None, n)
        has_base = np.zeros(n, dtype=bool)
        rows = base_rows[(base_rows["field"] == m.salesforce).to_numpy()]
        if len(rows):
            bp = rows["pos"].to_numpy()
            base[bp] = rows["value"].to_numpy()
            has_base[bp] = True
        # no last-synced value for this field on any pair (common): converting blanks gives blanks
        B = (
            salesforce_to_hubspot(m, base, owner_of_user)
            if len(rows)
            else Converted(base, base, base, np.zeros(n, dtype=bool))
        )
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
        cp = np.flatnonzero(conflict)
        if len(cp):
            conflicts.append(
                pd.DataFrame(
                    {
                        "pos": cp,
                        "field": const_cat(m.salesforce, len(cp)),
                        "salesforce_value": take(S.canon, cp),
                        "hubspot_value": take(H.canon, cp),
                        "base_value": take(base, cp),
                        "winner": np.where(to_sf[cp], "hubspot", "salesforce"),
                        "kind": np.where(has_base[cp], "both_changed", "no_baseline"),
                    }
                )
            )
        to_hs &= ~(~sf_na & S.unmatched)  # unmatched owner: left alone
        to_sf &= ~((~hs_na & H.unmatched) | ((m.kind == "owner") & hs_na))  # ... and OwnerId is never cleared
        hs_cells.add(np.flatnonzero(to_hs), m.hubspot, S.other, S.error.where(~sf_na), S.canon, "HubSpot " + m.hubspot)
        err_s = H.error.where(~hs_na)
        if m.salesforce == "Name":
            err_s = err_s.mask(hs_na, RejectCode.REQUIRED_FIELD_MISSING)
        sf_cells.add(np.flatnonzero(to_sf), m.salesforce, H.other, err_s, H.canon, "Salesforce " + m.salesforce)
        # to_hs / to_sf / eq are exclusive: the value agreed on is H's when it goes to Salesforce, else S's;
        # kept only where it differs from the last synced value, with what it depends on (0 none, 1 the HubSpot
        # write, 2 the Salesforce write): the rejections are known once every field is through
        agreed = choose(to_sf, H.other, S.canon)
        rec = np.flatnonzero((eq | to_hs | to_sf) & ~same(agreed, B.canon))
        synced.append((rec, m.salesforce, take(agreed, rec), np.where(to_sf[rec], 2, to_hs[rec]).astype(np.int8)))
    (hs_f, hs_bad), (sf_f, sf_bad) = hs_cells.frame(), sf_cells.frame()
    hs_rej, hs_code, hs_msg = _first_error(hs_bad, n)
    sf_rej, sf_code, sf_msg = _first_error(sf_bad, n)
    hs_f, sf_f = _kept(hs_f, hs_rej), _kept(sf_f, sf_rej)
    # the company domain follows its website
    web = [m.hubspot for m in maps if m.kind == "url"]
    if web and len(hs_f):
        wp = hs_f["pos"].to_numpy()[(hs_f["field"] == web[0]).to_numpy()]
        if len(wp):
            # the written website is the canonical account value: its normalised form is a_url's
            new_dom = take(a_url, pa[wp])
            d = ~same(new_dom, take(c_dom_norm, pc[wp]))
            hs_f = _concat_pos([hs_f, _pos_frame(wp[d], "domain", new_dom[d].reset_index(drop=True), aligned=True)])
    # synced values: what both sides hold once the surviving writes land
    parts = []
    for rec, fld, value, needs in synced:
        ok = (needs == 0) | ((needs == 1) & ~hs_rej[rec]) | ((needs == 2) & ~sf_rej[rec])
        kept = value if ok.all() else value[ok].reset_index(drop=True)  # no copy when nothing was refused
        parts.append(_pos_frame(rec[ok], fld, kept, aligned=True))
    rej = hs_rej | sf_rej
    code = hs_code.fillna(sf_code)
    msg = hs_msg.fillna("").str.cat(sf_msg.fillna(""), sep=" ").str.strip()
    return {
        "hs": hs_f[["pos", "field", "value"]].reset_index(drop=True),
        "sf": sf_f[["pos", "field", "value"]].reset_index(drop=True),
        "rej": rej,
        "rej_reason": ("rejected_" + code).where(rej),
        "rej_msg": msg.where(rej),
        "synced": _concat_pos(parts),
        "conflicts": pd.concat(conflicts, ignore_index=True) if conflicts else pd.DataFrame(),
    }


def _leading_cells(cells: pd.DataFrame, rejected: np.ndarray, blocks: list[np.ndarray], names: list[str]):
    """The (pos, field, value) rows of the first ``blocks`` of kept ``cells`` (their positions, in order), as a
    slice (no copy); the field codes are renamed through ``names``."""
    k = sum(int((~rejected[put]).sum()) for put in blocks)
    head = cells.iloc[:k]
    return pd.DataFrame(
        {
            "pos": head["pos"].to_numpy(),
            "field": cat_from_codes(head["field"].cat.codes.to_numpy(), names),
            "value": head["value"].reset_index(drop=True),
        },
        copy=False,
    )


def _kept(cells: pd.DataFrame, rejected: np.ndarray) -> pd.DataFrame:
    """The cells of records not rejected (no copy when none is)."""
    return cells[~rejected[cells["pos"].to_numpy()]] if rejected.any() else cells


def _pos_frame(pos: np.ndarray, fld: str, values: pd.Series, aligned: bool = False) -> pd.DataFrame:
    """(pos, field, value) rows for one field: ``values`` read at ``pos``, or already ``aligned`` with it."""
    return pd.DataFrame(
        {"pos": pos, "field": const_cat(fld, len(pos)), "value": as_str(values) if aligned else take(values, pos)}
    )


def _concat_pos(parts: list[pd.DataFrame]) -> pd.DataFrame:
    if not parts:
        return pd.DataFrame({"pos": np.zeros(0, np.int64), "field": const_cat("", 0), "value": _s([])})
    return pd.DataFrame(
        {
            "pos": np.concatenate([p["pos"].to_numpy() for p in parts]),
            "field": concat_cat([p["field"] for p in parts]),
            "value": as_str(pd.concat([p["value"] for p in parts], ignore_index=True)),
        }
    )


# ---------------------------------------------------------------------------------------------- creates
def _hubspot_creates(A: pd.DataFrame, ca: np.ndarray, maps, owner_of_user, a_url, a_key) -> dict:
    """Companies created from accounts (upsert key salesforceaccountid = Account Id). Every mapping that moves
    Salesforce values to HubSpot contributes its non-blank values; an unmatched owner leaves the company without
    one; a value HubSpot would refuse rejects the whole create."""
    n = len(ca)
    cells, shared, conv = _Cells(), [], []
    # fields whose HubSpot value is the canonical Salesforce one (text, url, number) come first: their cells are
    # then also the synced values (a slice, not a copy); picklists and owners are mapped, so taken apart
    for m in sorted(maps, key=lambda m: m.kind in ("picklist", "owner")):
        S = salesforce_to_hubspot(m, take_rows(A[m.salesforce], ca), owner_of_user)
        put = np.flatnonzero(S.canon.notna().to_numpy() & ~S.unmatched)
        cells.add(put, m.hubspot, S.other, S.error, S.canon, "HubSpot " + m.hubspot)
        (shared if m.kind not in ("picklist", "owner") else conv).append((m.salesforce, put, S.canon))
    f, bad = cells.frame()
    rej, code, msg = _first_error(bad, n)
    f = _kept(f, rej)
    sf_name = {m.hubspot: m.salesforce for m in maps}
    synced = [_leading_cells(f, rej, [put for _, put, _ in shared], [sf_name[h] for h in cells.fields])]
    ok = np.flatnonzero(~rej)
    ids = take(A["Id"], ca)
    parts = [f[["pos", "field", "value"]], _pos_frame(ok, "salesforceaccountid", ids)]
    web = [m.hubspot for m in maps if m.kind == "url"]
    if web:
        wp = f["pos"].to_numpy()[(f["field"] == web[0]).to_numpy()]
        dom = take(a_url, ca[wp])  # normalised once, upstream
        nn = dom.notna().to_numpy()
        parts.append(_pos_frame(wp[nn], "domain", dom[nn].reset_index(drop=True), aligned=True))
    out = _concat_pos(parts)
    synced += [_pos_frame(put[~rej[put]], fld, canon) for fld, put, canon in conv]
    return {
        "cells": _writes(a_key(ca[out["pos"].to_numpy()]), out["field"], out["value"]),
        "rejected": rej,
        "rej_reason": ("rejected_" + code).where(rej),
        "rej_msg": msg.where(rej),
        "synced": _concat_pos(synced),
    }


def _salesforce_creates(
    C: pd.DataFrame, cc: np.ndarray, maps, user_of_owner, integration_user_id, c_rank: np.ndarray, c_key
) -> dict:
    """Accounts created from companies (upsert key HubSpot_Company_ID__c = company id). Mappings that may move
    HubSpot values to Salesforce on a blank account (prefer_salesforce_unless_blank, two_way) contribute; an
    unmatched or blank owner falls back to the integration user; Name is required."""
    n = len(cc)
    cells, conv, fallback = _Cells(), [], []
    has_name = np.zeros(n, dtype=bool)
    for m in maps:
        if m.rule not in (SyncRule.PREFER_SALESFORCE_UNLESS_BLANK, SyncRule.TWO_WAY):
            continue
        H = hubspot_to_salesforce(m, take_rows(C[m.hubspot], cc), user_of_owner)
        putm = H.canon.notna().to_numpy() & ~H.unmatched
        put = np.flatnonzero(putm)
        cells.add(put, m.salesforce, H.other, H.error, H.canon, "Salesforce " + m.salesforce)
        conv.append(put)
        if m.salesforce == "Name":
            has_name = putm
        if m.kind == "owner" and integration_user_id:
            fallback.append((np.flatnonzero(~putm), m.salesforce))
    for fb, fld in fallback:  # after the mapped cells, which are then also the synced values (a slice)
        cells.add(fb, fld, integration_user_id)
    cells.add(
        np.flatnonzero(~has_name),
        "Name",
        None,
        RejectCode.REQUIRED_FIELD_MISSING.value,
        msg="REQUIRED_FIELD_MISSING: the company has no name for the required Account Name",
    )
    f, bad = cells.frame()
    rej, code, msg = _first_error(bad, n)
    f = _kept(f, rej)
    ok = np.flatnonzero(~rej)
    ids = take(C["id"], cc)
    out = _concat_pos([f[["pos", "field", "value"]], _pos_frame(ok, "HubSpot_Company_ID__c", ids)])
    synced = [_leading_cells(f, rej, conv, cells.fields)]

    def attach(inputs: SyncInputs, crit_pairs: pd.DataFrame | None = None) -> pd.DataFrame:
        return _attachments(C, cc[ok], crit_pairs, c_rank)

    return {
        "cells": _writes(c_key(cc[out["pos"].to_numpy()]), out["field"], out["value"]),
        "rejected": rej,
        "rej_reason": ("rejected_" + code).where(rej),
        "rej_msg": msg.where(rej),
        "synced": _concat_pos(synced),
        "attach": attach,
        "created": cc[ok],
    }


def _attachments(
    C: pd.DataFrame, created: np.ndarray, private_pairs: pd.DataFrame | None, rank: np.ndarray
) -> pd.DataFrame:
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
        h_rank = (
            pd.to_numeric(map_values(cts.HC["lifecyclestage"].str.strip().str.lower(), rank), errors="coerce")
            .fillna(-1)
            .to_numpy(dtype=np.int64)
        )
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
    return adv, from_arrow(pa.array(stages, pa.large_string()).take(best[adv]))
