"""Which errors fail a task at once (no retry) and which keep retrying; the sibling-extract watch."""

from __future__ import annotations

import pytest

from include.company_sync.connectors.http_policy import (
    AuthenticationFailed,
    ConfiguredObjectMissing,
    ConnectorError,
    RunAborted,
    SetupError,
    Unrecoverable,
    authentication_failed,
)
from include.company_sync.tasks.failures import SiblingWatch, fail_fast


@pytest.mark.parametrize(
    "error",
    [
        AuthenticationFailed("HubSpot owners.list failed with HTTP 401", status=401),
        ConfiguredObjectMissing("HubSpot inclusion list 12 does not exist", status=404),
        SetupError("Salesforce Account has no field HubSpot_Company_ID__c"),
        RunAborted("extract_hubspot failed without retry"),
    ],
    ids=["401/403", "404 configured object", "setup", "sibling failed"],
)
def test_errors_that_cannot_heal_fail_the_task_without_retry(error):
    from airflow.sdk.exceptions import AirflowFailException

    with pytest.raises(AirflowFailException, match=type(error).__name__) as raised:
        with fail_fast():
            raise error
    assert raised.value.__cause__ is error


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504, None], ids=lambda s: f"status {s}")
def test_errors_that_may_heal_keep_airflows_retries(status):
    error = ConnectorError("HubSpot companies.search: gave up after 6 attempt(s)", status=status)
    with pytest.raises(ConnectorError) as raised:
        with fail_fast():
            raise error
    assert raised.value is error and not isinstance(error, Unrecoverable)


def test_fail_fast_decorates_a_stage():
    from airflow.sdk.exceptions import AirflowFailException

    @fail_fast()
    def stage():
        raise AuthenticationFailed("x", status=403)

    with pytest.raises(AirflowFailException):
        stage()


@pytest.mark.parametrize(
    ("status", "code", "fix"),
    [
        (401, None, "wrong or expired"),
        (403, None, "lacks a permission"),
        (403, "REQUEST_LIMIT_EXCEEDED", "request limit"),
    ],
)
def test_authentication_messages_say_what_to_fix_and_which_connection(status, code, fix):
    error = authentication_failed("Salesforce", "salesforce_default", "query Account", status, code)
    assert isinstance(error, AuthenticationFailed) and error.status == status
    assert fix in str(error) and "'salesforce_default'" in str(error)


class FakeTI:
    dag_id, run_id, task_id = "company_sync", "manual__1", "extract_salesforce"

    def __init__(self, *states):
        self.states = list(states)
        self.asked = 0

    def get_task_states(self, dag_id, task_ids, run_ids):
        self.asked += 1
        state = self.states.pop(0) if self.states else None
        return {run_ids[0]: {task_ids[0]: state}} if state else {}


def test_the_sibling_watch_stops_only_on_a_sibling_that_failed_for_good():
    ti = FakeTI("running", "up_for_retry", "failed")
    watch = SiblingWatch(ti, "extract_hubspot", every=0)
    watch()  # running
    watch()  # up for retry: it may heal, reading goes on
    with pytest.raises(RunAborted, match="extract_hubspot failed") as raised:
        watch()
    assert isinstance(raised.value, Unrecoverable)


def test_the_sibling_watch_asks_at_most_every_few_seconds():
    ti = FakeTI("running", "failed")
    watch = SiblingWatch(ti, "extract_hubspot", every=60)
    for _ in range(50):
        watch()
    assert ti.asked == 1


def test_the_sibling_watch_never_breaks_the_work_it_watches():
    class Broken(FakeTI):
        def get_task_states(self, **_):
            raise RuntimeError("API server unreachable")

    SiblingWatch(Broken(), "extract_hubspot", every=0)()


def test_outside_a_task_there_is_nothing_to_watch():
    assert SiblingWatch.for_current_task("extract_hubspot") is None
