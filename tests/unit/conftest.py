"""Unit tests reach no API: `prepare`'s field-mapping check reads the sandbox's own schemas instead of calling
Salesforce's describe and HubSpot's properties (`field_schema.read_schemas`)."""

from __future__ import annotations

import pytest


def sandbox_schemas(runtime=None):
    from include.sandbox.hubspot.properties import default_properties, render_definition
    from include.sandbox.salesforce.schema import ACCOUNT

    properties = [render_definition(p) for p in default_properties()["companies"].values()]
    return ACCOUNT.describe(), properties, {"salesforce": {}, "hubspot": {}}


@pytest.fixture(autouse=True)
def _schemas_without_api(monkeypatch):
    from include.company_sync import field_schema

    monkeypatch.setattr(field_schema, "read_schemas", sandbox_schemas)
