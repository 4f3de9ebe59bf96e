"""A local multi-worker Airflow deployment: `make cluster` / `make cluster-down` (`bin/cluster up|down|status`).

What runs, every part bound to 127.0.0.1 on ports derived from one base (`COMPANY_SYNC_CLUSTER_PORT_BASE`,
default 18700), every file under one state folder (`COMPANY_SYNC_CLUSTER_DIR`, default `.cluster/`):

- PostgreSQL (Debian's package; `initdb` into `<dir>/pg`): databases `airflow` (metadata) and
  `company_sync_state` (the product's state store), one role each;
- Redis (Debian's package; config in `<dir>/redis`): the Celery broker;
- moto's S3 server: the object store (bucket `company-sync`: `staging/`, `logs/`, `reports/` with the Data Docs);
- the sandbox (`python -m include.sandbox serve --state-dir <dir>/sandbox`) on its own two ports;
- Airflow with `CeleryExecutor`: api-server, scheduler, dag-processor and two Celery workers. Every Airflow
  component runs in its own working directory (`<dir>/<name>/`: its AIRFLOW_HOME, TMPDIR and local logs),
  so nothing can rely on a disk shared with another component: staging, reports and Data Docs go to `s3://`,
  the state to PostgreSQL, task logs to `s3://` (remote logging). The pool `hubspot_api` (one slot, or
  `COMPANY_SYNC_HUBSPOT_POOL_SLOTS`) keeps the HubSpot-calling tasks of every run to one budget. Each
  worker reports its own host name to Airflow (`worker-1`, `worker-2`, through `[core] hostname_callable`),
  as two machines would.

Every process is started in its own session with its pid and start time in `<dir>/<name>/pid`; `down` stops
exactly those process groups (and PostgreSQL through `pg_ctl stop`). `up` is idempotent: a part already running
is left alone.

Only the standard library is imported at module level, so `down` works without the project's environment.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from include.devtools import postgres

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = ROOT / ".venv" / "bin"
BUCKET = "company-sync"
WORKERS = ("worker-1", "worker-2")
AIRFLOW_COMPONENTS = ("api-server", "scheduler", "dag-processor", *WORKERS)
SANDBOX_SEED = 200


class ClusterError(RuntimeError):
    pass


# --- layout ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Layout:
    """Where each part of one cluster lives and listens."""

    dir: Path
    port_base: int

    @classmethod
    def from_env(cls) -> Layout:
        folder = Path(os.environ.get("COMPANY_SYNC_CLUSTER_DIR") or ROOT / ".cluster").resolve()
        try:
            base = int(os.environ.get("COMPANY_SYNC_CLUSTER_PORT_BASE", "18700"))
        except ValueError as exc:
            raise ClusterError(f"COMPANY_SYNC_CLUSTER_PORT_BASE: {exc}") from exc
        if not 1024 <= base <= 65000:
            raise ClusterError("COMPANY_SYNC_CLUSTER_PORT_BASE must be between 1024 and 65000")
        return cls(folder, base)

    # ports: the base plus the last digits of each part's usual port
    @property
    def salesforce_port(self) -> int:
        return self.port_base + 1

    @property
    def hubspot_port(self) -> int:
        return self.port_base + 2

    @property
    def pg_port(self) -> int:
        return self.port_base + 32

    @property
    def redis_port(self) -> int:
        return self.port_base + 79

    @property
    def api_port(self) -> int:
        return self.port_base + 80

    @property
    def s3_port(self) -> int:
        return self.port_base + 90

    def ports(self) -> dict[str, int]:
        return {
            "sandbox-salesforce": self.salesforce_port,
            "sandbox-hubspot": self.hubspot_port,
            "postgresql": self.pg_port,
            "redis": self.redis_port,
            "api-server": self.api_port,
            "s3": self.s3_port,
        }

    # folders and files
    def part_dir(self, name: str) -> Path:
        return self.dir / name

    def pid_file(self, name: str) -> Path:
        return self.part_dir(name) / "pid"

    def log_file(self, name: str) -> Path:
        return self.part_dir(name) / f"{name}.log"

    @property
    def pg_dir(self) -> Path:
        return self.dir / "pg"

    @property
    def pg_data(self) -> Path:
        return self.pg_dir / "data"

    @property
    def secrets_file(self) -> Path:
        return self.dir / "secrets.json"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def s3_url(self) -> str:
        return f"http://127.0.0.1:{self.s3_port}"

    @property
    def hubspot_url(self) -> str:
        return f"http://127.0.0.1:{self.hubspot_port}"

    @property
    def salesforce_url(self) -> str:
        return f"https://127.0.0.1:{self.salesforce_port}"

    @property
    def ca_file(self) -> Path:
        return self.part_dir("sandbox") / "ca.pem"


def load_secrets(layout: Layout) -> dict[str, str]:
    """Passwords and keys of this cluster, made on first use and kept in `<dir>/secrets.json` (mode 600)."""
    path = layout.secrets_file
    if path.exists():
        return json.loads(path.read_text())
    layout.dir.mkdir(parents=True, exist_ok=True)
    values = {
        "pg_superuser": secrets.token_urlsafe(18),
        "pg_airflow": secrets.token_urlsafe(18),
        "pg_company_sync": secrets.token_urlsafe(18),
        "redis": secrets.token_urlsafe(18),
        "jwt_secret": secrets.token_urlsafe(32),
        "api_secret_key": secrets.token_urlsafe(32),
        "fernet_key": base64.urlsafe_b64encode(os.urandom(32)).decode(),
    }
    path.touch(mode=0o600)
    path.write_text(json.dumps(values, indent=1))
    return values


def urls(layout: Layout, keys: dict[str, str]) -> dict[str, str]:
    host = f"127.0.0.1:{layout.pg_port}"
    return {
        "metadata_db": f"postgresql+psycopg://airflow:{keys['pg_airflow']}@{host}/airflow",
        # Airflow derives asyncpg from a postgresql URL; psycopg 3 is async itself
        "metadata_db_async": f"postgresql+psycopg_async://airflow:{keys['pg_airflow']}@{host}/airflow",
        "result_backend": f"db+postgresql+psycopg://airflow:{keys['pg_airflow']}@{host}/airflow",
        "state_db": f"postgresql+psycopg://company_sync:{keys['pg_company_sync']}@{host}/company_sync_state",
        "broker": f"redis://:{keys['redis']}@127.0.0.1:{layout.redis_port}/0",
        "staging": f"s3://aws_default@{BUCKET}/staging",  # ObjectStoragePath: conn_id@bucket
        "reports": f"s3://aws_default@{BUCKET}/reports",  # reports and Data Docs, read by the API server too
        "logs": f"s3://{BUCKET}/logs",
    }


def aws_connection(layout: Layout) -> str:
    """`aws_default`: moto's endpoint; moto takes any key pair."""
    return json.dumps(
        {
            "conn_type": "aws",
            "login": "cluster-access-key",
            "password": "cluster-secret-key",
            "extra": {"endpoint_url": layout.s3_url, "region_name": "us-east-1"},
        }
    )


