"""The sObjects the Salesforce sandbox knows (Account, Contact, Lead, User): fields with Salesforce's
types, lengths, required-ness, restricted picklists and relationships, plus the describe payloads."""

from __future__ import annotations

from dataclasses import dataclass, field

API_VERSION = "59.0"

# Salesforce's standard Account picklists (they include every value field_mappings.yaml maps).
INDUSTRY_VALUES = (
    "Agriculture",
    "Apparel",
    "Banking",
    "Biotechnology",
    "Chemicals",
    "Communications",
    "Construction",
    "Consulting",
    "Education",
    "Electronics",
    "Energy",
    "Engineering",
    "Entertainment",
    "Environmental",
    "Finance",
    "Food & Beverage",
    "Government",
    "Healthcare",
    "Hospitality",
    "Insurance",
    "Machinery",
    "Manufacturing",
    "Media",
    "Not For Profit",
    "Other",
    "Recreation",
    "Retail",
    "Shipping",
    "Technology",
    "Telecommunications",
    "Transportation",
    "Utilities",
)
TYPE_VALUES = (
    "Prospect",
    "Customer - Direct",
    "Customer - Channel",
    "Channel Partner / Reseller",
    "Installation Partner",
    "Technology Partner",
    "Other",
)

STRING_TYPES = frozenset({"string", "textarea", "url", "phone", "email", "picklist", "id", "reference"})
NUMBER_TYPES = frozenset({"double", "currency", "int", "percent"})


@dataclass(frozen=True)
class Field:
    name: str
    type: str  # id, string, textarea, url, phone, email, picklist, reference, double, currency, int, boolean, datetime
    length: int = 0
    required: bool = False  # not nillable on create (REQUIRED_FIELD_MISSING)
    createable: bool = True
    updateable: bool = True
    unique: bool = False
    external_id: bool = False
    picklist: tuple[str, ...] = ()
    restricted: bool = False
    reference_to: str | None = None
    relationship_name: str | None = None
    nillable: bool = True
    custom: bool = False
    calculated: bool = False  # a formula field: read-only (the sandbox does not evaluate it)
    scale: int | None = None  # digits after the decimal point (None: Salesforce's default for the type)

    def describe(self) -> dict:
        return {
            "name": self.name,
            "label": self.name.removesuffix("__c").replace("_", " "),
            "type": self.type,
            "length": self.length,
            "precision": 18 if self.type in ("currency", "double") else 0,
            "scale": self.scale if self.scale is not None else 2 if self.type == "currency" else 0,
            "digits": 9 if self.type == "int" else 0,
            "nillable": self.nillable and not self.required,
            "createable": self.createable,
            "updateable": self.updateable,
            "unique": self.unique,
            "externalId": self.external_id,
            "idLookup": self.name == "Id" or self.external_id,
            "custom": self.custom,
            "calculated": self.calculated,
            "calculatedFormula": None,
            "caseSensitive": False,
            "defaultedOnCreate": self.name
            in ("OwnerId", "IsDeleted", "CreatedDate", "LastModifiedDate", "SystemModstamp", "IsConverted", "IsActive"),
            "picklistValues": [
                {"active": True, "defaultValue": False, "label": v, "validFor": None, "value": v} for v in self.picklist
            ],
            "restrictedPicklist": self.restricted,
            "referenceTo": [self.reference_to] if self.reference_to else [],
            "relationshipName": self.relationship_name,
            "soapType": _SOAP_TYPES.get(self.type, "xsd:string"),
        }


_SOAP_TYPES = {
    "id": "tns:ID",
    "reference": "tns:ID",
    "double": "xsd:double",
    "currency": "xsd:double",
    "int": "xsd:int",
    "boolean": "xsd:boolean",
    "datetime": "xsd:dateTime",
    "date": "xsd:date",
}


@dataclass
class SObject:
    name: str
    key_prefix: str
    label_plural: str
    fields: dict[str, Field] = field(default_factory=dict)
    # lower-cased name -> Field, and lower-cased relationship name -> reference Field
    by_lower: dict[str, Field] = field(default_factory=dict)
    relationships: dict[str, Field] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.by_lower = {name.lower(): f for name, f in self.fields.items()}
        self.relationships = {f.relationship_name.lower(): f for f in self.fields.values() if f.relationship_name}

    def field(self, name: str) -> Field | None:
        return self.by_lower.get(name.lower())

    @property
    def external_id_fields(self) -> list[Field]:
        return [f for f in self.fields.values() if f.external_id]

    def describe(self) -> dict:
        base = f"/services/data/v{API_VERSION}/sobjects/{self.name}"
        return {
            **self.summary(),
            "fields": [f.describe() for f in self.fields.values()],
            "childRelationships": [],
            "recordTypeInfos": [],
            "urls": {**self.summary()["urls"], "uiEditTemplate": None, "describe": f"{base}/describe"},
        }

    def summary(self) -> dict:
        base = f"/services/data/v{API_VERSION}/sobjects/{self.name}"
        return {
            "name": self.name,
            "label": self.name,
            "labelPlural": self.label_plural,
            "keyPrefix": self.key_prefix,
            "custom": False,
            "createable": True,
            "updateable": True,
            "deletable": True,
            "queryable": True,
            "retrieveable": True,
            "searchable": True,
            "layoutable": True,
            "urls": {"sobject": base, "describe": f"{base}/describe", "rowTemplate": f"{base}/{{ID}}"},
        }


