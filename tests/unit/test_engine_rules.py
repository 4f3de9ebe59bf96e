"""Table-driven tests of the sync engine's rules (R1-R9, adopted rules, field rules, owners, R7, rejections)."""

from __future__ import annotations

import pandas as pd
import pytest

from include.company_sync.engine import hubspot_inputs, normalize_domain, plan_sync, salesforce_records
from include.company_sync.engine.domains import matchable_domain

from .engine_fixtures import (
    AFTER,
    BEFORE,
    INTEGRATION_USER,
    T0,
    account,
    apply_plan,
    company,
    ctx,
    decision,
    inputs,
    settings,
    writes_of,
)


# ------------------------------------------------------------------ domain normalisation (R9 key)
@pytest.mark.parametrize(
    "raw,expected",
    [
        ("https://www.Acme.com/about?x=1#top", "acme.com"),
        ("  HTTP://user:pw@ACME.com:8080/ ", "acme.com"),
        ("acme.com.", "acme.com"),
        ("acme.com:443/path", "acme.com"),
        ("//www.acme.com", "acme.com"),
        ("münchen.de", "xn--mnchen-3ya.de"),
        ("", None),
        (None, None),
    ],
    ids=lambda v: repr(v),
)
def test_R9_normalize_domain(raw, expected):
    got = normalize_domain(pd.Series([raw], dtype="str")).iloc[0]
    assert (None if pd.isna(got) else got) == expected


@pytest.mark.parametrize(
    "raw", ["gmail.com", "https://www.yahoo.com", "gmx.de", "proton.me", "outlook.com", "localhost", "   "]
)
def test_R9_free_mail_and_blank_never_match(raw):
    assert pd.isna(matchable_domain(pd.Series([raw], dtype="str")).iloc[0])


# ------------------------------------------------------------------ R1
def test_R1_company_sync_off_writes_nothing():
    inp = inputs(accounts=[account("001A")], companies=[company("1", hs_object_source="CONTACTS")])
    plan = plan_sync(inp, ctx(settings(company_sync_enabled=False)))
    assert plan.write_count == 0 and len(plan.new_links) == 0
    assert set(plan.decisions["reason"]) == {"R1_company_sync_off"}
    assert len(plan.decisions) == 2


# ------------------------------------------------------------------ R2 / R3 / R4 / deleted
@pytest.mark.parametrize(
    "acct,mode,kw,action,reason",
    [
        (dict(CreatedDate=AFTER), "sync", {}, "created", "R2_new_account"),
        (dict(CreatedDate=BEFORE, SystemModstamp=BEFORE), "sync", {}, "skipped", "R3_existing_not_edited"),
        (dict(CreatedDate=BEFORE, SystemModstamp=AFTER), "sync", {}, "created", "R3b_edited_after_enable"),
        (
            dict(CreatedDate=BEFORE, SystemModstamp=BEFORE, changed=False),
            "import",
            {"import_account_ids": ("001A",)},
            "created",
            "R3a_imported",
        ),
        (
            dict(CreatedDate=BEFORE, SystemModstamp=BEFORE),
            "import",
            {"import_account_ids": ("001Z",)},
            "skipped",
            "not_changed",
        ),
        (dict(IsDeleted=True), "sync", {}, "skipped", "deleted"),
        (dict(changed=False), "sync", {}, "skipped", "not_changed"),
    ],
    ids=[
        "R2_new",
        "R3_existing_not_edited",
        "R3b_edited",
        "R3a_import",
        "R3a_not_chosen",
        "R2_deleted_never_creates",
        "R2_not_in_window",
    ],
)
def test_R2_R3_account_creation(acct, mode, kw, action, reason):
    plan = plan_sync(inputs(accounts=[account("001A", **acct)]), ctx(mode=mode, **kw))
    d = decision(plan, "salesforce", "001A")
    assert (d["action"], d["reason"]) == (action, reason)
    assert (len(plan.hubspot_creates) > 0) == (action == "created")


