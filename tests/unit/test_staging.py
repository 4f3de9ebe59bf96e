import os
import time
from datetime import timedelta

import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from include.company_sync.staging import Staging, safe_segment

RUN_ID = "scheduled__2026-11-28T02:00:00+00:00"


@pytest.fixture
def staging(tmp_path):
    return Staging(tmp_path.as_uri())


def typed_frame(n: int = 3) -> pd.DataFrame:
    """Every dtype the pipeline stages, with missing values where the dtype allows them."""
    ts = ["2026-11-28 02:00:00.123456", None, "2026-11-28 03:00:00.000001"][:n]
    return pd.DataFrame(
        {
            "id": pd.array(["001A", "001B", None][:n], dtype="string"),
            "name": pd.Series(["Acme", None, "Ünïcode"][:n], dtype="str"),
            "employees": pd.array([10, None, 3][:n], dtype="Int64"),
            "revenue": pd.array([1.5, None, 2.0][:n], dtype="Float64"),
            "deleted": pd.Series([True, False, True][:n], dtype=bool),
            "flag": pd.array([True, None, False][:n], dtype="boolean"),
            "modified_us": pd.to_datetime(ts, utc=True).as_unit("us"),
            "modified_ns": pd.to_datetime(ts, utc=True).as_unit("ns"),
            "score": [0.5, float("nan"), 1.0][:n],
        }
    )


def test_round_trip_keeps_dtypes_and_missing_values(staging):
    df = typed_frame()
    url = staging.write("company_sync", RUN_ID, "accounts", df)
    back = staging.read(url)
    assert_frame_equal(back, df)
    assert back.dtypes.astype(str).to_dict() == df.dtypes.astype(str).to_dict()
    assert back["modified_ns"].dt.tz is not None and str(back["modified_ns"].dtype) == "datetime64[ns, UTC]"
    assert back["employees"].isna().tolist() == [False, True, False]
    assert back.loc[2, "id"] is pd.NA and back.loc[1, "employees"] is pd.NA


def test_round_trip_of_empty_typed_frame(staging):
    df = typed_frame().iloc[0:0].reset_index(drop=True)
    back = staging.read(staging.write("company_sync", RUN_ID, "empty", df))
    assert len(back) == 0
    assert_frame_equal(back, df)


def test_round_trip_of_frame_without_columns(staging):
    back = staging.read(staging.write("company_sync", RUN_ID, "nothing", pd.DataFrame()))
    assert back.shape == (0, 0)


def test_filtered_index_is_kept(staging):
    df = typed_frame().iloc[[0, 2]]
    back = staging.read(staging.write("company_sync", RUN_ID, "filtered", df))
    assert back.index.tolist() == [0, 2]
    assert_frame_equal(back, df)


def test_read_selected_columns(staging):
    url = staging.write("company_sync", RUN_ID, "accounts", typed_frame())
    assert staging.read(url, columns=["id", "employees"]).columns.tolist() == ["id", "employees"]


def test_url_shape_and_run_id_sanitising(tmp_path, staging):
    url = staging.write("company_sync", RUN_ID, "sf_accounts", typed_frame())
    expected = f"{tmp_path.as_uri()}/company_sync/scheduled__2026-11-28T02_00_00_00_00/sf_accounts.parquet"
    assert url == expected
    assert url.startswith("file:///")
    assert (tmp_path / "company_sync" / "scheduled__2026-11-28T02_00_00_00_00" / "sf_accounts.parquet").is_file()
    assert staging.url("company_sync", RUN_ID, "sf_accounts") == url


def test_object_storage_base_changes_only_the_prefix():
    s3 = Staging("s3://bucket/prefix/")
    assert s3.url("company_sync", RUN_ID, "plan") == (
        "s3://bucket/prefix/company_sync/scheduled__2026-11-28T02_00_00_00_00/plan.parquet"
    )


def test_plain_folder_base_becomes_file_url(tmp_path):
    s = Staging(str(tmp_path / "stage"))
    assert s.base == (tmp_path / "stage").as_uri()
    url = s.write("d", "manual__x", "n", pd.DataFrame({"a": [1]}))
    assert s.exists(url)


@pytest.mark.parametrize(
    "run_id,segment",
    [
        ("manual__2026-11-29T11:24:00.123456+00:00", "manual__2026-11-29T11_24_00.123456_00_00"),
        ("backfill__2026-11-01T02:00:00+00:00", "backfill__2026-11-01T02_00_00_00_00"),
        ("a/b\\c d", "a_b_c_d"),
        ("plain-id_1.2", "plain-id_1.2"),
    ],
)
def test_safe_segment(run_id, segment):
    assert safe_segment(run_id) == segment


@pytest.mark.parametrize("bad", ["", "..", "."])
def test_safe_segment_refuses_empty_and_dot_ids(bad):
    with pytest.raises(ValueError):
        safe_segment(bad)


