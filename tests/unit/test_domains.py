"""Matching keys only from valid host names (issue #13 item 5; R9's domain key): table-driven, then through a plan."""

from __future__ import annotations

import pandas as pd
import pytest

from include.company_sync.engine import plan_sync
from include.company_sync.engine.domains import check_hosts, matchable_domain

from .engine_fixtures import account, company, ctx, decision, inputs, writes_of

LONG_LABEL = "a" * 64 + ".com"
HOST_300 = ".".join(["a" * 59] * 5)  # 299 characters, every label valid: too long as a whole


@pytest.mark.parametrize(
    "raw,host,problem",
    [
        ("not a domain", None, "not_a_hostname"),
        ("http://", None, "no_host"),
        ("https:///about", None, "no_host"),
        ("a" * 296 + ".com", None, "not_a_hostname"),  # a 300-character host: a label > 63
        (HOST_300, None, "not_a_hostname"),  # > 253
        (LONG_LABEL, None, "not_a_hostname"),
        ("co.uk", None, "public_suffix"),
        ("www.co.uk", None, "public_suffix"),
        ("com", None, "public_suffix"),
        ("localhost", None, "not_a_hostname"),
        ("xn--mnchen-3ya.de", "xn--mnchen-3ya.de", None),  # punycode is a host name
        ("xn--zz.de", None, "not_a_hostname"),  # an xn-- label that does not decode
        ("münchen.de", "xn--mnchen-3ya.de", None),  # unicode: converted to punycode
        ("https://Bücher.example/", "xn--bcher-kva.example", None),
        ("WWW.Example.COM/path?q", "example.com", None),
        ("example.com:8080", "example.com", None),
        ("jane@acme.com", None, "email_address"),
        ("mailto:jane@acme.com", None, "email_address"),
        ("https://user:pw@acme.com/", "acme.com", None),  # userinfo after "//" is a URL's
        ("192.168.1.1", None, "ip_address"),
        ("http://10.0.0.1:8080/x", None, "ip_address"),
        ("http://[2001:db8::1]/", None, "ip_address"),
        ("-acme.com", None, "not_a_hostname"),
        ("acme-.com", None, "not_a_hostname"),
        ("ac_me.com", None, "not_a_hostname"),
        ("acme.123", None, "not_a_hostname"),
        ("acme.com.", "acme.com", None),
        ("sub.acme.co.uk", "sub.acme.co.uk", None),
        ("", None, None),
        ("   ", None, None),
        (None, None, None),
    ],
    ids=lambda v: repr(v)[:30],
)
def test_matching_keys_only_from_valid_host_names(raw, host, problem):
    got = check_hosts(pd.Series([raw], dtype="str"))
    assert (None if pd.isna(got.host.iloc[0]) else got.host.iloc[0]) == host
    assert (None if pd.isna(got.problem.iloc[0]) else got.problem.iloc[0]) == problem
    assert pd.isna(matchable_domain(pd.Series([raw], dtype="str")).iloc[0]) == (host is None)


@pytest.mark.parametrize("website", ["not a domain", "http://", "co.uk", "jane@acme.com", "192.168.1.1"])
def test_invalid_website_is_a_warning_never_a_key_a_domain_nor_a_website(website):
    inp = inputs(
        accounts=[account("001A", Website=website)],
        companies=[company("1", domain="not", website=website, changed=False)],
    )
    plan = plan_sync(inp, ctx())
    created = writes_of(plan.hubspot_creates, "001A")
    assert "domain" not in created and "website" not in created  # blank on write
    assert len(plan.new_links) == 0  # no key: nothing matched
    d = decision(plan, "salesforce", "001A")
    assert d["action"] == "created" and d["warning"].startswith("invalid_website_")
    company_warning = decision(plan, "hubspot", "1")["warning"]
    assert company_warning.startswith("invalid_domain_not_a_hostname+invalid_website_")
    assert website not in " ".join(plan.decisions["message"].astype(str))  # codes and ids, never values


def test_valid_websites_give_no_warning_and_the_domain_follows_the_website():
    plan = plan_sync(inputs(accounts=[account("001A", Website="https://WWW.Acme.com:8080/x")]), ctx())
    assert writes_of(plan.hubspot_creates, "001A")["domain"] == "acme.com"
    assert plan.decisions["warning"].isna().all()


def test_invalid_salesforce_website_is_blank_so_a_linked_company_keeps_or_gives_its_own():
    """prefer_salesforce_unless_blank: the invalid Salesforce value counts as blank, so the company's website
    fills the account (as a blank Salesforce value would), and junk never reaches HubSpot."""
    inp = inputs(
        accounts=[account("001A", Website="http://", HubSpot_Company_ID__c="1")],
        companies=[company("1", domain="acme.com", website="acme.com", salesforceaccountid="001A", changed=False)],
        links=[dict(account_id="001A", company_id="1")],
    )
    plan = plan_sync(inp, ctx())
    assert "website" not in writes_of(plan.hubspot_updates, "1")
    assert writes_of(plan.salesforce_updates, "001A").get("Website") == "acme.com"
    assert decision(plan, "salesforce", "001A")["warning"] == "invalid_website_no_host"