def test_R4_no_contact_needed_and_create_payload():
    plan = plan_sync(
        inputs(
            accounts=[
                account(
                    "001A",
                    Website="https://www.acme.com/x",
                    AnnualRevenue=1200000.0,
                    Industry="Banking",
                    Type="Customer - Direct",
                )
            ]
        ),
        ctx(),
    )
    w = writes_of(plan.hubspot_creates, "001A")
    assert w == {
        "name": "Acct 001A",
        "website": "https://www.acme.com/x",
        "domain": "acme.com",
        "annualrevenue": "1200000",
        "industry": "BANKING",
        "type": "OTHER",
        "salesforceaccountid": "001A",
    }
    [payload] = hubspot_inputs(plan.hubspot_creates, id_property="salesforceaccountid")
    assert payload["idProperty"] == "salesforceaccountid" and payload["id"] == "001A"


def test_R2_deleted_linked_account_unlinks_and_keeps_company():
    inp = inputs(
        accounts=[account("001A", IsDeleted=True, Name="X")],
        companies=[company("1", name="Y")],
        links=[dict(account_id="001A", company_id="1")],
    )
    plan = plan_sync(inp, ctx())
    assert plan.write_count == 0
    assert plan.removed_links[["account_id", "company_id"]].values.tolist() == [["001A", "1"]]
    assert decision(plan, "hubspot", "1")["reason"] == "deleted"


# ------------------------------------------------------------------ R5 / R6 / R8 (+ adopted precedence)
def _hs_case(source="CRM_UI", contacts=(), list_members=(), list_id=None, default="Contact", mode="sync"):
    """contacts: tuples (kind) with kind in private|account|lead|plain."""
    hc, sc, assoc = [], [], []
    for i, kind in enumerate(contacts):
        cid, sid = f"h{i}", f"003{i}"
        row = dict(id=cid, email=f"p{i}@x{i}.example")
        if kind in ("private", "account"):
            row["salesforcecontactid"] = sid
            sc.append(dict(Id=sid, AccountId=None if kind == "private" else "001OTHER", Email=row["email"]))
        if kind == "lead":
            row["salesforceleadid"] = f"00Q{i}"
        hc.append(row)
        assoc.append(dict(company_id="1", contact_id=cid))
    st = settings(inclusion_list_id=list_id, default_salesforce_object=default)
    inp = inputs(
        companies=[company("1", hs_object_source=source)],
        hs_contacts=hc,
        contacts=sc,
        assoc=assoc,
        list_members=[dict(contact_id=f"h{i}") for i in list_members],
    )
    kw = {"resync_company_ids": ("1",)} if mode == "resync" else {}
    return plan_sync(inp, ctx(st, mode=mode, **kw))


