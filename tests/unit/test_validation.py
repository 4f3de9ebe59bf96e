"""GX suites on the extracts and the plan: clean frames pass; each expectation has a failing case (table-driven),
with its severity; a blocking failure raises naming the checks; the volume check reads the run history."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from include.company_sync import validation as v
from include.company_sync.settings import parse_field_mappings

TS = pd.Timestamp("2026-11-28T10:00:00Z")
STAGES = ["subscriber", "lead", "opportunity", "customer"]
A1, A2 = "001000000000001AAA", "001000000000002AAA"
C1, C2 = "003000000000001AAA", "003000000000002AAA"
L1 = "00Q000000000001AAA"
U1 = "005000000000001AAA"


def s(values, dtype="str") -> pd.Series:
    return pd.Series(values, dtype=dtype)


def clean_inputs() -> dict[str, pd.DataFrame]:
    """Two consistent records on each side, every reference resolvable, every value in range."""
    return {
        "sf_accounts": pd.DataFrame(
            {
                "Id": s([A1, A2]),
                "CreatedDate": [TS, TS],
                "SystemModstamp": [TS, TS],
                "IsDeleted": [False, False],
                "HubSpot_Company_ID__c": s(["101", pd.NA]),
                "changed": [True, False],
                "Name": s(["Acme", "Globex"]),
                "Website": s(["https://www.acme.com/", "globex.io"]),
                "Phone": s(["+1 555 0100", pd.NA]),
                "Industry": s(["Banking", pd.NA]),
                "Type": s(["Prospect", "Other"]),
                "BillingStreet": s(["1 Main St", pd.NA]),
                "BillingCity": s(["Springfield", pd.NA]),
                "BillingState": s(["IL", pd.NA]),
                "BillingPostalCode": s(["62701", pd.NA]),
                "BillingCountry": s(["USA", pd.NA]),
                "Description": s(["Banking software", pd.NA]),
                "AnnualRevenue": [1000.5, np.nan],
                "NumberOfEmployees": [10.0, 0.0],
                "OwnerId": s([U1, pd.NA]),
            }
        ),
        "sf_contacts": pd.DataFrame(
            {"Id": s([C1, C2]), "AccountId": s([A1, pd.NA]), "Email": s(["a@acme.com", "b@globex.io"])}
        ),
        "sf_leads": pd.DataFrame({"Id": s([L1]), "Email": s(["l@initech.com"]), "IsConverted": [False]}),
        "sf_users": pd.DataFrame({"Id": s([U1]), "Email": s(["owner@example.com"])}),
        "hs_companies": pd.DataFrame(
            {
                "id": s(["101", "102"]),
                "createdate": [TS, TS],
                "hs_lastmodifieddate": [TS, TS],
                "domain": s(["acme.com", pd.NA]),
                "salesforceaccountid": s([A1, pd.NA]),
                "hs_object_source": s(["CRM_UI", "CONTACTS"]),
                "lifecyclestage": s(["lead", pd.NA]),
                "changed": [True, True],
                "name": s(["Acme", "Initech"]),
                "website": s(["https://www.acme.com/", pd.NA]),
                "industry": s(["BANKING", pd.NA]),
                "type": s(["PROSPECT", pd.NA]),
                "phone": s(["+1 555 0100", pd.NA]),
                "address": s(["1 Main St", pd.NA]),
                "city": s(["Springfield", pd.NA]),
                "state": s(["IL", pd.NA]),
                "zip": s(["62701", pd.NA]),
                "country": s(["USA", pd.NA]),
                "description": s(["Banking software", pd.NA]),
                "annualrevenue": s(["1000.5", pd.NA]),
                "numberofemployees": s(["10", pd.NA]),
                "hubspot_owner_id": s(["501", pd.NA]),
            }
        ),
        "hs_contacts": pd.DataFrame(
            {
                "id": s(["201", "202"]),
                "email": s(["a@acme.com", "l@initech.com"]),
                "lifecyclestage": s(["lead", "customer"]),
                "salesforcecontactid": s([C1, pd.NA]),
                "salesforceleadid": s([pd.NA, L1]),
            }
        ),
        "hs_associations": pd.DataFrame({"company_id": s(["101", "102"]), "contact_id": s(["201", "202"])}),
        "hs_owners": pd.DataFrame({"id": s(["501"]), "email": s(["owner@example.com"])}),
        "hs_list_members": pd.DataFrame({"contact_id": s(["201"])}),
        "lifecycle_stages": pd.DataFrame({"stage": s(STAGES)}),
    }


def setv(frame: str, column: str, value, row: int = 0) -> Callable[[dict], None]:
    def mutate(frames: dict) -> None:
        f = frames[frame]
        f[column] = f[column].astype(object)
        f.loc[row, column] = value

    return mutate


def dup(frame: str, column: str) -> Callable[[dict], None]:
    def mutate(frames: dict) -> None:
        f = frames[frame]
        f.loc[1, column] = f.loc[0, column]

    return mutate


def drop(frame: str, column: str) -> Callable[[dict], None]:
    return lambda frames: frames.__setitem__(frame, frames[frame].drop(columns=[column]))


def _ids(frame: str, column: str, good_prefix_bad: str) -> list:
    # (frame, column, expectation, blocking, mutate)
    return [
        (frame, column, "expect_column_to_exist", True, drop(frame, column)),
        (frame, column, "expect_column_values_to_not_be_null", True, setv(frame, column, None)),
        (frame, column, "expect_column_values_to_be_unique", True, dup(frame, column)),
        (frame, column, "expect_column_values_to_match_regex", True, setv(frame, column, good_prefix_bad)),
    ]


NOT_NULL, REGEX, IN_SET, BETWEEN = (
    "expect_column_values_to_not_be_null",
    "expect_column_values_to_match_regex",
    "expect_column_values_to_be_in_set",
    "expect_column_values_to_be_between",
)
IS_NULL, UNIQUE, EXISTS, LENGTH = (
    "expect_column_values_to_be_null",
    "expect_column_values_to_be_unique",
    "expect_column_to_exist",
    "expect_column_value_lengths_to_be_between",
)
INPUT_CASES = [
    # --- sf_accounts
    *_ids("sf_accounts", "Id", "003000000000001AAA"),
    ("sf_accounts", "SystemModstamp", EXISTS, True, drop("sf_accounts", "SystemModstamp")),
    ("sf_accounts", "SystemModstamp", NOT_NULL, True, setv("sf_accounts", "SystemModstamp", None)),
    ("sf_accounts", "changed", EXISTS, True, drop("sf_accounts", "changed")),
    ("sf_accounts", "changed", IN_SET, True, setv("sf_accounts", "changed", "yes")),
    ("sf_accounts", "HubSpot_Company_ID__c", REGEX, False, setv("sf_accounts", "HubSpot_Company_ID__c", "abc")),
    ("sf_accounts", "HubSpot_Company_ID__c", UNIQUE, False, setv("sf_accounts", "HubSpot_Company_ID__c", "101", 1)),
    ("sf_accounts", "Name", NOT_NULL, True, setv("sf_accounts", "Name", None)),
    ("sf_accounts", "Website", REGEX, False, setv("sf_accounts", "Website", "not a website")),
    ("sf_accounts", "Industry", IN_SET, False, setv("sf_accounts", "Industry", "Space Mining")),
    ("sf_accounts", "Type", IN_SET, False, setv("sf_accounts", "Type", "Frenemy")),
    ("sf_accounts", "AnnualRevenue_not_a_number", IS_NULL, False, setv("sf_accounts", "AnnualRevenue", "lots")),
    ("sf_accounts", "AnnualRevenue_number", BETWEEN, False, setv("sf_accounts", "AnnualRevenue", -5.0)),
    ("sf_accounts", "NumberOfEmployees_not_a_number", IS_NULL, False, setv("sf_accounts", "NumberOfEmployees", "x")),
    ("sf_accounts", "NumberOfEmployees_number", BETWEEN, False, setv("sf_accounts", "NumberOfEmployees", 1e9)),
    ("sf_accounts", "OwnerId", REGEX, False, setv("sf_accounts", "OwnerId", "someone")),
    ("sf_accounts", "OwnerId_not_extracted", IS_NULL, False, setv("sf_accounts", "OwnerId", "005000000000009AAA")),
    # --- sf_contacts
    *_ids("sf_contacts", "Id", A1),
    ("sf_contacts", "AccountId", REGEX, False, setv("sf_contacts", "AccountId", C1)),
    ("sf_contacts", "AccountId_not_extracted", IS_NULL, False, setv("sf_contacts", "AccountId", "001000000000009AAA")),
    ("sf_contacts", "Email", REGEX, False, setv("sf_contacts", "Email", "not-an-email")),
    # --- sf_leads
    *_ids("sf_leads", "Id", C1),
    ("sf_leads", "Email", REGEX, False, setv("sf_leads", "Email", "x@y")),
    # --- sf_users
    *_ids("sf_users", "Id", A1),
    ("sf_users", "Email", REGEX, False, setv("sf_users", "Email", "owner")),
    # --- hs_companies
    *_ids("hs_companies", "id", "12ab"),
    ("hs_companies", "hs_lastmodifieddate", EXISTS, True, drop("hs_companies", "hs_lastmodifieddate")),
    ("hs_companies", "hs_lastmodifieddate", NOT_NULL, True, setv("hs_companies", "hs_lastmodifieddate", None)),
    ("hs_companies", "changed", EXISTS, True, drop("hs_companies", "changed")),
    ("hs_companies", "changed", IN_SET, True, setv("hs_companies", "changed", 3)),
    ("hs_companies", "salesforceaccountid", REGEX, False, setv("hs_companies", "salesforceaccountid", "acme")),
    ("hs_companies", "salesforceaccountid", UNIQUE, False, setv("hs_companies", "salesforceaccountid", A1, 1)),
    ("hs_companies", "domain", REGEX, False, setv("hs_companies", "domain", "acme com")),
    ("hs_companies", "lifecyclestage", IN_SET, False, setv("hs_companies", "lifecyclestage", "superfan")),
    ("hs_companies", "name", NOT_NULL, False, setv("hs_companies", "name", None)),
    ("hs_companies", "website", REGEX, False, setv("hs_companies", "website", "acme")),
    ("hs_companies", "industry", IN_SET, False, setv("hs_companies", "industry", "SPACE_MINING")),
    ("hs_companies", "type", IN_SET, False, setv("hs_companies", "type", "FRENEMY")),
    ("hs_companies", "annualrevenue_not_a_number", IS_NULL, False, setv("hs_companies", "annualrevenue", "1k")),
    ("hs_companies", "annualrevenue_number", BETWEEN, False, setv("hs_companies", "annualrevenue", "-1")),
    ("hs_companies", "numberofemployees_not_a_number", IS_NULL, False, setv("hs_companies", "numberofemployees", "?")),
    ("hs_companies", "numberofemployees_number", BETWEEN, False, setv("hs_companies", "numberofemployees", "1e12")),
    ("hs_companies", "hubspot_owner_id", REGEX, False, setv("hs_companies", "hubspot_owner_id", "owner@x.com")),
    ("hs_companies", "hubspot_owner_id_not_extracted", IS_NULL, False, setv("hs_companies", "hubspot_owner_id", "9")),
    # --- hs_contacts
    *_ids("hs_contacts", "id", "-1"),
    ("hs_contacts", "email", REGEX, False, setv("hs_contacts", "email", "nobody")),
    ("hs_contacts", "salesforcecontactid", REGEX, False, setv("hs_contacts", "salesforcecontactid", A1)),
    ("hs_contacts", "salesforceleadid", REGEX, False, setv("hs_contacts", "salesforceleadid", C1)),
    (
        "hs_contacts",
        "salesforcecontactid_not_extracted",
        IS_NULL,
        False,
        setv("hs_contacts", "salesforcecontactid", "003000000000009AAA"),
    ),
    (
        "hs_contacts",
        "salesforceleadid_not_extracted",
        IS_NULL,
        False,
        setv("hs_contacts", "salesforceleadid", "00Q000000000009AAA", 1),
    ),
    ("hs_contacts", "lifecyclestage", IN_SET, False, setv("hs_contacts", "lifecyclestage", "fan")),
    # --- hs_associations
    ("hs_associations", "company_id", NOT_NULL, True, setv("hs_associations", "company_id", None)),
    ("hs_associations", "contact_id", NOT_NULL, True, setv("hs_associations", "contact_id", None)),
    ("hs_associations", "company_id", REGEX, True, setv("hs_associations", "company_id", "x1")),
    ("hs_associations", "contact_id", REGEX, True, setv("hs_associations", "contact_id", "x1")),
    (
        "hs_associations",
        "company_id,contact_id",
        "expect_compound_columns_to_be_unique",
        True,
        lambda f: f.__setitem__("hs_associations", pd.concat([f["hs_associations"]] * 2, ignore_index=True)),
    ),
    ("hs_associations", "company_id_not_extracted", IS_NULL, True, setv("hs_associations", "company_id", "999")),
    ("hs_associations", "contact_id_not_extracted", IS_NULL, False, setv("hs_associations", "contact_id", "999")),
    # --- the other staged frames
    *_ids("hs_owners", "id", "owner-1")[:2],
    ("hs_owners", "id", UNIQUE, True, lambda f: f.__setitem__("hs_owners", pd.concat([f["hs_owners"]] * 2))),
    ("hs_owners", "id", REGEX, True, setv("hs_owners", "id", "owner-1")),
    ("hs_owners", "email", REGEX, False, setv("hs_owners", "email", "owner")),
    ("hs_list_members", "contact_id", REGEX, False, setv("hs_list_members", "contact_id", "c-1")),
    ("lifecycle_stages", "stage", NOT_NULL, False, setv("lifecycle_stages", "stage", None)),
    ("lifecycle_stages", "stage", UNIQUE, False, dup("lifecycle_stages", "stage")),
    # --- text lengths: one case per mapped text field with a Salesforce max length, on both sides
    *[
        (frame, column, LENGTH, False, setv(frame, column, "x" * (m.max_length + 1)))
        for m in parse_field_mappings(None)
        if m.kind in ("text", "url") and m.max_length and m.salesforce != "Name"
        for frame, column in (("sf_accounts", m.salesforce), ("hs_companies", m.hubspot))
    ],
]


def _case_id(case) -> str:
    frame, column, expectation, _, _ = case
    return f"{frame}.{column}:{expectation.removeprefix('expect_column_').removeprefix('expect_')}"


@pytest.fixture(scope="module")
def input_outcomes() -> dict[str, list[v.CheckResult]]:
    """Every case validated in one GX context: case i's corrupted frame is validated as `case<i>`."""
    suites = v.input_suites(None, STAGES)
    frames, case_suites = {}, {}
    for i, (frame, _column, _expectation, _blocking, mutate) in enumerate(INPUT_CASES):
        corrupted = {name: f.copy() for name, f in clean_inputs().items()}
        mutate(corrupted)
        frames[f"case{i}"] = v.input_check_frames(corrupted)[frame]
        case_suites[f"case{i}"] = suites[frame]
    frames["clean"] = None
    results = v.validate_frames(frames, case_suites)
    out: dict[str, list[v.CheckResult]] = {}
    for r in results:
        out.setdefault(r.frame, []).append(r)
    return out


