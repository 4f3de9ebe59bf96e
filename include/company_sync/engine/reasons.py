"""Actions and reason codes of the plan's `decisions` frame: the one place they are defined.

Every record the engine considers gets exactly one decision row: ``(system, record_id, action, reason, rule,
message)``. ``action`` is one of :class:`Action`; ``reason`` one of :class:`Reason` (rejections use
``rejected_<CODE>`` with a :class:`RejectCode`); ``rule`` cites the seed rule (R1…R9) or the field rule.
"""

from __future__ import annotations

from enum import StrEnum

import pandas as pd


class Action(StrEnum):
    CREATED = "created"  # the record is the source of a create in the other system
    UPDATED = "updated"  # the record or its linked counterpart receives field writes
    LINKED = "linked"  # newly matched to an existing record of the other system (R9); may carry writes
    UNCHANGED = "unchanged"  # considered; both sides already agree
    SKIPPED = "skipped"  # a rule says not to sync it (R1, R3, R6, not in window, deleted, ...)
    REJECTED = "rejected"  # a value the target would refuse; nothing written to that target for it


class Reason(StrEnum):
    # (reason, rule, meaning)
    R1_COMPANY_SYNC_OFF = "R1_company_sync_off"  # R1: company sync off: nothing is written at all
    R2_NEW_ACCOUNT = "R2_new_account"  # R2: account created after sync was enabled -> company created
    R3A_IMPORTED = "R3a_imported"  # R3a: existing account imported (mode "import") -> company created
    R3B_EDITED_AFTER_ENABLE = "R3b_edited_after_enable"  # R3b: existing account edited after enable -> created
    R3_EXISTING_NOT_EDITED = "R3_existing_not_edited"  # R3: existing account, not imported nor edited -> skipped
    R5A_AUTO_CREATED_COMPANY = "R5a_auto_created_company"  # R5a: auto-created company, default object Contact
    R5B_PRIVATE_CONTACT = "R5b_private_contact"  # R5b: associated contact synced to a private SF contact
    R5C_INCLUSION_LIST = "R5c_inclusion_list"  # R5c: an associated contact qualifies for the inclusion list
    R6A_NO_CONTACTS = "R6a_no_contacts"  # R6a: no associated contacts -> no account
    R6B_ONLY_LEADS = "R6b_only_leads"  # R6b: all associated contacts synced to leads -> no account
    R6C_NOT_IN_INCLUSION_LIST = "R6c_not_in_inclusion_list"  # R6c: none in the inclusion list -> no account
    R5_NO_CREATE_RULE = "R5_no_create_rule"  # no R5 rule holds (and no R6 rule either) -> no account
    R8_MANUAL_RESYNC = "R8_manual_resync"  # R8: manual resync creates whatever R5/R6 say (still dedupes)
    R9_LINKED_BY_ID = "R9_linked_by_id"  # R9 step 2: salesforceaccountid / HubSpot_Company_ID__c match
    R9_LINKED_BY_DOMAIN = "R9_linked_by_domain"  # R9 step 3: same normalised domain
    R9_LINKED_BY_CONTACTS = "R9_linked_by_contacts"  # R9 step 4: shares contacts by email
    R9_DUPLICATE_CANDIDATE = "R9_duplicate_candidate"  # the other side holds this domain/id (taken), or another
    #   record of the same side sharing the domain won in this run (duplicates.py) -> not created, reported in
    #   duplicate_candidates with the winner (never merged)
    R7_LIFECYCLE_ADVANCED = "R7_lifecycle_advanced"  # R7: only change is the company lifecycle stage moving up
    UPDATED = "updated"  # linked pair: field values written (see message for directions)
    UNCHANGED = "unchanged"  # linked pair: both sides agree
    NOT_CHANGED = "not_changed"  # not changed in this run's window (loaded as a counterpart only)
    COUNTERPART_MISSING = "counterpart_missing"  # linked/pointing record not among the inputs -> skipped
    DELETED = "deleted"  # account deleted in Salesforce: never creates; a link is removed (company kept)


class RejectCode(StrEnum):
    STRING_TOO_LONG = "STRING_TOO_LONG"  # text longer than the Salesforce field's max_length
    INVALID_NUMBER = "INVALID_NUMBER"  # not a number
    NOT_AN_INTEGER = "NOT_AN_INTEGER"  # fraction for an integer field
    PICKLIST_VALUE_NOT_MAPPED = "PICKLIST_VALUE_NOT_MAPPED"  # no value-map entry for the value
    REQUIRED_FIELD_MISSING = "REQUIRED_FIELD_MISSING"  # new account without Name


REJECTED_PREFIX = "rejected_"


def rejected(code: RejectCode | str | pd.Series) -> str | pd.Series:
    """The decision reason for a rejection: ``rejected_<CODE>`` (of one code, or of a ``str`` Series of codes)."""
    return REJECTED_PREFIX + code if isinstance(code, pd.Series) else f"{REJECTED_PREFIX}{code}"


def rule_of(reason) -> str:
    """The rule a decision reason cites (a rejection cites the field rules)."""
    return "field_rules" if str(reason).startswith(REJECTED_PREFIX) else RULE_OF_REASON.get(reason, "field_rules")


RULE_OF_REASON: dict[str, str] = {
    Reason.R1_COMPANY_SYNC_OFF: "R1",
    Reason.R2_NEW_ACCOUNT: "R2",
    Reason.R3A_IMPORTED: "R3a",
    Reason.R3B_EDITED_AFTER_ENABLE: "R3b",
    Reason.R3_EXISTING_NOT_EDITED: "R3",
    Reason.R5A_AUTO_CREATED_COMPANY: "R5a",
    Reason.R5B_PRIVATE_CONTACT: "R5b",
    Reason.R5C_INCLUSION_LIST: "R5c",
    Reason.R6A_NO_CONTACTS: "R6a",
    Reason.R6B_ONLY_LEADS: "R6b",
    Reason.R6C_NOT_IN_INCLUSION_LIST: "R6c",
    Reason.R5_NO_CREATE_RULE: "R5",
    Reason.R8_MANUAL_RESYNC: "R8",
    Reason.R9_LINKED_BY_ID: "R9",
    Reason.R9_LINKED_BY_DOMAIN: "R9",
    Reason.R9_LINKED_BY_CONTACTS: "R9",
    Reason.R9_DUPLICATE_CANDIDATE: "R9",
    Reason.R7_LIFECYCLE_ADVANCED: "R7",
    Reason.UPDATED: "field_rules",
    Reason.UNCHANGED: "field_rules",
    Reason.NOT_CHANGED: "window",
    Reason.COUNTERPART_MISSING: "R9",
    Reason.DELETED: "R2",
}
