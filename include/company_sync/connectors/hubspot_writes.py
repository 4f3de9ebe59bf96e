"""HubSpot company writes: `batch/upsert` on `salesforceaccountid` and `batch/update` by id, 100 inputs a
call. A 207 is mapped error by error back to its input record; a batch refused as a whole (400) is split until
the bad record is isolated, so the good ones still land.

A mixin of `HubSpotConnector`: it uses the connector's `_call`, `_api` and `batch_size`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import pandas as pd

from include.company_sync.connectors.hubspot_common import ID_PROPERTY, HubSpotApiError, log, property_value
from include.company_sync.connectors.results import (
    BatchRefused,
    Category,
    RecordResult,
    hubspot_category,
    results_frame,
    write_bisecting,
)


class CompanyWrites:
    """`upsert_companies` and `update_companies`, one result row per input record."""

    def upsert_companies(self, records: list[dict]) -> pd.DataFrame:
        """Create-or-update companies keyed on `salesforceaccountid`; each record is a dict of properties
        that must include it. Returns one result row per record (key = the salesforceaccountid)."""
        missing = [i for i, r in enumerate(records) if not property_value(r.get(ID_PROPERTY))]
        if missing:
            raise ValueError(f"upsert_companies: record(s) {missing[:10]} have no {ID_PROPERTY}")
        return self._write(records, key_of=lambda r: property_value(r.get(ID_PROPERTY)), upsert=True)

    def update_companies(self, records: list[dict]) -> pd.DataFrame:
        """Update companies by id; each record is `{"id": ..., <property>: value, ...}`."""
        missing = [i for i, r in enumerate(records) if not property_value(r.get("id"))]
        if missing:
            raise ValueError(f"update_companies: record(s) {missing[:10]} have no id")
        return self._write(records, key_of=lambda r: property_value(r.get("id")), upsert=False)

    def _write(self, records: list[dict], key_of: Callable[[dict], str], upsert: bool) -> pd.DataFrame:
        verb = "upserted" if upsert else "updated"
        results: list[RecordResult] = []
        batches = batches_without_repeats(records, key_of, self.batch_size)
        for n, batch in enumerate(batches, 1):
            results.extend(
                write_bisecting(
                    batch,
                    lambda part: self._batch_attempt(part, key_of, upsert),
                    key_of=key_of,
                    label=f"HubSpot batch/{'upsert' if upsert else 'update'}",
                )
            )
            if len(batches) > 1 and (n % 10 == 0 or n == len(batches)):
                log.info("HubSpot: %s %s/%s companies", verb, f"{len(results):,}", f"{len(records):,}")
        by_key: dict[str, list[RecordResult]] = {}
        for result in results:
            by_key.setdefault(result.key or "", []).append(result)
        ordered = [by_key[key_of(r)].pop(0) for r in records]  # back to input order
        frame = results_frame(ordered)
        failed = int((~frame["success"]).sum())
        # One batch is one chunk of a ledgered load, which logs the running total itself.
        log.log(
            logging.INFO if len(batches) > 1 else logging.DEBUG,
            "HubSpot: %s %s companies, %d failed%s",
            verb,
            f"{len(frame) - failed:,}",
            failed,
            f" ({frame.loc[~frame['success'], 'category'].value_counts().to_dict()})" if failed else "",
        )
        return frame

    def _batch_attempt(self, batch: list[dict], key_of: Callable[[dict], str], upsert: bool) -> list[RecordResult]:
        from hubspot.crm.companies import (
            BatchInputSimplePublicObjectBatchInput,
            BatchInputSimplePublicObjectBatchInputUpsert,
        )

        api = self._api("companies.batch_api")
        if upsert:
            inputs = [
                {
                    "idProperty": ID_PROPERTY,
                    "id": key_of(r),
                    "properties": {k: property_value(v) for k, v in r.items()},
                }
                for r in batch
            ]
            body = BatchInputSimplePublicObjectBatchInputUpsert(inputs=inputs)
            operation, fn = "companies.batch_upsert", api.upsert
        else:
            inputs = [
                {"id": key_of(r), "properties": {k: property_value(v) for k, v in r.items() if k != "id"}}
                for r in batch
            ]
            body = BatchInputSimplePublicObjectBatchInput(inputs=inputs)
            operation, fn = "companies.batch_update", api.update
        try:
            response = self._call(operation, fn, body) or {}
        except HubSpotApiError as exc:
            if exc.status in (400, 404, 409, 413, 422):
                message = exc.body.get("message") if isinstance(exc.body, dict) else str(exc)
                sub = exc.body.get("subCategory") if isinstance(exc.body, dict) else None
                raise BatchRefused(
                    exc.category, hubspot_category(exc.category, exc.status, sub), str(message), exc.status
                ) from exc
            raise
        return self._map_batch_response(batch, key_of, response, upsert)

    @staticmethod
    def _map_batch_response(
        batch: list[dict], key_of: Callable[[dict], str], response: dict, upsert: bool
    ) -> list[RecordResult]:
        """Results and 207 errors back to the input records (results carry the key; errors `context.ids`)."""
        keys = [key_of(r) for r in batch]
        wanted = set(keys)
        done: dict[str, RecordResult] = {}
        unmatched_results = []
        for result in response.get("results", []) or []:
            props = result.get("properties") or {}
            key = str(props.get(ID_PROPERTY) or "") if upsert else str(result.get("id") or "")
            created = bool(result.get("new")) if upsert else False
            if key in wanted and key not in done:
                done[key] = RecordResult.ok(key, result.get("id"), created)
            else:
                unmatched_results.append(result)
        unmatched_errors = []
        for error in response.get("errors", []) or []:
            context = error.get("context") or {}
            ids = [str(i) for i in (context.get("ids") or context.get("id") or [])]
            details = [d for d in (error.get("errors") or []) if isinstance(d, dict)]
            sub = error.get("subCategory")
            # the most specific code: a detail's (INVALID_OPTION...), the subCategory, else the category
            code = (
                next((d.get("code") for d in details if d.get("code")), None)
                or (sub if isinstance(sub, str) else None)
                or error.get("category")
            )
            category = hubspot_category(error.get("category"), error.get("status"), sub)
            message = error.get("message")
            fields = sorted(
                {str(n) for d in details for n in ((d.get("context") or {}).get("propertyName") or [])}
                | {str(n) for n in (context.get("propertyName") or [])}
            )
            if not ids and context.get("inputIndexes"):
                ids = [keys[int(i)] for i in context["inputIndexes"] if str(i).isdigit() and int(i) < len(keys)]
            matched = False
            for key in ids:
                if key in wanted and key not in done:
                    done[key] = RecordResult.failed(key, code, category, message, fields)
                    matched = True
            if not matched:
                unmatched_errors.append((code, category, message, fields))
        missing = [k for k in keys if k not in done]
        if missing and unmatched_results and len(unmatched_results) == len(missing) and not unmatched_errors:
            for key, result in zip(missing, unmatched_results, strict=True):  # same order as the inputs
                done[key] = RecordResult.ok(key, result.get("id"), bool(result.get("new")) if upsert else False)
            missing = []
        for key in missing:
            if unmatched_errors:
                code, category, message, fields = (
                    unmatched_errors[0]
                    if len(unmatched_errors) == 1
                    else (
                        unmatched_errors[0][0],
                        unmatched_errors[0][1],
                        " | ".join(str(e[2]) for e in unmatched_errors),
                        None,
                    )
                )
                done[key] = RecordResult.failed(key, code, category, message, fields)
            else:
                done[key] = RecordResult.failed(
                    key, "NO_RESULT", Category.OTHER, "HubSpot returned neither a result nor an error for this record"
                )
        return [done[key] for key in keys]


def batches_without_repeats(records: list[dict], key_of: Callable[[dict], str], size: int) -> list[list[dict]]:
    """Batches of at most `size`, filled in input order; a key seen again goes to a later batch than its
    previous occurrence (HubSpot refuses a batch naming one record twice, and writes of a key keep order)."""
    batches: list[list[dict]] = []
    last_batch: dict[str, int] = {}
    first_open = 0
    for record in records:
        key = key_of(record)
        i = max(last_batch.get(key, -1) + 1, first_open)
        while i < len(batches) and len(batches[i]) >= size:
            i += 1
        if i == len(batches):
            batches.append([])
        batches[i].append(record)
        last_batch[key] = i
        while first_open < len(batches) and len(batches[first_open]) >= size:
            first_open += 1
    return batches
