"""End-to-end harness: real DAG runs (`dag.test()`) against the sandbox, through the official clients.

Each test gets an empty sandbox, its own state store, staging and reports folders, and the default
settings; `World` creates records through the APIs, runs DAGs and reads what happened. `world.watermark()`
stands in for a first run over the two empty systems (the state store such a run left, made once per test
process), for tests whose first run only sets the watermark.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from hubspot import HubSpot
from simple_salesforce import Salesforce

from include.sandbox.server import HUBSPOT_TOKEN, SALESFORCE_TOKEN, Sandbox, start_sandbox

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_SETTINGS = {
    "company_sync_enabled": True,
    "default_salesforce_object": "Contact",
    "inclusion_list_id": None,
    "field_mappings": None,
}
WRITE_METHODS = {"POST", "PATCH", "PUT", "DELETE"}
READ_SUFFIXES = ("/search", "/batch/read")
STATE_FILE = "state.db"


@pytest.fixture(scope="session")
def airflow_db() -> None:
    """The test session's metadata DB (AIRFLOW_HOME is a temp dir, see tests/conftest.py)."""
    subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], check=True, capture_output=True)


@pytest.fixture(scope="session")
def dags(airflow_db):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(ROOT / "dags"))
    assert bag.import_errors == {}
    # dag.test() leaves a run's conf on the DAG's params: every run passes the defaults explicitly.
    for dag in bag.dags.values():
        dag.param_defaults = {name: param.value for name, param in dag.params.items()}
    return bag.dags


@pytest.fixture(scope="session")
def e2e_sandbox(tmp_path_factory) -> Sandbox:
    running = start_sandbox(tmp_path_factory.mktemp("e2e-sandbox"), salesforce_port=0, hubspot_port=0)
    yield running
    running.stop()


@dataclass
class RunResult:
    state: str
    run_id: str
    report: dict[str, Any] | None
    requests: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    tries: dict[str, int] = field(default_factory=dict)  # task id -> the try it ended on (2: retried once)

    def writes(self, system: str | None = None) -> list[dict[str, Any]]:
        """API write calls made during the run (POSTs that only read, like search, excluded)."""
        systems = [system] if system else list(self.requests)
        return [
            r
            for s in systems
            for r in self.requests[s]
            if r["method"] in WRITE_METHODS and not r["path"].endswith(READ_SUFFIXES)
        ]

    def decisions(self, system: str) -> dict[str, int]:
        return (self.report or {}).get("summary", {}).get("decisions", {}).get(system, {})


