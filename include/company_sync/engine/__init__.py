"""The sync engine: pure pandas, frames in, a plan out. No I/O, no Airflow, no API clients.

Public API
----------
``plan_sync(inputs: SyncInputs, ctx: PlanContext) -> Plan``
    ``SyncInputs`` holds the extracted frames (schemas in ``schemas.INPUTS``): ``sf_accounts``,
    ``hs_companies`` (both with a bool ``changed``: True = changed in the run's window and driving the plan,
    False = loaded only as a counterpart / match target), ``sf_contacts``, ``sf_leads``, ``sf_users``,
    ``hs_contacts``, ``hs_associations``, ``hs_list_members``, ``hs_owners``, ``lifecycle_stages`` (ordered
    stage ids, ``other`` outside the order), ``links`` and ``synced_values`` from the state store.
    ``PlanContext(settings, now, sync_enabled_at, mode="sync"|"import"|"resync", integration_user_id,
    import_account_ids, resync_company_ids, resync_account_ids)``. In ``import`` / ``resync`` modes the
    ``changed`` flags are replaced by the chosen ids.
``Plan`` (schemas in ``schemas.OUTPUTS``): ``hubspot_creates``, ``hubspot_updates``, ``salesforce_creates``,
    ``salesforce_updates`` (long form ``record_id, field, value``; only cells whose value changes; value is
    the canonical string in the target's space, NA = clear), ``contact_attachments``, ``new_links``,
    ``removed_links``, ``decisions`` (one per input record), ``conflicts``, ``duplicate_candidates``,
    ``synced_values``.
``hubspot_inputs(frame, id_property=None)`` / ``salesforce_records(frame, settings, key_field="Id")``
    -> the per-record dicts the loaders send (HubSpot: strings, "" clears; Salesforce: typed, None clears).
``counterpart_keys(changed_accounts, changed_companies, links, mirror) -> (account_ids, company_ids)``
    the other system's records to fetch before an incremental plan.
``normalize_domain`` / ``matchable_domain``: the R9 domain key, only from valid host names (``domains.py``).
Reason codes: ``reasons.Action``, ``reasons.Reason``, ``reasons.RejectCode`` (decision reason
``rejected_<CODE>``).

Loader contract
---------------
- ``hubspot_creates``: HubSpot ``batch/upsert`` with ``idProperty=salesforceaccountid``; record_id is the
  Account Id. Then write the new company id to the account's ``HubSpot_Company_ID__c``, store the link and fill
  ``company_id`` of the matching ``synced_values`` rows (NA at plan time).
- ``salesforce_creates``: sObject Collections / Bulk upsert on ``HubSpot_Company_ID__c``; record_id is the
  company id. Then set the company's ``salesforceaccountid``, store the link, fill ``account_id`` of the
  ``synced_values`` rows, and set ``AccountId`` of the ``contact_attachments`` contacts to the new account.
- ``hubspot_updates`` / ``salesforce_updates``: by id. A matched pair's write carries the other id
  (``salesforceaccountid`` / ``HubSpot_Company_ID__c``); ``new_links`` go to the state store, ``removed_links``
  leave it (a deleted account never deletes its company).
- ``synced_values``: upsert into the state store after the writes succeed (per pair and field).

Adopted choices (each in the stage module named by its rule; ``plan.py`` lists them in order)
------------------------------------------------------------------------------------------
- Domains: only valid host names are keys (dotted, valid labels, <= 253 characters, a top-level domain starting
  with a letter, not a bare public suffix; punycode for IDNs); free-mail domains never match. A non-blank website
  or domain with no valid host is a per-record warning (``decisions.warning``), never a key nor a HubSpot
  ``domain``, and the url field is treated as blank on write.
- R9 on the Salesforce side: id, domain, contacts; a company takes one account (oldest account wins; the others
  go on to the next step, and are reported). R9 on the HubSpot side: id, domain; if an account with that
  id/domain exists but is taken, the company is *not* created (``R9_duplicate_candidate``).
- R9 inside one run (``duplicates.py``): of the unmatched records of one side that would create and share a
  domain, none is created when the other side holds the domain or a paired record of its own side does;
  otherwise the oldest creates. The others are skipped (``R9_duplicate_candidate``) and reported in
  ``duplicate_candidates`` with the winner (``winner_id``) and a kind (``target_taken`` / ``same_key_in_run``).
  Decided on the domains the records hold once the run's field writes land, so a re-plan picks the same winner.
- prefer_salesforce_unless_blank: a blank Salesforce value takes the HubSpot value, unless Salesforce *cleared*
  it (the last synced value was non-blank and HubSpot still holds it): then HubSpot is cleared.
  always_use_salesforce: blank Salesforce clears HubSpot only if it was cleared (had a synced value).
  two_way: three-way merge; both changed -> more recent record modification wins (tie -> Salesforce), reported.
- Owners: active users <-> owners by email (case-insensitive) and full name; an unmatched owner is left alone
  (never a rejection), a new account gets ``integration_user_id``; OwnerId is never cleared.
- A rejected value rejects that target record's whole field write (the link id and R7 stage still go).
- R7 applies to companies that sync (linked, newly matched, or getting an account), whatever the window.
"""

from .domains import matchable_domain, normalize_domain
from .matching import counterpart_keys
from .plan import Plan, PlanContext, SyncInputs, plan_sync
from .reasons import Action, Reason, RejectCode
from .writes import hubspot_inputs, salesforce_records

__all__ = [
    "Action",
    "Plan",
    "PlanContext",
    "Reason",
    "RejectCode",
    "SyncInputs",
    "counterpart_keys",
    "hubspot_inputs",
    "matchable_domain",
    "normalize_domain",
    "plan_sync",
    "salesforce_records",
]
