import multiprocessing
import threading

import pandas as pd
import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.schema import CreateIndex, CreateTable

from include.company_sync import state as state_mod
from include.company_sync.state import StateStore, metadata, upsert_statement

T = lambda s: pd.Timestamp(s, tz="UTC")  # noqa: E731
AT = pd.Timestamp("2026-01-01 02:05", tz="UTC")


@pytest.fixture
def url(state_url):
    """Every test runs on SQLite and on PostgreSQL (tests/pg.py), each on a fresh database."""
    return state_url


@pytest.fixture
def sqlite_url(tmp_path):
    return f"sqlite:///{tmp_path / 'state' / 'sync.db'}"


@pytest.fixture
def store(url):
    s = StateStore(url)
    yield s
    s.dispose()


def table_rows(store, table):
    with store.engine.connect() as conn:
        return sorted(tuple(r) for r in conn.execute(sa.select(state_mod.metadata.tables[table])).all())


# -- setup -------------------------------------------------------------------------------------


def test_creates_file_tables_wal_and_busy_timeout(tmp_path, sqlite_url):
    url = sqlite_url
    s = StateStore(url)
    assert (tmp_path / "state" / "sync.db").is_file()
    assert set(sa.inspect(s.engine).get_table_names()) == {
        "links", "key_mirror", "synced_values", "ledger", "runs", "settings_state", "leases", "holds", "synced_before",
        "company_sync_schema_version",
    }  # fmt: skip
    with s.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000
    s.create_all()  # idempotent
    StateStore(url).create_all()  # a second store on the same file


def test_default_url_honours_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("COMPANY_SYNC_STATE_URL", f"sqlite:///{tmp_path}/env.db")
    assert state_mod.default_url() == f"sqlite:///{tmp_path}/env.db"
    monkeypatch.delenv("COMPANY_SYNC_STATE_URL")
    assert state_mod.default_url().endswith(".state/company_sync.db")


def test_schema_and_upserts_compile_for_postgresql():
    dialect = postgresql.dialect()
    for table in metadata.sorted_tables:
        ddl = str(CreateTable(table).compile(dialect=dialect))
        assert "CREATE TABLE" in ddl
        for index in table.indexes:
            assert "CREATE INDEX" in str(CreateIndex(index).compile(dialect=dialect))
    links = metadata.tables["links"]
    stmt = upsert_statement("postgresql", links, ["company_id"], lambda ex: links.c.company_id != ex.company_id)
    sql = str(stmt.compile(dialect=dialect))
    assert "ON CONFLICT (account_id) DO UPDATE SET company_id = excluded.company_id" in sql
    assert "WHERE links.company_id != excluded.company_id" in sql
    assert upsert_statement("mssql", links, ["company_id"]) is None


# -- links -------------------------------------------------------------------------------------


def test_links_upsert_relink_and_remove(store):
    assert store.links().empty and list(store.links().columns) == ["account_id", "company_id"]
    store.upsert_links(pd.DataFrame({"account_id": ["001A", "001B"], "company_id": ["11", "12"]}), "run1")
    # 001A moves to company 12 (which 001B gives up); 001C is new.
    store.upsert_links(pd.DataFrame({"account_id": ["001A", "001C"], "company_id": ["12", "13"]}), "run2")
    links = store.links()
    assert links.to_dict("records") == [
        {"account_id": "001A", "company_id": "12"},
        {"account_id": "001C", "company_id": "13"},
    ]
    assert str(links["account_id"].dtype) == "string"
    assert store.remove_links(["001A", "nope"]) == 1
    assert store.links()["account_id"].tolist() == ["001C"]


def test_links_upsert_is_idempotent_and_keeps_first_linked_at(store):
    df = pd.DataFrame({"account_id": ["001A"], "company_id": ["11"]})
    store.upsert_links(df, "run1", at=T("2026-01-01"))
    before = table_rows(store, "links")
    store.upsert_links(df, "run2", at=T("2026-02-01"))
    assert table_rows(store, "links") == before
    assert before[0][2] == T("2026-01-01").to_pydatetime()


def test_links_swap_in_one_call(store):
    store.upsert_links(pd.DataFrame({"account_id": ["A", "B"], "company_id": ["1", "2"]}), "r1")
    store.upsert_links(pd.DataFrame({"account_id": ["A", "B"], "company_id": ["2", "1"]}), "r2")
    assert dict(store.links().values.tolist()) == {"A": "2", "B": "1"}