class World:
    """One test's view of both systems and of the DAGs."""

    def __init__(
        self,
        sandbox: Sandbox,
        dags: dict,
        tmp: Path,
        monkeypatch: pytest.MonkeyPatch,
        empty_run_state: Path | None = None,
    ):
        self.sandbox, self.dags, self.tmp, self.monkeypatch = sandbox, dags, tmp, monkeypatch
        self._empty_run_state = empty_run_state
        session = requests.Session()
        session.trust_env = False  # this machine's REQUESTS_CA_BUNDLE would override `verify`
        session.verify = str(sandbox.ca_path)
        self.http = session
        self.sf = Salesforce(
            instance_url=sandbox.salesforce_url, session_id=SALESFORCE_TOKEN, session=session, version="59.0"
        )
        self.hs = HubSpot(access_token=HUBSPOT_TOKEN, host=sandbox.hubspot_url)
        self.settings()
        self.hubspot_config(auto_associate=True)

    # --- set-up ---------------------------------------------------------------------------------------
    def settings(self, **changes: Any) -> None:
        self.monkeypatch.setenv("AIRFLOW_VAR_COMPANY_SYNC_SETTINGS", json.dumps({**DEFAULT_SETTINGS, **changes}))

    def watermark(self) -> None:
        """What a first `world.run()` over the two empty systems leaves, without running it: the state store of
        such a run (`empty_run_state`, made once per test process) becomes this test's, so the next run syncs
        everything created after it, and accounts created from now on are new (R2). Only before the test has
        created anything or run anything: an empty run's store must be what the test would have had."""
        assert self._empty_run_state is not None, "watermark() needs the world fixture"
        state = self.tmp / STATE_FILE
        assert not state.exists(), "watermark() stands in for the first run: call it before any run"
        assert self.accounts() == [] and self.companies() == [], "watermark() is for two empty systems"
        with closing(sqlite3.connect(self._empty_run_state)) as source, closing(sqlite3.connect(state)) as copy:
            source.backup(copy)  # the store runs in WAL mode: a consistent copy, not the main file alone

    def fault(self, system: str, **fault: Any) -> None:
        self.http.post(f"{self.url(system)}/__sandbox/faults", json=fault, timeout=10).raise_for_status()

    def url(self, system: str) -> str:
        return self.sandbox.salesforce_url if system == "salesforce" else self.sandbox.hubspot_url

    def hubspot_config(self, **config: Any) -> None:
        """Sandbox portal settings, e.g. auto_associate (reset to the defaults before every test)."""
        self.http.post(f"{self.sandbox.hubspot_url}/__sandbox_hs/config", json=config, timeout=10).raise_for_status()

    def salesforce_rules(self, **rules: Any) -> None:
        self.http.post(f"{self.sandbox.salesforce_url}/__sandbox_sf/rules", json=rules, timeout=10).raise_for_status()

    def account(self, **fields: Any) -> str:
        return self.sf.Account.create({"Name": "Acme", **fields})["id"]

    def contact(self, **fields: Any) -> str:
        return self.sf.Contact.create({"LastName": "Doe", **fields})["id"]

    def lead(self, **fields: Any) -> str:
        return self.sf.Lead.create({"LastName": "Doe", "Company": "Somewhere", **fields})["id"]

    def company(self, **properties: Any) -> str:
        from hubspot.crm.companies import SimplePublicObjectInputForCreate

        body = SimplePublicObjectInputForCreate(properties={k: str(v) for k, v in properties.items()})
        return self.hs.crm.companies.basic_api.create(body).id

    def hs_contact(self, company_id: str | None = None, **properties: Any) -> str:
        from hubspot.crm.contacts import SimplePublicObjectInputForCreate

        body = SimplePublicObjectInputForCreate(properties={k: str(v) for k, v in properties.items()})
        contact_id = self.hs.crm.contacts.basic_api.create(body).id
        if company_id:
            self.hs.crm.associations.v4.basic_api.create_default("contacts", contact_id, "companies", company_id)
        return contact_id

    def inclusion_list(self, *contact_ids: str) -> str:
        created = self.http.post(
            f"{self.sandbox.hubspot_url}/crm/v3/lists",
            timeout=10,
            headers=self._hs_auth,
            json={"name": "Salesforce inclusion list", "objectTypeId": "0-1", "processingType": "MANUAL"},
        ).json()
        list_id = str(created.get("list", created).get("listId"))
        self.http.put(
            f"{self.sandbox.hubspot_url}/crm/v3/lists/{list_id}/memberships/add",
            json=list(contact_ids),
            headers=self._hs_auth,
            timeout=10,
        ).raise_for_status()
        return list_id

    @property
    def _hs_auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {HUBSPOT_TOKEN}"}

    # --- reading back ---------------------------------------------------------------------------------
    def get_account(self, account_id: str) -> dict[str, Any]:
        return self.sf.Account.get(account_id)

    def accounts(self, where: str = "") -> list[dict[str, Any]]:
        return self.sf.query_all(
            f"SELECT Id, Name, Website, Phone, Industry, HubSpot_Company_ID__c FROM Account {where}"
        )["records"]

    def get_company(self, company_id: str, *props: str) -> dict[str, Any]:
        names = ["name", "domain", "website", "phone", "salesforceaccountid", "lifecyclestage", "industry", *props]
        return self.hs.crm.companies.basic_api.get_by_id(company_id, properties=names).properties

    def companies(self) -> list[dict[str, Any]]:
        page = self.hs.crm.companies.get_all(properties=["name", "domain", "salesforceaccountid", "website"])
        return [{"id": c.id, **c.properties} for c in page]

    def companies_for_account(self, account_id: str) -> list[dict[str, Any]]:
        return [c for c in self.companies() if c.get("salesforceaccountid") == account_id]

    # --- running --------------------------------------------------------------------------------------
    def clear_requests(self) -> None:
        for system in ("salesforce", "hubspot"):
            self.http.delete(f"{self.url(system)}/__sandbox/requests", timeout=10)

    def requests_log(self) -> dict[str, list[dict[str, Any]]]:
        return {
            s: self.http.get(f"{self.url(s)}/__sandbox/requests", timeout=10).json()["requests"]
            for s in ("salesforce", "hubspot")
        }

    def run(
        self,
        dag_id: str = "company_sync",
        conf: dict[str, Any] | None = None,
        *,
        logical_date: datetime | None = None,
        run_type: str | None = None,
    ) -> RunResult:
        """A real DAG run through `dag.test()`; `run_type` "scheduled" or "backfill" makes it one of those
        (dag.test itself only makes manual runs), with the timetable's interval for `logical_date`."""
        from airflow.models import dagrun as dagrun_module

        self.clear_requests()
        with pytest.MonkeyPatch.context() as patch:
            if run_type is not None:
                patch.setattr(dagrun_module, "get_or_create_dagrun", _run_creator(run_type))
            dag = self.dags[dag_id]
            run = dag.test(run_conf={**dag.param_defaults, **(conf or {})}, logical_date=logical_date)
        state = str(getattr(run.state, "value", run.state))
        report = None
        reports = sorted((self.tmp / "reports" / dag_id).glob("*/report.json"), key=lambda p: p.stat().st_mtime)
        if reports:
            report = json.loads(reports[-1].read_text())
        tries = {ti.task_id: int(ti.try_number) for ti in run.get_task_instances()}
        return RunResult(state=state, run_id=run.run_id, report=report, requests=self.requests_log(), tries=tries)