# a row: (the company's case, expected action, reason, rules held); its id names the rule it tests
R5_R6_R8_CASES = [
    pytest.param(
        dict(source="CONTACTS", contacts=("plain",)), "created", "R5a_auto_created_company", "R5a+R5c", id="R5a"
    ),
    pytest.param(
        dict(source="CONTACTS", contacts=("plain",), default="Lead", list_id="7"),
        "skipped",
        "R6c_not_in_inclusion_list",
        "R6c",
        id="R5a_needs_Contact_default+R6c",
    ),
    pytest.param(dict(contacts=("private",)), "created", "R5b_private_contact", "R5b+R5c", id="R5b_private_contact"),
    pytest.param(
        dict(contacts=("private",), list_id="7", list_members=(0,)),
        "created",
        "R5b_private_contact",
        "R5b+R5c",
        id="R5b_private_contact_in_list",
    ),
    pytest.param(
        dict(contacts=("private", "plain"), list_id="7", list_members=(1,)),
        "created",
        "R5b_private_contact",
        "R5b+R5c",
        id="R5b_private_contact_other_in_list",
    ),
    pytest.param(
        dict(contacts=("private", "lead"), list_id="7", list_members=(1,)),
        "created",
        "R5b_private_contact",
        "R5b+R5c",
        id="R5b_private_contact_not_R6b_with_a_lead",
    ),
    pytest.param(
        dict(contacts=("private",), list_id="7", list_members=()),
        "skipped",
        "R6c_not_in_inclusion_list",
        "R5b+R6c",
        id="R6c_wins_over_R5b",
    ),
    pytest.param(
        dict(contacts=("plain",), list_id="7", list_members=(0,)),
        "created",
        "R5c_inclusion_list",
        "R5c",
        id="R5c_list",
    ),
    pytest.param(dict(contacts=("plain",)), "created", "R5c_inclusion_list", "R5c", id="R5c_no_list_everyone"),
    pytest.param(dict(contacts=()), "skipped", "R6a_no_contacts", "R6a", id="R6a"),
    pytest.param(dict(source="CONTACTS", contacts=()), "skipped", "R6a_no_contacts", "R5a+R6a", id="R6a_wins_over_R5a"),
    pytest.param(dict(contacts=("lead", "lead")), "skipped", "R6b_only_leads", "R5c+R6b", id="R6b_wins_over_R5c"),
    pytest.param(dict(contacts=("lead", "plain")), "created", "R5c_inclusion_list", "R5c", id="R6b_needs_all_leads"),
    pytest.param(dict(contacts=("plain",), list_id="7"), "skipped", "R6c_not_in_inclusion_list", "R6c", id="R6c"),
    pytest.param(
        dict(source="CONTACTS", contacts=("lead",)),
        "skipped",
        "R6b_only_leads",
        "R5a+R5c+R6b",
        id="R6b_wins_over_R5a",
    ),
    pytest.param(dict(contacts=(), mode="resync"), "created", "R8_manual_resync", "R8", id="R8_resync_no_contacts"),
    pytest.param(
        dict(contacts=("lead",), mode="resync"), "created", "R8_manual_resync", "R8", id="R8_resync_only_leads"
    ),
]


@pytest.mark.parametrize("case,action,reason,rule", R5_R6_R8_CASES)
def test_R5_R6_R8_account_creation(case, action, reason, rule):
    plan = _hs_case(**case)
    d = decision(plan, "hubspot", "1")
    assert (d["action"], d["reason"], d["rule"]) == (action, reason, rule)
    assert (len(plan.salesforce_creates) > 0) == (action == "created")


def test_R5b_private_contacts_attached_to_new_account():
    plan = _hs_case(contacts=("private", "account"))
    assert plan.contact_attachments.values.tolist() == [["0030", "1"]]
    w = writes_of(plan.salesforce_creates, "1")
    assert w["HubSpot_Company_ID__c"] == "1" and w["OwnerId"] == INTEGRATION_USER and w["Name"] == "Co 1"


def test_R8_resync_still_dedupes_by_domain():
    inp = inputs(
        accounts=[account("001A", Website="acme.com", changed=False, CreatedDate=BEFORE, SystemModstamp=BEFORE)],
        companies=[company("1", domain="www.acme.com")],
    )
    plan = plan_sync(inp, ctx(mode="resync", resync_company_ids=("1",)))
    assert len(plan.salesforce_creates) == 0
    assert plan.new_links[["account_id", "company_id", "reason"]].values.tolist() == [
        ["001A", "1", "R9_linked_by_domain"]
    ]


