"""Failure alerts (issue #15 item 5): the `alerts` settings, the messages (ids and counts, never values), the
webhook URL taken from a connection, and the write-error threshold, sent to a real local HTTP server."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

import pytest

from include.company_sync import alerts
from include.company_sync.settings import Alerts, SettingsError, parse_alerts

OK = {"emails": ["data-team@example.org"], "webhook_conn_id": "alerts_webhook", "write_errors_over": 10}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (None, Alerts()),
        ({}, Alerts()),
        (OK, Alerts(emails=("data-team@example.org",), webhook_conn_id="alerts_webhook", write_errors_over=10)),
        ({"emails": [" ops@example.org "], "smtp_conn_id": "smtp_alerts"}, Alerts(("ops@example.org",), "smtp_alerts")),
        ({"write_errors_over": 0}, Alerts(write_errors_over=0)),
    ],
)
def test_alert_settings_accepted(raw, expected):
    assert parse_alerts(raw) == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ([], "alerts: must be an object"),
        ({"email": ["a@example.org"]}, "alerts: unknown key(s) 'email'"),
        ({"emails": "a@example.org"}, "alerts.emails: must be a list"),
        ({"emails": ["a@example.org", "jane doe@example"]}, "alerts.emails[1]: not an email address"),
        ({"webhook_conn_id": "has space"}, "alerts.webhook_conn_id: must be an Airflow connection id"),
        ({"write_errors_over": -1}, "alerts.write_errors_over: must be a whole number >= 0"),
        ({"write_errors_over": True}, "alerts.write_errors_over: must be a whole number >= 0"),
    ],
)
def test_alert_settings_refused_naming_the_key_and_never_echoing_an_address(raw, message):
    with pytest.raises(SettingsError) as refused:
        parse_alerts(raw)
    assert str(refused.value).startswith(message)
    assert "jane doe" not in str(refused.value)


def test_messages_carry_ids_counts_and_the_report_link():
    failed = alerts.failed_run_message("company_sync", "scheduled__2026-12-01", "task_failure", "http://x/report.html")
    assert failed.subject == "[company_sync] run failed: scheduled__2026-12-01"
    assert "(task_failure)" in failed.text and failed.text.endswith("Report: http://x/report.html")
    errors = alerts.write_errors_message("company_sync", "r1", {"hubspot": 1200, "salesforce": 3}, 50, "http://x/r")
    assert errors.subject == "[company_sync] 1,203 write errors in run r1"
    assert "(hubspot 1,200, salesforce 3)" in errors.text and "threshold of 50" in errors.text


def test_report_url_points_at_the_sync_reports_page(monkeypatch):
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", "https://airflow.example.org/")
    url = alerts.report_url("company_sync", "manual__2026-12-01T02:00:00+00:00")
    assert url.startswith("https://airflow.example.org/sync-reports/runs/company_sync/manual__2026-12-01T02")
    assert url.endswith("/report.html") and "+" not in url


@pytest.mark.parametrize(
    ("conn", "url"),
    [
        (SimpleNamespace(conn_type="http", host="https://hooks.example.org/services/T/B/X", port=None, schema=None),
         "https://hooks.example.org/services/T/B/X"),
        (SimpleNamespace(conn_type="http", host="127.0.0.1", port=8099, schema="hook/path"),
         "http://127.0.0.1:8099/hook/path"),
        (SimpleNamespace(conn_type="https", host="hooks.example.org", port=None, schema="services/T"),
         "https://hooks.example.org/services/T"),
    ],
)  # fmt: skip
def test_webhook_url_from_a_connection(conn, url):
    assert alerts.webhook_url(conn) == url


@pytest.fixture
def webhook(monkeypatch):
    """A local Slack-style webhook; the connection `alerts_webhook` points at it."""
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's name
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("AIRFLOW_CONN_ALERTS_WEBHOOK", f"http://127.0.0.1:{server.server_port}/services/T/B/X")
    yield received
    server.shutdown()


@pytest.mark.parametrize(
    ("errors", "over", "sent"), [({"hubspot": 10}, 10, False), ({"hubspot": 10, "salesforce": 1}, 10, True)]
)
def test_write_errors_alert_only_above_the_threshold(webhook, errors, over, sent):
    config = Alerts(webhook_conn_id="alerts_webhook", write_errors_over=over)
    assert alerts.alert_on_write_errors(config, "company_sync", "r1", errors) is sent
    assert len(webhook) == int(sent)
    if sent:
        assert webhook[0]["text"].startswith(
            "The company_sync run r1 finished with 11 records the other system refused"
        )


def test_a_channel_that_fails_is_logged_by_error_type_and_does_not_raise(monkeypatch, caplog):
    monkeypatch.setenv("AIRFLOW_CONN_DEAD_WEBHOOK", "http://127.0.0.1:9/nothing-listens")
    sent = alerts.send(Alerts(webhook_conn_id="dead_webhook"), alerts.Message("s", "t"))
    assert sent == {"webhook": False}
    assert "alert by webhook not sent: ConnectionError" in caplog.text