def _audit() -> list[Field]:
    ro = {"createable": False, "updateable": False}
    return [
        Field("IsDeleted", "boolean", nillable=False, **ro),
        Field("CreatedDate", "datetime", nillable=False, **ro),
        Field("CreatedById", "reference", 18, reference_to="User", relationship_name="CreatedBy", **ro),
        Field("LastModifiedDate", "datetime", nillable=False, **ro),
        Field("LastModifiedById", "reference", 18, reference_to="User", relationship_name="LastModifiedBy", **ro),
        Field("SystemModstamp", "datetime", nillable=False, **ro),
    ]


def _make(name: str, prefix: str, plural: str, fields: list[Field]) -> SObject:
    all_fields = [
        Field("Id", "id", 18, createable=False, updateable=False, nillable=False, unique=True),
        *fields,
        *_audit(),
    ]
    return SObject(name, prefix, plural, {f.name: f for f in all_fields})


def _owner() -> Field:
    return Field("OwnerId", "reference", 18, reference_to="User", relationship_name="Owner", nillable=False)


ACCOUNT = _make(
    "Account",
    "001",
    "Accounts",
    [
        Field("Name", "string", 255, required=True),
        Field("Website", "url", 255),
        Field("Phone", "phone", 40),
        Field("Fax", "phone", 40),
        Field("Industry", "picklist", 255, picklist=INDUSTRY_VALUES, restricted=True),
        Field("Type", "picklist", 255, picklist=TYPE_VALUES, restricted=True),
        Field("BillingStreet", "textarea", 255),
        Field("BillingCity", "string", 40),
        Field("BillingState", "string", 80),
        Field("BillingPostalCode", "string", 20),
        Field("BillingCountry", "string", 80),
        Field("AnnualRevenue", "currency"),
        Field("NumberOfEmployees", "int"),
        Field("Description", "textarea", 32000),
        Field("AccountNumber", "string", 40),
        Field("TickerSymbol", "string", 20),
        Field("YearStarted", "string", 4),
        _owner(),
        Field("ParentId", "reference", 18, reference_to="Account", relationship_name="Parent"),
        Field("HubSpot_Company_ID__c", "string", 100, unique=True, external_id=True, custom=True),
    ],
)
CONTACT = _make(
    "Contact",
    "003",
    "Contacts",
    [
        Field("AccountId", "reference", 18, reference_to="Account", relationship_name="Account"),
        Field("Email", "email", 80),
        Field("FirstName", "string", 40),
        Field("LastName", "string", 80, required=True),
        Field("Name", "string", 121, createable=False, updateable=False),
        Field("Phone", "phone", 40),
        _owner(),
    ],
)
LEAD = _make(
    "Lead",
    "00Q",
    "Leads",
    [
        Field("Email", "email", 80),
        Field("FirstName", "string", 40),
        Field("LastName", "string", 80, required=True),
        Field("Name", "string", 121, createable=False, updateable=False),
        Field("Company", "string", 255, required=True),
        Field("Phone", "phone", 40),
        # Set on create only (convertLead sets it afterwards: see convert.py), like Salesforce's.
        Field("IsConverted", "boolean", nillable=False, updateable=False),
        Field(
            "ConvertedAccountId",
            "reference",
            18,
            reference_to="Account",
            relationship_name="ConvertedAccount",
            createable=False,
            updateable=False,
        ),
        Field(
            "ConvertedContactId",
            "reference",
            18,
            reference_to="Contact",
            relationship_name="ConvertedContact",
            createable=False,
            updateable=False,
        ),
        Field("ConvertedDate", "date", createable=False, updateable=False),
        _owner(),
    ],
)
USER = _make(
    "User",
    "005",
    "Users",
    [
        Field("Username", "string", 80, required=True, unique=True),
        Field("Email", "email", 128, required=True),
        Field("FirstName", "string", 40),
        Field("LastName", "string", 80, required=True),
        Field("Name", "string", 121, createable=False, updateable=False),
        Field("IsActive", "boolean", nillable=False),
    ],
)

OBJECTS: dict[str, SObject] = {o.name: o for o in (ACCOUNT, CONTACT, LEAD, USER)}
OBJECTS_LOWER: dict[str, SObject] = {name.lower(): o for name, o in OBJECTS.items()}
BY_PREFIX: dict[str, SObject] = {o.key_prefix: o for o in OBJECTS.values()}


def sobject(name: str) -> SObject | None:
    return OBJECTS_LOWER.get(name.lower())