def airflow_env(layout: Layout, name: str) -> dict[str, str]:
    """The environment of the Airflow component `name` (its own home, temp dir and local logs)."""
    keys = load_secrets(layout)
    url = urls(layout, keys)
    home = layout.part_dir(name)
    env = base_env(layout, name)
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            # as `make airflow`: DAGs run on their schedule from the start (COMPANY_SYNC_CLUSTER_PAUSED=1: paused)
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": str(os.environ.get("COMPANY_SYNC_CLUSTER_PAUSED") == "1"),
            # COMPANY_SYNC_CLUSTER_NO_SCHEDULE=1: no scheduled runs at all, only triggered ones (the cluster test)
            "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": str(os.environ.get("COMPANY_SYNC_CLUSTER_NO_SCHEDULE") != "1"),
            "AIRFLOW__CORE__FERNET_KEY": keys["fernet_key"],
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{layout.api_url}/execution/",
            # local use only, as `make airflow`: every visitor is an admin
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": url["metadata_db"],
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC": url["metadata_db_async"],
            "AIRFLOW__CELERY__BROKER_URL": url["broker"],
            "AIRFLOW__CELERY__RESULT_BACKEND": url["result_backend"],
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(layout.api_port),
            "AIRFLOW__API__BASE_URL": layout.api_url,
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__API__SECRET_KEY": keys["api_secret_key"],
            "AIRFLOW__API_AUTH__JWT_SECRET": keys["jwt_secret"],
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
            "AIRFLOW__LOGGING__REMOTE_LOGGING": "True",
            "AIRFLOW__LOGGING__REMOTE_BASE_LOG_FOLDER": url["logs"],
            "AIRFLOW__LOGGING__REMOTE_LOG_CONN_ID": "aws_default",
            "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
            "AIRFLOW_CONN_AWS_DEFAULT": aws_connection(layout),
            # the product's deployment settings (include/company_sync/runtime.py)
            "COMPANY_SYNC_STATE_URL": url["state_db"],
            "COMPANY_SYNC_STAGING_URL": url["staging"],
            "COMPANY_SYNC_REPORTS_URL": url["reports"],
        }
    )
    if name in WORKERS:
        env["AIRFLOW__CORE__HOSTNAME_CALLABLE"] = "include.devtools.cluster.worker_hostname"
        env["COMPANY_SYNC_CLUSTER_WORKER"] = name
    return env