def test_clean_extracts_pass_every_check(tmp_path):
    frames = v.input_check_frames(clean_inputs())
    results = v.validate_frames(frames, v.input_suites(None, STAGES), docs_dir=tmp_path / "docs", run_name="t")
    failed = [r.label for r in results if not r.success]
    assert failed == []
    assert len(results) > 80
    assert (tmp_path / "docs" / "index.html").exists()  # GX Data Docs, built by GX's site builder
    assert list((tmp_path / "docs" / "validations").rglob("*.html"))


@pytest.mark.parametrize("index", range(len(INPUT_CASES)), ids=[_case_id(c) for c in INPUT_CASES])
def test_each_input_expectation_has_a_failing_case(index, input_outcomes):
    _frame, column, expectation, blocking, _ = INPUT_CASES[index]
    results = input_outcomes[f"case{index}"]
    hit = [r for r in results if r.column == column and r.expectation == expectation]
    assert hit, f"no {expectation} on {column} in the suite"
    assert not hit[0].success, hit[0]
    assert hit[0].blocking is blocking


def test_every_input_expectation_is_covered_by_a_case():
    suites = v.input_suites(None, STAGES)
    covered = {(f, c, x) for f, c, x, _, _ in INPUT_CASES}
    missing = []
    for frame, expectations in suites.items():
        for expectation in expectations:
            config = expectation.configuration
            column = config.kwargs.get("column") or ",".join(config.kwargs.get("column_list") or [])
            if (frame, column, config.type) not in covered:
                missing.append(f"{frame}.{column}:{config.type}")
    assert missing == []