@pytest.mark.parametrize(
    "df,message",
    [
        (pd.DataFrame({"account_id": ["A", "A"], "company_id": ["1", "2"]}), "more than once"),
        (pd.DataFrame({"account_id": ["A", "B"], "company_id": ["1", "1"]}), "more than once"),
        (pd.DataFrame({"account_id": ["A", None], "company_id": ["1", "2"]}), "must not be empty"),
        (pd.DataFrame({"account_id": ["A"]}), "missing columns"),
    ],
)
def test_links_refuses_ambiguous_input(store, df, message):
    with pytest.raises(ValueError, match=message):
        store.upsert_links(df, "r")
    assert store.links().empty


# -- key mirror --------------------------------------------------------------------------------


def mirror_frame():
    return pd.DataFrame(
        {
            "record_id": ["001A", "001B", "001C"],
            "domain": ["acme.com", "acme.com", None],
            "external_id": ["901", None, "903"],
            "created_at": [T("2025-01-01"), T("2025-02-01"), T("2025-03-01")],
            "modified_at": [T("2026-01-01 10:00"), T("2026-01-01 11:00"), T("2026-01-01 12:00")],
            "deleted": [False, False, True],
        }
    )


def test_mirror_upsert_read_and_filters(store):
    store.upsert_mirror("salesforce", mirror_frame())
    store.upsert_mirror("hubspot", pd.DataFrame({"record_id": ["901"], "domain": ["acme.com"]}))
    m = store.mirror("salesforce")
    assert m["record_id"].tolist() == ["001A", "001B", "001C"]
    assert m["deleted"].tolist() == [False, False, True] and m["deleted"].dtype == bool
    assert str(m["modified_at"].dtype) == "datetime64[us, UTC]"
    assert m.loc[0, "modified_at"] == T("2026-01-01 10:00")
    assert m.loc[2, "domain"] is pd.NA
    assert store.mirror("salesforce", domains=["acme.com"])["record_id"].tolist() == ["001A", "001B"]
    assert store.mirror("salesforce", ids=["001C", "zzz"])["record_id"].tolist() == ["001C"]
    assert store.mirror("salesforce", external_ids=["903"])["record_id"].tolist() == ["001C"]
    # Filters combine with OR, without duplicates.
    assert store.mirror("salesforce", domains=["acme.com"], ids=["001A", "001C"])["record_id"].tolist() == [
        "001A", "001B", "001C",
    ]  # fmt: skip
    assert store.mirror("salesforce", domains=[]).empty
    hs = store.mirror("hubspot").iloc[0]
    assert (hs["system"], hs["record_id"], hs["domain"], hs["deleted"]) == ("hubspot", "901", "acme.com", False)
    assert hs[["external_id", "created_at", "modified_at"]].isna().all()


def test_mirror_upsert_is_idempotent_partial_and_never_goes_back_in_time(store):
    store.upsert_mirror("salesforce", mirror_frame())
    before = table_rows(store, "key_mirror")
    store.upsert_mirror("salesforce", mirror_frame())
    assert table_rows(store, "key_mirror") == before
    # Only the given columns change: domain updated, external_id kept.
    store.upsert_mirror("salesforce", pd.DataFrame({"record_id": ["001A"], "domain": ["new.com"]}))
    row = store.mirror("salesforce", ids=["001A"]).iloc[0]
    assert (row["domain"], row["external_id"]) == ("new.com", "901")
    # An older version of a record does not overwrite a newer one.
    stale = pd.DataFrame({"record_id": ["001B"], "domain": ["old.com"], "modified_at": [T("2025-06-01")]})
    store.upsert_mirror("salesforce", stale)
    assert store.mirror("salesforce", ids=["001B"]).iloc[0]["domain"] == "acme.com"
    newer = pd.DataFrame({"record_id": ["001B"], "domain": ["b.com"], "modified_at": [T("2026-06-01")]})
    store.upsert_mirror("salesforce", newer)
    assert store.mirror("salesforce", ids=["001B"]).iloc[0]["domain"] == "b.com"


def test_replace_mirror_is_a_full_refresh_of_one_system(store):
    store.upsert_mirror("salesforce", mirror_frame())
    store.upsert_mirror("hubspot", pd.DataFrame({"record_id": ["901"]}))
    store.replace_mirror("salesforce", pd.DataFrame({"record_id": ["001Z"], "domain": ["z.com"]}))
    assert store.mirror("salesforce")["record_id"].tolist() == ["001Z"]
    assert store.mirror("hubspot")["record_id"].tolist() == ["901"]
    store.replace_mirror("salesforce", pd.DataFrame({"record_id": pd.Series([], dtype="string")}))
    assert store.mirror("salesforce").empty


