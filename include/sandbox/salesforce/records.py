"""The org's records and the write rules Salesforce applies to them.

`Store` works on the plain dict kept in `PersistentState.data` (callers hold `state.guard`):

    records   {sobject: {id: record}}  records are never mutated in place (copy on write), so query
                                       cursors hold consistent snapshots without copying
    ext       {sobject: {field: {value.lower(): id}}}  unique external ids of live records
    websites  {normalised website: [account ids]}      live accounts, for the duplicate rule
    counter   next number for new ids (above the seed's range)
    last_ms   last write timestamp (ms), so SystemModstamp strictly increases from write to write
    rules     {"validation_rule": {...} | None, "duplicate_rule": bool, "daily_api_limit": int | None}
    api_user  the Id of the integration user (default OwnerId)
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from sys import intern
from typing import Any

import numpy as np

from include.sandbox.salesforce.index import QueryIndex
from include.sandbox.salesforce.schema import NUMBER_TYPES, OBJECTS, STRING_TYPES, Field, SObject
from include.sandbox.salesforce.soql import canonical_datetime
from include.sandbox.seed import id_checksum, iso_strings, salesforce_id, salesforce_ids, shared_universe

ID_COUNTER_START = 10_000_000
SEED_CHUNK = 100_000
_ID_RE = re.compile(r"^[a-zA-Z0-9]{15}(?:[A-Z0-5]{3})?$")


class RequestError(Exception):
    """The whole request is refused (HTTP `status`, Salesforce error body)."""

    def __init__(self, status: int, code: str, message: str, fields: list[str] | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.fields = status, code, message, fields or []

    def body(self) -> list[dict]:
        return [{"message": self.message, "errorCode": self.code, "fields": self.fields}]


def error(code: str, message: str, fields: list[str] | None = None) -> dict:
    """One record-level error, as Salesforce reports it in results."""
    return {"statusCode": code, "message": message, "fields": fields or []}


def normalise_website(website: str | None) -> str | None:
    if not website:
        return None
    w = website.strip().lower()
    w = re.sub(r"^[a-z][a-z0-9+.-]*://", "", w)
    w = re.split(r"[/?#]", w, maxsplit=1)[0]
    w = w.split("@")[-1].split(":")[0].rstrip(".")
    if w.startswith("www."):
        w = w[4:]
    return w or None


def full_id(value: Any) -> str | None:
    """The 18-character form of a well-formed 15/18-character id, else None."""
    if not isinstance(value, str) or not _ID_RE.match(value):
        return None
    if len(value) == 15:
        return value + id_checksum(value)
    return value if id_checksum(value[:15]) == value[15:] else None


def check_id(obj: SObject, value: Any) -> str:
    """The record id in a URL or body, or RequestError(MALFORMED_ID)."""
    rid = full_id(value)
    if rid is None or rid[:3] != obj.key_prefix:
        raise RequestError(400, "MALFORMED_ID", f"{obj.name} ID: id value of incorrect type: {value}", ["Id"])
    return rid


class CoercionError(Exception):
    def __init__(self, field: Field, value: Any):
        super().__init__(f"{field.name}: value not of required type: {value}")
        self.field = field
        self.value = value


def coerce(field: Field, value: Any, from_csv: bool = False) -> Any:
    """A body/CSV value as stored for `field`; CoercionError when it has the wrong type."""
    if value is None:
        return None
    ftype = field.type
    if ftype in STRING_TYPES:
        if isinstance(value, bool) or isinstance(value, (dict, list)):
            raise CoercionError(field, value)
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        value = str(value)
        return value if value != "" else None
    if ftype in NUMBER_TYPES:
        if isinstance(value, str):
            if value.strip() == "":
                return None
            try:
                value = float(value) if ftype != "int" or not value.strip().lstrip("+-").isdigit() else int(value)
            except ValueError:
                raise CoercionError(field, value) from None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise CoercionError(field, value)
        if ftype == "int":
            if isinstance(value, float):
                if not value.is_integer():
                    raise CoercionError(field, value)
                value = int(value)
            return value
        return float(value)
    if ftype == "boolean":
        if isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
            return value.lower() in ("true", "1")
        if not isinstance(value, bool):
            raise CoercionError(field, value)
        return value
    if ftype == "datetime":
        try:
            return canonical_datetime(datetime.fromisoformat(str(value).replace("Z", "+00:00")))
        except ValueError:
            raise CoercionError(field, value) from None
    return value


def _no_touch(*path: str) -> None:
    return None


class Store:
    def __init__(
        self,
        data: dict,
        default_api_limit: int,
        index: QueryIndex | None = None,
        touch: Callable[..., None] = _no_touch,
    ):
        """`index` is kept up to date on every write; `touch(*path)` is told the path in `data` of what
        changed (for the state's journal)."""
        self.data = data
        self.default_api_limit = default_api_limit
        self.index = index
        self.touch = touch
        self.journal: list[tuple[str, str, dict | None]] | None = None

    # --- setup ------------------------------------------------------------------------------------
    @staticmethod
    def empty_data() -> dict:
        return {
            "records": {name: {} for name in OBJECTS},
            "ext": {"Account": {"HubSpot_Company_ID__c": {}}},
            "websites": {},
            "counter": ID_COUNTER_START,
            "last_ms": 0,
            "rules": {"validation_rule": None, "duplicate_rule": False, "daily_api_limit": None},
            "usage": {"day": "", "count": 0},
            "api_user": None,
        }

    def load_seed(self, n: int | None) -> None:
        """The seed universe's users, accounts, contacts and leads, column by column (numpy draws), each
        record holding only its non-null fields (reads render the others as null from the describe)."""
        universe = shared_universe(n or 0)
        now = int(datetime.now(UTC).timestamp() * 1000)
        rng = np.random.default_rng([n or 0, 29])
        recs = self.data["records"]

        def audits(count: int) -> list[tuple[str, str]]:
            created = now - (rng.uniform(3600, 365 * 86400, count) * 1000).astype(np.int64)
            modified = created + ((now - created) * rng.random(count) * 0.9).astype(np.int64)
            return list(zip(iso_strings(created, "+0000"), iso_strings(modified, "+0000"), strict=True))

        def audit(user: str, stamps: tuple[str, str]) -> dict:
            c, m = stamps
            return {
                "IsDeleted": False,
                "CreatedDate": c,
                "CreatedById": user,
                "LastModifiedDate": m,
                "LastModifiedById": user,
                "SystemModstamp": m,
            }

        user_ids = [salesforce_id("005", i) for i in range(len(universe.owners))]
        api_user = user_ids[-1]
        self.data["api_user"] = api_user
        for uid, owner, stamps in zip(user_ids, universe.owners, audits(len(universe.owners)), strict=False):
            recs["User"][uid] = {
                "Id": uid,
                "Username": owner.email,
                "Email": owner.email,
                "FirstName": owner.first,
                "LastName": owner.last,
                "Name": f"{owner.first} {owner.last}",
                "IsActive": True,
                **audit(api_user, stamps),
            }
        if not n:
            return
        orgs = universe.accounts
        account_ids = salesforce_ids("001", np.arange(len(orgs)))
        revenues: dict[int, float] = {}
        accounts = recs["Account"]
        for start in range(0, len(orgs), SEED_CHUNK):  # in chunks: a chunk's columns are held at once
            stop = min(len(orgs), start + SEED_CHUNK)

            def column(name: str, start: int = start, stop: int = stop) -> list:
                return orgs.column(name, start, stop)

            columns = zip(
                account_ids[start:stop],
                column("name"),
                column("website"),
                column("phone"),
                column("industry"),
                column("type"),
                column("street"),
                column("city"),
                column("state"),
                column("postal_code"),
                column("country"),
                column("annual_revenue"),
                column("employees"),
                column("description"),
                column("owner"),
                audits(stop - start),
                strict=True,
            )
            for aid, name, website, phone, industry, type_, street, city, state, postal, country, *rest in columns:
                revenue, employees, description, owner, stamps = rest
                rec = {
                    "Id": aid,
                    "Name": name,
                    "Website": website or None,
                    "Phone": phone or None,
                    "Industry": industry,
                    "Type": type_,
                    "BillingStreet": street or None,
                    "BillingCity": city or None,
                    "BillingState": state or None,
                    "BillingPostalCode": postal or None,
                    "BillingCountry": country or None,
                    "AnnualRevenue": None if revenue is None else revenues.setdefault(revenue, float(revenue)),
                    "NumberOfEmployees": employees,
                    "Description": description or None,
                    "OwnerId": user_ids[owner],
                    **audit(api_user, stamps),
                }
                rec = {k: v for k, v in rec.items() if v is not None}
                accounts[aid] = rec  # straight in: the caller rebuilds the query index and snapshots
                self._index("Account", aid, rec)
        people = universe.people
        for start in range(0, len(people), SEED_CHUNK):
            stop = min(len(people), start + SEED_CHUNK)
            kinds = people.columns["kind"][start:stop]
            ids: list[str | None] = [None] * (stop - start)
            for kind, prefix in ((0, "003"), (1, "003"), (2, "00Q")):
                rows = np.flatnonzero(kinds == kind)
                for row, rid in zip(rows.tolist(), salesforce_ids(prefix, rows + start), strict=True):
                    ids[row] = rid
            # a lead's Company: the organisation its e-mail domain belongs to (free mail: "Unknown")
            orgs_of = people.columns["org"][start:stop]
            companies = [
                name.strip() if org >= 0 else "Unknown"
                for name, org in zip(people.pool.names(np.maximum(orgs_of, 0)), orgs_of.tolist(), strict=True)
            ]
            columns = zip(
                ids,
                kinds.tolist(),
                companies,
                people.column("email", start, stop),
                people.column("first", start, stop),
                people.column("last", start, stop),
                people.column("salesforce_org", start, stop),
                people.columns["owner"][start:stop].tolist(),
                audits(stop - start),
                strict=True,
            )
            for rid, kind, company, email, first, last, org, owner, stamps in columns:
                if rid is None:
                    continue
                base = {
                    "Email": email,
                    "FirstName": first,
                    "LastName": last,
                    "Name": intern(f"{first} {last}"),  # 400 distinct names
                    "OwnerId": user_ids[owner],
                    **audit(api_user, stamps),
                }
                if kind == 0:
                    recs["Contact"][rid] = {"Id": rid, "AccountId": account_ids[org], **base}
                elif kind == 1:
                    recs["Contact"][rid] = {"Id": rid, **base}
                else:
                    recs["Lead"][rid] = {"Id": rid, "Company": company, "IsConverted": False, **base}

    # --- helpers ----------------------------------------------------------------------------------
    @property
    def rules(self) -> dict:
        return self.data["rules"]

    def records(self, obj: str) -> dict[str, dict]:
        return self.data["records"][obj]

    def resolve(self, obj: str, rid: str) -> dict | None:
        return self.data["records"][obj].get(rid)

    def stamp(self) -> str:
        """A write timestamp, strictly later than the previous write's."""
        ms = max(int(time.time() * 1000), self.data["last_ms"] + 1)
        self.data["last_ms"] = ms
        self.touch("last_ms")
        self.touch("usage")  # the call count is persisted with the writes
        return canonical_datetime(datetime.fromtimestamp(ms / 1000, UTC))

    def new_id(self, obj: SObject) -> str:
        n = self.data["counter"]
        self.data["counter"] = n + 1
        self.touch("counter")
        return salesforce_id(obj.key_prefix, n)

    def _put(self, obj: str, rid: str, new: dict | None) -> None:
        """Replace (or remove, with None) a record, keeping the indexes right; journaled for rollback."""
        store = self.data["records"][obj]
        old = store.get(rid)
        if self.journal is not None:
            self.journal.append((obj, rid, old))
        self._unindex(obj, rid, old)
        if new is None:
            store.pop(rid, None)
        else:
            store[rid] = new
            self._index(obj, rid, new)
        if self.index is not None:
            self.index.put(obj, rid, old, new)
        self.touch("records", obj, rid)

    def _index(self, obj: str, rid: str, rec: dict) -> None:
        if rec.get("IsDeleted"):
            return
        for fname, index in self.data["ext"].get(obj, {}).items():
            value = rec.get(fname)
            if value is not None:
                index[value.lower()] = rid
        if obj == "Account":
            key = normalise_website(rec.get("Website"))
            if key:
                self.data["websites"].setdefault(key, []).append(rid)

    def _unindex(self, obj: str, rid: str, rec: dict | None) -> None:
        if rec is None or rec.get("IsDeleted"):
            return
        for fname, index in self.data["ext"].get(obj, {}).items():
            value = rec.get(fname)
            if value is not None and index.get(value.lower()) == rid:
                del index[value.lower()]
        if obj == "Account":
            key = normalise_website(rec.get("Website"))
            ids = self.data["websites"].get(key) if key else None
            if ids and rid in ids:
                ids.remove(rid)
                if not ids:
                    del self.data["websites"][key]

    def rebuild_lookups(self) -> None:
        """`ext` and `websites` again from the records (after a journal replay they may lag behind)."""
        for fields in self.data["ext"].values():
            for fname in fields:
                fields[fname] = {}
        self.data["websites"] = {}
        for obj, store in self.data["records"].items():
            for rid, rec in store.items():
                self._index(obj, rid, rec)

    def begin(self) -> None:
        self.journal = []

    def commit(self) -> None:
        self.journal = None

    def rollback(self) -> None:
        journal, self.journal = self.journal or [], None
        for obj, rid, old in reversed(journal):
            self._put(obj, rid, old)

    def find_external(self, obj: SObject, fname: str, value: str) -> str | None:
        return self.data["ext"].get(obj.name, {}).get(fname, {}).get(value.lower())

    # --- validation ---------------------------------------------------------------------------------
    def check_fields(self, obj: SObject, values: dict, *, creating: bool) -> dict[str, Any]:
        """Map body keys to canonical field names. Unknown field → RequestError(400, INVALID_FIELD)."""
        out: dict[str, Any] = {}
        for key, value in values.items():
            if key == "attributes":
                continue
            field = obj.field(key)
            if field is None:
                raise RequestError(400, "INVALID_FIELD", f"No such column '{key}' on sobject of type {obj.name}")
            out[field.name] = value
        return out

    def validate(
        self, obj: SObject, values: dict[str, Any], existing: dict | None, rid: str | None, *, from_csv: bool = False
    ) -> tuple[dict | None, list[dict]]:
        """The record after applying `values` (canonical names) to `existing`, or the record errors."""
        errors: list[dict] = []
        creating = existing is None
        new = dict(existing) if existing else {f: None for f in obj.fields}
        for name, raw in values.items():
            field = obj.fields[name]
            if not (field.createable if creating else field.updateable):
                errors.append(
                    error(
                        "INVALID_FIELD_FOR_INSERT_UPDATE",
                        f"Unable to create/update fields: {name}. Please check the security settings "
                        "of this field and verify that it is read/write for your profile or "
                        "permission set.",
                        [name],
                    )
                )
                continue
            try:
                value = coerce(field, raw, from_csv)
            except CoercionError as exc:
                if not from_csv:
                    raise RequestError(
                        400, "JSON_PARSER_ERROR", f"Cannot deserialize instance of {field.type} from {raw!r}"
                    ) from None
                errors.append(error("INVALID_TYPE_ON_FIELD_IN_RECORD", str(exc), [name]))
                continue
            if isinstance(value, str):
                if field.length and len(value) > field.length:
                    errors.append(
                        error(
                            "STRING_TOO_LONG",
                            f"{field.name}: data value too large: {value[:40]}... (max length={field.length})",
                            [name],
                        )
                    )
                    continue
                if field.restricted and value not in field.picklist:
                    errors.append(
                        error(
                            "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                            f"{field.name}: bad value for restricted picklist field: {value}",
                            [name],
                        )
                    )
                    continue
                if field.type == "reference":
                    ref = full_id(value)
                    target = OBJECTS[field.reference_to]
                    if ref is None:
                        errors.append(
                            error("MALFORMED_ID", f"{field.name}: id value of incorrect type: {value}", [name])
                        )
                        continue
                    parent = self.resolve(target.name, ref)
                    if ref[:3] != target.key_prefix or parent is None or parent.get("IsDeleted"):
                        errors.append(error("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", [name]))
                        continue
                    value = ref
                if field.external_id:
                    other = self.find_external(obj, name, value)
                    if other is not None and other != rid:
                        errors.append(
                            error(
                                "DUPLICATE_VALUE",
                                f"duplicate value found: {name} duplicates value on record with id: {other}",
                                [name],
                            )
                        )
                        continue
            new[name] = value
        if errors:
            return None, errors
        if creating:
            if "OwnerId" in obj.fields and new.get("OwnerId") is None:
                new["OwnerId"] = self.data["api_user"]
            if "IsConverted" in obj.fields and new.get("IsConverted") is None:
                new["IsConverted"] = False
            if "IsActive" in obj.fields and new.get("IsActive") is None:
                new["IsActive"] = True
        if "FirstName" in obj.fields and "Name" in obj.fields:
            new["Name"] = " ".join(p for p in (new.get("FirstName"), new.get("LastName")) if p) or None
        missing = [f.name for f in obj.fields.values() if f.required and new.get(f.name) is None]
        if missing:
            return None, [
                error("REQUIRED_FIELD_MISSING", f"Required fields are missing: [{', '.join(missing)}]", missing)
            ]
        rule = self.rules.get("validation_rule")
        if rule and rule.get("object", "Account") == obj.name:
            value = new.get(rule["field"])
            if value is not None and not re.search(rule["pattern"], str(value)):
                return None, [
                    error(
                        "FIELD_CUSTOM_VALIDATION_EXCEPTION", rule.get("message") or "Validation failed", [rule["field"]]
                    )
                ]
        if obj.name == "Account" and self.rules.get("duplicate_rule") and (creating or "Website" in values):
            key = normalise_website(new.get("Website"))
            others = [o for o in self.data["websites"].get(key, ()) if o != rid] if key else []
            if others:
                return None, [error("DUPLICATES_DETECTED", "Use one of these records?", [])]
        return new, []

    # --- writes (callers hold the lock) ------------------------------------------------------------
    def create(self, obj: SObject, values: dict, stamp: str, *, from_csv: bool = False) -> tuple[str | None, list]:
        if "Id" in values:
            return None, [
                error(
                    "INVALID_FIELD_FOR_INSERT_UPDATE",
                    "Unable to create/update fields: Id. Please check the security settings of this field.",
                    ["Id"],
                )
            ]
        new, errors = self.validate(obj, values, None, None, from_csv=from_csv)
        if errors:
            return None, errors
        rid = self.new_id(obj)
        user = self.data["api_user"]
        new.update(
            {
                "Id": rid,
                "IsDeleted": False,
                "CreatedDate": stamp,
                "CreatedById": user,
                "LastModifiedDate": stamp,
                "LastModifiedById": user,
                "SystemModstamp": stamp,
            }
        )
        self._put(obj.name, rid, new)
        return rid, []

    def update(self, obj: SObject, rid: str, values: dict, stamp: str, *, from_csv: bool = False) -> list:
        existing = self.records(obj.name).get(rid)
        if existing is None:
            return [error("NOT_FOUND", "The requested resource does not exist", [])]
        if existing.get("IsDeleted"):
            return [error("ENTITY_IS_DELETED", "entity is deleted", [])]
        if obj.name == "Lead" and existing.get("IsConverted"):
            return [error("CANNOT_UPDATE_CONVERTED_LEAD", "cannot reference converted lead", [])]
        values = {k: v for k, v in values.items() if k != "Id"}
        new, errors = self.validate(obj, values, existing, rid, from_csv=from_csv)
        if errors:
            return errors
        new.update({"LastModifiedDate": stamp, "LastModifiedById": self.data["api_user"], "SystemModstamp": stamp})
        self._put(obj.name, rid, new)
        return []

    def upsert(
        self, obj: SObject, fname: str, value: Any, values: dict, stamp: str, *, from_csv: bool = False
    ) -> tuple[str | None, bool, list]:
        if value is None or value == "":
            return None, False, [error("MISSING_ARGUMENT", f"{fname} not specified", [fname])]
        if fname == "Id":
            rid = full_id(value)
            if rid is None or rid[:3] != obj.key_prefix:
                return (
                    None,
                    False,
                    [error("MALFORMED_ID", f"{obj.name} ID: id value of incorrect type: {value}", ["Id"])],
                )
            return rid, False, self.update(obj, rid, values, stamp, from_csv=from_csv)
        value = str(value)
        values = {**{k: v for k, v in values.items() if k != fname}, fname: value}
        rid = self.find_external(obj, fname, value)
        if rid is None:
            rid, errors = self.create(obj, values, stamp, from_csv=from_csv)
            return rid, True, errors
        return rid, False, self.update(obj, rid, values, stamp, from_csv=from_csv)

    def delete(self, obj: SObject, rid: str, stamp: str) -> list:
        existing = self.records(obj.name).get(rid)
        if existing is None:
            return [error("NOT_FOUND", "The requested resource does not exist", [])]
        if existing.get("IsDeleted"):
            return [error("ENTITY_IS_DELETED", "entity is deleted", [])]
        self._put(obj.name, rid, {**existing, "IsDeleted": True, "SystemModstamp": stamp})
        return []

    def hard_delete(self, obj: SObject, rid: str) -> list:
        if rid not in self.records(obj.name):
            return [error("NOT_FOUND", "The requested resource does not exist", [])]
        self._put(obj.name, rid, None)
        return []

    def purge(self) -> int:
        """Empty the recycle bin: deleted records disappear from queryAll."""
        gone = 0
        for name, store in self.data["records"].items():
            for rid in [rid for rid, rec in store.items() if rec.get("IsDeleted")]:
                self._put(name, rid, None)
                gone += 1
        return gone