def test_value_sets_come_from_the_settings_and_the_staged_stages():
    from include.company_sync.settings import parse_settings

    settings = parse_settings({"company_sync_enabled": True})
    suites = v.input_suites(settings, ["lead", "customer"])
    by_column = {(e.configuration.kwargs.get("column"), e.configuration.type): e for e in suites["hs_companies"]}
    assert set(by_column[("industry", IN_SET)].configuration.kwargs["value_set"]) >= {"BANKING", "COMPUTER_SOFTWARE"}
    assert by_column[("lifecyclestage", IN_SET)].configuration.kwargs["value_set"] == ["customer", "lead"]
    assert ("lifecyclestage", IN_SET) not in {
        (e.configuration.kwargs.get("column"), e.configuration.type) for e in v.input_suites(settings)["hs_companies"]
    }
    sf = {e.configuration.kwargs.get("column"): e for e in suites["sf_accounts"] if e.configuration.type == IN_SET}
    assert "Customer - Direct" in sf["Type"].configuration.kwargs["value_set"]


def test_blocking_failures_raise_naming_each_failed_check_and_warnings_do_not():
    frames = clean_inputs()
    setv("sf_accounts", "Id", "not-an-id")(frames)
    setv("hs_associations", "company_id", "999")(frames)
    setv("sf_contacts", "Email", "nope")(frames)  # a warning only
    results = v.validate_frames(v.input_check_frames(frames), v.input_suites(None, STAGES))
    with pytest.raises(v.BlockingValidationError) as excinfo:
        v.raise_on_blocking(results, "extracts")
    message = str(excinfo.value)
    assert "2 blocking check(s) failed on the extracts; nothing was written" in message
    assert "sf_accounts.Id: expect_column_values_to_match_regex (1 rows, ids not-an-id)" in message
    assert "hs_associations.company_id_not_extracted: expect_column_values_to_be_null (1 rows, ids 999/201)" in message
    assert "Email" not in message
    # warnings name the failing records by id, never by value
    email = next(r for r in results if r.frame == "sf_contacts" and r.column == "Email")
    assert email.label.endswith("(1 rows, ids 003000000000001AAA)"), email.label
    assert not any("nope" in r.label or "nope" in r.examples for r in results)

    warnings_only = [r for r in results if not r.blocking]
    v.raise_on_blocking(warnings_only, "extracts")  # does not raise


