"""The Salesforce sandbox behaves like Salesforce for contact-driven runs (docs/sandbox-fidelity.md):
`SystemModstamp` / `LastModifiedDate` on Contact and Lead move on every update, `AccountId` set or cleared
included; leads convert as `convertLead()` does."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceMalformedRequest

from include.sandbox.salesforce.convert import ConversionError, convert_lead_over_http
from include.sandbox.server import SALESFORCE_TOKEN

CONTACT_FIELDS = "Id, AccountId, Email, LastModifiedDate, SystemModstamp"
LEAD_FIELDS = (
    "Id, Email, IsConverted, ConvertedAccountId, ConvertedContactId, ConvertedDate, LastModifiedDate, SystemModstamp"
)


def _session(sandbox) -> requests.Session:
    session = requests.Session()
    session.verify = str(sandbox.ca_path)
    session.trust_env = False  # REQUESTS_CA_BUNDLE in the environment would override `verify`
    return session


@pytest.fixture
def sf(clean_sandbox) -> Salesforce:
    return Salesforce(
        instance_url=clean_sandbox.salesforce_url,
        session_id=SALESFORCE_TOKEN,
        session=_session(clean_sandbox),
        version="59.0",
    )


def _tick() -> None:
    time.sleep(0.005)


def _window(sf: Salesforce, sobject: str, fields: str, start: str, end: str) -> list[dict]:
    soql = f"SELECT {fields} FROM {sobject} WHERE SystemModstamp >= {start} AND SystemModstamp < {end}"
    return sf.query_all(soql)["records"]


def _soql_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def test_contact_account_set_and_cleared_moves_its_stamps(sf):
    account_id = sf.Account.create({"Name": "Acme"})["id"]
    contact_id = sf.Contact.create({"LastName": "Doe", "Email": "doe@acme.example"})["id"]
    created = sf.Contact.get(contact_id)
    assert created["SystemModstamp"] == created["LastModifiedDate"]
    stamps = [created["SystemModstamp"]]
    for account in (account_id, None):  # becomes an account's contact, then private again
        _tick()
        start = _soql_now()
        sf.Contact.update(contact_id, {"AccountId": account})
        changed = sf.Contact.get(contact_id)
        assert changed["AccountId"] == account
        assert changed["SystemModstamp"] > stamps[-1] and changed["LastModifiedDate"] == changed["SystemModstamp"]
        stamps.append(changed["SystemModstamp"])
        found = _window(sf, "Contact", CONTACT_FIELDS, start, "2999-01-01T00:00:00Z")
        assert [(r["Id"], r["AccountId"]) for r in found] == [(contact_id, account)]


def test_lead_update_moves_its_stamps(sf):
    lead_id = sf.Lead.create({"LastName": "Doe", "Company": "Initech", "Email": "doe@initech.example"})["id"]
    before = sf.Lead.get(lead_id)
    assert before["IsConverted"] is False and before["ConvertedAccountId"] is None
    _tick()
    start = _soql_now()
    sf.Lead.update(lead_id, {"Email": "jane@initech.example"})
    after = sf.Lead.get(lead_id)
    assert after["SystemModstamp"] > before["SystemModstamp"] and after["LastModifiedDate"] == after["SystemModstamp"]
    assert [r["Id"] for r in _window(sf, "Lead", LEAD_FIELDS, start, "2999-01-01T00:00:00Z")] == [lead_id]


def test_is_converted_is_not_updateable(sf):
    lead_id = sf.Lead.create({"LastName": "Doe", "Company": "Initech"})["id"]
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.Lead.update(lead_id, {"IsConverted": True})
    assert exc.value.content[0]["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"


def test_convert_lead_into_a_new_account(sf, clean_sandbox):
    lead_id = sf.Lead.create(
        {"FirstName": "Jane", "LastName": "Doe", "Company": "Initech", "Email": "jane@initech.example"}
    )["id"]
    before = sf.Lead.get(lead_id)
    _tick()
    start = _soql_now()
    result = convert_lead_over_http(clean_sandbox.salesforce_url, lead_id, session=_session(clean_sandbox))
    assert result["leadId"] == lead_id and result["createdAccount"] is True
    account, contact, lead = (
        sf.Account.get(result["accountId"]),
        sf.Contact.get(result["contactId"]),
        sf.Lead.get(lead_id),
    )
    assert account["Name"] == "Initech" and account["OwnerId"] == before["OwnerId"]
    assert (contact["AccountId"], contact["Email"], contact["FirstName"], contact["LastName"]) == (
        result["accountId"],
        "jane@initech.example",
        "Jane",
        "Doe",
    )
    assert lead["IsConverted"] is True
    assert (lead["ConvertedAccountId"], lead["ConvertedContactId"]) == (result["accountId"], result["contactId"])
    assert lead["ConvertedDate"] == lead["SystemModstamp"][:10]
    assert lead["SystemModstamp"] > before["SystemModstamp"]
    assert lead["SystemModstamp"] == contact["SystemModstamp"] == account["SystemModstamp"]
    # the sync's window queries see all three
    end = "2999-01-01T00:00:00Z"
    assert [r["IsConverted"] for r in _window(sf, "Lead", LEAD_FIELDS, start, end)] == [True]
    assert [r["Id"] for r in _window(sf, "Contact", CONTACT_FIELDS, start, end)] == [result["contactId"]]
    assert [r["Id"] for r in _window(sf, "Account", "Id, Name", start, end)] == [result["accountId"]]
    # a converted lead can be neither updated nor converted again
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.Lead.update(lead_id, {"Email": "other@initech.example"})
    assert exc.value.content[0]["errorCode"] == "CANNOT_UPDATE_CONVERTED_LEAD"
    with pytest.raises(ConversionError) as refused:
        convert_lead_over_http(clean_sandbox.salesforce_url, lead_id, session=_session(clean_sandbox))
    assert refused.value.errors[0]["statusCode"] == "CANNOT_UPDATE_CONVERTED_LEAD"


def test_convert_lead_into_an_existing_account_in_process(sf, clean_sandbox):
    account_id = sf.Account.create({"Name": "Acme"})["id"]
    account_before = sf.Account.get(account_id)
    lead_id = sf.Lead.create({"LastName": "Doe", "Company": "Acme Corp", "Email": "doe@acme.example"})["id"]
    _tick()
    result = clean_sandbox.convert_lead(lead_id, account_id)
    assert result["accountId"] == account_id and result["createdAccount"] is False
    assert sf.Account.get(account_id)["SystemModstamp"] == account_before["SystemModstamp"]  # left as it was
    contacts = sf.query(f"SELECT Id, Email FROM Contact WHERE AccountId = '{account_id}'")["records"]
    assert [(c["Id"], c["Email"]) for c in contacts] == [(result["contactId"], "doe@acme.example")]
    assert sf.query("SELECT COUNT() FROM Account")["totalSize"] == 1


def test_convert_lead_refusals_write_nothing(sf, clean_sandbox):
    url, session = clean_sandbox.salesforce_url, _session(clean_sandbox)
    lead_id = sf.Lead.create({"LastName": "Doe", "Company": "Initech"})["id"]
    deleted_account = sf.Account.create({"Name": "Gone"})["id"]
    sf.Account.delete(deleted_account)
    for lead, account, code in (
        ("00Q000000000099", None, "INVALID_CROSS_REFERENCE_KEY"),
        ("not-an-id", None, "MALFORMED_ID"),
        (lead_id, deleted_account, "INVALID_CROSS_REFERENCE_KEY"),
    ):
        with pytest.raises(ConversionError) as exc:
            convert_lead_over_http(url, lead, account, session=session)
        assert exc.value.errors[0]["statusCode"] == code
    # a validation rule on the new account refuses it: everything rolls back
    session.post(
        f"{url}/__sandbox_sf/rules",
        json={"validation_rule": {"field": "Name", "pattern": "^Z", "message": "Name must start with Z"}},
        timeout=10,
    ).raise_for_status()
    with pytest.raises(ConversionError) as exc:
        clean_sandbox.convert_lead(lead_id)
    assert exc.value.errors[0]["statusCode"] == "FIELD_CUSTOM_VALIDATION_EXCEPTION"
    assert sf.Lead.get(lead_id)["IsConverted"] is False
    assert sf.query("SELECT COUNT() FROM Contact")["totalSize"] == 0
    bad = session.post(f"{url}/__sandbox/convert-lead", json={"lead": lead_id}, timeout=10)
    assert bad.status_code == 400