# ------------------------------------------------------------------ R9 matching
def test_R9_matching_order_and_oldest_company_wins():
    old, new = pd.Timestamp("2020-01-01", tz="UTC"), pd.Timestamp("2021-01-01", tz="UTC")
    inp = inputs(
        accounts=[
            account("001A", Website="acme.com"),
            account("001B", Website="beta.io"),
            account("001C", Website="gmail.com"),
            account("001D"),
        ],
        companies=[
            company("1", domain="acme.com", createdate=new, changed=False),
            company("2", domain="acme.com", createdate=old, changed=False),
            company("3", domain="beta.io", changed=False),
            company("4", salesforceaccountid="001B", changed=False),
            company("5", domain="gmail.com", changed=False),
            company("6", changed=False),
        ],
        contacts=[dict(Id="003x", AccountId="001D", Email="Pat@Shared.example")],
        hs_contacts=[dict(id="hx", email="pat@shared.example")],
        assoc=[dict(company_id="6", contact_id="hx")],
    )
    plan = plan_sync(inp, ctx())
    links = dict(
        zip(
            plan.new_links["account_id"],
            zip(plan.new_links["company_id"], plan.new_links["reason"], strict=True),
            strict=True,
        )
    )
    assert links == {
        "001A": ("2", "R9_linked_by_domain"),
        "001B": ("4", "R9_linked_by_id"),
        "001D": ("6", "R9_linked_by_contacts"),
    }
    assert decision(plan, "salesforce", "001C")["action"] == "created"  # free-mail never matches
    dup = plan.duplicate_candidates
    assert dup[["record_id", "matched_id", "candidate_id"]].values.tolist() == [["001A", "2", "1"]]
    assert writes_of(plan.hubspot_updates, "2")["salesforceaccountid"] == "001A"
    assert writes_of(plan.salesforce_updates, "001A")["HubSpot_Company_ID__c"] == "2"


def test_R9_company_taken_by_oldest_account_other_is_reported_not_created():
    """Changed by issue #13 item 4 (R9 inside one run): the other account used to create a second acme.com
    company; now it is skipped and reported, naming the account that took the company."""
    inp = inputs(
        accounts=[
            account("001A", Website="acme.com", CreatedDate=AFTER),
            account("001B", Website="acme.com", CreatedDate=pd.Timestamp("2024-01-15", tz="UTC")),
        ],
        companies=[company("1", domain="acme.com", changed=False)],
    )
    plan = plan_sync(inp, ctx())
    assert plan.new_links["account_id"].tolist() == ["001B"]
    assert decision(plan, "salesforce", "001A")["action"] == "skipped"
    assert decision(plan, "salesforce", "001A")["reason"] == "R9_duplicate_candidate"
    assert len(plan.hubspot_creates) == 0
    assert plan.duplicate_candidates["kind"].tolist() == ["target_taken"]
    assert plan.duplicate_candidates[["candidate_id", "winner_id"]].values.tolist() == [["1", "001B"]]


def test_R9_mirror_company_links_to_existing_account_instead_of_creating():
    inp = inputs(
        accounts=[
            account(
                "001A", Website="http://acme.com", CreatedDate=BEFORE, SystemModstamp=BEFORE, changed=False, Phone="1"
            )
        ],
        companies=[company("1", domain="acme.com", hs_object_source="CONTACTS", phone="2")],
        hs_contacts=[dict(id="h1", email="a@acme.com")],
        assoc=[dict(company_id="1", contact_id="h1")],
    )
    plan = plan_sync(inp, ctx())
    assert len(plan.salesforce_creates) == 0
    assert decision(plan, "hubspot", "1")["reason"] == "R9_linked_by_domain"
    assert writes_of(plan.hubspot_updates, "1") == {
        "phone": "1",
        "salesforceaccountid": "001A",
        "name": "Acct 001A",
        "website": "http://acme.com",
    }


def test_R9_mirror_domain_taken_company_not_created():
    inp = inputs(
        accounts=[account("001A", Website="acme.com", changed=False)],
        companies=[
            company("1", domain="acme.com", changed=False),
            company("2", domain="acme.com", hs_object_source="CONTACTS"),
        ],
        links=[dict(account_id="001A", company_id="1")],
        hs_contacts=[dict(id="h1", email="a@acme.com")],
        assoc=[dict(company_id="2", contact_id="h1")],
    )
    plan = plan_sync(inp, ctx())
    assert len(plan.salesforce_creates) == 0
    assert decision(plan, "hubspot", "2")["reason"] == "R9_duplicate_candidate"


