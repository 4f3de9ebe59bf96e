"""Great Expectations checks on the staged extracts and on the plan.

Each expectation carries a severity: `critical` ones are **blocking** (a failure stops the run before any
write, and the task's error lists what failed), `warning` ones go to the report. Suites are plain lists of
GX 1.x expectations per frame, so adding a check is one line.

What GX cannot express on one frame (a value pointing at a record of another frame, a number stored as text)
is first turned into a derived column by `input_check_frames` / `plan_check_frames`: e.g.
`hs_associations.company_id_not_extracted` holds the association's company id when that company is not in
`hs_companies` and is null otherwise, so "expect values to be null" lists the dangling ids themselves.

Validation results are also rendered as GX **Data Docs** (GX's own site builder) when a folder is given, readable
offline, under `<report folder>/data_docs/<stage>/index.html` (see `validation_docs`, docs/data-docs.md).
"""

from __future__ import annotations

import logging
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from include.company_sync import validation_docs as data_docs
from include.company_sync.identifiers import (
    ACCOUNT_ID_PATTERN,
    CONTACT_ID_PATTERN,
    HUBSPOT_ID_PATTERN,
    LEAD_ID_PATTERN,
    USER_ID_PATTERN,
)

if TYPE_CHECKING:
    import pandas as pd

    from include.company_sync.settings import Settings

log = logging.getLogger(__name__)

EMAIL = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
DOMAIN = r"^[A-Za-z0-9\-\.]+\.[A-Za-z0-9\-]+$"
WEBSITE = r"^(?:[Hh][Tt][Tt][Pp][Ss]?://)?[^\s/]+\.[^\s/]+(?:/\S*)?$"

# Numeric ranges of mapped number fields (Salesforce space; HubSpot numbers are parsed from text).
NUMBER_RANGES = {"AnnualRevenue": (0, 1e15), "NumberOfEmployees": (0, 99_999_999)}
# Volume check against history: block when planned writes exceed VOLUME_FACTOR x the median of the last
# VOLUME_HISTORY successful runs' writes (never below the breaker's minimum), once MIN_HISTORY runs exist.
VOLUME_FACTOR = 10
VOLUME_HISTORY = 30
MIN_HISTORY = 5


class BlockingValidationError(RuntimeError):
    """A blocking expectation failed; nothing has been written."""


# The record id column(s) naming a failing row, per frame: check results, logs and errors give these ids, never
# the failing values (emails, names, phones). Frames not listed use the first of FALLBACK_ID_COLUMNS they have,
# else the row's position.
ID_COLUMNS: dict[str, tuple[str, ...]] = {
    "sf_accounts": ("Id",),
    "sf_contacts": ("Id",),
    "sf_leads": ("Id",),
    "sf_users": ("Id",),
    "hs_companies": ("id",),
    "hs_contacts": ("id",),
    "hs_owners": ("id",),
    "hs_associations": ("company_id", "contact_id"),
    "hs_list_members": ("contact_id",),
    "plan_writes": ("frame", "record_id"),
    "plan_creates": ("frame", "record_id"),
    "plan_decisions": ("system", "record_id"),
    "plan_new_links": ("account_id", "company_id"),
}
FALLBACK_ID_COLUMNS = ("Id", "id", "record_id", "company_id", "account_id", "contact_id")
ROW_COLUMN = "_row"  # the row's position, added to frames without an id column
MAX_IDS = 5  # record ids kept per failed check


@dataclass(frozen=True)
class CheckResult:
    frame: str
    expectation: str
    column: str | None
    blocking: bool
    success: bool
    unexpected_count: int | None
    # The record ids of up to MAX_IDS failing rows (`ids 001..., 001...`), or the check's own error: never the
    # failing values.
    examples: str

    @property
    def label(self) -> str:
        where = f"{self.frame}.{self.column}" if self.column else self.frame
        count = f" ({self.unexpected_count} rows, {self.examples})" if self.unexpected_count and self.examples else ""
        if self.unexpected_count and not count:
            count = f" ({self.unexpected_count} rows)"
        if not count and self.examples and not self.success:
            count = f" ({self.examples})"
        return f"{where}: {self.expectation}{count}"


def id_columns(name: str, frame: pd.DataFrame) -> list[str]:
    """The columns naming a row of frame `name` in check results (see ID_COLUMNS); [] when it has none."""
    wanted = ID_COLUMNS.get(name) or next(((c,) for c in FALLBACK_ID_COLUMNS if c in frame.columns), ())
    return [c for c in wanted if c in frame.columns]


