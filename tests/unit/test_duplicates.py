"""R9 inside one run (issue #13 item 4): records of one side sharing a domain never all become records on the other
side; the one R9 picks (oldest: CreatedDate / createdate, then id) creates or matches, the others are skipped
(``R9_duplicate_candidate``) and reported in ``duplicate_candidates`` naming the winner."""

from __future__ import annotations

import pandas as pd
import pytest

from include.company_sync.engine import plan_sync

from .engine_fixtures import AFTER, BEFORE, account, apply_plan, company, ctx, decision, inputs

DAY = [pd.Timestamp(f"2024-02-0{d}", tz="UTC") for d in range(1, 10)]


def _accounts(*websites):
    """001A, 001B, ... created on consecutive days, in reverse (the last one is the oldest)."""
    n = len(websites)
    return [account(f"001{chr(65 + i)}", Website=w, CreatedDate=DAY[n - i]) for i, w in enumerate(websites)]


def _companies(*domains, **kw):
    """Companies 1, 2, ... each with an associated contact (R5c: no inclusion list, every contact qualifies)."""
    n = len(domains)
    rows = [company(str(i + 1), domain=d, createdate=DAY[n - i], **kw) for i, d in enumerate(domains)]
    return (
        rows,
        [dict(id=f"h{i + 1}", email=f"p{i + 1}@x.example") for i in range(n)],
        [dict(company_id=str(i + 1), contact_id=f"h{i + 1}") for i in range(n)],
    )


def _rows(plan):
    cols = ["system", "record_id", "candidate_id", "winner_id", "kind"]
    d = plan.duplicate_candidates[cols].astype(object)
    return sorted(tuple(None if pd.isna(v) else v for v in r) for r in d.itertuples(index=False))


def _actions(plan, system):
    d = plan.decisions[plan.decisions["system"] == system]
    return dict(zip(d["record_id"], zip(d["action"], d["reason"], strict=True), strict=True))


SKIP = ("skipped", "R9_duplicate_candidate")


def three_accounts():
    return inputs(accounts=_accounts("www.samedomain-sf.com", "https://samedomain-sf.com/x", "SAMEDOMAIN-SF.com"))


def three_companies():
    rows, contacts, assoc = _companies("samedomain-hs.com", "www.samedomain-hs.com", "samedomain-hs.com")
    return inputs(companies=rows, hs_contacts=contacts, assoc=assoc)


def linked_pair_plus(new_account: bool, new_company: bool):
    """001A <-> 1 linked, both acme.com; plus a new account 001B and/or a new company 2 with acme.com."""
    rows, contacts, assoc = _companies("acme.com", "acme.com")
    rows[0].update(salesforceaccountid="001A", changed=False)
    accounts = _accounts("acme.com", "https://www.acme.com/")
    accounts[0].update(HubSpot_Company_ID__c="1", changed=False)
    return inputs(
        accounts=accounts if new_account else accounts[:1],
        companies=rows if new_company else rows[:1],
        hs_contacts=contacts,
        assoc=assoc,
        links=[dict(account_id="001A", company_id="1")],
    )


def linked_pair_website_changes():
    """The re-plan property's failing example (``test_engine_properties``, hypothesis): the linked pair 0010 <-> 1
    holds acme.com on HubSpot only; this run writes the account's website (gmail.com: free mail, no key) to the
    company, so once the run's writes land nobody holds acme.com and 0012 (acme.com, edited) creates its company
    (decided on the keys before the writes, 0012 was skipped, and the next run created it)."""
    same = dict(Name="Acme", Phone="1", Industry="Banking", CreatedDate=BEFORE, SystemModstamp=BEFORE, changed=False)
    return inputs(
        accounts=[
            account("0010", Website="gmail.com", **same),
            account("0011", Website="acme.com", **same),
            account("0012", Website="acme.com", **{**same, "SystemModstamp": AFTER, "changed": True}),
        ],
        companies=[
            company("1", name="Acme", domain="acme.com", phone="1", industry="BANKING", hs_object_source="CONTACTS")
        ],
        links=[dict(account_id="0010", company_id="1")],
    )


