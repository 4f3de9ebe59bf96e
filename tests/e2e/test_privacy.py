"""Personal data (issue #13 items 1 and 2): a full company_sync run over records holding recognisable emails,
phones and names, malformed and unicode ones included, logs none of those values anywhere (task log files,
Python log records, the console), and leaves no staged copy of them once it succeeded."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pytest

from include.company_sync.identifiers import safe_segment

pytestmark = pytest.mark.e2e

# Recognisable values: none may appear in any log of the run.
EMAILS = [
    "jane.roe.private@pii-probe",  # no dot in the domain: a validation warning
    "john q public@pii-probe.example.org",  # a space: a validation warning
    "zoë.privé@pii-probe.example.org",
    "hs.only.person@pii-probe.example.net",
    "hs.second.person@pii-probe.example.net",
]
PHONES = ["+1 415 555 0199 731", "+44 20 7946 0958 222", "555-pii-0142"]  # the last one Salesforce refuses
NAMES = ["Zoë Ångström-Privé", "Privacyprobe Lastname", "Hubspotonly Personname", "Ünïcødé Prïvåcy GmbH"]
LONG_NAME = "Überlong Privacyprobe Company Name " * 9  # over Salesforce's 255: refused by the plan
VALUES = [*EMAILS, *PHONES, *NAMES, LONG_NAME.strip()]


def _forms(value: str) -> set[str]:
    """The value as it may be written: as is, JSON-escaped (structured logs), repr-escaped."""
    return {value, json.dumps(value)[1:-1], repr(value)[1:-1]}


def _task_log_files(home: Path) -> list[Path]:
    return [p for p in (home / "logs").rglob("*") if p.is_file()] if (home / "logs").exists() else []


def test_a_run_over_personal_data_logs_none_of_it_and_leaves_no_staged_copy(world, caplog, capfd):
    world.salesforce_rules(validation_rule={"field": "Phone", "pattern": r"^\+", "message": "Phone must start with +"})
    world.watermark()  # a first run's state: the matching mirror starts here

    account = world.account(Name=NAMES[3], Website="privacyprobe.example", Phone=PHONES[0])
    world.contact(AccountId=account, FirstName="Zoë", LastName="Ångström-Privé", Email=EMAILS[0], Phone=PHONES[1])
    world.contact(AccountId=account, LastName=NAMES[1], Email=EMAILS[1])
    world.contact(AccountId=account, LastName="Third", Email=EMAILS[2])
    refused = world.company(name="Phone Refused Co", domain="phonerefused.example", phone=PHONES[2])
    world.hs_contact(refused, email=EMAILS[3], firstname="Hubspotonly", lastname="Personname")
    too_long = world.company(name=LONG_NAME, domain="longname.example")
    world.hs_contact(too_long, email=EMAILS[4])

    home = Path(os.environ["AIRFLOW_HOME"])
    before = {p: p.stat().st_size for p in _task_log_files(home)}
    capfd.readouterr()  # drop what earlier runs printed
    caplog.clear()
    with caplog.at_level(logging.DEBUG):
        result = world.run()
    printed = capfd.readouterr()

    assert result.state == "success", result.report and result.report.get("failed_tasks")
    # The data is messy as intended: validation warnings fired, Salesforce refused the phone.
    failed_checks = result.report["checks"]["failed"]
    assert any(c["frame"] == "sf_contacts" and c["column"] == "Email" for c in failed_checks), failed_checks
    assert any(e["error_code"] == "FIELD_CUSTOM_VALIDATION_EXCEPTION" for e in result.report["errors"])
    assert any(r.startswith("rejected_STRING_TOO_LONG") for r in result.report["reasons"])

    # Everything the run logged: Python log records, the console, and the task log files it wrote.
    texts = {"log records": "\n".join(_record_text(r) for r in caplog.records)}
    texts["stdout"], texts["stderr"] = printed.out, printed.err
    for path in _task_log_files(home):
        with path.open("rb") as f:
            f.seek(before.get(path, 0))
            texts[str(path)] = f.read().decode("utf-8", "replace")
    logged = "\n".join(texts.values())
    assert "validation warning" in logged and "sf_contacts.Email" in logged  # the warnings were captured
    for where, text in texts.items():
        leaked = sorted(v for v in VALUES if any(form in text for form in _forms(v)))
        assert not leaked, f"{where} holds record values: {leaked}"

    # Validation names the failing contacts by id.
    email_check = next(c for c in failed_checks if c["frame"] == "sf_contacts" and c["column"] == "Email")
    assert email_check["examples"].startswith("ids 003"), email_check

    # The run's Data Docs (in its report folder) name failing rows by id too, without their values.
    docs = list((world.tmp / "reports" / "company_sync").glob("*/data_docs/**/*.html"))
    assert docs
    for page in docs:
        text = page.read_text(encoding="utf-8", errors="replace")
        assert not [v for v in EMAILS if any(form in text for form in _forms(v))], page

    # The succeeded run's staged frames are gone; the staging folder holds no run of it.
    staging = world.tmp / "staging" / "company_sync"
    assert not (staging / safe_segment(result.run_id)).exists()
    assert not list(staging.rglob("*.parquet")) if staging.exists() else True


def _record_text(record: logging.LogRecord) -> str:
    try:
        text = record.getMessage()
    except Exception:  # noqa: BLE001 - a record whose arguments do not format: keep its raw parts
        text = f"{record.msg} {record.args}"
    if record.exc_info and record.exc_info[1] is not None:
        text += f"\n{record.exc_info[1]!r}"
    return text