def _run_creator(run_type: str):
    """A stand-in for dag.test's run factory that makes a scheduled or backfill run of the nightly interval
    starting at the logical date."""
    from airflow.utils.types import DagRunType

    kind = DagRunType(run_type)

    def get_or_create(
        *,
        dag,
        run_id,
        logical_date,
        data_interval,
        run_after,
        conf,
        triggered_by,
        triggering_user_name,
        start_date,
        session,
    ):
        interval = (logical_date, logical_date + timedelta(days=1))
        return dag.create_dagrun(
            run_id=f"{kind.value}__{logical_date.isoformat()}",
            logical_date=logical_date,
            data_interval=interval,
            run_after=interval[1],
            conf=conf,
            run_type=kind,
            state="running",
            triggered_by=triggered_by,
            triggering_user_name=triggering_user_name,
            start_date=start_date,
            session=session,
        )

    return get_or_create


def _reset(sandbox: Sandbox) -> None:
    """Both sandbox APIs back to empty: records, request log, faults and portal/org settings."""
    for url in (sandbox.salesforce_url, sandbox.hubspot_url):
        requests.post(f"{url}/__sandbox/reset", json={}, verify=str(sandbox.ca_path), timeout=30).raise_for_status()


def _run_env(sandbox: Sandbox, folder: Path) -> dict[str, str]:
    """What a run reads from the environment: connections to the sandbox, and a state store, staging and
    reports folder of its own under `folder`."""
    return {
        "AIRFLOW_CONN_SALESFORCE_DEFAULT": json.dumps(
            {
                "conn_type": "salesforce",
                "password": SALESFORCE_TOKEN,
                "extra": {
                    "instance_url": sandbox.salesforce_url,
                    "version": "59.0",
                    "ca_bundle": str(sandbox.ca_path),
                },
            }
        ),
        "AIRFLOW_CONN_HUBSPOT_DEFAULT": json.dumps(
            {
                "conn_type": "http",
                "host": sandbox.hubspot_url,
                "password": HUBSPOT_TOKEN,
            }
        ),
        "COMPANY_SYNC_STATE_URL": f"sqlite:///{folder / STATE_FILE}",
        "COMPANY_SYNC_STAGING_URL": (folder / "staging").as_uri(),
        "COMPANY_SYNC_REPORTS_DIR": str(folder / "reports"),
        "COMPANY_SYNC_RETRY_BACKOFF": "0.01",
    }


@pytest.fixture(scope="session")
def empty_run_state(e2e_sandbox, dags, tmp_path_factory) -> Path:
    """The state store that one real `company_sync` run over two empty systems, with the default settings,
    leaves behind: made once per test process, restored by `World.watermark()` (a copy per test)."""
    folder = tmp_path_factory.mktemp("empty-run")
    with pytest.MonkeyPatch.context() as patch:
        for name, value in _run_env(e2e_sandbox, folder).items():
            patch.setenv(name, value)
        _reset(e2e_sandbox)
        result = World(e2e_sandbox, dags, folder, patch).run()
    assert result.state == "success", result.report
    assert result.writes() == []  # the run left both systems as empty as it found them
    _reset(e2e_sandbox)
    return folder / STATE_FILE


@pytest.fixture
def world(e2e_sandbox, dags, empty_run_state, tmp_path, monkeypatch) -> World:
    # empty_run_state is made before the test's own reset (its run resets the sandbox, settings included)
    _reset(e2e_sandbox)
    for name, value in _run_env(e2e_sandbox, tmp_path).items():
        monkeypatch.setenv(name, value)
    return World(e2e_sandbox, dags, tmp_path, monkeypatch, empty_run_state)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)