# --- the plan ------------------------------------------------------------------------------------------
def writes(ids, fields, values) -> pd.DataFrame:
    return pd.DataFrame({"record_id": s(ids), "field": s(fields), "value": s(values)})


def clean_plan() -> dict[str, pd.DataFrame]:
    return {
        "hubspot_creates": writes([A2, A2], ["name", "domain"], ["Globex", "globex.io"]),
        "hubspot_updates": writes(["101"], ["phone"], ["+1 555 0100"]),
        "salesforce_creates": writes(["102"], ["Name"], ["Initech"]),
        "salesforce_updates": writes([A1], ["Phone"], [pd.NA]),  # updates may clear a field
        "decisions": pd.DataFrame(
            {
                "system": s(["salesforce", "salesforce", "hubspot", "hubspot"]),
                "record_id": s([A1, A2, "101", "102"]),
                "action": s(["updated", "created", "updated", "created"]),
                "reason": s(["updated", "R2_new_account", "updated", "R5a_auto_created_company"]),
            }
        ),
        "new_links": pd.DataFrame({"account_id": s([A1]), "company_id": s(["101"]), "reason": s(["R9_linked_by_id"])}),
    }


def add_row(name: str, **row) -> Callable[[dict], None]:
    return lambda p: p.__setitem__(name, pd.concat([p[name], pd.DataFrame({k: s([x]) for k, x in row.items()})]))


