"""End-to-end harness: real DAG runs (`dag.test()`) against the sandbox, through the official clients.

Each test gets an empty sandbox, its own state store, staging and reports folders, and the default
settings; `World` creates records through the APIs, runs DAGs and reads what happened.
"""

from __future__ import annotations

import json
import subprocess
import sys
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

    def __init__(self, sandbox: Sandbox, dags: dict, tmp: Path, monkeypatch: pytest.MonkeyPatch):
        self.sandbox, self.dags, self.tmp, self.monkeypatch = sandbox, dags, tmp, monkeypatch
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
        return RunResult(state=state, run_id=run.run_id, report=report, requests=self.requests_log())


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


@pytest.fixture
def world(e2e_sandbox, dags, tmp_path, monkeypatch) -> World:
    for system in ("salesforce", "hubspot"):
        url = e2e_sandbox.salesforce_url if system == "salesforce" else e2e_sandbox.hubspot_url
        requests.post(f"{url}/__sandbox/reset", json={}, verify=str(e2e_sandbox.ca_path), timeout=30).raise_for_status()
    monkeypatch.setenv(
        "AIRFLOW_CONN_SALESFORCE_DEFAULT",
        json.dumps(
            {
                "conn_type": "salesforce",
                "password": SALESFORCE_TOKEN,
                "extra": {
                    "instance_url": e2e_sandbox.salesforce_url,
                    "version": "59.0",
                    "ca_bundle": str(e2e_sandbox.ca_path),
                },
            }
        ),
    )
    monkeypatch.setenv(
        "AIRFLOW_CONN_HUBSPOT_DEFAULT",
        json.dumps(
            {
                "conn_type": "http",
                "host": e2e_sandbox.hubspot_url,
                "password": HUBSPOT_TOKEN,
            }
        ),
    )
    monkeypatch.setenv("COMPANY_SYNC_STATE_URL", f"sqlite:///{tmp_path / 'state.db'}")
    monkeypatch.setenv("COMPANY_SYNC_STAGING_URL", (tmp_path / "staging").as_uri())
    monkeypatch.setenv("COMPANY_SYNC_REPORTS_DIR", str(tmp_path / "reports"))
    monkeypatch.setenv("COMPANY_SYNC_RETRY_BACKOFF", "0.01")
    return World(e2e_sandbox, dags, tmp_path, monkeypatch)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)