def test_mirror_refuses_unknown_system_and_missing_ids(store):
    with pytest.raises(ValueError, match="system"):
        store.mirror("marketo")
    with pytest.raises(ValueError, match="record_id"):
        store.upsert_mirror("hubspot", pd.DataFrame({"record_id": [None]}))


def test_mirror_100k_rows_upsert_and_lookup(sqlite_url):
    """On SQLite only (the default store; 40 s more on PostgreSQL on this machine for the same code path)."""
    store = StateStore(sqlite_url)
    n = 100_000
    df = pd.DataFrame(
        {
            "record_id": pd.array([f"001{i:012d}" for i in range(n)], dtype="string"),
            "domain": pd.array([f"d{i % 40_000}.com" for i in range(n)], dtype="string"),
            "external_id": pd.array([None if i % 3 else str(i) for i in range(n)], dtype="string"),
            "modified_at": pd.date_range("2026-01-01", periods=n, freq="s", tz="UTC"),
        }
    )
    store.upsert_mirror("salesforce", df)
    store.upsert_mirror("salesforce", df)  # idempotent at scale
    assert len(store.mirror("salesforce")) == n
    hits = store.mirror("salesforce", domains=[f"d{i}.com" for i in range(12_000)])  # several IN chunks
    assert len(hits) == 36_000  # d0..d11999 recur at i, i+40k, i+80k
    with store.engine.connect() as conn:
        assert conn.execute(sa.text("select count(*) from key_mirror")).scalar() == n


# -- synced values -----------------------------------------------------------------------------


def test_synced_values_record_read_and_idempotence(store):
    df = pd.DataFrame(
        {
            "account_id": ["001A", "001A", "001B"],
            "company_id": ["11", "11", "12"],
            "field": ["Phone", "Name", "Phone"],
            "value": ["+1 555", None, 1234],  # blank, and a number stored as text
        }
    )
    store.record_synced_values(df, at=T("2026-01-01"))
    before = table_rows(store, "synced_values")
    store.record_synced_values(df, at=T("2026-02-01"))
    assert table_rows(store, "synced_values") == before  # same values: synced_at kept
    out = store.synced_values()
    assert out[["account_id", "field", "value"]].astype(object).where(out.notna(), None).values.tolist() == [
        ["001A", "Name", None], ["001A", "Phone", "+1 555"], ["001B", "Phone", "1234"],
    ]  # fmt: skip
    assert (out["synced_at"] == T("2026-01-01")).all()
    changed = df.iloc[[0]].assign(value="+1 999")
    store.record_synced_values(changed, at=T("2026-03-01"))
    got = store.synced_values(["001A"])
    assert got.set_index("field").loc["Phone", ["value", "synced_at"]].tolist() == ["+1 999", T("2026-03-01")]
    assert len(got) == 2 and store.synced_values([]).empty


def test_removing_a_link_drops_its_synced_values(store):
    store.upsert_links(pd.DataFrame({"account_id": ["001A"], "company_id": ["11"]}), "r")
    store.record_synced_values(
        pd.DataFrame({"account_id": ["001A"], "company_id": ["11"], "field": ["Phone"], "value": ["1"]})
    )
    store.remove_links(["001A"])
    assert store.synced_values().empty


# -- ledger ------------------------------------------------------------------------------------


def ledger_frame(run_id="r1", n=3, result="success", at=AT):
    return pd.DataFrame(
        {
            "run_id": run_id,
            "dag_id": "company_sync",
            "system": "hubspot",
            "operation": "upsert",
            "record_id": [f"9{i}" for i in range(n)],
            "source_id": [f"001{i}" for i in range(n)],
            "field": None,
            "new_value": "x",
            "result": result,
            "error_category": None if result == "success" else "property_values",
            "at": at,
        }
    )