# ------------------------------------------------------------------ field rules x scenarios
SCENARIOS = {
    # name: (sf value, hs value, synced base, sf newer?)
    "blank_sf": (None, "hs", None, True),
    "blank_both": (None, None, None, True),
    "cleared_sf": (None, "v0", "v0", True),
    "changed_sf": ("v1", "v0", "v0", True),
    "changed_hs": ("v0", "v1", "v0", False),
    "both_changed_sf_newer": ("v1", "v2", "v0", True),
    "both_changed_hs_newer": ("v1", "v2", "v0", False),
}
# expected (HubSpot write, Salesforce write, conflict?)  "-" = no write, None = clear
EXPECTED = {
    "prefer_salesforce_unless_blank": {
        "blank_sf": ("-", "hs", False),
        "blank_both": ("-", "-", False),
        "cleared_sf": (None, "-", False),
        "changed_sf": ("v1", "-", False),
        "changed_hs": ("v0", "-", False),
        "both_changed_sf_newer": ("v1", "-", False),
        "both_changed_hs_newer": ("v1", "-", False),
    },
    "always_use_salesforce": {
        "blank_sf": ("-", "-", False),
        "blank_both": ("-", "-", False),
        "cleared_sf": (None, "-", False),
        "changed_sf": ("v1", "-", False),
        "changed_hs": ("v0", "-", False),
        "both_changed_sf_newer": ("v1", "-", False),
        "both_changed_hs_newer": ("v1", "-", False),
    },
    "two_way": {
        "blank_sf": ("-", "hs", False),
        "blank_both": ("-", "-", False),
        "cleared_sf": (None, "-", False),
        "changed_sf": ("v1", "-", False),
        "changed_hs": ("-", "v1", False),
        "both_changed_sf_newer": ("v1", "-", True),
        "both_changed_hs_newer": ("-", "v2", True),
    },
    "dont_sync": {k: ("-", "-", False) for k in SCENARIOS},
}


@pytest.mark.parametrize(
    "rule,scenario",
    [(r, s) for r in EXPECTED for s in SCENARIOS],
    ids=[f"{r}-{s}" for r in EXPECTED for s in SCENARIOS],
)
def test_field_rules(rule, scenario):
    sf, hs, base, sf_newer = SCENARIOS[scenario]
    st = settings(
        field_mappings=[
            {"salesforce": "Name", "hubspot": "name"},
            {"salesforce": "Phone", "hubspot": "phone", "rule": rule},
        ]
    )
    sf_ts, hs_ts = (AFTER, BEFORE) if sf_newer else (BEFORE, AFTER)
    synced = [dict(account_id="001A", company_id="1", field="Phone", value=base, synced_at=T0)] if base else []
    inp = inputs(
        accounts=[account("001A", Phone=sf, SystemModstamp=sf_ts, Name="N")],
        companies=[company("1", phone=hs, hs_lastmodifieddate=hs_ts, name="N")],
        links=[dict(account_id="001A", company_id="1")],
        synced=synced,
    )
    plan = plan_sync(inp, ctx(st))
    exp_hs, exp_sf, exp_conflict = EXPECTED[rule][scenario]
    hsw, sfw = writes_of(plan.hubspot_updates, "1"), writes_of(plan.salesforce_updates, "001A")
    assert hsw.get("phone", "-") == exp_hs
    assert sfw.get("Phone", "-") == exp_sf
    assert (len(plan.conflicts) > 0) == exp_conflict
    # the re-plan of the resulting state writes nothing
    again = plan_sync(apply_plan(inp, plan), ctx(st))
    assert again.write_count == 0


