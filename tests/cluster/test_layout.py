"""What `bin/cluster` configures, checked without starting anything (these run in every suite)."""

from __future__ import annotations

import os
import stat

import pytest
import yaml

from include.devtools import cluster


def test_ports_follow_the_base_and_do_not_collide(tmp_path):
    layout = cluster.Layout(tmp_path, 28700)
    ports = layout.ports()
    assert len(set(ports.values())) == len(ports)
    assert ports["api-server"] == 28780 and ports["postgresql"] == 28732 and ports["sandbox-hubspot"] == 28702


def test_each_airflow_component_has_its_own_folders_and_shares_only_urls(tmp_path):
    layout = cluster.Layout(tmp_path, 28700)
    envs = {name: cluster.airflow_env(layout, name) for name in cluster.AIRFLOW_COMPONENTS}
    for name, env in envs.items():
        own = str(tmp_path / name)
        for key in ("AIRFLOW_HOME", "TMPDIR", "AIRFLOW__LOGGING__BASE_LOG_FOLDER"):
            assert env[key].startswith(own), (name, key)
        assert "COMPANY_SYNC_REPORTS_DIR" not in env  # reports and Data Docs: the object store, read by the UI
        assert env["COMPANY_SYNC_REPORTS_URL"] == "s3://aws_default@company-sync/reports"
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
        assert env["COMPANY_SYNC_STAGING_URL"] == "s3://aws_default@company-sync/staging"
        assert env["COMPANY_SYNC_STATE_URL"].startswith("postgresql+psycopg://company_sync:")
        assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://127.0.0.1:28780/execution/"
    shared = ("AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__CORE__FERNET_KEY", "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN")
    for key in shared:
        assert len({env[key] for env in envs.values()}) == 1, key
    assert envs["worker-1"]["COMPANY_SYNC_CLUSTER_WORKER"] == "worker-1"
    assert envs["worker-1"]["AIRFLOW__CORE__HOSTNAME_CALLABLE"] == "include.devtools.cluster.worker_hostname"
    assert "--skip-serve-logs" in cluster.airflow_argv(layout, "worker-1")  # no listener on every interface
    assert stat.S_IMODE(os.stat(layout.secrets_file).st_mode) == 0o600


def test_worker_hostname_names_the_worker(monkeypatch):
    monkeypatch.setenv("COMPANY_SYNC_CLUSTER_WORKER", "worker-2")
    assert cluster.worker_hostname() == "worker-2"


def test_cluster_settings_point_the_connections_at_the_clusters_sandbox(tmp_path):
    layout = cluster.Layout(tmp_path, 28700)
    settings = yaml.safe_load(cluster.cluster_settings(layout).read_text())["airflow"]
    conns = {conn["conn_id"]: conn for conn in settings["connections"]}
    assert conns["salesforce_default"]["conn_extra"]["instance_url"] == "https://127.0.0.1:28701"
    assert conns["salesforce_default"]["conn_extra"]["ca_bundle"] == str(tmp_path / "sandbox" / "ca.pem")
    assert conns["hubspot_default"]["conn_host"] == "http://127.0.0.1:28702"
    assert [v["variable_name"] for v in settings["variables"]] == ["company_sync_settings"]


def test_the_hubspot_pool_has_one_slot_unless_the_cluster_is_told_otherwise(tmp_path, monkeypatch):
    from include.devtools.airflow_home import SETTINGS_FILE, load_pools

    assert [(p["pool_name"], p["pool_slot"]) for p in load_pools(SETTINGS_FILE)] == [("hubspot_api", 1)]
    layout = cluster.Layout(tmp_path, 28700)
    monkeypatch.delenv("COMPANY_SYNC_HUBSPOT_POOL_SLOTS", raising=False)
    assert [(p["pool_name"], p["pool_slot"]) for p in load_pools(cluster.cluster_settings(layout))] == [
        ("hubspot_api", 1)
    ]
    monkeypatch.setenv("COMPANY_SYNC_HUBSPOT_POOL_SLOTS", "3")
    assert load_pools(cluster.cluster_settings(layout))[0]["pool_slot"] == 3


def test_a_pool_without_slots_is_refused(tmp_path):
    from include.devtools.airflow_home import load_pools

    path = tmp_path / "airflow_settings.yaml"
    path.write_text("airflow:\n  pools:\n    - pool_name: hubspot_api\n      pool_slot: 0\n")
    with pytest.raises(ValueError, match=r"airflow.pools\[0\] needs pool_name and pool_slot"):
        load_pools(path)


def test_every_task_that_calls_hubspot_runs_in_the_hubspot_pool_in_all_three_dags():
    from airflow.dag_processing.dagbag import DagBag

    from include.company_sync.dag_wiring import HUBSPOT_POOL, HUBSPOT_TASKS

    bag = DagBag(dag_folder=str(cluster.ROOT / "dags"))
    assert not bag.import_errors
    dags = {"company_sync", "company_resync", "salesforce_account_import"}
    assert dags <= set(bag.dags)
    for dag_id in dags:
        pools = {task.task_id: task.pool for task in bag.dags[dag_id].tasks}
        assert {t: p for t, p in pools.items() if p == HUBSPOT_POOL} == dict.fromkeys(HUBSPOT_TASKS, HUBSPOT_POOL)


def test_nothing_running_is_reported_as_stopped(tmp_path):
    layout = cluster.Layout(tmp_path, 28700)
    (tmp_path / "redis").mkdir()
    layout.pid_file("redis").write_text(f"{os.getpid()} 0\n")  # a live pid with another start time
    assert cluster.running_pid(layout, "redis") is None
    assert cluster.stop(layout, "redis") is False
    assert not layout.pid_file("redis").exists()