def base_env(layout: Layout, name: str) -> dict[str, str]:
    """What every process of the cluster starts with: the caller's environment less Airflow's settings (the
    cluster sets its own), this repo on PYTHONPATH, the venv first on PATH, a private TMPDIR."""
    tmp = layout.part_dir(name) / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "PYTEST", "AWS_", "VIRTUAL_ENV"))}
    env.update(
        {
            "COMPANY_SYNC_HOME": str(ROOT),
            "PYTHONPATH": str(ROOT),
            "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            "TMPDIR": str(tmp),
        }
    )
    return env


def worker_hostname() -> str:
    """`[core] hostname_callable` of the cluster's workers: each names itself, as two machines would."""
    return os.environ.get("COMPANY_SYNC_CLUSTER_WORKER") or socket.getfqdn()


# --- processes -------------------------------------------------------------------------------------------
def _start_time(pid: int) -> str | None:
    """The kernel's start time of `pid` (clock ticks since boot), None when it is gone or a zombie."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    return None if fields[0] == "Z" else fields[19]


def running_pid(layout: Layout, name: str) -> int | None:
    """The pid of `name` if the process its pid file names is still that process (pid and start time match,
    so a recycled pid is never taken for it)."""
    try:
        pid, started = layout.pid_file(name).read_text().split()
        pid_number = int(pid)
    except (FileNotFoundError, ValueError):
        return None
    return pid_number if _start_time(pid_number) == started else None


def spawn(layout: Layout, name: str, argv: list[str], env: dict[str, str], cwd: Path | None = None) -> int:
    folder = layout.part_dir(name)
    folder.mkdir(parents=True, exist_ok=True)
    with layout.log_file(name).open("ab") as out:
        out.write(f"\n=== {time.strftime('%Y-%m-%dT%H:%M:%S')} starting {name}\n".encode())
        out.flush()
        process = subprocess.Popen(
            argv,
            cwd=cwd or folder,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: `down` stops it and its children
        )
    layout.pid_file(name).write_text(f"{process.pid} {_start_time(process.pid)}\n")
    return process.pid


def stop(layout: Layout, name: str, timeout: float = 30) -> bool:
    """Stop the process group started for `name` (SIGTERM, then SIGKILL after `timeout`)."""
    pid = running_pid(layout, name)
    layout.pid_file(name).unlink(missing_ok=True)
    if pid is None:
        return False
    _signal_group(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _group_alive(pid):
        time.sleep(0.3)
    if _group_alive(pid):
        _signal_group(pid, signal.SIGKILL)
    return True


def _signal_group(pid: int, sig: int) -> None:
    try:
        if os.getpgid(pid) == pid:  # started by spawn(): leader of its own group
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)
    except ProcessLookupError:
        pass


def _group_alive(pgid: int) -> bool:
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def wait_for(what: str, check: Callable[[], bool], timeout: float, log: Path | None = None, pid: int | None = None):
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check():
                return
        except (OSError, urllib.error.URLError, ValueError):
            pass
        if pid is not None and not _group_alive(pid):
            raise ClusterError(f"{what}: the process exited; see {log}:\n{_tail(log)}")
        if time.monotonic() > deadline:
            raise ClusterError(f"{what}: not ready after {timeout:.0f} s; see {log}:\n{_tail(log)}")
        time.sleep(1)


def _tail(path: Path | None, lines: int = 25) -> str:
    if path is None or not path.exists():
        return ""
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def _port_free(port: int, name: str) -> None:
    if port_open(port):
        raise ClusterError(
            f"{name}: port {port} is taken by a process this cluster did not start "
            "(another cluster? set COMPANY_SYNC_CLUSTER_PORT_BASE)"
        )


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def http_ok(url: str) -> bool:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 (loopback only)
        return 200 <= response.status < 300


def http_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 (loopback only)
        return json.loads(response.read())


# --- PostgreSQL ------------------------------------------------------------------------------------------
def pg_bin(tool: str) -> str:
    try:
        return postgres.pg_bin(tool)
    except postgres.PostgresNotFound as exc:
        raise ClusterError(str(exc)) from exc


_pg_user_kwargs = postgres.pg_user_kwargs  # PostgreSQL refuses to run as root: as root, as `postgres`


def _pg_run(argv: list[str], layout: Layout) -> subprocess.CompletedProcess:
    env = base_env(layout, "pg") | {"PGTZ": "UTC"}
    return subprocess.run(
        argv, cwd=layout.pg_dir, env=env, capture_output=True, text=True, check=False, **_pg_user_kwargs()
    )


def postgres_up(layout: Layout) -> str:
    keys = load_secrets(layout)
    pg_dir, data = layout.pg_dir, layout.pg_data
    pg_dir.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        shutil.chown(pg_dir, "postgres", "postgres")
        (layout.part_dir("pg") / "tmp").mkdir(exist_ok=True)
        shutil.chown(pg_dir / "tmp", "postgres", "postgres")
    if not (data / "PG_VERSION").exists():
        pwfile = pg_dir / "superuser.pw"
        pwfile.write_text(keys["pg_superuser"] + "\n")
        if os.geteuid() == 0:
            shutil.chown(pwfile, "postgres", "postgres")
        try:
            done = _pg_run(
                [
                    pg_bin("initdb"),
                    "-D",
                    str(data),
                    "-U",
                    "postgres",
                    f"--pwfile={pwfile}",
                    "--auth-local=scram-sha-256",
                    "--auth-host=scram-sha-256",
                    "--encoding=UTF8",
                    "--locale=C",
                ],
                layout,
            )
        finally:
            pwfile.unlink(missing_ok=True)
        if done.returncode:
            raise ClusterError(f"initdb failed:\n{done.stdout}\n{done.stderr}")
        with (data / "postgresql.conf").open("a") as conf:
            conf.write(
                "\n# company-sync cluster (include/devtools/cluster.py)\n"
                f"listen_addresses = '127.0.0.1'\nport = {layout.pg_port}\n"
                f"unix_socket_directories = '{pg_dir}'\nmax_connections = 200\n"
            )
    status = _pg_run([pg_bin("pg_ctl"), "status", "-D", str(data)], layout)
    if status.returncode == 0:
        state = "already running"
    else:
        started = _pg_run(
            [pg_bin("pg_ctl"), "start", "-D", str(data), "-l", str(pg_dir / "postgresql.log"), "-w", "-t", "60"],
            layout,
        )
        if started.returncode:
            raise ClusterError(
                f"pg_ctl start failed; see {pg_dir / 'postgresql.log'}:\n{started.stdout}{started.stderr}"
            )
        state = "started"
    _pg_databases(layout, keys)
    return state


def _pg_databases(layout: Layout, keys: dict[str, str]) -> None:
    import psycopg

    with psycopg.connect(
        host="127.0.0.1", port=layout.pg_port, user="postgres", password=keys["pg_superuser"], dbname="postgres"
    ) as conn:
        conn.autocommit = True
        for role, database, password in (
            ("airflow", "airflow", keys["pg_airflow"]),
            ("company_sync", "company_sync_state", keys["pg_company_sync"]),
        ):
            if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone():
                conn.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{password}'")
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone():
                conn.execute(f"CREATE DATABASE {database} OWNER {role} ENCODING 'UTF8'")


def postgres_down(layout: Layout) -> bool:
    if not (layout.pg_data / "PG_VERSION").exists():
        return False
    if _pg_run([pg_bin("pg_ctl"), "status", "-D", str(layout.pg_data)], layout).returncode != 0:
        return False
    done = _pg_run([pg_bin("pg_ctl"), "stop", "-D", str(layout.pg_data), "-m", "fast", "-w", "-t", "60"], layout)
    if done.returncode:
        raise ClusterError(f"pg_ctl stop failed:\n{done.stdout}{done.stderr}")
    return True


# --- Redis, S3, sandbox ----------------------------------------------------------------------------------
def redis_up(layout: Layout) -> str:
    if running_pid(layout, "redis"):
        return "already running"
    keys = load_secrets(layout)
    folder = layout.part_dir("redis")
    folder.mkdir(parents=True, exist_ok=True)
    _port_free(layout.redis_port, "redis")
    conf = folder / "redis.conf"
    conf.write_text(
        "# company-sync cluster (include/devtools/cluster.py)\n"
        f"bind 127.0.0.1\nport {layout.redis_port}\nprotected-mode yes\ndaemonize no\n"
        f'dir {folder}\nsave ""\nappendonly no\nrequirepass {keys["redis"]}\nlogfile ""\n'
    )
    conf.chmod(0o600)
    redis = shutil.which("redis-server")
    if not redis:
        raise ClusterError("redis-server not found: install Debian's redis-server package")
    pid = spawn(layout, "redis", [redis, str(conf)], base_env(layout, "redis"))
    wait_for("redis", lambda: _redis_ping(layout.redis_port, keys["redis"]), 30, layout.log_file("redis"), pid)
    return "started"


def _redis_ping(port: int, password: str) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
        sock.sendall(f"AUTH {password}\r\nPING\r\n".encode())
        reply = b""
        while b"PONG" not in reply and len(reply) < 200:
            chunk = sock.recv(100)
            if not chunk:
                break
            reply += chunk
        return b"+PONG" in reply


def s3_up(layout: Layout) -> str:
    state = "already running"
    if not running_pid(layout, "s3"):
        _port_free(layout.s3_port, "s3")
        argv = [str(VENV_BIN / "python"), "-m", "moto.server", "-H", "127.0.0.1", "-p", str(layout.s3_port)]
        pid = spawn(layout, "s3", argv, base_env(layout, "s3"))
        wait_for("s3 (moto)", lambda: http_ok(f"{layout.s3_url}/moto-api/"), 60, layout.log_file("s3"), pid)
        state = "started"
    import boto3

    client = boto3.client(
        "s3",
        endpoint_url=layout.s3_url,
        aws_access_key_id="cluster-access-key",
        aws_secret_access_key="cluster-secret-key",
        region_name="us-east-1",
    )
    if BUCKET not in {b["Name"] for b in client.list_buckets().get("Buckets", [])}:
        client.create_bucket(Bucket=BUCKET)
    return state


def sandbox_up(layout: Layout) -> str:
    if running_pid(layout, "sandbox"):
        return "already running"
    folder = layout.part_dir("sandbox")
    folder.mkdir(parents=True, exist_ok=True)
    _port_free(layout.salesforce_port, "sandbox")
    _port_free(layout.hubspot_port, "sandbox")
    argv = [
        str(VENV_BIN / "python"),
        "-m",
        "include.sandbox",
        "serve",
        "--state-dir",
        str(folder),
        "--host",
        "127.0.0.1",
        "--salesforce-port",
        str(layout.salesforce_port),
        "--hubspot-port",
        str(layout.hubspot_port),
    ]
    if not (folder / "salesforce.pickle").exists():
        argv += ["--seed", str(SANDBOX_SEED)]
    pid = spawn(layout, "sandbox", argv, base_env(layout, "sandbox"))
    log = layout.log_file("sandbox")
    wait_for(
        "sandbox",
        lambda: http_ok(f"{layout.hubspot_url}/__sandbox/requests") and port_open(layout.salesforce_port),
        60,
        log,
        pid,
    )
    return "started"


# --- Airflow ---------------------------------------------------------------------------------------------
def cluster_settings(layout: Layout) -> Path:
    """`airflow_settings.yaml` with the sandbox's URLs and CA moved to this cluster's, and the `hubspot_api`
    pool's slots from `COMPANY_SYNC_HUBSPOT_POOL_SLOTS` when set (written to `<dir>`)."""
    import yaml

    raw = yaml.safe_load((ROOT / "airflow_settings.yaml").read_text()) or {}
    moves = {
        "https://127.0.0.1:8701": layout.salesforce_url,
        "http://127.0.0.1:8702": layout.hubspot_url,
        ".sandbox/ca.pem": str(layout.ca_file),
    }
    for conn in (raw.get("airflow") or {}).get("connections") or []:
        if conn.get("conn_host") in moves:
            conn["conn_host"] = moves[conn["conn_host"]]
        extra = conn.get("conn_extra")
        if isinstance(extra, dict):
            for key, value in extra.items():
                if value in moves:
                    extra[key] = moves[value]
    slots = os.environ.get("COMPANY_SYNC_HUBSPOT_POOL_SLOTS")
    for pool in (raw.get("airflow") or {}).get("pools") or []:
        if slots and pool.get("pool_name") == "hubspot_api":
            pool["pool_slot"] = int(slots)
    path = layout.dir / "airflow_settings.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def airflow_prepare(layout: Layout) -> None:
    """Migrate the metadata DB (first time) and apply the connections, variables and pools (when they change)."""
    cli = "airflow-cli"
    env = airflow_env(layout, cli)
    stamp = layout.part_dir(cli) / ".db-migrated"
    log = layout.log_file(cli)
    if not stamp.exists():
        with log.open("ab") as out:
            done = subprocess.run(
                [str(VENV_BIN / "airflow"), "db", "migrate"],
                cwd=layout.part_dir(cli),
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                check=False,
            )
        if done.returncode:
            raise ClusterError(f"airflow db migrate failed; see {log}:\n{_tail(log)}")
        stamp.touch()
    settings = cluster_settings(layout)
    digest = hashlib.sha256(settings.read_bytes()).hexdigest()
    settings_stamp = layout.part_dir(cli) / ".settings.sha256"
    if settings_stamp.exists() and settings_stamp.read_text() == digest:
        return
    with log.open("ab") as out:
        done = subprocess.run(
            [str(VENV_BIN / "python"), "-m", "include.devtools.cluster", "apply-settings", str(settings)],
            cwd=layout.part_dir(cli),
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            check=False,
        )
    if done.returncode:
        raise ClusterError(f"applying {settings} failed; see {log}:\n{_tail(log)}")
    settings_stamp.write_text(digest)


