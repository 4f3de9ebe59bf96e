"""Property-based tests of the sync engine: idempotence, one write per target, one decision per record,
row order independence."""

from __future__ import annotations

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from include.company_sync.engine import plan_sync

from .engine_fixtures import AFTER, BEFORE, account, apply_plan, company, ctx, inputs

DOMAINS = ["acme.com", "https://www.acme.com/x", "beta.io", "gmail.com", None, "http://Gamma.org:80/"]
NAMES = ["Acme", "Beta", None, "  Gamma  "]
INDUSTRIES = ["Banking", "Retail", None]
HS_INDUSTRIES = ["BANKING", "RETAIL", None]
NUMBERS = [None, 1200000.0, 5.0]
HS_NUMBERS = [None, "1200000", "5.0", "7"]


@st.composite
def universes(draw):
    na, nc = draw(st.integers(0, 5)), draw(st.integers(0, 5))
    accounts = [
        account(
            f"001{i}",
            Name=draw(st.sampled_from(NAMES)) or f"A{i}",
            Website=draw(st.sampled_from(DOMAINS)),
            Industry=draw(st.sampled_from(INDUSTRIES)),
            AnnualRevenue=draw(st.sampled_from(NUMBERS)),
            Phone=draw(st.sampled_from(["1", "2", None])),
            CreatedDate=draw(st.sampled_from([BEFORE, AFTER])),
            SystemModstamp=draw(st.sampled_from([BEFORE, AFTER])),
            IsDeleted=draw(st.booleans()) and draw(st.booleans()),
            changed=draw(st.booleans()),
        )
        for i in range(na)
    ]
    companies = [
        company(
            f"{i + 1}",
            name=draw(st.sampled_from(NAMES)),
            domain=draw(st.sampled_from(DOMAINS)),
            industry=draw(st.sampled_from(HS_INDUSTRIES)),
            annualrevenue=draw(st.sampled_from(HS_NUMBERS)),
            phone=draw(st.sampled_from(["1", "3", None])),
            hs_object_source=draw(st.sampled_from(["CONTACTS", "CRM_UI"])),
            lifecyclestage=draw(st.sampled_from([None, "lead", "customer"])),
            changed=draw(st.booleans()),
        )
        for i in range(nc)
    ]
    links = []
    if na and nc:
        for a, c in draw(st.lists(st.tuples(st.integers(0, na - 1), st.integers(0, nc - 1)), max_size=2)):
            # deleted linked accounts converge in two runs (the freed company may re-match): kept out here,
            # covered by test_deleted_linked_account_unlinks_and_keeps_company
            if accounts[a]["IsDeleted"]:
                continue
            if all(x["account_id"] != f"001{a}" and x["company_id"] != f"{c + 1}" for x in links):
                links.append(dict(account_id=f"001{a}", company_id=f"{c + 1}"))
    hc, assoc, sc = [], [], []
    for k in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(["plain", "lead", "private"]))
        hc.append(
            dict(
                id=f"h{k}",
                email=f"p{k}@x.example",
                lifecyclestage=draw(st.sampled_from(["lead", "customer"])),
                salesforceleadid="00Q" if kind == "lead" else None,
                salesforcecontactid=f"003{k}" if kind == "private" else None,
            )
        )
        if kind == "private":
            sc.append(dict(Id=f"003{k}", AccountId=None, Email=f"p{k}@x.example"))
        if nc:
            assoc.append(dict(company_id=f"{draw(st.integers(1, nc))}", contact_id=f"h{k}"))
    return inputs(accounts=accounts, companies=companies, links=links, hs_contacts=hc, assoc=assoc, contacts=sc)


SETTINGS = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _writes(plan):
    return {f: getattr(plan, f) for f in plan.WRITE_FRAMES}


@SETTINGS
@given(universes())
def test_replanning_applied_plan_writes_nothing(inp):
    plan = plan_sync(inp, ctx())
    again = plan_sync(apply_plan(inp, plan), ctx())
    assert again.write_count == 0, {k: v for k, v in _writes(again).items() if len(v)}
    assert len(again.new_links) == 0


@SETTINGS
@given(universes())
def test_one_write_per_target_cell_and_record(inp):
    plan = plan_sync(inp, ctx())
    for name, frame in _writes(plan).items():
        assert not frame.duplicated(["record_id", "field"]).any(), name
    # a record is either created or updated, never both, on each side
    assert not set(plan.hubspot_creates["record_id"]) & set(plan.salesforce_updates["record_id"]) - set(
        plan.salesforce_updates["record_id"]
    )
    assert not plan.new_links["account_id"].duplicated().any() and not plan.new_links["company_id"].duplicated().any()
    assert not set(plan.new_links["account_id"]) & set(plan.hubspot_creates["record_id"])
    assert not set(plan.new_links["company_id"]) & set(plan.salesforce_creates["record_id"])


@SETTINGS
@given(universes())
def test_every_input_record_gets_exactly_one_decision(inp):
    plan = plan_sync(inp, ctx())
    d = plan.decisions
    expected = sorted(
        [("salesforce", i) for i in inp.sf_accounts["Id"]] + [("hubspot", i) for i in inp.hs_companies["id"]]
    )
    assert sorted(zip(d["system"], d["record_id"], strict=True)) == expected
    assert d["action"].isin(["created", "updated", "linked", "unchanged", "skipped", "rejected"]).all()
    assert d["reason"].notna().all() and (d["reason"] != "None").all()


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.astype("str").sort_values(list(frame.columns)).reset_index(drop=True)


@SETTINGS
@given(universes(), st.randoms(use_true_random=False))
def test_shuffling_rows_does_not_change_the_plan(inp, rnd):
    from dataclasses import replace

    def shuffle(df):
        idx = list(range(len(df)))
        rnd.shuffle(idx)
        return df.iloc[idx].reset_index(drop=True)

    shuffled = replace(
        inp,
        sf_accounts=shuffle(inp.sf_accounts),
        hs_companies=shuffle(inp.hs_companies),
        hs_contacts=shuffle(inp.hs_contacts),
        hs_associations=shuffle(inp.hs_associations),
        links=shuffle(inp.links),
    )
    a, b = plan_sync(inp, ctx()), plan_sync(shuffled, ctx())
    for name in (
        *a.WRITE_FRAMES,
        "decisions",
        "new_links",
        "synced_values",
        "contact_attachments",
        "duplicate_candidates",
        "conflicts",
    ):
        pd.testing.assert_frame_equal(_sorted(getattr(a, name)), _sorted(getattr(b, name)), obj=name)
