"""The sandbox's SOQL engine: parsing (table-driven), format_soql compatibility, refusals, evaluation."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from simple_salesforce.format import format_soql

from include.sandbox.salesforce.soql import Comparison, SoqlError, compile_query, parse

# --- every literal format_soql produces is accepted and decoded back to the value -----------------

FORMATTED = [
    ("plain", "Acme", "Acme"),
    ("single quote", "O'Reilly", "O'Reilly"),
    ("backslash", "C:\\temp\\x", "C:\\temp\\x"),
    ("double quote", 'say "hi"', 'say "hi"'),
    ("newline tab", "a\nb\tc\r\b\f", "a\nb\tc\r\b\f"),
    ("quote and backslash", "\\'", "\\'"),
    ("unicode", "Zürich €", "Zürich €"),
    ("empty", "", ""),
]


@pytest.mark.parametrize(("label", "value", "expected"), FORMATTED, ids=[f[0] for f in FORMATTED])
def test_format_soql_strings_round_trip(label, value, expected):
    query = parse(format_soql("SELECT Id FROM Account WHERE Name = {}", value))
    assert query.where == Comparison("Name", "=", query.where.value)
    assert query.where.value.kind == "string"
    assert query.where.value.value == expected


@pytest.mark.parametrize(
    ("value", "kind", "expected"),
    [
        (42, "number", 42),
        (-7, "number", -7),
        (0, "number", 0),
        (3.25, "number", 3.25),
        (1e-05, "number", 1e-05),
        (1e20, "number", 1e20),
        (-2.5, "number", -2.5),
        (True, "bool", True),
        (False, "bool", False),
        (None, "null", None),
        (date(2024, 1, 31), "date", "2024-01-31"),
        (datetime(2024, 1, 1, 12, 30, 5, 123456, tzinfo=UTC), "datetime", "2024-01-01T12:30:05.000+0000"),
        (datetime(2024, 1, 1, 14, 0, tzinfo=timezone(timedelta(hours=2))), "datetime", "2024-01-01T12:00:00.000+0000"),
    ],
)
def test_format_soql_scalars(value, kind, expected):
    query = parse(format_soql("SELECT Id FROM Account WHERE AnnualRevenue = {}", value))
    assert (query.where.value.kind, query.where.value.value) == (kind, expected)


def test_format_soql_lists():
    text = format_soql(
        "SELECT Id FROM Account WHERE Name IN {} AND NumberOfEmployees NOT IN {}", ["a", "b'c", "d\\e"], (1, 2.5)
    )
    query = parse(text)
    names, employees = query.where.items
    assert names.op == "IN" and [v.value for v in names.value] == ["a", "b'c", "d\\e"]
    assert employees.op == "NOT IN" and [v.value for v in employees.value] == [1, 2.5]


def test_format_soql_like_spec():
    query = parse(format_soql("SELECT Id FROM Account WHERE Name LIKE '{:like}%'", "100%_x"))
    assert query.where.op == "LIKE"
    bound = compile_query(format_soql("SELECT Id FROM Account WHERE Name LIKE '{:like}%'", "100%_x"))
    assert bound.predicate({"Name": "100%_x and more"}, None)
    assert not bound.predicate({"Name": "100abx"}, None)


# --- the grammar -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "check"),
    [
        ("SELECT Id FROM Account", lambda q: q.fields == ("Id",) and q.sobject == "Account"),
        ("select id, name from account", lambda q: q.fields == ("id", "name")),
        ("SELECT COUNT() FROM Contact", lambda q: q.count and q.fields == ()),
        (
            "SELECT Id, Account.Name, Owner.Email FROM Contact",
            lambda q: q.fields[1:] == ("Account.Name", "Owner.Email"),
        ),
        ("SELECT Id FROM Account WHERE Name != 'x'", lambda q: q.where.op == "!="),
        ("SELECT Id FROM Account WHERE Name <> 'x'", lambda q: q.where.op == "!="),
        (
            "SELECT Id FROM Account WHERE AnnualRevenue >= 10 AND AnnualRevenue < 20.5",
            lambda q: [c.op for c in q.where.items] == [">=", "<"],
        ),
        (
            "SELECT Id FROM Account WHERE NOT (Name = 'a' OR Name = 'b') AND Phone = null",
            lambda q: q.where.op == "AND" and type(q.where.items[0]).__name__ == "Not",
        ),
        (
            "SELECT Id FROM Account WHERE SystemModstamp > 2024-01-01T00:00:00Z",
            lambda q: q.where.value.value == "2024-01-01T00:00:00.000+0000",
        ),
        (
            "SELECT Id FROM Account WHERE SystemModstamp > 2024-01-01T00:00:00.250+00:00",
            lambda q: q.where.value.value == "2024-01-01T00:00:00.250+0000",
        ),
        (
            "SELECT Id FROM Account WHERE SystemModstamp > 2024-01-01T01:00:00-0100",
            lambda q: q.where.value.value == "2024-01-01T02:00:00.000+0000",
        ),
        (
            "SELECT Id FROM Account ORDER BY Name DESC NULLS LAST, Id ASC NULLS FIRST, Phone",
            lambda q: (
                [(o.path, o.descending, o.nulls_first) for o in q.order_by]
                == [("Name", True, False), ("Id", False, True), ("Phone", False, True)]
            ),
        ),
        ("SELECT Id FROM Account ORDER BY Name DESC", lambda q: q.order_by[0].nulls_first is False),
        ("SELECT Id FROM Account LIMIT 10 OFFSET 5", lambda q: (q.limit, q.offset) == (10, 5)),
        ("SELECT Id FROM Account WHERE Name LIKE 'Ac_e%'", lambda q: q.where.op == "LIKE"),
    ],
)
def test_parse(text, check):
    assert check(parse(text))


@pytest.mark.parametrize(
    ("text", "token"),
    [
        ("SELECT * FROM Account", "*"),
        ("SELECT Id FROM Account WHERE", "<EOF>"),
        ("SELECT Id, FROM Account", "FROM"),
        ("SELECT Id FROM Account WHERE Name = 'x' GROUP BY Name", "GROUP"),
        ("SELECT Id FROM Account LIMIT ten", "ten"),
        ("SELECT Id FROM Account WHERE Name == 'x'", "="),
        ("SELECT Id FROM Account WHERE Name = Bob", "Bob"),
        ("SELECT Id FROM Account WHERE Name IN ()", ")"),
        ("SELECT Id FROM Account WHERE Name LIKE 5", "5"),
        ("SELECT Id FROM Account ORDER BY Name NULLS MIDDLE", "MIDDLE"),
        ("SELECT Id FROM Account WHERE (Name = 'x'", "<EOF>"),
        ("SELECT Id FROM Account WHERE Name = 'x';", ";"),
        ("SELEKT Id FROM Account", "SELEKT"),
        ("SELECT Id FROM Account WHERE Name = 'unterminated", "'unterminated"),
        ("SELECT Id FROM Account WHERE Id IN (SELECT AccountId FROM Contact)", "SELECT"),
    ],
)
def test_malformed_queries_name_the_token(text, token):
    with pytest.raises(SoqlError) as info:
        parse(text)
    assert info.value.code == "MALFORMED_QUERY"
    assert f"unexpected token: '{token}'" in info.value.message


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("SELECT Bogus FROM Account", "INVALID_FIELD"),
        ("SELECT Id FROM Account WHERE Bogus__c = 'x'", "INVALID_FIELD"),
        ("SELECT Owner.Bogus FROM Account", "INVALID_FIELD"),
        ("SELECT Nope.Name FROM Contact", "INVALID_FIELD"),
        ("SELECT Id FROM Opportunity", "INVALID_TYPE"),
        ("SELECT Id FROM Account WHERE CreatedDate > '2024-01-01'", "INVALID_QUERY_FILTER_OPERATOR"),
        ("SELECT Id FROM Account WHERE CreatedDate > 2024-01-01", "INVALID_QUERY_FILTER_OPERATOR"),
        ("SELECT Id FROM Account WHERE NumberOfEmployees = 'ten'", "INVALID_QUERY_FILTER_OPERATOR"),
        ("SELECT Id FROM Account WHERE IsDeleted = 1", "INVALID_QUERY_FILTER_OPERATOR"),
        ("SELECT Id FROM Account WHERE Name = 'bad \\q escape'", "MALFORMED_QUERY"),
    ],
)
def test_binding_errors(text, code):
    with pytest.raises(SoqlError) as info:
        compile_query(text)
    assert info.value.code == code


# --- evaluation --------------------------------------------------------------------------------------

ROWS = [
    {"Id": "1", "Name": "Acme", "AnnualRevenue": 10.0, "Phone": None, "SystemModstamp": "2024-01-01T00:00:00.000+0000"},
    {"Id": "2", "Name": "beta", "AnnualRevenue": None, "Phone": "+1", "SystemModstamp": "2024-06-01T00:00:00.000+0000"},
    {"Id": "3", "Name": "Cyan", "AnnualRevenue": 30.0, "Phone": "+2", "SystemModstamp": "2025-01-01T00:00:00.000+0000"},
    {"Id": "4", "Name": "acme", "AnnualRevenue": 5.0, "Phone": None, "SystemModstamp": "2023-01-01T00:00:00.000+0000"},
]


@pytest.mark.parametrize(
    ("where", "ids"),
    [
        ("Name = 'ACME'", ["1", "4"]),
        ("Name != 'acme'", ["2", "3"]),
        ("Phone = null", ["1", "4"]),
        ("Phone != null", ["2", "3"]),
        ("AnnualRevenue > 5", ["1", "3"]),
        ("AnnualRevenue <= 10", ["1", "4"]),
        ("Name IN ('beta', 'cyan')", ["2", "3"]),
        ("Name NOT IN ('beta')", ["1", "3", "4"]),
        ("Name LIKE 'a%'", ["1", "4"]),
        ("Name LIKE '_ya_'", ["3"]),
        ("NOT Name LIKE 'a%'", ["2", "3"]),
        ("SystemModstamp >= 2024-06-01T00:00:00Z", ["2", "3"]),
        ("(Name = 'acme' OR Name = 'beta') AND AnnualRevenue > 6", ["1"]),
    ],
)
def test_where_evaluation(where, ids):
    bound = compile_query(f"SELECT Id FROM Account WHERE {where}")
    assert [r["Id"] for r in bound.select(ROWS, None)] == ids


@pytest.mark.parametrize(
    ("order", "ids"),
    [
        ("AnnualRevenue", ["2", "4", "1", "3"]),
        ("AnnualRevenue NULLS LAST", ["4", "1", "3", "2"]),
        ("AnnualRevenue DESC", ["3", "1", "4", "2"]),
        ("AnnualRevenue DESC NULLS FIRST", ["2", "3", "1", "4"]),
        ("Phone DESC NULLS LAST, Id DESC", ["3", "2", "4", "1"]),
        ("Name, Id DESC LIMIT 2 OFFSET 1", ["1", "2"]),
    ],
)
def test_order_limit_offset(order, ids):
    bound = compile_query(f"SELECT Id FROM Account ORDER BY {order}")
    assert [r["Id"] for r in bound.select(ROWS, None)] == ids