def test_ledger_append_read_and_already_applied(store):
    store.append_ledger(ledger_frame())
    store.append_ledger(ledger_frame().iloc[[0]].assign(record_id=None, result="failed", error_code="429"))
    store.append_ledger(ledger_frame(run_id="r2").assign(operation="update"))
    assert len(store.ledger()) == 7
    run1 = store.ledger("r1")
    assert len(run1) == 4 and set(run1.columns) >= {"old_value", "message", "error_category", "at"}
    assert run1["at"].dt.tz is not None
    done = store.already_applied("r1", "hubspot", "upsert")
    assert done["source_id"].tolist() == ["0010", "0011", "0012"] and (done["result"] == "success").all()
    assert store.already_applied("r1", "salesforce", "upsert").empty
    assert store.already_applied("r2", "hubspot", "upsert").empty
    assert len(store.already_applied("r2", "hubspot", "update", dag_id="company_sync")) == 3


def test_ledger_append_is_idempotent_but_keeps_distinct_attempts(store):
    store.append_ledger(ledger_frame())
    store.append_ledger(ledger_frame())  # the same rows again (a retried task re-appending)
    assert len(store.ledger("r1")) == 3
    store.append_ledger(ledger_frame(at=T("2026-01-01 02:06")))  # a later attempt is a new row
    assert len(store.ledger("r1")) == 6


def test_ledger_defaults_at_to_now(store):
    df = ledger_frame().drop(columns=["at", "dag_id", "field"])
    store.append_ledger(df)
    at = store.ledger("r1")["at"]
    assert at.notna().all() and (pd.Timestamp.now(tz="UTC") - at).max() < pd.Timedelta(minutes=5)


@pytest.mark.parametrize(
    "change,message",
    [({"operation": "merge"}, "operation"), ({"result": "maybe"}, "result"), ({"system": None}, "system")],
)
def test_ledger_refuses_unknown_values(store, change, message):
    with pytest.raises(ValueError, match=message):
        store.append_ledger(ledger_frame().assign(**change))
    assert store.ledger().empty


def _append_many(url, worker, calls, rows):
    s = StateStore(url)
    for c in range(calls):
        s.append_ledger(ledger_frame(run_id=f"w{worker}", n=rows, at=T("2026-01-01") + pd.Timedelta(seconds=c)))
        s.upsert_mirror("hubspot", pd.DataFrame({"record_id": [f"{worker}-{c}"]}))
    s.dispose()


def test_concurrent_processes_write_without_database_locked(sqlite_url):
    url = sqlite_url  # SQLite's write lock across processes; PostgreSQL: the threads' test below
    StateStore(url).dispose()
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_append_many, args=(url, w, 15, 500)) for w in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0, 0]
    s = StateStore(url)
    assert len(s.ledger()) == 3 * 15 * 500
    assert len(s.mirror("hubspot")) == 45


def test_concurrent_threads_write_without_database_locked(url):
    errors = []

    def work(w):
        try:
            _append_many(url, w, 10, 200)
        except Exception as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert len(StateStore(url).ledger()) == 4 * 10 * 200


def test_values_longer_than_255_characters_are_stored(store):
    """Issue #12: a 300-character website host (and ids of any length) fit every column holding CRM data."""
    host = "a" * 290 + ".example"
    long_id = "9" * 300
    store.upsert_mirror("hubspot", pd.DataFrame({"record_id": [long_id], "domain": [host], "external_id": [long_id]}))
    assert store.mirror("hubspot", domains=[host])["record_id"].tolist() == [long_id]
    store.upsert_links(pd.DataFrame({"account_id": [long_id], "company_id": [long_id + "c"]}), "r" * 300)
    store.record_synced_values(
        pd.DataFrame({"account_id": [long_id], "company_id": [long_id + "c"], "field": ["f" * 300], "value": [host]})
    )
    store.append_ledger(ledger_frame(run_id="r" * 300, n=1).assign(record_id=long_id, source_id=long_id))
    assert store.synced_values()["value"].tolist() == [host]


# -- runs --------------------------------------------------------------------------------------


