"""Failure alerts through Airflow's notifier mechanism: email (the SMTP provider) and a Slack-compatible webhook.

`SyncAlert` is the DAGs' `on_failure_callback` (one alert per failed run, whichever task failed) and is sent by
the `report` task when a run's failed writes pass `alerts.write_errors_over`. Who is alerted is configuration,
not code: the `alerts` key of the `company_sync_settings` Variable, and Airflow connections for the SMTP server
and the webhook URL. Messages carry ids, counts and the report's link, never record values.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from airflow.sdk import BaseNotifier

from include.company_sync.identifiers import safe_segment
from include.company_sync.settings import Alerts

log = logging.getLogger(__name__)

REPORTS_PATH = "/sync-reports/runs"  # the Sync reports plugin's route


@dataclass(frozen=True)
class Message:
    subject: str
    text: str


def failed_run_message(dag_id: str, run_id: str, reason: str | None, report_url: str) -> Message:
    return Message(
        subject=f"[{dag_id}] run failed: {run_id}",
        text=(
            f"The {dag_id} run {run_id} failed{f' ({reason})' if reason else ''}. Nothing after the failed task was "
            f"written; the task's log says why.\nReport: {report_url}"
        ),
    )


def write_errors_message(dag_id: str, run_id: str, errors: dict[str, int], over: int, report_url: str) -> Message:
    total = sum(errors.values())
    per_system = ", ".join(f"{system} {count:,}" for system, count in sorted(errors.items()) if count)
    return Message(
        subject=f"[{dag_id}] {total:,} write errors in run {run_id}",
        text=(
            f"The {dag_id} run {run_id} finished with {total:,} records the other system refused ({per_system}), "
            f"over the alert threshold of {over:,}. Fix the data, then resync them from the report.\n"
            f"Report: {report_url}"
        ),
    )


def report_url(dag_id: str, run_id: str) -> str:
    """The run's report on the Sync reports page of this deployment's API server."""
    from airflow.configuration import conf

    base = (conf.get("api", "base_url", fallback=None) or "http://localhost:8080").rstrip("/")
    return f"{base}{REPORTS_PATH}/{quote(safe_segment(dag_id))}/{quote(safe_segment(run_id))}/report.html"


def webhook_url(conn: Any) -> str:
    """A Slack-style webhook URL from an Airflow connection: its host as a whole URL (`https://hooks...`), or
    the parts of an `http(s)://host:port/path` connection URI (Airflow keeps the path as the schema)."""
    host = (conn.host or "").strip()
    if host.startswith(("http://", "https://")):
        return host
    scheme = "https" if (conn.conn_type or "").lower() == "https" else "http"
    port = f":{conn.port}" if conn.port else ""
    return f"{scheme}://{host}{port}/{(conn.schema or '').lstrip('/')}"


def send(alerts: Alerts, message: Message) -> dict[str, bool]:
    """Send `message` on every configured channel; a channel that fails is logged (its error type only) and does
    not stop the others, nor change the run's outcome."""
    sent: dict[str, bool] = {}
    if alerts.emails:
        sent["email"] = _attempt("email", lambda: _email(alerts, message))
    if alerts.webhook_conn_id:
        sent["webhook"] = _attempt("webhook", lambda: _webhook(alerts.webhook_conn_id, message))
    return sent


def _attempt(channel: str, action) -> bool:
    try:
        action()
    except Exception as exc:  # noqa: BLE001 - SMTP, HTTP and connection lookups fail in many ways
        log.warning("alert by %s not sent: %s", channel, type(exc).__name__)
        return False
    log.info("alert sent by %s", channel)
    return True


def _email(alerts: Alerts, message: Message) -> None:
    from html import escape

    from airflow.configuration import conf
    from airflow.providers.smtp.hooks.smtp import SmtpHook

    body = "<br>".join(escape(line) for line in message.text.splitlines())
    with SmtpHook(smtp_conn_id=alerts.smtp_conn_id) as smtp:
        # the connection's `from_email` extra, else Airflow's [email] from_email
        sender = smtp.from_email or conf.get("email", "from_email", fallback=None) or "company-sync@localhost"
        smtp.send_email_smtp(to=list(alerts.emails), subject=message.subject, html_content=body, from_email=sender)


def _webhook(conn_id: str, message: Message) -> None:
    import requests
    from airflow.sdk import BaseHook

    answer = requests.post(webhook_url(BaseHook.get_connection(conn_id)), json={"text": message.text}, timeout=30)
    answer.raise_for_status()


def configured_alerts() -> Alerts | None:
    """The `alerts` of the settings Variable now (None when it cannot be read: the run may have failed on it)."""
    from include.company_sync.settings import SettingsError, parse_settings
    from include.company_sync.tasks.prepare import load_settings_json

    try:
        return parse_settings(load_settings_json()).alerts
    except SettingsError as exc:
        log.warning("no alert sent: the settings cannot be read (%s)", str(exc).split(":")[0])
        return None


class SyncAlert(BaseNotifier):
    """`on_failure_callback` of the sync DAGs: tells the configured channels that a run failed."""

    def render_template_fields(self, context: dict[str, Any], jinja_env: Any = None) -> None:
        """Nothing is templated. (Skipping the render also avoids Airflow 3.3's `dag.test()`, which hands the
        callback a serialized DAG that cannot build a template environment.)"""

    def notify(self, context: dict[str, Any]) -> None:
        alerts = configured_alerts()
        if alerts is None or not alerts.enabled:
            return
        dag_id, run_id = run_of(context)
        send(alerts, failed_run_message(dag_id, run_id, context.get("reason"), report_url(dag_id, run_id)))


def run_of(context: dict[str, Any]) -> tuple[str, str]:
    """(dag_id, run_id) from a callback's context: the DAG processor and `dag.test()` pass different keys."""
    dag_run = context.get("dag_run")
    dag_id = getattr(dag_run, "dag_id", None) or getattr(context.get("dag"), "dag_id", None) or "?"
    return str(dag_id), str(getattr(dag_run, "run_id", None) or context.get("run_id") or "?")


def alert_on_write_errors(alerts: Alerts, dag_id: str, run_id: str, errors: dict[str, int]) -> bool:
    """Called by `report` on a run that did not fail: alert when its failed writes exceed the threshold."""
    if not alerts.enabled or sum(errors.values()) <= alerts.write_errors_over:
        return False
    message = write_errors_message(dag_id, run_id, errors, alerts.write_errors_over, report_url(dag_id, run_id))
    return any(send(alerts, message).values())
