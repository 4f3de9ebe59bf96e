"""Lead conversion, as Salesforce's `convertLead()` does it (SOAP API and Apex `Database.convertLead`; the
REST API has no convert call, so the sandbox offers it as a control endpoint and a Python helper).

Converting a lead, in one transaction with one timestamp:

* the account: `account_id` if given (an existing, live account; left as it is), else a new Account named
  after the lead's `Company`, with the lead's `Phone` and owner;
* a new Contact under that account with the lead's `FirstName`, `LastName`, `Email`, `Phone` and owner;
* the lead: `IsConverted = true`, `ConvertedAccountId`, `ConvertedContactId`, `ConvertedDate` (today, a
  date), `LastModifiedDate` / `SystemModstamp` moved. A converted lead can no longer be updated
  (CANNOT_UPDATE_CONVERTED_LEAD), nor converted again.

The new contact and account get the same `SystemModstamp` as the lead. Salesforce's validation and
duplicate rules apply to the records created; any error rolls everything back.

Entry points: `convert_lead(store, ...)` (callers hold the state lock; `SalesforceApi.convert_lead` does
it), `POST /__sandbox/convert-lead` on the Salesforce port (`{"leadId": ..., "accountId": optional}`), and
`convert_lead_over_http(url, lead_id, ...)` for tests and scripts that only have the URL.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from include.sandbox.salesforce.records import RequestError, check_id, error
from include.sandbox.salesforce.schema import OBJECTS

if TYPE_CHECKING:
    import requests

    from include.sandbox.salesforce.records import Store

CONTROL_PATH = "/__sandbox/convert-lead"


class ConversionError(Exception):
    """The lead cannot be converted; `errors` are Salesforce-style record errors."""

    def __init__(self, errors: list[dict[str, Any]]):
        super().__init__("; ".join(f"{e['statusCode']}: {e['message']}" for e in errors))
        self.errors = errors


def convert_lead(store: Store, lead_id: str, account_id: str | None = None) -> dict[str, Any]:
    """Convert `lead_id` (into `account_id`, or a new account). Returns `{"leadId", "accountId",
    "contactId", "createdAccount"}`; raises `ConversionError` with nothing written."""
    lead_obj, account_obj, contact_obj = OBJECTS["Lead"], OBJECTS["Account"], OBJECTS["Contact"]
    try:
        lead_id = check_id(lead_obj, lead_id)
        account_id = check_id(account_obj, account_id) if account_id else None
    except RequestError as exc:
        raise ConversionError([error(exc.code, exc.message, exc.fields)]) from None
    lead = store.records("Lead").get(lead_id)
    if lead is None or lead.get("IsDeleted"):
        raise ConversionError([error("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", ["leadId"])])
    if lead.get("IsConverted"):
        raise ConversionError([error("CANNOT_UPDATE_CONVERTED_LEAD", "cannot reference converted lead", [])])
    if account_id is not None:
        account = store.records("Account").get(account_id)
        if account is None or account.get("IsDeleted"):
            raise ConversionError([error("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", ["accountId"])])
    stamp = store.stamp()
    store.begin()
    try:
        created_account = account_id is None
        if created_account:
            values = {"Name": lead.get("Company"), "Phone": lead.get("Phone"), "OwnerId": lead.get("OwnerId")}
            account_id, errors = store.create(account_obj, {k: v for k, v in values.items() if v}, stamp)
            if errors:
                raise ConversionError(errors)
        person = {k: lead.get(k) for k in ("FirstName", "LastName", "Email", "Phone", "OwnerId")}
        person = {k: v for k, v in person.items() if v is not None}
        contact_id, errors = store.create(contact_obj, {**person, "AccountId": account_id}, stamp)
        if errors:
            raise ConversionError(errors)
        converted = {
            **lead,
            "IsConverted": True,
            "ConvertedAccountId": account_id,
            "ConvertedContactId": contact_id,
            "ConvertedDate": stamp[:10],
            "LastModifiedDate": stamp,
            "LastModifiedById": store.data["api_user"],
            "SystemModstamp": stamp,
        }
        store._put("Lead", lead_id, converted)
    except ConversionError:
        store.rollback()
        raise
    store.commit()
    return {"leadId": lead_id, "accountId": account_id, "contactId": contact_id, "createdAccount": created_account}


def convert_lead_over_http(
    url: str,
    lead_id: str,
    account_id: str | None = None,
    *,
    session: requests.Session | None = None,
    verify: Any = None,
    timeout: float = 30,
) -> dict[str, Any]:
    """`POST {url}/__sandbox/convert-lead`; `url` is the Salesforce sandbox's base URL. Raises
    `ConversionError` when the sandbox refuses the conversion."""
    import requests

    http = session or requests.Session()
    kwargs: dict[str, Any] = {"timeout": timeout}
    if verify is not None:
        kwargs["verify"] = verify
    body = {"leadId": lead_id, **({"accountId": account_id} if account_id else {})}
    response = http.post(f"{url.rstrip('/')}{CONTROL_PATH}", json=body, **kwargs)
    if response.status_code == 400 and isinstance(response.json(), dict) and "errors" in response.json():
        raise ConversionError(response.json()["errors"])
    response.raise_for_status()
    return response.json()
