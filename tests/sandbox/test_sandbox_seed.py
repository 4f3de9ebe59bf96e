"""The numpy seed (issue #17 leftovers): deterministic for a given seed number, the shape the sync's tests
rely on, and the vectorised helpers equal to the per-value functions they replace."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import numpy as np
import pytest

from include.sandbox import multimap
from include.sandbox.hubspot import seeding
from include.sandbox.hubspot.common import iso_from_ms, to_ms, to_ms_many
from include.sandbox.salesforce import records
from include.sandbox.salesforce.bulk import _to_csv_writer, to_csv
from include.sandbox.salesforce.soql import canonical_datetime
from include.sandbox.seed import build_universe, iso_strings, salesforce_id, salesforce_ids

NOW_MS = 1_790_000_000_123


def _rows(universe) -> tuple[list, list, list, list]:
    return list(universe.owners), list(universe.accounts), list(universe.companies), list(universe.people)


@pytest.mark.parametrize("n", [0, 5, 10, 333])
def test_universe_is_deterministic_for_a_seed_number(n):
    assert _rows(build_universe(n)) == _rows(build_universe(n))
    assert _rows(build_universe(n, seed=8)) == _rows(build_universe(n, seed=8))
    if n >= 10:
        assert _rows(build_universe(n, seed=8)) != _rows(build_universe(n))


def test_universe_columns_are_deterministic_at_scale():
    one, two = build_universe(20_000), build_universe(20_000)
    for table in ("accounts", "companies"):
        for name in ("key", "name", "domain", "website", "phone", "owner", "annual_revenue"):
            assert getattr(one, table).column(name) == getattr(two, table).column(name)
    for name in ("email", "salesforce_kind", "salesforce_org", "hubspot_company", "in_inclusion_list"):
        assert one.people.column(name) == two.people.column(name)


def test_universe_shape():
    n = 3_000
    u = build_universe(n)
    overlap, duplicates = int(n * 0.4), n // 33
    assert len(u.accounts) == len(u.companies) == n
    assert [o.domain for o in u.accounts[:overlap]] == [c.domain for c in u.companies[:overlap]]
    account_domains = {a.domain for a in u.accounts}
    assert len(account_domains) == n - duplicates  # the duplicates reuse earlier accounts' domains
    assert all(a.domain in account_domains and not a.phone and a.website for a in u.accounts[n - duplicates :])
    assert all(c.domain not in account_domains for c in u.companies[overlap : n - duplicates])
    kinds = {p.salesforce_kind for p in u.people}
    assert kinds == {"contact", "private_contact", "lead", None}
    for person in u.people[:500]:
        if person.salesforce_kind == "contact":
            assert person.email.endswith("@" + u.accounts[person.salesforce_org].domain)
        if person.hubspot_company is not None:
            assert person.email.endswith("@" + u.companies[person.hubspot_company].domain)
    assert u.people[len(u.people) - 1].email.split("@")[1] in ("gmail.com", "yahoo.com", "hotmail.com", "outlook.com")
    assert len({p.email for p in u.people}) == len(u.people)


def test_hubspot_seed_is_deterministic(monkeypatch):
    monkeypatch.setattr(seeding, "now_ms", lambda: NOW_MS)
    assert seeding.build_state(400) == seeding.build_state(400)


def test_salesforce_seed_is_deterministic(monkeypatch):
    class FixedNow(datetime):
        @classmethod
        def now(cls, tz=None):
            return datetime.fromtimestamp(NOW_MS / 1000, tz)

    monkeypatch.setattr(records, "datetime", FixedNow)

    def seeded() -> dict:
        data = records.Store.empty_data()
        records.Store(data, 1000).load_seed(400)
        return data

    first, second = seeded(), seeded()
    assert first == second
    assert all(None not in rec.values() for rec in first["records"]["Account"].values())  # sparse records


def test_vectorised_ids_and_timestamps_equal_the_per_value_functions():
    rng = random.Random(3)
    numbers = [0, 1, 61, 62, 3843, 62**5 - 1, 62**5, *(rng.randrange(62**10) for _ in range(3000))]
    for prefix in ("001", "003", "00Q"):
        assert salesforce_ids(prefix, np.array(numbers)) == [salesforce_id(prefix, x) for x in numbers]
    stamps = [0, 999, 1_000, *(rng.randrange(0, 4_102_444_800_000) for _ in range(3000))]
    assert iso_strings(np.array(stamps), "Z") == [iso_from_ms(ms) for ms in stamps]
    as_datetimes = [datetime.fromtimestamp(ms / 1000, UTC).replace(microsecond=ms % 1000 * 1000) for ms in stamps]
    assert iso_strings(np.array(stamps), "+0000") == [canonical_datetime(dt) for dt in as_datetimes]


def test_to_ms_many_equals_to_ms():
    rng = random.Random(5)
    values = [iso_from_ms(rng.randrange(-(10**13), 10**13)) for _ in range(20_000)]
    values += [
        "2026-01-01T24:00:00.000Z",  # numpy reads hour 24, fromisoformat does not
        "2026-02-30T00:00:00.000Z",
        " 2026-01-01T00:00:00.000Z",
        "2026-01-01",
        "1700000000000",
        5,
        5.5,
        "2026-01-01T00:00:00.000+00:00",
        "garbage",
    ]
    known = to_ms_many(values)
    assert [known[v] for v in values] == [to_ms(v) for v in values]


def test_to_csv_equals_the_csv_writer():
    rng = random.Random(11)
    values = ["", "a", '"', 'a"b', "x,y", "line\nbreak", "é", None, True, False, 1.0, 2.5, 3, " sp ", "\r", "|"]
    for _ in range(3000):
        header = [rng.choice(["Id", "Name", 'a"b', ""]) for _ in range(rng.randrange(0, 4))]
        rows = [[rng.choice(values) for _ in range(rng.randrange(0, 5))] for _ in range(rng.randrange(0, 4))]
        delimiter, line_ending = rng.choice([",", ";", "|", "\t", "^", "`"]), rng.choice(["\n", "\r\n"])
        assert to_csv(header, rows, delimiter, line_ending) == _to_csv_writer(header, rows, delimiter, line_ending)


def test_multimap_behaves_like_a_dict_of_sets():
    rng = random.Random(13)
    compact: dict = {}
    plain: dict[str, set[str]] = {}
    for _ in range(20_000):
        key, rid = rng.choice("abcdef"), rng.choice(["1", "2", "3"])
        if rng.random() < 0.55:
            multimap.add(compact, key, rid)
            plain.setdefault(key, set()).add(rid)
        else:
            multimap.discard(compact, key, rid)
            plain.get(key, set()).discard(rid)
            if not plain.get(key, True):
                del plain[key]
        assert {k: set(multimap.get(compact, k)) for k in compact} == plain
        assert all(type(v) is str or len(v) > 1 for v in compact.values())