def test_field_rules_numbers_compare_normalised_and_write_typed():
    inp = inputs(
        accounts=[account("001A", AnnualRevenue=1200000.0, NumberOfEmployees=None)],
        companies=[company("1", annualrevenue=" 1200000.00 ", numberofemployees="42", name="Acct 001A")],
        links=[dict(account_id="001A", company_id="1")],
    )
    plan = plan_sync(inp, ctx())
    assert writes_of(plan.hubspot_updates, "1") == {}
    assert writes_of(plan.salesforce_updates, "001A") == {"NumberOfEmployees": "42"}
    [rec] = salesforce_records(plan.salesforce_updates, settings())
    assert rec == {"Id": "001A", "NumberOfEmployees": 42}


# ------------------------------------------------------------------ rejections
@pytest.mark.parametrize(
    "hs_props,sf_props,reason",
    [
        (dict(description="x" * 32001), {}, "rejected_STRING_TOO_LONG"),
        (dict(phone="1" * 41), {}, "rejected_STRING_TOO_LONG"),
        (dict(annualrevenue="12k"), {}, "rejected_INVALID_NUMBER"),
        (dict(numberofemployees="12.5"), {}, "rejected_NOT_AN_INTEGER"),
        (dict(industry="SPACE_TOURISM"), {}, "rejected_PICKLIST_VALUE_NOT_MAPPED"),
        ({}, dict(Industry="Underwater Basket Weaving"), "rejected_PICKLIST_VALUE_NOT_MAPPED"),
    ],
    ids=[
        "too_long_description",
        "too_long_phone",
        "bad_number",
        "fraction_for_integer",
        "unmapped_hs_option",
        "unmapped_sf_value",
    ],
)
def test_field_rules_rejections(hs_props, sf_props, reason):
    inp = inputs(
        accounts=[account("001A", Name="N", Phone=None, **sf_props)],
        companies=[company("1", name="N", city="Paris", **hs_props)],
        links=[dict(account_id="001A", company_id="1")],
    )
    plan = plan_sync(inp, ctx())
    d = decision(plan, "salesforce", "001A")
    assert (d["action"], d["reason"]) == ("rejected", reason)
    bad_value = next(iter({**hs_props, **sf_props}.values()))[:20]
    assert bad_value in d["message"]
    if hs_props:  # the Salesforce write is refused whole (BillingCity too), nothing else stops
        assert writes_of(plan.salesforce_updates, "001A") == {}
    else:
        assert writes_of(plan.hubspot_updates, "1") == {}


def test_field_rules_rejected_create_is_not_sent():
    plan = plan_sync(inputs(accounts=[account("001A", Industry="Nope"), account("001B")]), ctx())
    assert set(plan.hubspot_creates["record_id"]) == {"001B"}
    assert decision(plan, "salesforce", "001A")["reason"] == "rejected_PICKLIST_VALUE_NOT_MAPPED"


# ------------------------------------------------------------------ owners
USERS = [
    dict(Id="005U1", Email="Ann@Corp.com", FirstName="Ann", LastName="Lee", IsActive=True),
    dict(Id="005U2", Email="bob@corp.com", FirstName="Bob", LastName="Ray", IsActive=False),
    dict(Id="005U3", Email="cy@corp.com", FirstName="Cy", LastName="Oz", IsActive=True),
]
OWNERS = [
    dict(id="77", email="ann@corp.COM", firstName="Ann", lastName="Lee"),
    dict(id="78", email="bob@corp.com", firstName="Bob", lastName="Ray"),
    dict(id="79", email="cy@corp.com", firstName="Cyrus", lastName="Oz"),
]


@pytest.mark.parametrize(
    "owner_id,expected",
    [
        ("005U1", "77"),
        ("005U2", None),
        ("005U3", None),
        ("005NOBODY", None),
    ],
    ids=["email_and_name_case_insensitive", "inactive_user", "name_differs", "unknown_user"],
)
def test_field_rules_owner_on_new_company(owner_id, expected):
    plan = plan_sync(inputs(accounts=[account("001A", OwnerId=owner_id)], users=USERS, owners=OWNERS), ctx())
    assert writes_of(plan.hubspot_creates, "001A").get("hubspot_owner_id") == expected


