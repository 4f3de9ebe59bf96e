"""Creation of Salesforce accounts from HubSpot companies: R5 (create if any), R6 (do not create if any), R8.

Each rule is one vectorised test over the candidate companies (the changed, unlinked companies R9 did not
match, ``matching.py``), from the counts of their associated contacts:

- R5a ``r5a_auto_created``: auto-created company (``hs_object_source`` = CONTACTS) and default object Contact;
- R5b ``r5b_private_contact``: an associated contact is synced to a private Salesforce contact (no AccountId);
- R5c ``r5c_inclusion_list``: an associated contact qualifies for the inclusion list (no list: every contact);
- R6a ``r6a_no_contacts``, R6b ``r6b_only_leads``, R6c ``r6c_not_in_inclusion_list``.

Adopted: when a create rule and a do-not-create rule both hold, do not create, and report both
(``creation_criteria``). R8: a manual resync creates whatever R5/R6 say (``accounts_to_create``). Adopted
(R5b): the private contacts get the new account as AccountId (``private_contact_attachments``).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd

from include.company_sync.settings import Settings

from . import schemas
from ._util import first_per_group, lookup, pick_labels, take
from .cells import conform_output, string_frame
from .prepare import Contacts, Records
from .reasons import Reason

RULES = ("R5a", "R5b", "R5c", "R6a", "R6b", "R6c")  # bit i of a company's code: RULES[i] holds


class ContactCounts(NamedTuple):
    """Per company (candidates only; 0 elsewhere): its associated contacts, and how many of them are synced to
    a private Salesforce contact, synced to a lead, in the inclusion list."""

    total: np.ndarray
    private: np.ndarray
    leads: np.ndarray
    listed: np.ndarray
    private_pairs: pd.DataFrame  # c_pos (company position), contact_id (the private Salesforce contact)


def contact_counts(records: Records, c: Contacts, candidates: np.ndarray, list_members) -> ContactCounts:
    """``list_members``: the inclusion list's members, None when no list is configured."""
    nc = records.n_companies
    keep = c.assoc_company >= 0
    keep[keep] = candidates[c.assoc_company[keep]]
    assoc = c.associations[keep].reset_index(drop=True)
    assoc_company, assoc_contact = c.assoc_company[keep], c.assoc_contact[keep]
    hs = c.hs_contacts
    sf_of_hs = lookup(c.sf_contacts["Id"], hs["salesforcecontactid"])
    sf_private = c.sf_contacts["AccountId"].isna().to_numpy()
    if len(c.sf_contacts):
        private_hs = (sf_of_hs >= 0) & sf_private[np.maximum(sf_of_hs, 0)]
    else:
        private_hs = np.zeros(len(hs), dtype=bool)
    # R6b: synced to a lead, and not to a contact; a converted lead is a contact now (its account drives the run)
    converted = hs["salesforceleadid"].isin(c.converted_leads).to_numpy(dtype=bool)
    lead_hs = (hs["salesforceleadid"].notna() & hs["salesforcecontactid"].isna()).to_numpy() & ~converted
    known = assoc_contact >= 0
    if len(hs):
        private_row = known & private_hs[np.maximum(assoc_contact, 0)]
        lead_row = known & lead_hs[np.maximum(assoc_contact, 0)]
    else:
        private_row = lead_row = np.zeros(len(assoc), dtype=bool)
    if list_members is not None:
        members = schemas.conform(list_members, "hs_list_members")
        listed_row = lookup(members["contact_id"], assoc["contact_id"]) >= 0
    else:
        listed_row = np.ones(len(assoc), dtype=bool)  # no list: every contact qualifies
    private_at = np.flatnonzero(private_row)
    private_pairs = pd.DataFrame(
        {"c_pos": assoc_company[private_at], "contact_id": take(hs["salesforcecontactid"], assoc_contact[private_at])}
    )
    return ContactCounts(
        total=np.bincount(assoc_company, minlength=nc),
        private=np.bincount(assoc_company, weights=private_row, minlength=nc),
        leads=np.bincount(assoc_company, weights=lead_row, minlength=nc),
        listed=np.bincount(assoc_company, weights=listed_row, minlength=nc),
        private_pairs=private_pairs,
    )