def _failing_ids(result: dict[str, Any], columns: list[str]) -> str:
    """`ids a, b` from GX's partial_unexpected_index_list (dicts holding the id columns), capped at MAX_IDS."""
    ids: list[str] = []
    for row in result.get("partial_unexpected_index_list") or []:
        if isinstance(row, dict):
            parts = [_id_text(row.get(c)) for c in columns]
        else:  # a bare index
            parts = [_id_text(row)]
        text = "/".join(parts)
        if text not in ids:
            ids.append(text)
        if len(ids) >= MAX_IDS:
            break
    if not ids:
        return ""
    more = ", ..." if (result.get("unexpected_count") or 0) > len(ids) else ""
    what = "rows" if columns == [ROW_COLUMN] else "ids"
    return f"{what} {', '.join(ids)}{more}"


def _id_text(value: Any) -> str:
    import pandas as pd

    try:
        if value is None or pd.isna(value):
            return "<no id>"
    except (TypeError, ValueError):  # a list-like value
        pass
    return str(value)


def _gx():
    import great_expectations as gx
    from great_expectations import expectations as gxe

    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    return gx, gxe


def _severity_helpers():
    _, E = _gx()

    def blocking(expectation_cls, **kwargs):
        return expectation_cls(severity="critical", **kwargs)

    def warning(expectation_cls, **kwargs):
        return expectation_cls(severity="warning", **kwargs)

    return E, blocking, warning


def _mappings(settings: Settings | None):
    from include.company_sync.settings import parse_field_mappings

    return settings.field_mappings if settings is not None else parse_field_mappings(None)


def _id_checks(column: str, regex: str) -> list[Any]:
    """A record id column: present, set, unique and well-formed (all blocking)."""
    E, blocking, _ = _severity_helpers()
    return [
        blocking(E.ExpectColumnToExist, column=column),
        blocking(E.ExpectColumnValuesToNotBeNull, column=column),
        blocking(E.ExpectColumnValuesToBeUnique, column=column),
        blocking(E.ExpectColumnValuesToMatchRegex, column=column, regex=regex),
    ]


def _dangling_check(column: str, *, block: bool = False) -> Any:
    """No value of `column` points at a record missing from the extracts (see `input_check_frames`)."""
    E, blocking, warning = _severity_helpers()
    return (blocking if block else warning)(E.ExpectColumnValuesToBeNull, column=f"{column}_not_extracted")


def _mapped_field_checks(mappings: Iterable[Any]) -> tuple[list[Any], list[Any]]:
    """(Salesforce, HubSpot) checks that follow the field mappings: picklist value sets, number ranges, URLs,
    owners, lengths, the required Name."""
    E, blocking, warning = _severity_helpers()
    sf_extra: list[Any] = []
    hs_extra: list[Any] = []
    for m in mappings:
        if m.kind == "picklist" and m.to_hubspot:
            sf_extra.append(warning(E.ExpectColumnValuesToBeInSet, column=m.salesforce, value_set=sorted(m.to_hubspot)))
            hs_extra.append(warning(E.ExpectColumnValuesToBeInSet, column=m.hubspot, value_set=sorted(m.to_salesforce)))
        elif m.kind == "number":
            low, high = NUMBER_RANGES.get(m.salesforce, (0, None))
            for column in (m.salesforce, m.hubspot):
                sf_or_hs = sf_extra if column == m.salesforce else hs_extra
                sf_or_hs.append(warning(E.ExpectColumnValuesToBeNull, column=f"{column}_not_a_number"))
                sf_or_hs.append(
                    warning(E.ExpectColumnValuesToBeBetween, column=f"{column}_number", min_value=low, max_value=high)
                )
        elif m.kind == "url":
            sf_extra.append(warning(E.ExpectColumnValuesToMatchRegex, column=m.salesforce, regex=WEBSITE))
            hs_extra.append(warning(E.ExpectColumnValuesToMatchRegex, column=m.hubspot, regex=WEBSITE))
        elif m.kind == "owner":
            sf_extra += [
                warning(E.ExpectColumnValuesToMatchRegex, column=m.salesforce, regex=USER_ID_PATTERN),
                _dangling_check(m.salesforce),
            ]
            hs_extra += [
                warning(E.ExpectColumnValuesToMatchRegex, column=m.hubspot, regex=HUBSPOT_ID_PATTERN),
                _dangling_check(m.hubspot),
            ]
        if m.salesforce == "Name":
            sf_extra.append(blocking(E.ExpectColumnValuesToNotBeNull, column="Name"))  # required in Salesforce
            hs_extra.append(warning(E.ExpectColumnValuesToNotBeNull, column=m.hubspot))  # blank in HubSpot: R-rejected
        elif m.max_length:
            sf_extra.append(warning(E.ExpectColumnValueLengthsToBeBetween, column=m.salesforce, max_value=m.max_length))
            hs_extra.append(warning(E.ExpectColumnValueLengthsToBeBetween, column=m.hubspot, max_value=m.max_length))
    return sf_extra, hs_extra