@pytest.mark.parametrize("name", ["", "../x", "a/b", ".hidden", "a b"])
def test_bad_names_are_refused(staging, name):
    with pytest.raises(ValueError, match="staging name"):
        staging.write("company_sync", RUN_ID, name, pd.DataFrame({"a": [1]}))


def test_exists_and_overwrite_leave_no_temp_files(tmp_path, staging):
    url = staging.url("company_sync", RUN_ID, "accounts")
    assert not staging.exists(url)
    staging.write("company_sync", RUN_ID, "accounts", pd.DataFrame({"a": [1, 2]}))
    staging.write("company_sync", RUN_ID, "accounts", pd.DataFrame({"a": [3]}))  # a retried task
    assert staging.exists(url)
    assert staging.read(url)["a"].tolist() == [3]
    assert os.listdir(tmp_path / "company_sync" / "scheduled__2026-11-28T02_00_00_00_00") == ["accounts.parquet"]
    assert staging.list_run("company_sync", RUN_ID) == [url]


def test_failed_write_leaves_no_file(tmp_path, staging):
    df = pd.DataFrame({"a": [object()]})  # not convertible to Arrow
    with pytest.raises(Exception):  # noqa: B017 - pyarrow's own error type
        staging.write("company_sync", RUN_ID, "broken", df)
    assert not staging.exists(staging.url("company_sync", RUN_ID, "broken"))
    folder = tmp_path / "company_sync" / "scheduled__2026-11-28T02_00_00_00_00"
    assert not folder.exists() or os.listdir(folder) == []


def test_list_run_of_unknown_run_is_empty(staging):
    assert staging.list_run("company_sync", "never") == []


def test_clean_removes_only_old_runs_of_that_dag(tmp_path, staging):
    old = staging.write("company_sync", "old_run", "a", pd.DataFrame({"a": [1]}))
    new = staging.write("company_sync", "new_run", "a", pd.DataFrame({"a": [1]}))
    other = staging.write("company_resync", "old_run", "a", pd.DataFrame({"a": [1]}))
    two_days_ago = time.time() - 2 * 86400
    for dag in ("company_sync", "company_resync"):
        path = tmp_path / dag / "old_run" / "a.parquet"
        os.utime(path, (two_days_ago, two_days_ago))
    removed = staging.clean("company_sync", older_than=timedelta(days=1))
    assert removed == [f"{tmp_path.as_uri()}/company_sync/old_run"]
    assert not staging.exists(old) and staging.exists(new) and staging.exists(other)
    assert staging.clean("company_sync", older_than=pd.Timestamp("2000-01-01")) == []
    assert staging.clean("no_such_dag", older_than=timedelta(0)) == []


def _age(tmp_path, dag: str, run: str, days: float) -> None:
    """Make the files of a staged run `days` old."""
    then = time.time() - days * 86400
    for path in (tmp_path / dag / run).rglob("*"):
        os.utime(path, (then, then))


def test_remove_run_deletes_only_that_run_s_frames(staging):
    gone = staging.write("company_sync", RUN_ID, "sf_contacts", pd.DataFrame({"Email": ["a@b.example"]}))
    kept = staging.write("company_sync", "other_run", "sf_contacts", pd.DataFrame({"Email": ["a@b.example"]}))
    assert staging.remove_run("company_sync", RUN_ID) is True
    assert not staging.exists(gone) and staging.exists(kept)
    assert staging.list_run("company_sync", RUN_ID) == []
    assert staging.remove_run("company_sync", RUN_ID) is False  # nothing left: no error


def test_retention_removes_old_failed_runs_of_every_dag_and_keeps_recent_ones(tmp_path, staging):
    """The retention `prepare` applies: every DAG's run folders older than the retention go, recent ones (a
    failed run kept for debugging, another DAG's run in progress) stay, and so does the current run."""
    frame = pd.DataFrame({"a": [1]})
    for dag, run in [
        ("company_sync", "old_failed"),
        ("company_sync", "recent_failed"),
        ("company_import", "old_failed"),
        ("company_resync", "recent_run"),
        ("company_sync", "current"),
    ]:
        staging.write(dag, run, "accounts", frame)
    _age(tmp_path, "company_sync", "old_failed", 8)
    _age(tmp_path, "company_import", "old_failed", 30)
    _age(tmp_path, "company_sync", "recent_failed", 6)
    _age(tmp_path, "company_sync", "current", 10)  # the running run's own folder is never touched
    removed = staging.clean_all(timedelta(days=7), keep=(("company_sync", "current"),))
    base = tmp_path.as_uri()
    assert sorted(removed) == [f"{base}/company_import/old_failed", f"{base}/company_sync/old_failed"]
    assert staging.list_run("company_sync", "recent_failed")
    assert staging.list_run("company_resync", "recent_run")
    assert staging.list_run("company_sync", "current")
    assert staging.clean_all(timedelta(days=7), keep=(("company_sync", "current"),)) == []


def test_retention_of_an_empty_or_missing_base_removes_nothing(tmp_path):
    assert Staging((tmp_path / "never").as_uri()).clean_all(timedelta(0)) == []
