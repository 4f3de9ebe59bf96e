"""Great Expectations checks on the staged extracts and on the plan.

Each expectation carries a severity: `critical` ones are **blocking** (a failure stops the run before any
write, and the task's error lists what failed), `warning` ones go to the report. Suites are plain lists of
GX 1.x expectations per frame, so adding a check is one line.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

SALESFORCE_ID = r"^[a-zA-Z0-9]{15}([a-zA-Z0-9]{3})?$"
ACCOUNT_ID = r"^001[a-zA-Z0-9]{12}([a-zA-Z0-9]{3})?$"
CONTACT_ID = r"^003[a-zA-Z0-9]{12}([a-zA-Z0-9]{3})?$"
LEAD_ID = r"^00Q[a-zA-Z0-9]{12}([a-zA-Z0-9]{3})?$"
USER_ID = r"^005[a-zA-Z0-9]{12}([a-zA-Z0-9]{3})?$"
HUBSPOT_ID = r"^[0-9]{1,20}$"
EMAIL = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
DOMAIN = r"^[a-z0-9\-\.]+\.[a-z0-9\-]+$"


class BlockingValidationError(RuntimeError):
    """A blocking expectation failed; nothing has been written."""


@dataclass(frozen=True)
class CheckResult:
    frame: str
    expectation: str
    column: str | None
    blocking: bool
    success: bool
    unexpected_count: int | None
    examples: str

    @property
    def label(self) -> str:
        where = f"{self.frame}.{self.column}" if self.column else self.frame
        count = f" ({self.unexpected_count} rows, e.g. {self.examples})" if self.unexpected_count else ""
        return f"{where}: {self.expectation}{count}"


def _gx():
    import great_expectations as gx
    from great_expectations import expectations as gxe

    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    return gx, gxe


def input_suites() -> dict[str, list[Any]]:
    """Expectations per extracted frame (the engine's input schema)."""
    _, E = _gx()

    def blocking(expectation_cls, **kwargs):
        return expectation_cls(severity="critical", **kwargs)

    def warning(expectation_cls, **kwargs):
        return expectation_cls(severity="warning", **kwargs)

    def ids(column: str, regex: str) -> list[Any]:
        return [
            blocking(E.ExpectColumnToExist, column=column),
            blocking(E.ExpectColumnValuesToNotBeNull, column=column),
            blocking(E.ExpectColumnValuesToBeUnique, column=column),
            blocking(E.ExpectColumnValuesToMatchRegex, column=column, regex=regex),
        ]

    return {
        "sf_accounts": [
            *ids("Id", ACCOUNT_ID),
            blocking(E.ExpectColumnToExist, column="SystemModstamp"),
            blocking(E.ExpectColumnToExist, column="changed"),
            warning(E.ExpectColumnValuesToNotBeNull, column="Name"),
            warning(E.ExpectColumnValuesToMatchRegex, column="OwnerId", regex=USER_ID),
            warning(E.ExpectColumnValuesToBeBetween, column="AnnualRevenue", min_value=0),
            warning(E.ExpectColumnValuesToBeBetween, column="NumberOfEmployees", min_value=0),
        ],
        "sf_contacts": [
            *ids("Id", CONTACT_ID),
            warning(E.ExpectColumnValuesToMatchRegex, column="AccountId", regex=ACCOUNT_ID),
            warning(E.ExpectColumnValuesToMatchRegex, column="Email", regex=EMAIL),
        ],
        "sf_leads": [*ids("Id", LEAD_ID), warning(E.ExpectColumnValuesToMatchRegex, column="Email", regex=EMAIL)],
        "sf_users": [*ids("Id", USER_ID)],
        "hs_companies": [
            *ids("id", HUBSPOT_ID),
            blocking(E.ExpectColumnToExist, column="hs_lastmodifieddate"),
            blocking(E.ExpectColumnToExist, column="changed"),
            warning(E.ExpectColumnValuesToMatchRegex, column="salesforceaccountid", regex=ACCOUNT_ID),
            warning(E.ExpectColumnValuesToMatchRegex, column="domain", regex=DOMAIN),
        ],
        "hs_contacts": [
            *ids("id", HUBSPOT_ID),
            warning(E.ExpectColumnValuesToMatchRegex, column="email", regex=EMAIL),
            warning(E.ExpectColumnValuesToMatchRegex, column="salesforcecontactid", regex=CONTACT_ID),
            warning(E.ExpectColumnValuesToMatchRegex, column="salesforceleadid", regex=LEAD_ID),
        ],
        "hs_associations": [
            blocking(E.ExpectColumnValuesToNotBeNull, column="company_id"),
            blocking(E.ExpectColumnValuesToNotBeNull, column="contact_id"),
            blocking(E.ExpectCompoundColumnsToBeUnique, column_list=["company_id", "contact_id"]),
        ],
    }


def validate_frames(frames: dict[str, pd.DataFrame], suites: dict[str, list[Any]]) -> list[CheckResult]:
    """Run each frame's suite (frames without a suite, or suites without a frame, are skipped)."""
    gx, _ = _gx()
    context = gx.get_context(mode="ephemeral")
    source = context.data_sources.add_pandas("company_sync")
    results: list[CheckResult] = []
    for name, expectations in suites.items():
        frame = frames.get(name)
        if frame is None:
            continue
        batch = (
            source.add_dataframe_asset(name)
            .add_batch_definition_whole_dataframe("all")
            .get_batch(batch_parameters={"dataframe": frame})
        )
        suite = context.suites.add(gx.ExpectationSuite(name=name, expectations=[e.copy() for e in expectations]))
        outcome = batch.validate(suite, result_format={"result_format": "SUMMARY"})
        for res in outcome.results:
            config = res.expectation_config
            examples = res.result.get("partial_unexpected_list") or []
            results.append(
                CheckResult(
                    frame=name,
                    expectation=config.type,
                    column=config.kwargs.get("column") or ",".join(config.kwargs.get("column_list") or []) or None,
                    blocking=str(config.severity).lower().endswith("critical"),
                    success=bool(res.success),
                    unexpected_count=res.result.get("unexpected_count"),
                    examples=", ".join(map(str, examples[:3])),
                )
            )
    return results


def raise_on_blocking(results: list[CheckResult], stage: str) -> None:
    failed = [r for r in results if r.blocking and not r.success]
    for r in results:
        if not r.success and not r.blocking:
            log.warning("validation warning (%s): %s", stage, r.label)
    if failed:
        lines = "\n".join(f"  - {r.label}" for r in failed)
        raise BlockingValidationError(
            f"{len(failed)} blocking check(s) failed on the {stage}; nothing was written:\n{lines}"
        )
    log.info(
        "%s: %d checks, %d warnings, no blocking failure", stage, len(results), sum(not r.success for r in results)
    )


def as_records(results: list[CheckResult]) -> list[dict[str, Any]]:
    return [asdict(r) for r in results]


WRITE_FRAMES = ("hubspot_creates", "hubspot_updates", "salesforce_creates", "salesforce_updates")
REQUIRED_ON_CREATE = {"hubspot_creates": "name", "salesforce_creates": "Name"}


def plan_check_frames(plan: dict[str, pd.DataFrame], considered: int) -> dict[str, pd.DataFrame]:
    """Frames that make the plan's invariants checkable column by column."""
    import pandas as pd

    writes = pd.concat(
        [plan[n].assign(frame=n) for n in WRITE_FRAMES if n in plan and not plan[n].empty]
        or [pd.DataFrame({"frame": [], "record_id": [], "field": []})],
        ignore_index=True,
    )
    writes["target"] = (
        writes["frame"].astype(str) + ":" + writes["record_id"].astype(str) + ":" + writes["field"].astype(str)
    )
    creates = []
    for name, required in REQUIRED_ON_CREATE.items():
        frame = plan.get(name)
        if frame is None or frame.empty:
            continue
        has = frame.assign(
            ok=(frame["field"] == required) & frame["value"].notna() & (frame["value"].astype(str).str.strip() != "")
        )
        per_record = has.groupby("record_id")["ok"].any().reset_index()
        creates.append(per_record.assign(frame=name))
    creates_frame = (
        pd.concat(creates, ignore_index=True) if creates else pd.DataFrame({"record_id": [], "ok": [], "frame": []})
    )
    changed = writes["frame"].astype(str) + ":" + writes["record_id"].astype(str)
    return {
        "plan_writes": writes[["frame", "record_id", "field", "target"]],
        "plan_creates": creates_frame,
        "plan_decisions": plan.get("decisions", pd.DataFrame({"system": [], "record_id": []})),
        "plan_volume": pd.DataFrame(
            {
                "considered": [considered],
                "targets_written": [changed.nunique()],
                "change_ratio": [changed.nunique() / considered if considered else 0.0],
            }
        ),
    }


def plan_suites(max_change_ratio: float, breaker_min_records: int) -> dict[str, list[Any]]:
    """Plan invariants (blocking): one write per target field, creates carry the required name, one decision
    per record, and the change-volume circuit breaker."""
    _, E = _gx()
    suites = {
        "plan_writes": [E.ExpectColumnValuesToBeUnique(column="target", severity="critical")],
        "plan_creates": [E.ExpectColumnValuesToBeInSet(column="ok", value_set=[True], severity="critical")],
        "plan_decisions": [
            E.ExpectCompoundColumnsToBeUnique(column_list=["system", "record_id"], severity="critical"),
            E.ExpectColumnValuesToNotBeNull(column="reason", severity="critical"),
        ],
        "plan_volume": [],
    }
    suites["plan_volume"].append(
        E.ExpectColumnValuesToBeBetween(
            column="change_ratio",
            max_value=max_change_ratio,
            severity="critical",
            row_condition=f"considered >= {int(breaker_min_records)}",
            condition_parser="pandas",
        )
    )
    return suites