def input_suites(settings: Settings | None = None, lifecycle_stages: Iterable[str] | None = None) -> dict[str, list]:
    """Expectations per extracted frame (the engine's input schema), run on `input_check_frames(frames)`.

    `settings` gives the mapped fields (picklist value sets from the value maps, number ranges; the shipped
    defaults when None); `lifecycle_stages` the portal's stage ids (staged by extract_hubspot; no stage check
    when None).
    """
    E, _, warning = _severity_helpers()
    sf_extra, hs_extra = _mapped_field_checks(_mappings(settings))
    stages: list[Any] = []
    stage_set = sorted({str(s) for s in lifecycle_stages}) if lifecycle_stages is not None else None
    if stage_set:
        stages = [warning(E.ExpectColumnValuesToBeInSet, column="lifecyclestage", value_set=stage_set)]
    return {**_salesforce_suites(sf_extra), **_hubspot_suites(hs_extra, stages)}


def _salesforce_suites(sf_extra: list[Any]) -> dict[str, list]:
    E, blocking, warning = _severity_helpers()
    return {
        "sf_accounts": [
            *_id_checks("Id", ACCOUNT_ID_PATTERN),
            blocking(E.ExpectColumnToExist, column="SystemModstamp"),
            blocking(E.ExpectColumnValuesToNotBeNull, column="SystemModstamp"),
            blocking(E.ExpectColumnToExist, column="changed"),
            blocking(E.ExpectColumnValuesToBeInSet, column="changed", value_set=[True, False]),
            warning(E.ExpectColumnValuesToMatchRegex, column="HubSpot_Company_ID__c", regex=HUBSPOT_ID_PATTERN),
            warning(E.ExpectColumnValuesToBeUnique, column="HubSpot_Company_ID__c"),
            *sf_extra,
        ],
        "sf_contacts": [
            *_id_checks("Id", CONTACT_ID_PATTERN),
            warning(E.ExpectColumnValuesToMatchRegex, column="AccountId", regex=ACCOUNT_ID_PATTERN),
            _dangling_check("AccountId"),  # contacts fetched through a HubSpot contact's link may sit on other accounts
            warning(E.ExpectColumnValuesToMatchRegex, column="Email", regex=EMAIL),
        ],
        "sf_leads": [
            *_id_checks("Id", LEAD_ID_PATTERN),
            warning(E.ExpectColumnValuesToMatchRegex, column="Email", regex=EMAIL),
        ],
        "sf_users": [
            *_id_checks("Id", USER_ID_PATTERN),
            warning(E.ExpectColumnValuesToMatchRegex, column="Email", regex=EMAIL),
        ],
    }


