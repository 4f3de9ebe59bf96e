"""Drivers already processed (`engine.processed`, issue #11): a contact-side change a successful run acted on,
read again in the next window's overlap with the same version, drives nothing. One row per case."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from include.company_sync.engine.processed import (
    DRIVEN_COLUMNS,
    HUBSPOT_CONTACT,
    LIST_JOIN,
    PAIR_COLUMNS,
    SALESFORCE_CONTACT,
    SALESFORCE_LEAD,
    pairs_to_keep,
    troubled_records,
    unprocessed,
)

T1, T2, T3 = "2026-12-02T09:00:00.123Z", "2026-12-02T09:05:00Z", "2026-12-02T09:10:00.5Z"
HOLD = "held_by_rollback"


def pairs(*rows) -> pd.DataFrame:
    return pd.DataFrame(list(rows), columns=PAIR_COLUMNS)


def driven(*rows) -> pd.DataFrame:
    return pd.DataFrame(list(rows), columns=DRIVEN_COLUMNS)


def as_tuples(frame: pd.DataFrame) -> list[tuple]:
    return [
        (s, i, None if pd.isna(v) else pd.Timestamp(v).isoformat()) for s, i, v in frame[PAIR_COLUMNS].itertuples(False)
    ]


def iso(value: str) -> str:
    return pd.Timestamp(value).tz_convert("UTC").isoformat()


# (case, drivers, stored, kept ids, skipped per source)
UNPROCESSED = [
    ("nothing stored: every driver kept", pairs((HUBSPOT_CONTACT, "1", T1)), pairs(), ["1"], {}),
    (
        "the same id and version: dropped",
        pairs((HUBSPOT_CONTACT, "1", T1)),
        pairs((HUBSPOT_CONTACT, "1", T1)),
        [],
        {HUBSPOT_CONTACT: 1},
    ),
    ("a newer version: kept", pairs((HUBSPOT_CONTACT, "1", T2)), pairs((HUBSPOT_CONTACT, "1", T1)), ["1"], {}),
    (
        "the same version of another source: kept",
        pairs((LIST_JOIN, "1", T1)),
        pairs((HUBSPOT_CONTACT, "1", T1)),
        ["1"],
        {},
    ),
    ("another id: kept", pairs((SALESFORCE_LEAD, "00Q2", T1)), pairs((SALESFORCE_LEAD, "00Q1", T1)), ["00Q2"], {}),
    ("no version: always kept", pairs((HUBSPOT_CONTACT, "1", None)), pairs((HUBSPOT_CONTACT, "1", T1)), ["1"], {}),
    (
        "the version as a datetime and as ISO text compare equal",
        pd.DataFrame({"source": [SALESFORCE_CONTACT], "id": ["003A"], "version": pd.to_datetime([T3], utc=True)}),
        pairs((SALESFORCE_CONTACT, "003A", "2026-12-02T10:10:00.500+01:00")),
        [],
        {SALESFORCE_CONTACT: 1},
    ),
    (
        "mixed: counted per source",
        pairs(
            (HUBSPOT_CONTACT, "1", T1), (HUBSPOT_CONTACT, "2", T2), (LIST_JOIN, "3", T1), (SALESFORCE_LEAD, "00Q", T3)
        ),
        pairs((HUBSPOT_CONTACT, "1", T1), (LIST_JOIN, "3", T1), (SALESFORCE_LEAD, "00Q", T1)),
        ["2", "00Q"],
        {HUBSPOT_CONTACT: 1, LIST_JOIN: 1},
    ),
    ("no drivers", pairs(), pairs((HUBSPOT_CONTACT, "1", T1)), [], {}),
]


@pytest.mark.parametrize(("case", "drivers", "stored", "kept", "skipped"), UNPROCESSED, ids=[r[0] for r in UNPROCESSED])
def test_unprocessed(case, drivers, stored, kept, skipped):
    result = unprocessed(drivers, stored)
    assert list(result.kept["id"]) == kept
    assert result.skipped == skipped


def test_unprocessed_keeps_the_input_rows_and_their_other_columns():
    drivers = pairs((HUBSPOT_CONTACT, "1", T1), (HUBSPOT_CONTACT, "2", T2)).assign(record_id=["10", "20"])
    result = unprocessed(drivers, pairs((HUBSPOT_CONTACT, "1", T1)))
    assert result.kept.to_dict("records") == [{"source": HUBSPOT_CONTACT, "id": "2", "version": T2, "record_id": "20"}]


# (case, driven this run, troubled records, stored, floor, pairs kept)
KEEP = [
    (
        "a clean driver is kept",
        driven((HUBSPOT_CONTACT, "1", T1, "10")),
        set(),
        pairs(),
        None,
        [(HUBSPOT_CONTACT, "1", iso(T1))],
    ),
    (
        "a driver that drove nothing is kept",
        driven((SALESFORCE_CONTACT, "003A", T1, None)),
        set(),
        pairs(),
        None,
        [(SALESFORCE_CONTACT, "003A", iso(T1))],
    ),
    (
        "a driver with a troubled record is left out; the stored pair stays",
        driven((HUBSPOT_CONTACT, "1", T2, "10"), (HUBSPOT_CONTACT, "1", T2, "11")),
        {"11"},
        pairs((HUBSPOT_CONTACT, "1", T1)),
        None,
        [(HUBSPOT_CONTACT, "1", iso(T1))],
    ),
    (
        "a driver that is itself troubled (a contact attach refused) is left out",
        driven((SALESFORCE_CONTACT, "003A", T1, "001A")),
        {"003A"},
        pairs(),
        None,
        [],
    ),
    (
        "a record found later for a driver (a Salesforce person's company) counts",
        driven((SALESFORCE_LEAD, "00Q", T1, None), (SALESFORCE_LEAD, "00Q", None, "10")),
        {"10"},
        pairs(),
        None,
        [],
    ),
    (
        "the newest version per driver replaces the stored one",
        driven((HUBSPOT_CONTACT, "1", T2, "10")),
        set(),
        pairs((HUBSPOT_CONTACT, "1", T1), (LIST_JOIN, "1", T1)),
        None,
        [(HUBSPOT_CONTACT, "1", iso(T2)), (LIST_JOIN, "1", iso(T1))],
    ),
    (
        "versions before the floor cannot reappear: dropped, stored or new",
        driven((HUBSPOT_CONTACT, "2", T1, None), (HUBSPOT_CONTACT, "3", T3, None)),
        set(),
        pairs((HUBSPOT_CONTACT, "1", T1), (LIST_JOIN, "4", T2)),
        pd.Timestamp(T2),
        [(HUBSPOT_CONTACT, "3", iso(T3)), (LIST_JOIN, "4", iso(T2))],
    ),
    ("nothing driven, nothing stored", driven(), set(), pairs(), pd.Timestamp(T1), []),
]


@pytest.mark.parametrize(("case", "run", "troubled", "stored", "floor", "expected"), KEEP, ids=[r[0] for r in KEEP])
def test_pairs_to_keep(case, run, troubled, stored, floor, expected):
    assert as_tuples(pairs_to_keep(run, troubled, stored, floor)) == expected


def results(*rows) -> pd.DataFrame:
    return pd.DataFrame(list(rows), columns=["key", "id", "success", "operation"])


def decisions(*rows) -> pd.DataFrame:
    return pd.DataFrame(list(rows), columns=["system", "record_id", "action", "reason"])


LINKS = pd.DataFrame({"account_id": ["001A", "001B"], "company_id": ["10", "20"]})

# (case, decisions, write results, troubled records)
TROUBLED = [
    (
        "a clean run",
        decisions(("hubspot", "10", "updated", "R7_lifecycle_advanced")),
        [results(("10", "10", True, "update"))],
        set(),
    ),
    (
        "a refused write: its key and id, and the partner",
        decisions(),
        [results(("001A", None, False, "upsert"))],
        {"001A", "10"},
    ),
    (
        "a rejected value, through the link",
        decisions(("salesforce", "001B", "rejected", "rejected_STRING_TOO_LONG")),
        [],
        {"001B", "20"},
    ),
    ("a hold", decisions(("hubspot", "30", "skipped", HOLD)), [], {"30"}),
    ("other skips are done", decisions(("hubspot", "30", "skipped", "R6a_no_contacts")), [], set()),
]


@pytest.mark.parametrize(("case", "plan", "writes", "expected"), TROUBLED, ids=[r[0] for r in TROUBLED])
def test_troubled_records(case, plan, writes, expected):
    assert troubled_records(plan, writes, LINKS, HOLD) == expected


def test_the_state_store_keeps_the_pairs_between_runs(state_url):
    """`tasks.changes.keep_processed` / `stored_pairs`: JSON in `settings_state` (SQLite and PostgreSQL), the
    floor never moving back (a backfill of past dates keeps what the last nightly stored)."""
    from include.company_sync.state import StateStore
    from include.company_sync.tasks.changes import keep_processed, processed_key, stored_pairs

    store = StateStore(state_url)
    assert stored_pairs(store, "company_sync")[0].empty
    run = driven((HUBSPOT_CONTACT, "1", T2, "10"), (LIST_JOIN, "2", T3, "20"), (SALESFORCE_LEAD, "00Q", T3, "001B"))
    assert keep_processed(store, "company_sync", run, {"001B"}, pd.Timestamp(T1)) == 2
    kept, floor = stored_pairs(store, "company_sync")
    assert as_tuples(kept) == [(HUBSPOT_CONTACT, "1", iso(T2)), (LIST_JOIN, "2", iso(T3))]
    assert floor == pd.Timestamp(T1)
    # a backfill (older window end): nothing of its own is new enough, the floor stays
    assert (
        keep_processed(
            store,
            "company_sync",
            driven((HUBSPOT_CONTACT, "9", "2026-11-01T00:00:00Z", None)),
            set(),
            pd.Timestamp("2026-11-01T00:00:00Z"),
        )
        == 2
    )
    # the next nightly's floor drops what cannot reappear
    assert keep_processed(store, "company_sync", driven(), set(), pd.Timestamp(T3)) == 1
    stored = json.loads(store.setting_value(processed_key("company_sync")))
    assert stored == {"floor": iso(T3), "pairs": {LIST_JOIN: {"2": iso(T3)}}}
    assert stored_pairs(store, "company_resync")[0].empty  # per DAG
    store.dispose()


# --- the change sources drop processed drivers before any read (`tasks.changes`, fake connectors) -------------
START, END = pd.Timestamp("2026-12-02T08:55:00Z"), pd.Timestamp("2026-12-02T09:15:00Z")


class FakeHubSpot:
    def __init__(self, contacts: pd.DataFrame, associations: pd.DataFrame, by_property: pd.DataFrame | None = None):
        self.contacts, self.pairs, self.by_property = contacts, associations.astype("string"), by_property
        self.asked: list[list[str]] = []

    def contacts_changed(self, start, end):
        return self.contacts

    def associations(self, company_ids=(), *, contact_ids=()):
        self.asked.append(list(contact_ids))
        return self.pairs[self.pairs["contact_id"].isin(list(contact_ids))].reset_index(drop=True)

    def contacts_by_property(self, prop, values):
        return self.by_property[self.by_property[prop].isin(list(values))].reset_index(drop=True)


def hs_contacts(*rows) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": pd.Series([r[0] for r in rows], dtype="string"),
            "lastmodifieddate": pd.to_datetime([r[1] for r in rows], utc=True, format="ISO8601"),
        }
    )


def test_hubspot_drivers_read_associations_only_for_drivers_not_processed():
    from include.company_sync.tasks.changes import hubspot_drivers

    hs = FakeHubSpot(
        hs_contacts(("1", T1), ("2", T2)),
        pd.DataFrame({"company_id": ["10", "20", "30"], "contact_id": ["1", "2", "3"]}),
    )
    members = pd.DataFrame(
        {"contact_id": ["3", "4"], "joined_at": pd.to_datetime([T2, "2026-12-01T00:00:00Z"], utc=True)}
    )
    stored = pairs((HUBSPOT_CONTACT, "1", T1), (LIST_JOIN, "3", T1))  # contact 1 processed; 3 joined again since
    found = hubspot_drivers(hs, START, END, members, stored)
    assert hs.asked == [["2", "3"]]  # contact 1 is never read again; join 4 is outside the window
    assert found.company_ids == ["20", "30"]
    assert found.counts == {
        "contacts_changed": 2,
        "list_joins": 1,
        "contacts_already_processed": 1,
        "list_joins_already_processed": 0,
        "companies_driven": 2,
    }
    assert found.driven[["source", "id", "record_id"]].values.tolist() == [
        [HUBSPOT_CONTACT, "2", "20"],
        [LIST_JOIN, "3", "30"],
    ]

    everything_processed = pairs((HUBSPOT_CONTACT, "1", T1), (HUBSPOT_CONTACT, "2", T2), (LIST_JOIN, "3", T2))
    hs.asked.clear()
    found = hubspot_drivers(hs, START, END, members, everything_processed)
    assert hs.asked == [] and found.company_ids == []  # no association read at all
    assert found.counts["contacts_already_processed"] == 2 and found.counts["list_joins_already_processed"] == 1


class FakeSalesforce:
    def __init__(self, contacts: pd.DataFrame, leads: pd.DataFrame):
        self._contacts, self._leads = contacts, leads

    def contacts_changed(self, start, end):
        return self._contacts

    def leads_changed(self, start, end):
        return self._leads


def test_salesforce_drivers_drop_processed_contacts_and_leads():
    from include.company_sync.tasks.changes import LEAD, PRIVATE_CONTACT, salesforce_drivers

    contacts = pd.DataFrame(
        {
            "Id": pd.Series(["003A", "003B", "003C"], dtype="string"),
            "AccountId": pd.Series(["001A", None, "001C"], dtype="string"),
            "SystemModstamp": pd.to_datetime([T1, T2, T3], utc=True, format="ISO8601"),
        }
    )
    leads = pd.DataFrame(
        {
            "Id": pd.Series(["00QA", "00QB"], dtype="string"),
            "IsConverted": pd.Series([True, False], dtype="boolean"),
            "ConvertedAccountId": pd.Series(["001Q", None], dtype="string"),
            "SystemModstamp": pd.to_datetime([T1, T2], utc=True, format="ISO8601"),
        }
    )
    stored = pairs((SALESFORCE_CONTACT, "003A", T1), (SALESFORCE_CONTACT, "003B", T1), (SALESFORCE_LEAD, "00QB", T2))
    found = salesforce_drivers(FakeSalesforce(contacts, leads), START, END, stored)
    assert found.account_ids == ["001C", "001Q"]  # 003A's account is not driven again; 003B changed since
    assert found.people.values.tolist() == [["003B", PRIVATE_CONTACT], ["00QA", LEAD]]
    assert found.counts == {
        "contacts_changed": 3,
        "leads_changed": 2,
        "contacts_already_processed": 1,
        "leads_already_processed": 1,
        "private_contacts": 1,
        "leads_converted": 1,
        "accounts_driven": 2,
    }


def test_companies_of_people_says_which_person_drove_which_company():
    from include.company_sync.tasks.changes import LEAD, PRIVATE_CONTACT, companies_of_people

    hs = FakeHubSpot(
        hs_contacts(),
        pd.DataFrame({"company_id": ["10", "20", "21"], "contact_id": ["1", "2", "2"]}),
        pd.DataFrame(
            {
                "id": pd.Series(["1", "2"], dtype="string"),
                "salesforcecontactid": pd.Series(["003B", None], dtype="string"),
                "salesforceleadid": pd.Series([None, "00QA"], dtype="string"),
            }
        ),
    )
    people = pd.DataFrame({"id": ["003B", "00QA"], "kind": [PRIVATE_CONTACT, LEAD]}, dtype="string")
    found = companies_of_people(hs, people)
    assert found.company_ids == ["10", "20", "21"]
    assert found.driven[["source", "id", "record_id"]].values.tolist() == [
        [SALESFORCE_CONTACT, "003B", "10"],
        [SALESFORCE_LEAD, "00QA", "20"],
        [SALESFORCE_LEAD, "00QA", "21"],
    ]
    assert found.driven["version"].isna().all()
