"""Bulk API 2.0: ingest jobs (insert, update, upsert, delete, hardDelete) and query jobs, as
simple-salesforce 1.12's `sf.bulk2.<Object>` drives them.

Ingest: POST jobs/ingest (state Open) → PUT CSV to jobs/ingest/{id}/batches (201) → PATCH
{"state": "UploadComplete"}: the job runs right there and is JobComplete when next read →
successfulResults / failedResults / unprocessedrecords as CSV. Query: POST jobs/query runs the query at
once; jobs/query/{id}/results pages through it with `maxRecords` / `locator` and answers the headers
`Sforce-NumberOfRecords` and `Sforce-Locator` (`null` on the last page).

Jobs live in memory only (they do not survive a restart, unlike records).
"""

from __future__ import annotations

import csv
import io
import itertools
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from include.sandbox.http import Request, Response
from include.sandbox.salesforce.records import RequestError, full_id
from include.sandbox.salesforce.schema import API_VERSION, sobject
from include.sandbox.salesforce.soql import SoqlError, compile_query
from include.sandbox.seed import salesforce_id

if TYPE_CHECKING:
    from include.sandbox.salesforce.api import SalesforceApi

DELIMITERS = {"COMMA": ",", "TAB": "\t", "PIPE": "|", "SEMICOLON": ";", "CARET": "^", "BACKQUOTE": "`"}
INGEST_OPERATIONS = ("insert", "update", "upsert", "delete", "hardDelete")
CHUNK = 1000  # rows processed per lock hold, so other requests interleave with a big job


@dataclass
class Job:
    info: dict[str, Any]
    data: list[str] = field(default_factory=list)
    successful: list[list[str]] = field(default_factory=list)
    failed: list[list[str]] = field(default_factory=list)
    unprocessed: list[list[str]] = field(default_factory=list)
    header: list[str] = field(default_factory=list)
    rows: list[list[Any]] = field(default_factory=list)  # query results


def csv_value(value: Any) -> str:
    if value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def to_csv(header: list[str], rows: list[list[Any]], delimiter: str = ",", line_ending: str = "\n") -> str:
    """What `csv.writer(quoting=QUOTE_ALL)` writes (every value quoted, quotes doubled), joined by hand:
    a Bulk query job's results are thousands of rows, and this is 3x faster than the writer plus a
    `csv_value` call per value (text, most values, is used as is: csv_value(text) is text)."""
    sep, cell = f'"{delimiter}"', csv_value

    def line(values: list[Any]) -> str:
        if not values:  # the writer's empty row
            return line_ending
        texts = [v if type(v) is str else cell(v) for v in values]
        return '"' + sep.join([t.replace('"', '""') if '"' in t else t for t in texts]) + '"' + line_ending

    return "".join([line(header), *[line(row) for row in rows]])


def _to_csv_writer(header: list[str], rows: list[list[Any]], delimiter: str = ",", line_ending: str = "\n") -> str:
    """The csv module's answer, which `to_csv` must equal (tests/sandbox/test_sandbox_seed.py)."""
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=delimiter, lineterminator=line_ending, quoting=csv.QUOTE_ALL)
    writer.writerow(header)
    writer.writerows([[csv_value(v) for v in row] for row in rows])
    return buf.getvalue()


