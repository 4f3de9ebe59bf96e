"""What a failed Salesforce call becomes: an `Unrecoverable` error when retrying cannot heal it, else a plain
`ConnectorError` that Airflow's retries may heal. Messages name what to fix, never a record value or a token."""

from __future__ import annotations

from include.company_sync.connectors.http_policy import (
    ConfiguredObjectMissing,
    ConnectorError,
    Unrecoverable,
    authentication_failed,
    unwrap_retries_exhausted,
)
from include.company_sync.connectors.salesforce_values import salesforce_error


def call_error(operation: str, exc: BaseException, conn_id: str | None) -> ConnectorError:
    """The `ConnectorError` for a failed call: an `Unrecoverable` when retrying cannot heal it (401/403:
    `AuthenticationFailed`; `INVALID_FIELD`, `INVALID_TYPE` or a 404 `NOT_FOUND` on a configured field or
    object: `ConfiguredObjectMissing`), else a plain one that Airflow's retries may heal."""
    exhausted = unwrap_retries_exhausted(exc)
    if exhausted is not None:
        return ConnectorError(
            f"Salesforce {operation}: {exhausted.summary}",
            api="Salesforce",
            operation=operation,
            status=exhausted.last_status,
        )
    status = getattr(exc, "status", None)
    unrecoverable = unrecoverable_error(operation, exc, status, conn_id)
    if unrecoverable is not None:
        return unrecoverable
    content = getattr(exc, "content", None)
    detail = content if content is not None else exc
    return ConnectorError(
        f"Salesforce {operation} failed" + (f" with HTTP {status}" if status else "") + f": {detail}",
        api="Salesforce",
        operation=operation,
        status=status,
    )


def unrecoverable_error(
    operation: str, exc: BaseException, status: int | None, conn_id: str | None
) -> Unrecoverable | None:
    code = salesforce_error(exc)[0] if getattr(exc, "content", None) is not None else None
    if status in (401, 403):
        return authentication_failed("Salesforce", conn_id, operation, status, code)
    if code in ("INVALID_FIELD", "INVALID_TYPE") or (status == 404 and code == "NOT_FOUND"):
        from include.company_sync.connectors.salesforce import EXTERNAL_ID_FIELD  # imports this module

        conn = f"Airflow connection {conn_id!r}" if conn_id else "the Salesforce connection"
        return ConfiguredObjectMissing(
            f"Salesforce {operation} failed with {code}: a field or object this sync uses does not exist or "
            f"is not visible to the user of {conn}: check the `salesforce` names in "
            f"company_sync_settings.field_mappings and {EXTERNAL_ID_FIELD} (field-level security)",
            api="Salesforce",
            operation=operation,
            status=status,
        )
    return None