@pytest.mark.parametrize(
    "hs_owner,expected",
    [("77", "005U1"), ("79", INTEGRATION_USER), (None, INTEGRATION_USER)],
    ids=["matched", "unmatched_to_integration_user", "blank_to_integration_user"],
)
def test_field_rules_owner_on_new_account(hs_owner, expected):
    plan = plan_sync(
        inputs(
            companies=[company("1", hubspot_owner_id=hs_owner, hs_object_source="CONTACTS")],
            hs_contacts=[dict(id="h", email="a@b.example")],
            assoc=[dict(company_id="1", contact_id="h")],
            users=USERS,
            owners=OWNERS,
        ),
        ctx(),
    )
    assert writes_of(plan.salesforce_creates, "1")["OwnerId"] == expected


def test_field_rules_owner_two_way_hubspot_change_reaches_salesforce():
    inp = inputs(
        accounts=[account("001A", OwnerId="005U3", SystemModstamp=BEFORE)],
        companies=[company("1", hubspot_owner_id="77", name="Acct 001A")],
        links=[dict(account_id="001A", company_id="1")],
        synced=[dict(account_id="001A", company_id="1", field="OwnerId", value="005U3", synced_at=T0)],
        users=USERS,
        owners=OWNERS,
    )
    plan = plan_sync(inp, ctx())
    assert writes_of(plan.salesforce_updates, "001A") == {"OwnerId": "005U1"}


# ------------------------------------------------------------------ R7 lifecycle
@pytest.mark.parametrize(
    "stages,company_stage,contact_stages,expected",
    [
        (None, "lead", ["customer", "subscriber"], "customer"),
        (None, "customer", ["lead"], None),  # never backwards
        (None, None, ["opportunity", "other"], "opportunity"),
        (None, "lead", ["other"], None),  # other never moves anything
        (None, "other", ["customer"], None),  # a company outside the order is left alone
        (["subscriber", "lead", "trial", "customer"], "lead", ["trial"], "trial"),  # custom stage
        (["subscriber", "lead", "trial", "customer"], "trial", ["lead", "mystery"], None),
    ],
    ids=[
        "R7_advance",
        "R7_never_backwards",
        "R7_from_blank",
        "R7_other_ignored",
        "R7_company_other",
        "R7_custom_stage",
        "R7_custom_no_backwards",
    ],
)
def test_R7_lifecycle(stages, company_stage, contact_stages, expected):
    hc = [dict(id=f"h{i}", email=f"x{i}@y.example", lifecyclestage=s) for i, s in enumerate(contact_stages)]
    inp = inputs(
        accounts=[account("001A", Name="Co 1", changed=False)],
        companies=[company("1", lifecyclestage=company_stage, changed=False)],
        links=[dict(account_id="001A", company_id="1")],
        hs_contacts=hc,
        assoc=[dict(company_id="1", contact_id=h["id"]) for h in hc],
        stages=stages,
    )
    plan = plan_sync(inp, ctx())
    assert writes_of(plan.hubspot_updates, "1").get("lifecyclestage") == expected
    if expected:
        assert decision(plan, "hubspot", "1")["reason"] == "R7_lifecycle_advanced"


def test_R7_unlinked_company_lifecycle_not_touched():
    plan = plan_sync(
        inputs(
            companies=[company("1", lifecyclestage="lead")],
            hs_contacts=[dict(id="h", email="a@b.example", salesforceleadid="00Q", lifecyclestage="customer")],
            assoc=[dict(company_id="1", contact_id="h")],
        ),
        ctx(),
    )
    assert plan.write_count == 0


def test_field_rules_synced_values_and_loader_helpers():
    plan = plan_sync(inputs(accounts=[account("001A", Phone="+1 2")]), ctx())
    sv = plan.synced_values
    assert sv["company_id"].isna().all() and set(sv["field"]) == {"Name", "Phone"}
    assert "synced_at" not in sv.columns  # stamped by the state store when recorded