def airflow_argv(layout: Layout, name: str) -> list[str]:
    airflow = str(VENV_BIN / "airflow")
    if name == "api-server":
        return [airflow, "api-server", "--host", "127.0.0.1", "--port", str(layout.api_port), "--workers", "1"]
    if name in ("scheduler", "dag-processor"):
        return [airflow, name]
    concurrency = os.environ.get("COMPANY_SYNC_CLUSTER_WORKER_CONCURRENCY", "1")
    # --skip-serve-logs: Airflow's log server listens on every interface; task logs go to S3 instead
    return [
        airflow,
        "celery",
        "worker",
        "--celery-hostname",
        f"{name}@%h",
        "--concurrency",
        concurrency,
        "--skip-serve-logs",
    ]


def airflow_up(layout: Layout, name: str) -> str:
    if running_pid(layout, name):
        return "already running"
    if name == "api-server":
        _port_free(layout.api_port, name)
    spawn(layout, name, airflow_argv(layout, name), airflow_env(layout, name))
    return "started"


def _health(layout: Layout) -> dict[str, Any]:
    return http_json(f"{layout.api_url}/api/v2/monitor/health")


def _component_healthy(layout: Layout, component: str) -> bool:
    return (_health(layout).get(component) or {}).get("status") == "healthy"


