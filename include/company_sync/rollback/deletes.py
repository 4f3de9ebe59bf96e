"""The two writes only a rollback makes, through the existing connectors' one call path (`_call`, their retrying
policy and rate limits): HubSpot `batch/archive` (100 ids a call) and Salesforce sObject Collections DELETE
(200 ids a call). One result row per record, like the connectors' other writes."""

from __future__ import annotations

import pandas as pd

from include.company_sync.connectors.results import RecordResult, results_frame, salesforce_category

HUBSPOT_BATCH = 100
SALESFORCE_BATCH = 200


def archive_companies(hs, records: list[dict]) -> pd.DataFrame:
    """Archive companies by `id`. HubSpot answers 204 for the whole batch (ids already gone included)."""
    from hubspot.crm.companies import BatchInputSimplePublicObjectId

    api = hs._api("companies.batch_api")
    results = []
    for start in range(0, len(records), HUBSPOT_BATCH):
        part = records[start : start + HUBSPOT_BATCH]
        body = BatchInputSimplePublicObjectId(inputs=[{"id": str(r["id"])} for r in part])
        hs._call("companies.batch_archive", api.archive, body)
        results += [RecordResult.ok(r["id"], r["id"]) for r in part]
    return results_frame(results)


def delete_accounts(sf, records: list[dict]) -> pd.DataFrame:
    """Delete Accounts by `Id` (allOrNone false: each record succeeds or fails on its own)."""
    results = []
    for start in range(0, len(records), SALESFORCE_BATCH):
        part = records[start : start + SALESFORCE_BATCH]
        params = {"ids": ",".join(str(r["Id"]) for r in part), "allOrNone": "false"}
        answer = sf._call("DELETE composite/sobjects", sf.sf.restful, "composite/sobjects", params, method="DELETE")
        answer = list(answer or [])
        for i, r in enumerate(part):  # results come in the order of the ids
            a = answer[i] if i < len(answer) else {}
            if a.get("success"):
                results.append(RecordResult.ok(r["Id"], r["Id"]))
            else:
                error = (a.get("errors") or [{}])[0]
                code = error.get("statusCode") or "NO_RESULT"
                results.append(RecordResult.failed(r["Id"], code, salesforce_category(code), error.get("message")))
    return results_frame(results)