@pytest.mark.parametrize(
    "case,salesforce,hubspot,creates,rows",
    [
        (  # R9: three same-domain accounts -> one company (the oldest account's), two reported
            three_accounts,
            {"001A": SKIP, "001B": SKIP, "001C": ("created", "R2_new_account")},
            {},
            (["001C"], []),
            [
                ("salesforce", "001A", None, "001C", "same_key_in_run"),
                ("salesforce", "001B", None, "001C", "same_key_in_run"),
            ],
        ),
        (  # R9: three same-domain companies -> one account (the oldest company's), two reported
            three_companies,
            {},
            {"1": SKIP, "2": SKIP, "3": ("created", "R5c_inclusion_list")},
            ([], ["3"]),
            [
                ("hubspot", "1", None, "3", "same_key_in_run"),
                ("hubspot", "2", None, "3", "same_key_in_run"),
            ],
        ),
        (  # R9: a same-domain pair already linked plus a new account: not created, the pair named
            lambda: linked_pair_plus(new_account=True, new_company=False),
            {"001A": ("skipped", "not_changed"), "001B": SKIP},
            {"1": ("skipped", "not_changed")},
            ([], []),
            [("salesforce", "001B", "1", "001A", "target_taken")],
        ),
        (  # ... plus a new company: likewise (the mirrored rule)
            lambda: linked_pair_plus(new_account=False, new_company=True),
            {"001A": ("skipped", "not_changed")},
            {"1": ("skipped", "not_changed"), "2": SKIP},
            ([], []),
            [("hubspot", "2", "001A", "1", "target_taken")],
        ),
        (  # ... plus both: they share the domain and are both free, so R9 links them to each other
            lambda: linked_pair_plus(new_account=True, new_company=True),
            {"001B": ("linked", "R9_linked_by_domain")},
            {"2": ("linked", "R9_linked_by_domain")},
            ([], []),
            [],
        ),
        (  # the keys are the ones after this run's writes: the pair's company loses acme.com, 0012 creates
            linked_pair_website_changes,
            {"0010": ("updated", "updated"), "0012": ("created", "R3b_edited_after_enable")},
            {"1": ("updated", "updated")},
            (["0012"], []),
            [],
        ),
    ],
    ids=[
        "three_accounts",
        "three_companies",
        "linked_pair_plus_account",
        "linked_pair_plus_company",
        "both",
        "linked_pair_website_changes",
    ],
)
def test_R9_same_domain_inside_one_run(case, salesforce, hubspot, creates, rows):
    inp = case()
    plan = plan_sync(inp, ctx())
    assert {k: v for k, v in _actions(plan, "salesforce").items() if k in salesforce} == salesforce
    assert {k: v for k, v in _actions(plan, "hubspot").items() if k in hubspot} == hubspot
    assert sorted(plan.hubspot_creates["record_id"].astype(str).unique()) == creates[0]
    assert sorted(plan.salesforce_creates["record_id"].astype(str).unique()) == creates[1]
    assert _rows(plan) == rows
    again = plan_sync(apply_plan(inp, plan), ctx())  # the winner's choice holds: planning again writes nothing
    assert again.write_count == 0 and len(again.new_links) == 0


def test_R9_a_same_domain_account_matched_in_the_run_wins_over_the_ones_that_would_create():
    """001B is matched through a shared contact (R9 step 4) to a company without a domain; 001A shares 001B's
    domain and would create: it is reported, winner 001B, candidate the company 001B matched. This run writes
    001B's website to that company, so after the writes the company holds beta.io: ``target_taken``, as the next
    run would see it."""
    inp = inputs(
        accounts=_accounts("beta.io", "beta.io"),
        companies=[company("7", changed=False)],
        contacts=[dict(Id="003x", AccountId="001B", Email="pat@x.example")],
        hs_contacts=[dict(id="hx", email="pat@x.example")],
        assoc=[dict(company_id="7", contact_id="hx")],
    )
    plan = plan_sync(inp, ctx())
    assert decision(plan, "salesforce", "001B")["reason"] == "R9_linked_by_contacts"
    assert (decision(plan, "salesforce", "001A")["action"], decision(plan, "salesforce", "001A")["reason"]) == SKIP
    assert _rows(plan) == [("salesforce", "001A", "7", "001B", "target_taken")]
    assert len(plan.hubspot_creates) == 0
    assert plan_sync(apply_plan(inp, plan), ctx()).write_count == 0