def _hubspot_suites(hs_extra: list[Any], stages: list[Any]) -> dict[str, list]:
    E, blocking, warning = _severity_helpers()
    return {
        "hs_companies": [
            *_id_checks("id", HUBSPOT_ID_PATTERN),
            blocking(E.ExpectColumnToExist, column="hs_lastmodifieddate"),
            blocking(E.ExpectColumnValuesToNotBeNull, column="hs_lastmodifieddate"),
            blocking(E.ExpectColumnToExist, column="changed"),
            blocking(E.ExpectColumnValuesToBeInSet, column="changed", value_set=[True, False]),
            warning(E.ExpectColumnValuesToMatchRegex, column="salesforceaccountid", regex=ACCOUNT_ID_PATTERN),
            warning(E.ExpectColumnValuesToBeUnique, column="salesforceaccountid"),  # two companies, one account
            warning(E.ExpectColumnValuesToMatchRegex, column="domain", regex=DOMAIN),
            *stages,
            *hs_extra,
        ],
        "hs_contacts": [
            *_id_checks("id", HUBSPOT_ID_PATTERN),
            warning(E.ExpectColumnValuesToMatchRegex, column="email", regex=EMAIL),
            warning(E.ExpectColumnValuesToMatchRegex, column="salesforcecontactid", regex=CONTACT_ID_PATTERN),
            warning(E.ExpectColumnValuesToMatchRegex, column="salesforceleadid", regex=LEAD_ID_PATTERN),
            _dangling_check("salesforcecontactid"),  # deleted or merged in Salesforce since the last sync
            _dangling_check("salesforceleadid"),
            *stages,
        ],
        "hs_associations": [
            blocking(E.ExpectColumnValuesToNotBeNull, column="company_id"),
            blocking(E.ExpectColumnValuesToNotBeNull, column="contact_id"),
            blocking(E.ExpectColumnValuesToMatchRegex, column="company_id", regex=HUBSPOT_ID_PATTERN),
            blocking(E.ExpectColumnValuesToMatchRegex, column="contact_id", regex=HUBSPOT_ID_PATTERN),
            blocking(E.ExpectCompoundColumnsToBeUnique, column_list=["company_id", "contact_id"]),
            _dangling_check("company_id", block=True),  # associations are read for the extracted companies only
            _dangling_check("contact_id"),  # a contact archived between the two reads
        ],
        "hs_owners": [
            *_id_checks("id", HUBSPOT_ID_PATTERN),
            warning(E.ExpectColumnValuesToMatchRegex, column="email", regex=EMAIL),
        ],
        "hs_list_members": [warning(E.ExpectColumnValuesToMatchRegex, column="contact_id", regex=HUBSPOT_ID_PATTERN)],
        "lifecycle_stages": [
            warning(E.ExpectColumnValuesToNotBeNull, column="stage"),
            warning(E.ExpectColumnValuesToBeUnique, column="stage"),
        ],
    }


def _dangling(values: pd.Series, known: pd.Series | None) -> pd.Series:
    """`values` where they are set and not among `known`, NA elsewhere."""
    import pandas as pd

    values = values.astype("str")
    known_set = pd.Index([] if known is None else known.dropna().astype("str").unique())
    return values.where(values.notna() & ~values.isin(known_set))


def _number_columns(frame: pd.DataFrame, column: str) -> dict[str, pd.Series]:
    import pandas as pd

    raw = frame[column]
    text = raw.astype("str").str.strip()
    number = pd.to_numeric(text.where(text != ""), errors="coerce")
    return {
        f"{column}_number": number,
        f"{column}_not_a_number": text.where(raw.notna() & number.isna() & (text != "")),
    }


def input_check_frames(frames: dict[str, pd.DataFrame], settings: Settings | None = None) -> dict[str, pd.DataFrame]:
    """Copies of the extracts with the derived columns the input suites check (references between frames,
    numbers stored as text). Frames not given are left out."""
    get = frames.get
    derived: dict[str, dict[str, pd.Series]] = {name: {} for name in frames}

    def add(name: str, column: str, target: str, key: str) -> None:
        frame = get(name)
        if frame is None or column not in frame:
            return
        other = get(target)
        derived[name][f"{column}_not_extracted"] = _dangling(
            frame[column], other[key] if other is not None and key in other else None
        )

    add("hs_associations", "company_id", "hs_companies", "id")
    add("hs_associations", "contact_id", "hs_contacts", "id")
    add("sf_contacts", "AccountId", "sf_accounts", "Id")
    add("hs_contacts", "salesforcecontactid", "sf_contacts", "Id")
    add("hs_contacts", "salesforceleadid", "sf_leads", "Id")
    for m in _mappings(settings):
        if m.kind == "owner":
            add("sf_accounts", m.salesforce, "sf_users", "Id")
            add("hs_companies", m.hubspot, "hs_owners", "id")
        if m.kind == "number":
            for name, column in (("sf_accounts", m.salesforce), ("hs_companies", m.hubspot)):
                if get(name) is not None and column in get(name):
                    derived[name].update(_number_columns(get(name), column))
    return {name: frame.assign(**derived[name]) if derived[name] else frame for name, frame in frames.items()}


