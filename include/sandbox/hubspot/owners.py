"""Owners v3 (`/crm/v3/owners`): paging, email filter, read by id or userId."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from include.sandbox.http import Request, Response
from include.sandbox.hubspot.common import base_url, bool_arg, int_arg, not_found, now_iso, validation

if TYPE_CHECKING:
    from include.sandbox.hubspot.api import HubSpotApi

FIRST_OWNER_ID, FIRST_USER_ID = 70_000_001, 90_000_001


def make_owner(index: int, first: str, last: str, email: str, at: str | None = None) -> dict[str, Any]:
    stamp = at or now_iso()
    return {
        "id": str(FIRST_OWNER_ID + index),
        "email": email,
        "firstName": first,
        "lastName": last,
        "userId": FIRST_USER_ID + index,
        "userIdIncludingInactive": FIRST_USER_ID + index,
        "type": "PERSON",
        "archived": False,
        "createdAt": stamp,
        "updatedAt": stamp,
        "teams": [{"id": "5000001", "name": "Sales", "primary": True}],
    }


def page(hs: HubSpotApi, request: Request) -> Response:
    limit = int_arg(request, "limit", 100, maximum=500)
    archived = bool_arg(request, "archived")
    email = (request.arg("email") or "").lower()
    after = request.arg("after")
    owners = sorted(hs.store.data["owners"].values(), key=lambda o: int(o["id"]))
    owners = [o for o in owners if o["archived"] == archived and (not email or o["email"].lower() == email)]
    if after:
        try:
            owners = [o for o in owners if int(o["id"]) >= int(after)]
        except ValueError as exc:
            raise validation(f"Invalid after cursor {after!r}") from exc
    body: dict[str, Any] = {"results": owners[:limit]}
    if len(owners) > limit:
        nxt = owners[limit]["id"]
        body["paging"] = {"next": {"after": nxt, "link": f"{base_url(request)}/crm/v3/owners/?after={nxt}"}}
    return Response(200, body)


def get_one(hs: HubSpotApi, request: Request, owner_id: str) -> Response:
    by_user = (request.arg("idProperty") or "id") == "userId"
    archived = bool_arg(request, "archived")
    for owner in hs.store.data["owners"].values():
        if (str(owner["userId"]) if by_user else owner["id"]) == owner_id and owner["archived"] == archived:
            return Response(200, owner)
    raise not_found(f"Owner {owner_id} not found")
