"""The plan: frames in, writes + decisions out. Pure pandas/numpy, vectorised (no per-record Python).

``plan_sync`` composes the stages, each a module named by its rules (design.md, "Data flow" step 4):

1. ``eligibility``: the R1 gate; the window and mode overrides (R3a import, R8 resync); links from the state
   store (a deleted account loses its link); which accounts may create companies (R2, R3a, R3b, R8).
2. ``prepare``: the inputs conformed, every id looked up once (no rule).
3. ``matching`` (R9): Salesforce side by id, domain, contacts; HubSpot side mirrored (id, domain), a company
   whose id/domain names a taken account is not created but reported.
4. ``criteria`` (R5, R6, R8): whether the unmatched changed companies create accounts.
5. ``fields`` (the four field rules, owners): on every linked pair with a change in the window (or that R7
   writes to) and every new match. A value the target would refuse rejects that record's write. Then
   ``duplicates`` (R9 inside one run), on the domains the records hold once those writes land: of the records of
   one side sharing a domain that would create, one creates (or a matched one wins), the others are reported,
   not created. ``creates``: creates carry all mapped values.
6. ``lifecycle`` (R7): roll-up for the companies that sync (linked, matched, or getting an account).
7. ``decisions``: one per input record; ``outputs``: the Plan's frames, synced values to record once the
   writes succeed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import pandas as pd

from include.company_sync.settings import Settings

from . import decisions, outputs, schemas
from ._util import flags
from .cells import conform_output
from .creates import Creates, hubspot_creates, salesforce_creates
from .criteria import Criteria, accounts_to_create, creation_criteria, private_contact_attachments
from .domains import DomainKeys, blank_invalid_urls, domain_keys
from .duplicates import post_write_codes, same_run_duplicates
from .eligibility import (
    AccountEligibility,
    LinkState,
    Window,
    account_eligibility,
    company_sync_on,
    link_state,
    run_window,
)
from .fields import PairOutcome, Pairs, considered_pairs, owner_maps, resolve_pairs
from .lifecycle import lifecycle_advances, stage_ranks, syncing_companies
from .matching import Matches, match_records
from .prepare import Records, conform_records, prepare

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


def plan_sync(inputs: SyncInputs, ctx: PlanContext) -> Plan:
    accounts, companies = conform_records(inputs, ctx.settings)
    window = run_window(ctx, accounts, companies)
    if not company_sync_on(ctx.settings):  # R1: nothing at all
        return Plan(decisions=decisions.company_sync_off(accounts["Id"], companies["id"]))
    # the rules' intermediates (contact positions, domain keys, stage ranks, the pairs' field cells) are freed
    # when _apply_rules returns, before the Plan's frames are assembled (where a 1M plan peaks)
    return _plan_frames(_apply_rules(inputs, ctx, accounts, companies, window))


class _Applied(NamedTuple):
    """What the stages decided, and the positions the Plan's frames are built from."""

    records: Records
    window: Window
    keys: DomainKeys
    links: LinkState
    eligible: AccountEligibility
    matches: Matches
    criteria: Criteria
    pairs: Pairs
    outcome: PairOutcome
    hs_creates: Creates
    sf_creates: Creates
    r7_companies: np.ndarray  # R7 advances the company's stage
    hubspot_updates: pd.DataFrame
    salesforce_updates: pd.DataFrame
    written: tuple[np.ndarray, np.ndarray]  # per pair: a HubSpot, a Salesforce field write


def _apply_rules(inputs: SyncInputs, ctx: PlanContext, accounts, companies, window: Window) -> _Applied:
    maps = ctx.settings.synced_mappings
    keys = domain_keys(accounts, companies, maps)
    blank_invalid_urls(accounts, companies, keys, maps)  # a website with no valid host is never copied
    records, contacts = prepare(inputs, accounts, companies)
    links = link_state(records)
    eligible = account_eligibility(records, window, links, ctx.sync_enabled_at)
    matches = match_records(records, contacts, window, links, eligible, keys)
    criteria = creation_criteria(records, contacts, ctx.settings, inputs.hs_list_members, matches.company_candidates)
    ranks = stage_ranks(records, contacts, inputs.lifecycle_stages)
    r7_linked, _ = lifecycle_advances(records, ranks, links.company_paired)
    pairs = considered_pairs(window, links, matches, r7_linked)
    owners = owner_maps(inputs.sf_users, inputs.hs_owners)
    pair_cells, outcome = resolve_pairs(records, pairs, maps, owners, keys)
    company_creates = accounts_to_create(matches.company_candidates, criteria, window.resync_company)
    # R9 inside one run, on the keys the records hold once this run's writes land (stable across a re-plan)
    codes = post_write_codes(keys, records, pairs, pair_cells, maps)
    matches, company_creates = same_run_duplicates(records, codes, links, matches, company_creates)
    hs_creates = hubspot_creates(records, matches.account_creates, maps, owners, keys)
    sf_creates = salesforce_creates(records, company_creates, maps, owners, ctx.integration_user_id)
    r7 = lifecycle_advances(
        records, ranks, syncing_companies(links.company_paired, matches.pair_company, sf_creates.sent)
    )
    hubspot_updates, salesforce_updates, written = outputs.update_frames(records, pairs, pair_cells, r7)
    return _Applied(
        records=records,
        window=window,
        keys=keys,
        links=links,
        eligible=eligible,
        matches=matches,
        criteria=criteria,
        pairs=pairs,
        outcome=outcome,
        hs_creates=hs_creates,
        sf_creates=sf_creates,
        r7_companies=flags(records.n_companies, r7[0]),
        hubspot_updates=hubspot_updates,
        salesforce_updates=salesforce_updates,
        written=written,
    )


def _plan_frames(a: _Applied) -> Plan:
    records, pairs = a.records, a.pairs
    pair_decided = decisions.pair_decisions(pairs, a.matches, a.outcome, a.written, a.r7_companies)
    account_part = decisions.account_decisions(
        records,
        a.window,
        a.links,
        a.eligible,
        pairs,
        pair_decided,
        a.hs_creates,
        a.matches.account_duplicate_skip,
        a.keys.account_warning,
    )
    company_part = decisions.company_decisions(
        records,
        a.window,
        a.links,
        a.matches,
        a.criteria,
        pairs,
        pair_decided,
        a.sf_creates,
        a.r7_companies,
        a.keys.company_warning,
    )
    return Plan(
        hubspot_creates=conform_output(a.hs_creates.writes, "hubspot_creates"),
        hubspot_updates=a.hubspot_updates,
        salesforce_creates=conform_output(a.sf_creates.writes, "salesforce_creates"),
        salesforce_updates=a.salesforce_updates,
        contact_attachments=private_contact_attachments(records, a.sf_creates.sent, a.criteria.private_pairs),
        new_links=outputs.new_links(records, a.matches),
        removed_links=outputs.removed_links(a.links),
        decisions=decisions.decisions_frame(account_part, company_part),
        conflicts=outputs.conflicts(records, pairs, a.outcome),
        duplicate_candidates=a.matches.duplicates,
        synced_values=outputs.synced_values(records, pairs, a.outcome, a.hs_creates, a.sf_creates),
    )