def validate_frames(
    frames: dict[str, pd.DataFrame],
    suites: dict[str, list[Any]],
    *,
    docs_dir: Path | str | Any | None = None,
    run_name: str | None = None,
) -> list[CheckResult]:
    """Run each frame's suite (frames without a suite, or suites without a frame, are skipped). With
    `docs_dir` (a local folder, a URL or an `ObjectStoragePath`), GX Data Docs of these validations are built
    in a local temporary folder and copied there (index.html); the temporary folder is removed."""
    gx, _ = _gx()
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    # tqdm bars go to stderr, which Airflow logs at ERROR: a healthy run would look failed when filtered by level.
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    if docs_dir is None:
        return _validate(context, frames, suites, run_name, None, None)
    with data_docs.temporary_site() as site:
        data_docs.add_site(context, site)
        return _validate(context, frames, suites, run_name, site, docs_dir)


def _validate(context, frames, suites, run_name, site: Path | None, docs_dir) -> list[CheckResult]:
    """`validate_frames` on a GX context; with `site`, the Data Docs are built there and copied to `docs_dir`."""
    gx, _ = _gx()
    from great_expectations.core.run_identifier import RunIdentifier

    source = context.data_sources.add_pandas("company_sync")
    run_id = RunIdentifier(run_name=run_name or "company_sync")
    results: list[CheckResult] = []
    for name, expectations in suites.items():
        frame = frames.get(name)
        if frame is None or not expectations:
            continue
        columns = id_columns(name, frame)
        if not columns:  # no record id: name failing rows by position
            frame, columns = frame.assign(**{ROW_COLUMN: range(len(frame))}), [ROW_COLUMN]
        result_format = {"result_format": "SUMMARY", "unexpected_index_column_names": columns}
        batch_definition = source.add_dataframe_asset(name).add_batch_definition_whole_dataframe("all")
        suite = context.suites.add(gx.ExpectationSuite(name=name, expectations=[e.copy() for e in expectations]))
        definition = context.validation_definitions.add(
            gx.ValidationDefinition(name=name, data=batch_definition, suite=suite)
        )
        outcome = definition.run(batch_parameters={"dataframe": frame}, result_format=result_format, run_id=run_id)
        for res in outcome.results:
            config = res.expectation_config
            ids = _failing_ids(res.result or {}, columns) if not res.success else ""
            error = (res.exception_info or {}).get("exception_message") if not res.success else None
            results.append(
                CheckResult(
                    frame=name,
                    expectation=config.type,
                    column=config.kwargs.get("column") or ",".join(config.kwargs.get("column_list") or []) or None,
                    blocking=str(config.severity).lower().endswith("critical"),
                    success=bool(res.success),
                    unexpected_count=(res.result or {}).get("unexpected_count"),
                    examples=ids or (str(error)[:200] if error else ""),
                )
            )
    if site is not None:
        # The docs are for reading; a rendering problem must not stop (or hide) the validation outcome.
        try:
            data_docs.prepare_stored_results(context)
            context.build_data_docs(site_names=[data_docs.SITE])
            data_docs.prune_static(site)
            data_docs.localise(site)
            data_docs.publish(site, docs_dir)
        except Exception:  # noqa: BLE001 - logged with its traceback, the checks' results stand
            log.warning("could not build the Data Docs in %s", docs_dir, exc_info=True)
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
# The record_id of each write frame: the upsert key for creates (the other system's id), the own id for updates.
WRITE_KEYS = {
    "hubspot_creates": ACCOUNT_ID_PATTERN,
    "hubspot_updates": HUBSPOT_ID_PATTERN,
    "salesforce_creates": HUBSPOT_ID_PATTERN,
    "salesforce_updates": ACCOUNT_ID_PATTERN,
}
ACTIONS = ["created", "updated", "linked", "unchanged", "skipped", "rejected"]