def test_runs_lifecycle_and_watermark(store):
    assert store.last_successful_window_end("company_sync") is None
    store.start_run("scheduled__1", "company_sync", T("2026-01-01 02:00"), "scheduled",
                    T("2026-01-01 01:45"), T("2026-01-02 02:00"), started_at=T("2026-01-02 02:01"))  # fmt: skip
    assert store.last_successful_window_end("company_sync") is None  # running does not count
    store.finish_run("scheduled__1", "success", {"created": 3, "updated": 1}, "/reports/1.json")
    assert store.last_successful_window_end("company_sync") == T("2026-01-02 02:00")
    # A failed later run, a dry run and another DAG do not move the watermark; a backfill of an older
    # window does not pull it back.
    store.start_run("scheduled__2", "company_sync", window_end=T("2026-01-03 02:00"), started_at=T("2026-01-03"))
    store.finish_run("scheduled__2", "failed", {"errors": 1})
    store.start_run("manual__3", "company_sync", window_end=T("2026-01-04"), dry_run=True, started_at=T("2026-01-04"))
    store.finish_run("manual__3", "success")
    store.start_run("manual__3", "company_resync", window_end=T("2026-01-05"), started_at=T("2026-01-05"))
    store.finish_run("manual__3", "success", dag_id="company_resync")
    store.start_run("backfill__0", "company_sync", window_end=T("2025-12-01"), started_at=T("2026-01-06"))
    store.finish_run("backfill__0", "success")
    assert store.last_successful_window_end("company_sync") == T("2026-01-02 02:00")
    assert store.last_successful_window_end("company_resync") == T("2026-01-05")

    runs = store.recent_runs("company_sync")
    assert runs["run_id"].tolist() == ["backfill__0", "manual__3", "scheduled__2", "scheduled__1"]
    first = runs.set_index("run_id").loc["scheduled__1"]
    assert first["counts"] == {"created": 3, "updated": 1} and first["report_path"] == "/reports/1.json"
    assert first["window_start"] == T("2026-01-01 01:45") and first["run_type"] == "scheduled"
    assert first["finished_at"] >= first["started_at"]
    assert len(store.recent_runs(limit=2)) == 2 and len(store.recent_runs()) == 5


def test_finish_run_is_idempotent_and_start_again_reopens(store):
    store.start_run("r", "company_sync", window_end=T("2026-01-02"), started_at=T("2026-01-02 00:01"))
    store.finish_run("r", "success", {"a": 1}, finished_at=T("2026-01-02 00:05"))
    before = table_rows(store, "runs")
    store.finish_run("r", "success", {"a": 1}, finished_at=T("2026-01-02 00:09"))
    assert table_rows(store, "runs") == before
    store.start_run("r", "company_sync", window_end=T("2026-01-02"), started_at=T("2026-01-02 01:00"))  # cleared
    run = store.recent_runs().iloc[0]
    assert run["status"] == "running" and run["started_at"] == T("2026-01-02 00:01") and run["finished_at"] is pd.NaT
    assert store.last_successful_window_end("company_sync") is None


def test_finish_run_refuses_unknown_or_ambiguous_runs(store):
    with pytest.raises(LookupError, match="never started"):
        store.finish_run("ghost", "success")
    store.start_run("same", "company_sync")
    store.start_run("same", "company_resync")
    with pytest.raises(LookupError, match="pass dag_id"):
        store.finish_run("same", "success")
    with pytest.raises(ValueError, match="status"):
        store.finish_run("same", "done", dag_id="company_sync")


# -- settings state ----------------------------------------------------------------------------


def test_company_sync_enabled_keeps_the_first_moment(store):
    assert store.company_sync_enabled_at() is None
    assert store.mark_company_sync_enabled(T("2026-01-01 09:00")) == T("2026-01-01 09:00")
    assert store.mark_company_sync_enabled(T("2026-01-05")) == T("2026-01-01 09:00")
    store.mark_company_sync_disabled(T("2026-02-01"))
    store.mark_company_sync_disabled(T("2026-02-02"))  # still off: the first off moment stays
    assert store.company_sync_disabled_since() == T("2026-02-01")
    assert store.company_sync_enabled_at() == T("2026-01-01 09:00")
    store.mark_company_sync_enabled(T("2026-03-01"))  # on again: first moment kept, off cleared
    assert store.company_sync_enabled_at() == T("2026-01-01 09:00")
    assert store.company_sync_disabled_since() is None
    store.reset_company_sync_enabled()
    assert store.company_sync_enabled_at() is None
    assert store.mark_company_sync_enabled("2026-04-01T00:00:00+02:00") == T("2026-03-31 22:00")


def test_state_survives_a_new_store_on_the_same_file(url):
    a = StateStore(url)
    a.mark_company_sync_enabled(T("2026-01-01"))
    a.upsert_links(pd.DataFrame({"account_id": ["A"], "company_id": ["1"]}), "r")
    a.dispose()
    b = StateStore(url)
    assert b.company_sync_enabled_at() == T("2026-01-01")
    assert b.links()["company_id"].tolist() == ["1"]