def test_R9_the_losers_stay_reported_once_the_winner_exists():
    """One run reaches what the next would: after the winner's company exists, the losers changing again are
    still not created (their domain is now held by the winner's company)."""
    inp = three_accounts()
    first = plan_sync(inp, ctx())
    after = apply_plan(inp, first)
    after.sf_accounts["changed"] = True
    second = plan_sync(after, ctx())
    assert len(second.hubspot_creates) == 0
    assert _actions(second, "salesforce")["001A"] == SKIP
    assert {r[3] for r in _rows(second)} == {"001C"}  # the winner named again
    assert {r[4] for r in _rows(second)} == {"target_taken"}


def test_R9_a_linked_account_of_the_same_domain_wins_when_its_company_holds_none():
    """Case 2 on the Salesforce side: the linked pair 001A <-> 1 did not change (no write: company 1 still has no
    domain), so 001A itself holds acme.com; the new 001B is reported with winner 001A, candidate company 1."""
    inp = inputs(
        accounts=[
            account("001A", Website="acme.com", HubSpot_Company_ID__c="1", CreatedDate=DAY[0], changed=False),
            account("001B", Website="www.acme.com"),
        ],
        companies=[company("1", salesforceaccountid="001A", changed=False)],
        links=[dict(account_id="001A", company_id="1")],
    )
    plan = plan_sync(inp, ctx())
    assert _actions(plan, "salesforce")["001B"] == SKIP
    assert _rows(plan) == [("salesforce", "001B", "1", "001A", "same_key_in_run")]
    assert plan.write_count == 0 and plan_sync(apply_plan(inp, plan), ctx()).write_count == 0


def test_R9_other_domains_and_blank_websites_are_not_duplicates():
    inp = inputs(accounts=_accounts("a.example", "b.example", None, None, "gmail.com", "gmail.com"))
    plan = plan_sync(inp, ctx())
    assert len(plan.hubspot_creates["record_id"].unique()) == 6  # free-mail and blank domains never match
    assert len(plan.duplicate_candidates) == 0


def test_R9_a_linked_company_of_the_same_domain_wins_even_when_its_account_has_no_website():
    """The account created from a company with a domain but no website has no key: the company itself (linked)
    still holds the domain, so a same-domain company that changes later is not created again."""
    rows, contacts, assoc = _companies("samedomain-hs.com", "samedomain-hs.com")
    rows[0].update(salesforceaccountid="001N", changed=False)
    inp = inputs(
        accounts=[account("001N", HubSpot_Company_ID__c="1", changed=False)],
        companies=rows,
        hs_contacts=contacts,
        assoc=assoc,
        links=[dict(account_id="001N", company_id="1")],
    )
    plan = plan_sync(inp, ctx())
    assert _actions(plan, "hubspot")["2"] == SKIP
    assert len(plan.salesforce_creates) == 0
    assert _rows(plan) == [("hubspot", "2", "001N", "1", "same_key_in_run")]


def test_an_incremental_run_fetches_the_same_sides_records_sharing_a_changed_domain():
    from include.company_sync.engine import counterpart_keys

    mirror = pd.DataFrame(
        {
            "system": ["salesforce", "salesforce", "hubspot", "hubspot"],
            "record_id": ["001OLD", "001OTHER", "9OLD", "9OTHER"],
            "domain": ["samedomain-sf.com", "other.example", "samedomain-hs.com", "other.example"],
            "external_id": [None, None, None, None],
        },
        dtype="str",
    )
    changed_a = pd.DataFrame({"Id": ["001NEW"], "Website": ["www.samedomain-sf.com"], "HubSpot_Company_ID__c": [None]})
    changed_c = pd.DataFrame(
        {"id": ["9NEW"], "domain": ["samedomain-hs.com"], "website": [None], "salesforceaccountid": [None]}
    )
    links = pd.DataFrame({"account_id": [], "company_id": []}, dtype="str")
    account_ids, company_ids = counterpart_keys(changed_a.astype("str"), changed_c.astype("str"), links, mirror)
    assert account_ids.tolist() == ["001OLD"] and company_ids.tolist() == ["9OLD"]
