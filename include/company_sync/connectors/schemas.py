"""Read-only schema calls for the field-mapping check at `prepare` (`field_schema.py`): one call each side.

* Salesforce: `GET /services/data/vXX.X/sobjects/Account/describe` (every Account field the integration user
  can see, with its type, length, picklist values and whether it is createable / updateable / calculated).
* HubSpot: `GET /crm/v3/properties/companies` (every company property definition: type, fieldType, options,
  `modificationMetadata.readOnlyValue`, `calculated`).

Both go through their connector's one `_call` choke point, so they are retried, rate-limited and counted
(`connector.calls`) like every other call. (Kept out of `salesforce.py`, which is at the 600-line limit.)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from include.company_sync.connectors.hubspot import HubSpotConnector
    from include.company_sync.connectors.salesforce import SalesforceConnector


def account_describe(sf: SalesforceConnector) -> dict[str, Any]:
    """The Account describe (`sObjects/Account/describe`)."""
    return sf._call("describe Account", sf.sf.Account.describe) or {}


def company_property_definitions(hs: HubSpotConnector) -> list[dict[str, Any]]:
    """Every (non-archived) company property definition (`GET /crm/v3/properties/companies`, not paged)."""
    core = hs._api("properties.core_api")
    page = hs._call("properties.get_all", core.get_all, "companies", archived=False) or {}
    return list(page.get("results") or [])