class Bulk2:
    def __init__(self, api: SalesforceApi):
        self.api = api
        self.jobs: dict[str, Job] = {}
        self.lock = threading.Lock()
        self.counter = itertools.count(1)

    def _job(self, job_id: str, kind: str) -> Job:
        job = self.jobs.get(job_id)
        if job is None or job.info["jobType"] != ("V2Ingest" if kind == "ingest" else "V2Query"):
            raise RequestError(404, "NOT_FOUND", "The requested resource does not exist")
        return job

    def handle(self, request: Request, parts: list[str], prefix: str) -> Response:
        """`parts` follow `jobs/`: ["ingest"], ["ingest", id], ["ingest", id, "batches"], ..."""
        kind = parts[0] if parts else ""
        if kind not in ("ingest", "query"):
            raise RequestError(404, "NOT_FOUND", "The requested resource does not exist")
        method = request.method
        if len(parts) == 1:
            if method == "POST":
                return self.create(request, kind, prefix)
            if method == "GET":
                job_type = "V2Ingest" if kind == "ingest" else "V2Query"
                jobs = [j.info for j in self.jobs.values() if j.info["jobType"] == job_type]
                return Response(200, {"done": True, "records": jobs, "nextRecordsUrl": None})
        elif len(parts) == 2:
            job = self._job(parts[1], kind)
            if method == "GET":
                return Response(200, job.info)
            if method == "PATCH":
                return self.set_state(request, job)
            if method == "DELETE":
                with self.lock:
                    self.jobs.pop(parts[1], None)
                return Response(204)
        elif len(parts) == 3:
            job = self._job(parts[1], kind)
            sub = parts[2].lower()
            if kind == "ingest" and sub == "batches" and method == "PUT":
                return self.upload(request, job)
            if (
                kind == "ingest"
                and method == "GET"
                and sub in ("successfulresults", "failedresults", "unprocessedrecords")
            ):
                return self.ingest_results(job, sub)
            if kind == "query" and sub == "results" and method == "GET":
                return self.query_results(request, job)
        raise RequestError(404, "NOT_FOUND", "The requested resource does not exist")

    def create(self, request: Request, kind: str, prefix: str) -> Response:
        try:
            body = request.json() or {}
        except ValueError:
            raise RequestError(400, "JSON_PARSER_ERROR", "The request body is not valid JSON") from None
        operation = body.get("operation")
        delimiter = body.get("columnDelimiter", "COMMA")
        line_ending = body.get("lineEnding", "LF")
        if delimiter not in DELIMITERS or line_ending not in ("LF", "CRLF"):
            raise RequestError(400, "INVALIDJOB", "Invalid columnDelimiter or lineEnding")
        job_id = salesforce_id("750", next(self.counter))
        info: dict[str, Any] = {
            "id": job_id,
            "operation": operation,
            "createdById": self.api.api_user_id(),
            "createdDate": self.api.now(),
            "systemModstamp": self.api.now(),
            "concurrencyMode": "Parallel",
            "contentType": "CSV",
            "apiVersion": float(API_VERSION),
            "lineEnding": line_ending,
            "columnDelimiter": delimiter,
            "jobType": "V2Ingest" if kind == "ingest" else "V2Query",
            "numberRecordsProcessed": 0,
            "retries": 0,
            "totalProcessingTime": 0,
        }
        if kind == "ingest":
            obj = sobject(body.get("object") or "")
            if obj is None:
                raise RequestError(400, "INVALIDJOB", f"Unknown object: {body.get('object')}")
            if operation not in INGEST_OPERATIONS:
                raise RequestError(400, "INVALIDJOB", f"Invalid operation: {operation}")
            ext = body.get("externalIdFieldName")
            if operation == "upsert":
                ext_field = obj.field(ext or "")
                if ext_field is None or not (ext_field.external_id or ext_field.name == "Id"):
                    raise RequestError(400, "INVALIDJOB", f"External ID was blank or invalid for {obj.name}: {ext}")
                info["externalIdFieldName"] = ext_field.name
            info.update(
                {
                    "object": obj.name,
                    "state": "Open",
                    "numberRecordsFailed": 0,
                    "contentUrl": f"{prefix}/jobs/ingest/{job_id}/batches".lstrip("/"),
                }
            )
            job = Job(info)
        else:
            if operation not in ("query", "queryAll"):
                raise RequestError(400, "INVALIDJOB", f"Invalid operation: {operation}")
            try:
                bound = compile_query(body.get("query") or "")
            except SoqlError as exc:
                raise RequestError(400, exc.code, exc.message) from None
            if bound.query.count:
                raise RequestError(400, "INVALIDJOB", "Aggregate queries are not supported by Bulk API 2.0")
            with self.api.state.guard:
                store = self.api.store
                records = self.api.query_source(bound, include_deleted=operation != "query")
                selected = bound.select(records, store.resolve)
                rows = bound.flat_rows(selected, store.resolve)
            info.update(
                {
                    "object": bound.sobject.name,
                    "query": body["query"],
                    "state": "UploadComplete",
                    "numberRecordsProcessed": len(rows),
                }
            )
            job = Job(info, header=[p.text for p in bound.fields], rows=rows)
            response = dict(info)
            info["state"] = "JobComplete"  # ready on the next poll
            with self.lock:
                self.jobs[job_id] = job
            return Response(200, response)
        with self.lock:
            self.jobs[job_id] = job
        return Response(200, dict(info))

    def upload(self, request: Request, job: Job) -> Response:
        if job.info["state"] != "Open":
            raise RequestError(400, "INVALIDJOB", f"Job {job.info['id']} is not open for data upload")
        job.data.append(request.body.decode("utf-8-sig"))
        return Response(201, None)

    def set_state(self, request: Request, job: Job) -> Response:
        try:
            state = (request.json() or {}).get("state")
        except ValueError:
            raise RequestError(400, "JSON_PARSER_ERROR", "The request body is not valid JSON") from None
        if state == "Aborted":
            if job.info["state"] in ("JobComplete", "Failed"):
                raise RequestError(400, "INVALIDJOB", "Job already completed")
            job.info["state"] = "Aborted"
            return Response(200, dict(job.info))
        if state == "UploadComplete" and job.info["jobType"] == "V2Ingest":
            if job.info["state"] != "Open":
                raise RequestError(400, "INVALIDJOB", f"Job {job.info['id']} is not open")
            job.info["state"] = "UploadComplete"
            response = dict(job.info)
            self.run(job)
            return Response(200, response)
        raise RequestError(400, "INVALIDJOB", f"Invalid state: {state}")

    # --- ingest -----------------------------------------------------------------------------------
    def run(self, job: Job) -> None:
        info = job.info
        obj = sobject(info["object"])
        delimiter = DELIMITERS[info["columnDelimiter"]]
        rows = list(csv.reader(io.StringIO("".join(job.data)), delimiter=delimiter))
        job.data = []
        if not rows:
            info.update(state="Failed", errorMessage="InvalidBatch : No content found")
            return
        header = rows[0]
        rows = [r for r in rows[1:] if any(r)]
        job.header = header
        names: list[str] = []
        for column in header:
            f = obj.field(column.strip())
            if f is None:
                info.update(state="Failed", errorMessage=f"InvalidBatch : Field name not found : {column}")
                return
            names.append(f.name)
        operation = info["operation"]
        if operation in ("update", "delete", "hardDelete") and "Id" not in names:
            info.update(state="Failed", errorMessage="InvalidBatch : Field name not found : Id")
            return
        if operation in ("delete", "hardDelete") and names != ["Id"]:
            info.update(state="Failed", errorMessage="InvalidBatch : The 'delete' batch must contain only ids")
            return
        ext = info.get("externalIdFieldName")
        if operation == "upsert" and ext not in names:
            info.update(state="Failed", errorMessage=f"InvalidBatch : Field name not found : {ext}")
            return
        info["state"] = "InProgress"
        api, store = self.api, self.api.store
        for start in range(0, len(rows), CHUNK):
            with api.state.guard:
                stamp = store.stamp()
                for row in rows[start : start + CHUNK]:
                    values: dict[str, Any] = {}
                    for name, raw in zip(names, row, strict=False):
                        if raw == "":
                            continue  # Bulk API: blank leaves the field as it is; #N/A clears it
                        values[name] = None if raw == "#N/A" else raw
                    rid, created, errors = self._write(obj, operation, ext, values, stamp)
                    if errors:
                        message = "; ".join(
                            f"{e['statusCode']}:{e['message']}:{','.join(e['fields'])} --" for e in errors
                        )
                        job.failed.append([rid or "", message, *row])
                    else:
                        job.successful.append([rid, "true" if created else "false", *row])
        info.update(
            state="JobComplete",
            numberRecordsProcessed=len(rows),
            numberRecordsFailed=len(job.failed),
            systemModstamp=api.now(),
        )

    def _write(self, obj, operation: str, ext: str | None, values: dict, stamp: str):
        store = self.api.store
        if operation == "insert":
            rid, errors = store.create(obj, values, stamp, from_csv=True)
            return rid, True, errors
        if operation == "upsert":
            value = values.pop(ext, None)
            return store.upsert(obj, ext, value, values, stamp, from_csv=True)
        raw_id = values.pop("Id", None)
        rid = full_id(raw_id)
        if rid is None or rid[:3] != obj.key_prefix:
            return raw_id, False, [{"statusCode": "MALFORMED_ID", "message": f"invalid id: {raw_id}", "fields": ["Id"]}]
        if operation == "update":
            return rid, False, store.update(obj, rid, values, stamp, from_csv=True)
        if operation == "delete":
            return rid, False, store.delete(obj, rid, stamp)
        return rid, False, store.hard_delete(obj, rid)

    def ingest_results(self, job: Job, which: str) -> Response:
        delimiter = DELIMITERS[job.info["columnDelimiter"]]
        line_ending = "\r\n" if job.info["lineEnding"] == "CRLF" else "\n"
        if which == "successfulresults":
            text = to_csv(["sf__Id", "sf__Created", *job.header], job.successful, delimiter, line_ending)
        elif which == "failedresults":
            text = to_csv(["sf__Id", "sf__Error", *job.header], job.failed, delimiter, line_ending)
        else:
            text = to_csv(job.header, job.unprocessed, delimiter, line_ending) if job.header else ""
        return Response(200, text, content_type="text/csv")

    # --- query ------------------------------------------------------------------------------------
    def query_results(self, request: Request, job: Job) -> Response:
        if job.info["state"] != "JobComplete":
            raise RequestError(400, "INVALIDJOB", "Job is not complete")
        try:
            max_records = int(request.arg("maxRecords") or 50000)
            start = int(request.arg("locator") or 0)
        except ValueError:
            raise RequestError(400, "INVALIDJOB", "Invalid maxRecords or locator") from None
        if max_records <= 0:
            raise RequestError(400, "INVALIDJOB", "maxRecords must be positive")
        page = job.rows[start : start + max_records]
        end = start + len(page)
        delimiter = DELIMITERS[job.info["columnDelimiter"]]
        line_ending = "\r\n" if job.info["lineEnding"] == "CRLF" else "\n"
        headers = {
            "Sforce-NumberOfRecords": str(len(page)),
            "Sforce-Locator": str(end) if end < len(job.rows) else "null",
        }
        return Response(200, to_csv(job.header, page, delimiter, line_ending), headers=headers, content_type="text/csv")