def _worker_ready(layout: Layout, name: str) -> bool:
    return "ready." in layout.log_file(name).read_text(errors="replace").rsplit("=== ", 1)[-1]


def celery_ping(layout: Layout) -> list[str]:
    """The Celery workers that answer a ping (`celery inspect ping` through Airflow's Celery app)."""
    done = subprocess.run(
        [
            str(VENV_BIN / "celery"),
            "--app",
            "airflow.providers.celery.executors.celery_executor.app",
            "inspect",
            "ping",
            "--json",
            "--timeout",
            "5",
        ],
        cwd=layout.part_dir("airflow-cli"),
        env=airflow_env(layout, "airflow-cli"),
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    try:
        answer = json.loads(done.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        return []
    return sorted(name.split("@", 1)[0] for name in answer)


# --- up / down / status ----------------------------------------------------------------------------------
def up(layout: Layout) -> None:
    started = time.monotonic()
    layout.dir.mkdir(parents=True, exist_ok=True)
    _ensure_packages()

    def step(name: str, state: str, where: str, log: Path) -> None:
        print(f"cluster: {name:<13} {state:<16} {where}  (log {_rel(log)})", flush=True)

    step("postgresql", postgres_up(layout), f"127.0.0.1:{layout.pg_port}", layout.pg_dir / "postgresql.log")
    step("redis", redis_up(layout), f"127.0.0.1:{layout.redis_port}", layout.log_file("redis"))
    step("s3", s3_up(layout), f"{layout.s3_url} (bucket {BUCKET})", layout.log_file("s3"))
    step(
        "sandbox",
        sandbox_up(layout),
        f"{layout.salesforce_url} (Salesforce), {layout.hubspot_url} (HubSpot)",
        layout.log_file("sandbox"),
    )
    airflow_prepare(layout)
    # The API server first: the workers' task runners call its execution API from their first task on.
    states = {"api-server": airflow_up(layout, "api-server")}
    api_log = layout.log_file("api-server")
    wait_for(
        "api-server",
        lambda: http_ok(f"{layout.api_url}/api/v2/monitor/health"),
        180,
        api_log,
        running_pid(layout, "api-server"),
    )
    step("api-server", states["api-server"], layout.api_url, api_log)
    states |= {name: airflow_up(layout, name) for name in AIRFLOW_COMPONENTS if name != "api-server"}
    for name, component in (("scheduler", "scheduler"), ("dag-processor", "dag_processor")):
        wait_for(
            name,
            lambda c=component: _component_healthy(layout, c),
            180,
            layout.log_file(name),
            running_pid(layout, name),
        )
        step(name, states[name], "-", layout.log_file(name))
    for worker in WORKERS:
        wait_for(
            f"celery {worker}",
            lambda w=worker: _worker_ready(layout, w),
            180,
            layout.log_file(worker),
            running_pid(layout, worker),
        )

    answering = celery_ping(layout)
    for worker in WORKERS:
        if worker not in answering:
            raise ClusterError(f"celery {worker} does not answer a ping; see {layout.log_file(worker)}")
        step(worker, states[worker], f"celery {worker}@{socket.gethostname()}", layout.log_file(worker))
    print(
        f"cluster: up in {time.monotonic() - started:.0f} s; UI {layout.api_url} (every visitor is an admin); "
        f"state folder {_rel(layout.dir)}; stop with `make cluster-down` (CLEAN=1 also deletes the folder)",
        flush=True,
    )


def down(layout: Layout, clean: bool = False) -> None:
    for name in (*reversed(AIRFLOW_COMPONENTS), "sandbox", "s3", "redis"):
        if stop(layout, name):
            print(f"cluster: {name} stopped", flush=True)
    if postgres_down(layout):
        print("cluster: postgresql stopped", flush=True)
    if clean and layout.dir.exists():
        shutil.rmtree(layout.dir)
        print(f"cluster: removed {_rel(layout.dir)}", flush=True)


def status(layout: Layout) -> int:
    running = 0
    for name in ("redis", "s3", "sandbox", *AIRFLOW_COMPONENTS):
        pid = running_pid(layout, name)
        running += pid is not None
        print(f"{name:<13} {'running, pid ' + str(pid) if pid else 'stopped'}")
    pg = (layout.pg_data / "PG_VERSION").exists() and (
        _pg_run([pg_bin("pg_ctl"), "status", "-D", str(layout.pg_data)], layout).returncode == 0
    )
    print(f"{'postgresql':<13} {'running' if pg else 'stopped'}")
    return 0 if running or pg else 3


def _ensure_packages() -> None:
    """Debian's postgresql and redis-server, installed when missing (as `make browser-deps` does)."""
    missing = [pkg for pkg, tool in (("postgresql", "initdb"), ("redis-server", "redis-server")) if not _has(tool)]
    if not missing:
        return
    if not shutil.which("apt-get"):
        raise ClusterError(f"install {' and '.join(missing)} with your package manager")
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    print(f"cluster: installing {' '.join(missing)} (Debian packages)", flush=True)
    subprocess.run([*sudo, "apt-get", "update", "-qq"], check=True)
    subprocess.run(
        [*sudo, "apt-get", "install", "-y", "-qq", *missing],
        check=True,
        env=os.environ | {"DEBIAN_FRONTEND": "noninteractive"},
    )


def _has(tool: str) -> bool:
    try:
        return bool(pg_bin(tool)) if tool == "initdb" else bool(shutil.which(tool))
    except ClusterError:
        return False


def _rel(path: Path) -> str:
    try:
        return str(Path(path).relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def apply_settings(path: Path) -> None:
    from include.devtools.airflow_home import apply_airflow_settings

    conns, variables = apply_airflow_settings(path)
    print(f"cluster: applied {path.name} ({conns} connections, {variables} variables)", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bin/cluster", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("up", help="start every part (idempotent); returns once the workers answer")
    down_cmd = commands.add_parser("down", help="stop every part this cluster started (idempotent)")
    down_cmd.add_argument("--clean", action="store_true", help="also delete the state folder")
    commands.add_parser("status", help="which parts are running")
    commands.add_parser("env", help="print the Airflow environment of a worker, as shell exports")
    apply_cmd = commands.add_parser("apply-settings", help=argparse.SUPPRESS)
    apply_cmd.add_argument("path", type=Path)
    args = parser.parse_args(argv)
    try:
        layout = Layout.from_env()
        if args.command == "up":
            up(layout)
        elif args.command == "down":
            down(layout, clean=args.clean)
        elif args.command == "status":
            return status(layout)
        elif args.command == "env":
            for key, value in sorted(airflow_env(layout, "airflow-cli").items()):
                if key.startswith(("AIRFLOW", "COMPANY_SYNC_")):
                    print(f"export {key}={shlex.quote(value)}")
        else:
            apply_settings(args.path)
    except ClusterError as exc:
        print(f"cluster: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