def plan_check_frames(plan: dict[str, pd.DataFrame], considered: int) -> dict[str, pd.DataFrame]:
    """Frames that make the plan's invariants checkable column by column."""
    import pandas as pd

    parts = []
    for n in WRITE_FRAMES:
        frame = plan.get(n)
        if frame is None or frame.empty:
            continue
        ids = frame["record_id"].astype("str")
        value = frame["value"] if "value" in frame else pd.Series(pd.NA, index=frame.index)
        parts.append(
            pd.DataFrame(
                {
                    "frame": n,
                    "record_id": ids,
                    "field": frame["field"].astype("str"),
                    "record_id_bad_format": ids.where(~ids.fillna("").str.match(WRITE_KEYS[n])),
                    # creates never clear a field (schema: value is never NA in creates)
                    "blank_value_in_create": (ids + ":" + frame["field"].astype("str")).where(
                        value.isna() & n.endswith("_creates")
                    ),
                }
            )
        )
    columns = ["frame", "record_id", "field", "record_id_bad_format", "blank_value_in_create"]
    writes = (
        pd.concat(parts, ignore_index=True) if parts else pd.DataFrame({c: pd.Series([], dtype="str") for c in columns})
    )
    writes["target"] = writes["frame"] + ":" + writes["record_id"] + ":" + writes["field"]
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
    changed = writes["frame"] + ":" + writes["record_id"]
    targets = int(changed.nunique())
    out = {
        "plan_writes": writes[[*columns, "target"]],
        "plan_creates": creates_frame,
        "plan_decisions": plan.get(
            "decisions", pd.DataFrame({"system": [], "record_id": [], "action": [], "reason": []})
        ),
        "plan_volume": pd.DataFrame(
            {
                "considered": [considered],
                "targets_written": [targets],
                "change_ratio": [targets / considered if considered else 0.0],
            }
        ),
    }
    if plan.get("new_links") is not None:
        out["plan_new_links"] = plan["new_links"]
    return out


def recent_write_counts(runs: pd.DataFrame, limit: int = VOLUME_HISTORY) -> list[int]:
    """Records written per run by the latest `limit` successful, non-dry runs (`StateStore.recent_runs`)."""
    counts: list[int] = []
    if runs is None or runs.empty:
        return counts
    for row in runs.itertuples(index=False):
        summary = row.counts if isinstance(row.counts, dict) else None
        if row.status != "success" or bool(row.dry_run) or not summary:
            continue
        planned = summary.get("planned_writes") or {}
        counts.append(int(sum(int(v or 0) for v in planned.values())))
        if len(counts) >= limit:
            break
    return counts


def volume_limit(recent_writes: Sequence[int], breaker_min_records: int, factor: int = VOLUME_FACTOR) -> int | None:
    """The most records one run may write given history, or None while there are fewer than MIN_HISTORY runs."""
    if len(recent_writes) < MIN_HISTORY:
        return None
    return int(max(factor * statistics.median(recent_writes), breaker_min_records))


def plan_suites(
    max_change_ratio: float, breaker_min_records: int, recent_writes: Sequence[int] = ()
) -> dict[str, list[Any]]:
    """Plan invariants (blocking): one write per target field, well-formed keys, creates carry the required
    name and no blanks, one decision per record, one link per record; and the change-volume circuit breaker:
    the share of considered records written (`max_change_ratio`, once `breaker_min_records` are considered)
    and the count against history (`volume_limit`). Callers pass a huge minimum and no history for runs that
    legitimately change most records (imports, resyncs, full scans)."""
    E, blocking, _ = _severity_helpers()
    suites: dict[str, list[Any]] = {
        "plan_writes": [
            blocking(E.ExpectColumnValuesToBeUnique, column="target"),
            blocking(E.ExpectColumnValuesToNotBeNull, column="record_id"),
            blocking(E.ExpectColumnValuesToBeNull, column="record_id_bad_format"),
            blocking(E.ExpectColumnValuesToBeNull, column="blank_value_in_create"),
        ],
        "plan_creates": [blocking(E.ExpectColumnValuesToBeInSet, column="ok", value_set=[True])],
        "plan_decisions": [
            blocking(E.ExpectCompoundColumnsToBeUnique, column_list=["system", "record_id"]),
            blocking(E.ExpectColumnValuesToNotBeNull, column="reason"),
            blocking(E.ExpectColumnValuesToBeInSet, column="action", value_set=ACTIONS),
            blocking(E.ExpectColumnValuesToBeInSet, column="system", value_set=["salesforce", "hubspot"]),
        ],
        "plan_new_links": [
            blocking(E.ExpectColumnValuesToBeUnique, column="account_id"),
            blocking(E.ExpectColumnValuesToBeUnique, column="company_id"),
        ],
        "plan_volume": [
            blocking(
                E.ExpectColumnValuesToBeBetween,
                column="change_ratio",
                max_value=max_change_ratio,
                row_condition=f"considered >= {int(breaker_min_records)}",
                condition_parser="pandas",
            )
        ],
    }
    limit = volume_limit(recent_writes, breaker_min_records)
    if limit is not None:
        suites["plan_volume"].append(
            blocking(E.ExpectColumnValuesToBeBetween, column="targets_written", max_value=limit)
        )
    return suites
