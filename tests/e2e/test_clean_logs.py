"""Clean logs (issue #15 item 3): a healthy run logs nothing at ERROR and prints nothing on stderr — on a worker
Airflow files a task's stderr at ERROR, so a progress bar there (Great Expectations' "Calculating Metrics")
makes a healthy run look failed when the log is filtered by level — and each load ends with its running total."""

from __future__ import annotations

import logging
import re

import pytest

pytestmark = pytest.mark.e2e


def test_a_healthy_run_logs_nothing_at_error_and_its_loads_log_totals(world, caplog, capfd):
    world.watermark()
    for n in range(3):
        world.account(Name=f"Clean Logs {n}", Website=f"cleanlogs{n}.example")
    company = world.company(name="Clean Logs HubSpot", domain="cleanlogs-hs.example")
    contact = world.hs_contact(company, email="someone@cleanlogs-hs.example", lifecyclestage="customer")
    world.settings(inclusion_list_id=world.inclusion_list(contact))

    capfd.readouterr()
    caplog.clear()
    with caplog.at_level(logging.DEBUG):
        result = world.run()
    printed = capfd.readouterr()

    assert result.state == "success", result.report and result.report.get("failed_tasks")
    errors = [f"{r.name}: {r.getMessage()}" for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, errors
    assert "Calculating Metrics" not in printed.err and not re.search(r"\d+it/s\]", printed.err), printed.err[-500:]
    messages = [r.getMessage() for r in caplog.records]
    assert any(re.fullmatch(r"HubSpot: 3/3 upserted, 0 failed, [\d,]+ rec/s", m) for m in messages)
    assert any(re.fullmatch(r"Salesforce: 1/1 upserted, 0 failed, [\d,]+ rec/s", m) for m in messages), [
        m for m in messages if m.startswith("Salesforce")
    ]