PLAN_CASES = [
    # (frame, column, expectation, mutate(plan); considered, history)
    ("plan_writes", "target", UNIQUE, add_row("hubspot_updates", record_id="101", field="phone", value="x")),
    ("plan_writes", "record_id", NOT_NULL, add_row("hubspot_updates", record_id=pd.NA, field="city", value="x")),
    (
        "plan_writes",
        "record_id_bad_format",
        IS_NULL,
        add_row("salesforce_updates", record_id="101", field="x", value=""),
    ),
    ("plan_writes", "blank_value_in_create", IS_NULL, add_row("salesforce_creates", record_id="102", field="Phone")),
    ("plan_creates", "ok", IN_SET, add_row("salesforce_creates", record_id="103", field="Phone", value="1")),
    (
        "plan_decisions",
        "system,record_id",
        "expect_compound_columns_to_be_unique",
        add_row("decisions", system="hubspot", record_id="101", action="skipped", reason="not_changed"),
    ),
    ("plan_decisions", "reason", NOT_NULL, add_row("decisions", system="hubspot", record_id="103", action="skipped")),
    (
        "plan_decisions",
        "action",
        IN_SET,
        add_row("decisions", system="hubspot", record_id="103", action="deleted", reason="x"),
    ),
    (
        "plan_decisions",
        "system",
        IN_SET,
        add_row("decisions", system="pipedrive", record_id="103", action="skipped", reason="x"),
    ),
    ("plan_new_links", "account_id", UNIQUE, add_row("new_links", account_id=A1, company_id="102")),
    ("plan_new_links", "company_id", UNIQUE, add_row("new_links", account_id=A2, company_id="101")),
]