def r5a_auto_created(companies: pd.DataFrame, settings: Settings) -> np.ndarray:
    """R5a: the company was created by contact auto-association (``hs_object_source`` = CONTACTS) and the
    default Salesforce object is Contact."""
    auto = (companies["hs_object_source"] == "CONTACTS").to_numpy(dtype=bool)
    return auto & (settings.default_salesforce_object == "Contact")


def r5b_private_contact(counts: ContactCounts) -> np.ndarray:
    """R5b: an associated HubSpot contact is synced to a private Salesforce contact (one with no account)."""
    return counts.private > 0


def r5c_inclusion_list(counts: ContactCounts) -> np.ndarray:
    """R5c: an associated contact qualifies for the inclusion list (no list configured: every contact does)."""
    return counts.listed > 0


def r6a_no_contacts(counts: ContactCounts) -> np.ndarray:
    """R6a: the company has no associated contact."""
    return counts.total == 0


def r6b_only_leads(counts: ContactCounts) -> np.ndarray:
    """R6b: every associated contact is synced to a Salesforce lead."""
    return (counts.total > 0) & (counts.leads == counts.total)


def r6c_not_in_inclusion_list(counts: ContactCounts, list_configured: bool) -> np.ndarray:
    """R6c: an inclusion list is configured and none of the associated contacts is in it."""
    return list_configured & (counts.listed == 0)


class Criteria(NamedTuple):
    """Per company: whether the rules say create, the decision reason, the rules that held ("R5b+R6c")."""

    create: np.ndarray
    reason: np.ndarray
    held: np.ndarray
    private_pairs: pd.DataFrame


_HELD_NAMES = np.array(["+".join(r for i, r in enumerate(RULES) if k >> i & 1) or "none" for k in range(64)], object)


def creation_criteria(
    records: Records, contacts: Contacts, settings: Settings, list_members, candidates: np.ndarray
) -> Criteria:
    """R5/R6 over the candidate companies. Adopted: any do-not-create rule wins; the reason names the first
    create rule that held (R5a, R5b, R5c) or the do-not-create rule (R6a, R6b, R6c)."""
    list_configured = settings.inclusion_list_id is not None
    counts = contact_counts(records, contacts, candidates, list_members if list_configured else None)
    r5a, r5b, r5c = (
        r5a_auto_created(records.companies, settings),
        r5b_private_contact(counts),
        r5c_inclusion_list(counts),
    )
    r6a, r6b = r6a_no_contacts(counts), r6b_only_leads(counts)
    r6c = r6c_not_in_inclusion_list(counts, list_configured)
    create = (r5a | r5b | r5c) & ~(r6a | r6b | r6c)
    code = sum(f.astype(np.int64) << i for i, f in enumerate((r5a, r5b, r5c, r6a, r6b, r6c)))
    reason = pick_labels(
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
    return Criteria(create, reason, _HELD_NAMES[code], counts.private_pairs)


def accounts_to_create(candidates: np.ndarray, criteria: Criteria, resync: np.ndarray) -> np.ndarray:
    """The candidates that create an account: R5/R6 say so, or R8 (a manual resync creates regardless)."""
    return candidates & (criteria.create | resync)


def private_contact_attachments(records: Records, created: np.ndarray, private_pairs: pd.DataFrame) -> pd.DataFrame:
    """Adopted (R5b): the private Salesforce contacts of a company whose account is created get AccountId = that
    account. ``created``: positions of the companies whose account create is sent. A contact associated with
    several such companies goes to the oldest."""
    if len(private_pairs) == 0 or len(created) == 0:
        return conform_output(None, "contact_attachments")
    mask = np.zeros(records.n_companies, dtype=bool)
    mask[created] = True
    pairs = private_pairs[mask[private_pairs["c_pos"].to_numpy()]]
    oldest = first_per_group(pd.factorize(pairs["contact_id"])[0], records.company_rank[pairs["c_pos"].to_numpy()])
    pairs = pairs[oldest]
    return string_frame(
        contact_id=pairs["contact_id"], company_id=take(records.companies["id"], pairs["c_pos"].to_numpy())
    )
