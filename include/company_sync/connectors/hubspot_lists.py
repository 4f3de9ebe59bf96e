"""HubSpot inclusion-list reads: the joins since a moment, without reading the whole list every run, and the
membership of chosen contacts.

A mixin of `HubSpotConnector`: it uses the connector's `_call`, `_api` and `_conn_label`.

**Joins since a moment** (`list_joins`). The join-ordered memberships
(`GET /crm/v3/lists/{listId}/memberships/join-order`) come oldest first, each with its `membershipTimestamp`.
A run remembers, for each page it read, a *checkpoint*: the cursor that fetched the page, and the last member on
it with its join time. The next run resumes from the newest checkpoint that joined **before** its window start:
every member after it in join order joined at that time or later, every member before it earlier, so reading
from there to the end gives every join of the window. A checkpoint is only a hint, checked on use: the resumed
page must still hold that member with the same join time (members leaving the list shift an offset cursor; a
member that left and joined again moves to the end with a new time). When it does not, or HubSpot refuses the
cursor, or no checkpoint is old enough (a backfill of past dates), the list is read from the start, as before.

**Membership of chosen contacts** (`list_memberships`): `POST /crm/v3/lists/records/memberships/batch/read`
gives the lists each record is in. R5c/R6c need membership only for the contacts of the companies a run plans
(`tasks/complete.py`), so an incremental run reads those instead of the whole list.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NamedTuple

import pandas as pd

from include.company_sync.connectors.common import chunks, dedupe
from include.company_sync.connectors.hubspot_common import HubSpotApiError, log, next_after, parse_dt

# List memberships: the largest page the lists API serves.
MEMBERSHIP_PAGE = 250
# The batch membership read's inputs a call. HubSpot's reference states no maximum; 100, the CRM's usual
# batch size, is assumed (docs/architecture.md).
MEMBERSHIP_BATCH = 100
CONTACT_TYPE_ID = "0-1"
# Checkpoints kept per list: the newest pages read (one run's window start needs one older than itself).
KEEP_CHECKPOINTS = 40


class ListJoins(NamedTuple):
    """Members read from the join-ordered memberships: everything when `complete`, else every member that
    joined after the checkpoint the read resumed from (which covers every join since `since`)."""

    members: pd.DataFrame  # contact_id, joined_at
    complete: bool
    total: int  # the list's size, as HubSpot reports it
    pages: int
    checkpoints: list[dict[str, Any]]


def members_frame(ids: list[str], joined: list[Any]) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "contact_id": pd.Series(ids, dtype="string"),
            "joined_at": pd.to_datetime(pd.Series(joined, dtype="object"), utc=True, format="ISO8601"),
        }
    )
    return frame.drop_duplicates("contact_id", keep="last", ignore_index=True)


def _joined(checkpoint: dict[str, Any]) -> pd.Timestamp | None:
    at = parse_dt(checkpoint.get("joined_at"))
    return None if at is None else pd.Timestamp(at)


def usable_checkpoint(checkpoints: Iterable[dict[str, Any]], since) -> dict[str, Any] | None:
    """The newest checkpoint whose member joined strictly before `since` (None: read from the start)."""
    if since is None:
        return None
    since = pd.Timestamp(since)
    best = None
    for cp in checkpoints or ():
        at = _joined(cp)
        if cp.get("record_id") and at is not None and at < since and (best is None or at >= _joined(best)):
            best = cp
    return best


class ListReads:
    """`list_joins(list_id, since, checkpoints)` and `list_memberships(list_id, contact_ids)`."""

    def _join_order_page(self, list_id: str, after: str | None, limit: int = MEMBERSHIP_PAGE) -> dict:
        api = self._api("lists.memberships_api")
        read = api.get_page_ordered_by_added_to_list_date
        kwargs: dict[str, Any] = {"limit": limit, **({"after": after} if after else {})}
        try:
            return self._call("lists.memberships", read, str(list_id), **kwargs) or {}
        except HubSpotApiError as exc:
            if exc.status == 404:
                raise self._missing_list(list_id) from exc
            raise

    def _missing_list(self, list_id: str) -> Exception:
        from include.company_sync.connectors.http_policy import ConfiguredObjectMissing

        return ConfiguredObjectMissing(
            f"HubSpot inclusion list {list_id} does not exist in the portal of {self._conn_label}: set "
            "company_sync_settings.inclusion_list_id to an existing contact list's id (or null for none)",
            api="HubSpot",
            operation="lists.memberships",
            status=404,
        )

    def check_list(self, list_id: str) -> None:
        """One call: the list exists (else `ConfiguredObjectMissing`), for a run that reads none of its members."""
        self._join_order_page(list_id, None, limit=1)

    def list_joins(self, list_id: str, since=None, checkpoints: Iterable[dict[str, Any]] = ()) -> ListJoins:
        """The list's members from the newest usable checkpoint on (see the module docstring), or all of them;
        a list that does not exist raises `ConfiguredObjectMissing`."""
        old = [dict(c) for c in checkpoints or ()]
        start = usable_checkpoint(old, since)
        if start is not None:
            resumed = self._read_from(list_id, start)
            if resumed is not None:
                ids, joined, total, pages, new = resumed
                kept = [
                    c
                    for c in old
                    if pd.Timestamp(parse_dt(c["joined_at"])) < pd.Timestamp(parse_dt(start["joined_at"]))
                ]
                return ListJoins(members_frame(ids, joined), False, total, pages, (kept + new)[-KEEP_CHECKPOINTS:])
            log.info("HubSpot: inclusion list %s changed before the stored position; reading it whole", list_id)
        ids, joined, total, pages, new = self._read_pages(list_id, None, skip_through=None)
        return ListJoins(members_frame(ids, joined), True, total, pages, new[-KEEP_CHECKPOINTS:])

    def _read_from(self, list_id: str, checkpoint: dict[str, Any]):
        """Members after the checkpoint's member, or None when the checkpoint no longer holds."""
        try:
            return self._read_pages(list_id, checkpoint.get("after"), skip_through=checkpoint)
        except _CheckpointGone:
            return None
        except HubSpotApiError as exc:
            if exc.status != 400:  # an expired or unknown cursor: read from the start
                raise
            return None

    def _read_pages(self, list_id: str, after: str | None, skip_through: dict[str, Any] | None):
        ids: list[str] = []
        joined: list[Any] = []
        checkpoints: list[dict[str, Any]] = []
        pages, total = 0, 0
        while True:
            page = self._join_order_page(list_id, after)
            pages += 1
            total = int(page.get("total") or 0)
            results = page.get("results") or []
            if skip_through is not None:  # the first page of a resumed read: keep what follows the member
                at = [i for i, r in enumerate(results) if str(r.get("recordId")) == str(skip_through["record_id"])]
                if not at or parse_dt(results[at[0]].get("membershipTimestamp")) != parse_dt(skip_through["joined_at"]):
                    raise _CheckpointGone()
                keep, skip_through = results[at[0] + 1 :], None
            else:
                keep = results
            for item in keep:
                ids.append(str(item.get("recordId")))
                joined.append(item.get("membershipTimestamp"))
            if results:
                last = results[-1]
                checkpoints.append(
                    {
                        "after": after,
                        "record_id": str(last.get("recordId")),
                        "joined_at": last.get("membershipTimestamp"),
                    }
                )
            after = next_after(page)
            if not after:
                return ids, joined, total, pages, checkpoints

    def list_memberships(self, list_id: str, contact_ids: Iterable[str]) -> pd.DataFrame:
        """Which of `contact_ids` are in list `list_id` (contact_id, joined_at): the batch membership read,
        `MEMBERSHIP_BATCH` contacts a call."""
        ids: list[str] = []
        joined: list[Any] = []
        for chunk in chunks(dedupe(contact_ids), MEMBERSHIP_BATCH):
            page = self._call("lists.memberships_batch_read", self._batch_memberships, list(chunk)) or {}
            for result in page.get("results") or []:
                for membership in result.get("recordListMemberships") or []:
                    if str(membership.get("listId")) == str(list_id):
                        ids.append(str(result.get("recordId")))
                        joined.append(membership.get("lastAddedTimestamp") or membership.get("firstAddedTimestamp"))
        return members_frame(ids, joined)

    def _batch_memberships(self, record_ids: list[str], **kwargs: Any) -> Any:
        """`POST /crm/v3/lists/records/memberships/batch/read`, which hubspot-api-client 12 has no method for:
        sent through the lists API's own `ApiClient` (same host, token, retry policy and pool)."""
        client = self._api("lists.memberships_api").api_client
        headers = {"Accept": "application/json", "Content-Type": "application/json"}
        body = {"inputs": [{"objectTypeId": CONTACT_TYPE_ID, "recordId": str(i)} for i in record_ids]}
        return client.call_api(
            "/crm/v3/lists/records/memberships/batch/read",
            "POST",
            {},
            [],
            headers,
            body=body,
            post_params=[],
            files={},
            response_types_map={},
            auth_settings=["oauth2"],
            _return_http_data_only=True,
            _preload_content=kwargs.get("_preload_content", False),
            _request_timeout=kwargs.get("_request_timeout"),
            collection_formats={},
        )


class _CheckpointGone(Exception):
    """The resumed page no longer holds the checkpoint's member at its join time."""
