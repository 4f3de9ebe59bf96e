"""Failure alerts (issue #15 item 5) through real DAG runs: a run whose write errors pass the threshold, and a
failed run (the DAG's on_failure_callback), each alert received by a local SMTP server (aiosmtpd) and a local
Slack-style webhook, configured by the settings' `alerts` key and Airflow connections — with ids and counts only."""

from __future__ import annotations

import json
import os
import socket
import threading
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller

pytestmark = pytest.mark.e2e

PHONES = ["555-0101-alert", "555-0102-alert"]  # refused by the Salesforce validation rule below
NAMES = ["Alertprobe Refused One", "Alertprobe Refused Two"]
ALERTS = {
    "emails": ["data-team@example.org"],
    "smtp_conn_id": "smtp_alerts",
    "webhook_conn_id": "alerts_webhook",
    "write_errors_over": 1,
}


class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        self.messages.append((envelope.rcpt_tos, message_from_bytes(envelope.original_content)))
        return "250 OK"


@pytest.fixture
def channels(world):
    """An SMTP server and a webhook on local ports, as the connections `smtp_alerts` and `alerts_webhook`."""
    inbox = Inbox()
    with socket.socket() as probe:  # aiosmtpd's start() connects to its port: it must be a real one
        probe.bind(("127.0.0.1", 0))
        smtp_port = probe.getsockname()[1]
    smtp = Controller(inbox, hostname="127.0.0.1", port=smtp_port)
    smtp.start()
    posts: list[dict] = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's name
            posts.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    webhook = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=webhook.serve_forever, daemon=True).start()
    world.monkeypatch.setenv(
        "AIRFLOW_CONN_SMTP_ALERTS",
        json.dumps(
            {
                "conn_type": "smtp",
                "host": "127.0.0.1",
                "port": smtp_port,
                "extra": {"disable_tls": True, "disable_ssl": True, "from_email": "airflow@example.org"},
            }
        ),
    )
    world.monkeypatch.setenv("AIRFLOW_CONN_ALERTS_WEBHOOK", f"http://127.0.0.1:{webhook.server_port}/services/T/B/X")
    world.settings(alerts=ALERTS)
    yield inbox, posts
    smtp.stop()
    webhook.shutdown()


def _text(message) -> str:
    parts = message.walk() if message.is_multipart() else [message]
    return "\n".join(p.get_payload(decode=True).decode() for p in parts if p.get_content_maintype() == "text")


def test_write_errors_over_the_threshold_alert_by_email_and_webhook(world, channels):
    inbox, posts = channels
    world.watermark()
    world.salesforce_rules(validation_rule={"field": "Phone", "pattern": r"^\+", "message": "Phone must start with +"})
    contacts = []
    for n, (name, phone) in enumerate(zip(NAMES, PHONES, strict=True)):
        company = world.company(name=name, domain=f"alertprobe{n}.example", phone=phone)
        contacts.append(world.hs_contact(company, email=f"person{n}@alertprobe{n}.example", lifecyclestage="customer"))
    world.settings(inclusion_list_id=world.inclusion_list(*contacts), alerts=ALERTS)

    result = world.run()

    assert result.state == "success"
    assert result.report["summary"]["write_errors"] == 2
    [(recipients, mail)] = inbox.messages
    assert recipients == ["data-team@example.org"]
    assert mail["Subject"] == f"[company_sync] 2 write errors in run {result.run_id}"
    body = _text(mail)
    assert "salesforce 2" in body and "/sync-reports/runs/company_sync/" in body
    [post] = posts
    assert post["text"].startswith(f"The company_sync run {result.run_id} finished with 2 records")
    for value in [*PHONES, *NAMES, "person0@alertprobe0.example"]:
        assert value not in body and value not in post["text"]

    world.salesforce_rules(validation_rule=None)  # the data team fixes the rule; the next run's retry lands
    fixed = world.run()
    assert fixed.state == "success" and fixed.report["summary"]["write_errors"] == 0
    assert len(inbox.messages) == 1 and len(posts) == 1  # no new alert


def test_a_failed_run_alerts_once_through_the_dags_failure_callback(world, channels):
    inbox, posts = channels
    world.watermark()
    conn = json.loads(os.environ["AIRFLOW_CONN_HUBSPOT_DEFAULT"])
    world.monkeypatch.setenv("AIRFLOW_CONN_HUBSPOT_DEFAULT", json.dumps({**conn, "password": "wrong-token"}))

    result = world.run()

    assert result.state == "failed"
    [(_, mail)] = inbox.messages
    assert mail["Subject"] == f"[company_sync] run failed: {result.run_id}"
    assert "failed" in _text(mail) and "/sync-reports/runs/company_sync/" in _text(mail)
    [post] = posts
    assert post["text"].startswith(f"The company_sync run {result.run_id} failed")