@pytest.mark.parametrize("case", PLAN_CASES, ids=[_case_id((*c[:3], True, None)) for c in PLAN_CASES])
def test_each_plan_invariant_has_a_failing_case(case):
    frame, column, expectation, mutate = case
    plan = clean_plan()
    assert [
        r.label for r in v.validate_frames(v.plan_check_frames(plan, 10), v.plan_suites(1.0, 1)) if not r.success
    ] == []
    mutate(plan)
    results = v.validate_frames(v.plan_check_frames(plan, 10), v.plan_suites(1.0, 1))
    hit = [r for r in results if r.frame == frame and r.column == column and r.expectation == expectation]
    assert hit and not hit[0].success and hit[0].blocking, [r.label for r in results if not r.success]


@pytest.mark.parametrize(
    "considered, ratio, minimum, history, fails",
    [
        pytest.param(10, 0.3, 5, [], "change_ratio", id="share-over-threshold"),  # 4 of 10 records written
        pytest.param(10, 0.5, 50, [], None, id="share-below-the-minimum-records"),
        pytest.param(100, 0.5, 5, [], None, id="share-within-threshold"),
        pytest.param(100, 0.5, 1, [0, 0, 0, 0, 0], "targets_written", id="history-median-zero-floor-minimum"),
        pytest.param(100, 0.5, 1, [0, 0, 0, 0], None, id="fewer-than-five-runs-no-history-check"),
        pytest.param(100, 0.5, 5, [1, 1, 1, 1, 100], None, id="history-within-10x-median"),
    ],
)
def test_volume_circuit_breaker(considered, ratio, minimum, history, fails):
    plan = clean_plan()  # 4 records written: A2 (a HubSpot create), 101, 102, A1
    results = v.validate_frames(v.plan_check_frames(plan, considered), v.plan_suites(ratio, minimum, history))
    failed = {r.column for r in results if not r.success}
    assert failed == ({fails} if fails else set())
    assert all(r.blocking for r in results if r.frame == "plan_volume")


