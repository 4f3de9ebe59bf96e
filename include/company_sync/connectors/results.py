"""Per-record write results, shared by both connectors, with errors grouped like HubSpot's Sync Health.

Every write method returns one row per input record (`RESULT_COLUMNS`), so a partial failure never
disappears: the rest of the batch commits and the failed record carries its error code, message and
category into the run report.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd

RESULT_COLUMNS = ["key", "id", "success", "created", "error_code", "category", "message", "fields"]


class Category:
    """Error categories (after HubSpot's Sync Health groups)."""

    PROPERTY_VALUES = "property_values"
    CUSTOM_CODE = "custom_code"
    DUPLICATES = "duplicates"
    PERMISSIONS = "permissions"
    ASSOCIATIONS = "associations"
    RATE_LIMITS = "rate_limits"
    TRANSIENT = "transient"
    NOT_FOUND = "not_found"
    OTHER = "other"


_SALESFORCE_CODES: dict[str, str] = {}
for _category, _codes in {
    Category.PROPERTY_VALUES: [
        "REQUIRED_FIELD_MISSING",
        "STRING_TOO_LONG",
        "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
        "INVALID_TYPE",
        "INVALID_TYPE_ON_FIELD_IN_RECORD",
        "NUMBER_OUTSIDE_VALID_RANGE",
        "INVALID_EMAIL_ADDRESS",
        "MALFORMED_ID",
        "INVALID_FIELD",
        "JSON_PARSER_ERROR",
        "FIELD_INTEGRITY_EXCEPTION",
        "INVALID_ID_FIELD",
        "TEXT_DATA_OUTSIDE_SUPPORTED_CHARSET",
        "INVALID_FIELD_WHEN_USING_TEMPLATE",
        "MISSING_ARGUMENT",
        "BAD_VALUE",
        "INVALID_MULTIPICKLIST",
        "MALFORMED_QUERY",
        "INVALID_DATE",
        "INVALID_DATETIME",
    ],
    Category.CUSTOM_CODE: [
        "FIELD_CUSTOM_VALIDATION_EXCEPTION",
        "CANNOT_EXECUTE_FLOW_TRIGGER",
        "CANNOT_INSERT_UPDATE_ACTIVATE_ENTITY",
        "APEX_ERROR",
        "FLOW_EXCEPTION",
        "FIELD_FILTER_VALIDATION_EXCEPTION",
    ],
    Category.DUPLICATES: ["DUPLICATES_DETECTED", "DUPLICATE_VALUE", "DUPLICATE_EXTERNAL_ID", "DUPLICATE_USERNAME"],
    Category.PERMISSIONS: [
        "INSUFFICIENT_ACCESS",
        "INSUFFICIENT_ACCESS_OR_READONLY",
        "INSUFFICIENT_ACCESS_ON_CROSS_REFERENCE_ENTITY",
        "INVALID_FIELD_FOR_INSERT_UPDATE",
        "INVALID_SESSION_ID",
        "API_DISABLED_FOR_ORG",
        "FUNCTIONALITY_NOT_ENABLED",
        "CANNOT_UPDATE_CONVERTED_LEAD",
        "INVALID_ACCESS_LEVEL",
        "NOT_AUTHORIZED",
        "FORBIDDEN",
    ],
    Category.ASSOCIATIONS: ["INVALID_CROSS_REFERENCE_KEY", "ENTITY_IS_LOCKED", "CIRCULAR_DEPENDENCY"],
    Category.RATE_LIMITS: ["REQUEST_LIMIT_EXCEEDED", "TOO_MANY_REQUESTS", "TXN_SECURITY_NO_ACCESS"],
    Category.TRANSIENT: ["UNABLE_TO_LOCK_ROW", "SERVER_UNAVAILABLE", "UNKNOWN_EXCEPTION", "REQUEST_RUNNING_TOO_LONG"],
    Category.NOT_FOUND: ["ENTITY_IS_DELETED", "NOT_FOUND", "INVALID_ID"],
}.items():
    for _code in _codes:
        _SALESFORCE_CODES[_code] = _category

TRANSIENT_SALESFORCE_CODES = frozenset({"UNABLE_TO_LOCK_ROW", "SERVER_UNAVAILABLE", "UNKNOWN_EXCEPTION"})


def salesforce_category(code: str | None, status: int | None = None) -> str:
    """Category of a Salesforce `statusCode`/`errorCode` (or of the HTTP status when there is no code)."""
    if code:
        code = code.upper()
        if code in _SALESFORCE_CODES:
            return _SALESFORCE_CODES[code]
        if code.startswith("DUPLICATE"):
            return Category.DUPLICATES
        if code.startswith("INSUFFICIENT_ACCESS"):
            return Category.PERMISSIONS
        if "PICKLIST" in code or code.startswith(("INVALID_", "STRING_", "NUMBER_")):
            return Category.PROPERTY_VALUES
    return _status_category(status)


_HUBSPOT_CATEGORIES = {
    "VALIDATION_ERROR": Category.PROPERTY_VALUES,
    "INVALID_OPTION": Category.PROPERTY_VALUES,
    "PROPERTY_DOESNT_EXIST": Category.PROPERTY_VALUES,
    "INVALID_INTEGER": Category.PROPERTY_VALUES,
    "INVALID_DECIMAL": Category.PROPERTY_VALUES,
    "INVALID_EMAIL": Category.PROPERTY_VALUES,
    "INVALID_LONG": Category.PROPERTY_VALUES,
    "INVALID_DATE": Category.PROPERTY_VALUES,
    "CONFLICT": Category.DUPLICATES,
    "OBJECT_ALREADY_EXISTS": Category.DUPLICATES,
    "RATE_LIMITS": Category.RATE_LIMITS,
    "RATE_LIMIT": Category.RATE_LIMITS,
    "MISSING_SCOPES": Category.PERMISSIONS,
    "INVALID_AUTHENTICATION": Category.PERMISSIONS,
    "INVALID_AUTHORIZATION": Category.PERMISSIONS,
    "FORBIDDEN": Category.PERMISSIONS,
    "OBJECT_NOT_FOUND": Category.NOT_FOUND,
    "NOT_FOUND": Category.NOT_FOUND,
    "RESOURCE_NOT_FOUND": Category.NOT_FOUND,
    "ASSOCIATION_ERROR": Category.ASSOCIATIONS,
    "INVALID_ASSOCIATION": Category.ASSOCIATIONS,
    "INTERNAL_ERROR": Category.TRANSIENT,
    "SERVICE_UNAVAILABLE": Category.TRANSIENT,
    "TIMEOUT": Category.TRANSIENT,
    "LOCKED": Category.TRANSIENT,
}


def hubspot_category(category: str | None, status: int | str | None = None, sub_category: Any = None) -> str:
    """Category of a HubSpot error `category` (with its `subCategory` and HTTP status as tie-breakers)."""
    for candidate in (sub_category if isinstance(sub_category, str) else None, category):
        if candidate and candidate.upper() in _HUBSPOT_CATEGORIES:
            return _HUBSPOT_CATEGORIES[candidate.upper()]
    try:
        code = int(status) if status is not None else None
    except (TypeError, ValueError):
        code = None
    return _status_category(code)


def _status_category(status: int | None) -> str:
    if status is None:
        return Category.OTHER
    if status == 429:
        return Category.RATE_LIMITS
    if status >= 500:
        return Category.TRANSIENT
    if status in (401, 403):
        return Category.PERMISSIONS
    if status == 404:
        return Category.NOT_FOUND
    if status == 409:
        return Category.DUPLICATES
    if status in (400, 422):
        return Category.PROPERTY_VALUES
    return Category.OTHER


@dataclass
class RecordResult:
    key: str | None
    id: str | None = None
    success: bool = False
    created: bool | None = None
    error_code: str | None = None
    category: str | None = None
    message: str | None = None
    fields: str | None = None

    @classmethod
    def ok(cls, key: Any, id: Any, created: bool | None = None) -> RecordResult:  # noqa: A002
        return cls(key=_str(key), id=_str(id), success=True, created=created)

    @classmethod
    def failed(
        cls, key: Any, code: str | None, category: str, message: str | None, fields: Any = None, id: Any = None
    ) -> RecordResult:  # noqa: A002
        if isinstance(fields, (list, tuple)):
            fields = ",".join(map(str, fields)) or None
        return cls(
            key=_str(key),
            id=_str(id),
            success=False,
            error_code=code,
            category=category,
            message=message,
            fields=_str(fields),
        )


def _str(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    return str(value)


def results_frame(results: list[RecordResult]) -> pd.DataFrame:
    """One row per record: `RESULT_COLUMNS`, with nullable dtypes."""
    frame = pd.DataFrame([asdict(r) for r in results], columns=RESULT_COLUMNS)
    for column in ("key", "id", "error_code", "category", "message", "fields"):
        frame[column] = frame[column].astype("string")
    frame["success"] = frame["success"].astype("bool")
    frame["created"] = frame["created"].astype("boolean")
    return frame


class BatchRefused(Exception):
    """A whole batch was refused (HTTP 4xx) because of what it carried; raised by a batch `attempt`."""

    def __init__(self, code: str | None, category: str, message: str, status: int | None = None):
        super().__init__(f"{code or status}: {message}")
        self.code = code
        self.category = category
        self.message = message
        self.status = status

    def result_for(self, key: Any) -> RecordResult:
        return RecordResult.failed(key, self.code, self.category, self.message)


def write_bisecting(records: list[Any], attempt: Any, key_of: Any, label: str = "batch") -> list[RecordResult]:
    """Run `attempt(records)`; when the whole batch is refused (`BatchRefused`), split it in halves and
    retry each, down to single records, so the good records land and each bad one gets its own error.

    The splitting spends at most about 4·log2(n)+4 extra calls per batch: a cause common to every record
    (say, an unknown field in all of them) fails the whole batch with that error instead of costing a call
    per record.
    """
    import logging
    import math

    try:
        return attempt(records)
    except BatchRefused as exc:
        refused = exc
    logger = logging.getLogger(__name__)
    budget = [4 * math.ceil(math.log2(max(len(records), 2))) + 4]
    logger.warning(  # code and category only: the API's message can echo a record's value
        "%s of %d records refused as a whole (%s, %s); splitting it to isolate the bad record(s)",
        label,
        len(records),
        refused.code or refused.status,
        refused.category,
    )

    def split(part: list[Any], error: BatchRefused) -> list[RecordResult]:
        if len(part) == 1 or budget[0] <= 0:
            return [error.result_for(key_of(r)) for r in part]
        half = len(part) // 2
        out: list[RecordResult] = []
        for piece in (part[:half], part[half:]):
            budget[0] -= 1
            try:
                out.extend(attempt(piece))
            except BatchRefused as inner:
                out.extend(split(piece, inner))
        return out

    return split(records, refused)