def test_volume_limit_and_history_counts():
    assert v.volume_limit([3, 1, 2, 10], 1) is None
    assert v.volume_limit([3, 1, 2, 10, 4], 1) == 30  # 10 x median 3
    assert v.volume_limit([0, 0, 0, 0, 0], 1000) == 1000  # never below the breaker minimum
    runs = pd.DataFrame(
        {
            "status": ["running", "success", "failed", "success", "success"],
            "dry_run": [False, False, False, True, False],
            "counts": [
                None,
                {"planned_writes": {"hubspot_creates": 2, "salesforce_updates": 3}},
                {"planned_writes": {"hubspot_creates": 50}},
                {"planned_writes": {"hubspot_creates": 70}},
                {"planned_writes": {}},
            ],
        }
    )
    assert v.recent_write_counts(runs) == [5, 0]
    assert v.recent_write_counts(pd.DataFrame()) == []


# --- the task: corrupt extracts stop the run before anything is written --------------------------------
def test_validate_inputs_task_stops_on_corrupt_extracts_naming_the_checks(tmp_path, monkeypatch):
    import json

    from include.company_sync.report import data_docs_dir
    from include.company_sync.staging import Staging
    from include.company_sync.tasks.spec import CompletedInputs, InputFrames, RunSpec
    from include.company_sync.tasks.validate import validate_inputs

    staging_url = (tmp_path / "staging").as_uri()
    monkeypatch.setenv("COMPANY_SYNC_STAGING_URL", staging_url)
    monkeypatch.setenv("COMPANY_SYNC_REPORTS_DIR", str(tmp_path / "reports"))
    monkeypatch.setenv("COMPANY_SYNC_STATE_URL", f"sqlite:///{tmp_path / 'state.db'}")
    frames = clean_inputs()
    dup("sf_accounts", "Id")(frames)
    setv("hs_associations", "company_id", "999")(frames)
    staging = Staging(staging_url)
    urls = {name: staging.write("company_sync", "run-1", name, frame) for name, frame in frames.items()}
    spec = RunSpec(
        dag_id="company_sync",
        run_id="run-1",
        mode="sync",
        dry_run=False,
        full_scan=False,
        window_start=None,
        window_end=pd.Timestamp("2026-11-29T10:00Z").to_pydatetime(),
        window="",
        enabled=True,
        enabled_at=None,
        settings_json=json.dumps({"company_sync_enabled": True}),
    )
    completed = CompletedInputs(InputFrames.from_xcom(urls), counts={}, api_calls={}, missing_ids={})
    with pytest.raises(v.BlockingValidationError) as excinfo:
        validate_inputs(spec, completed)
    message = str(excinfo.value)
    assert "2 blocking check(s) failed on the extracts; nothing was written" in message
    assert "sf_accounts.Id: expect_column_values_to_be_unique" in message
    assert "hs_associations.company_id_not_extracted: expect_column_values_to_be_null (1 rows, ids 999/201)" in message
    # the checks are staged for the report and the Data Docs are built before the task fails
    assert staging.exists(staging.url("company_sync", "run-1", "checks_inputs"))
    assert (data_docs_dir(tmp_path / "reports", "company_sync", "run-1", "extracts") / "index.html").exists()


def test_every_write_waits_for_both_validations():
    """A failed validate task leaves the loads upstream_failed: nothing reaches either system."""
    from airflow.dag_processing.dagbag import DagBag

    from tests.conftest import ROOT

    dag = DagBag(dag_folder=str(ROOT / "dags" / "company_sync.py")).dags["company_sync"]
    for load in ("load_hubspot", "load_salesforce", "link_ids"):
        upstream = dag.get_task(load).get_flat_relative_ids(upstream=True)
        assert {"validate_inputs", "validate_plan"} <= upstream, load
