"""Properties v3: the default company and contact property definitions, the endpoints that read and
change them, and the validation HubSpot applies to property values on every write."""

from __future__ import annotations

import json
import re
from typing import Any

from include.sandbox.hubspot.common import fail, iso_from_ms, not_found, now_iso, to_ms, validation

LIFECYCLE_STAGES = (
    "subscriber",
    "lead",
    "marketingqualifiedlead",
    "salesqualifiedlead",
    "opportunity",
    "customer",
    "evangelist",
    "other",
)
_STAGE_LABELS = {
    "subscriber": "Subscriber",
    "lead": "Lead",
    "marketingqualifiedlead": "Marketing Qualified Lead",
    "salesqualifiedlead": "Sales Qualified Lead",
    "opportunity": "Opportunity",
    "customer": "Customer",
    "evangelist": "Evangelist",
    "other": "Other",
}
COMPANY_TYPES = ("PROSPECT", "PARTNER", "RESELLER", "VENDOR", "OTHER")
# HubSpot's internal industry values (the `industry` company property).
INDUSTRIES = (
    "ACCOUNTING",
    "AIRLINES_AVIATION",
    "ALTERNATIVE_DISPUTE_RESOLUTION",
    "ALTERNATIVE_MEDICINE",
    "ANIMATION",
    "APPAREL_FASHION",
    "ARCHITECTURE_PLANNING",
    "ARTS_AND_CRAFTS",
    "AUTOMOTIVE",
    "AVIATION_AEROSPACE",
    "BANKING",
    "BIOTECHNOLOGY",
    "BROADCAST_MEDIA",
    "BUILDING_MATERIALS",
    "BUSINESS_SUPPLIES_AND_EQUIPMENT",
    "CAPITAL_MARKETS",
    "CHEMICALS",
    "CIVIC_SOCIAL_ORGANIZATION",
    "CIVIL_ENGINEERING",
    "COMMERCIAL_REAL_ESTATE",
    "COMPUTER_NETWORK_SECURITY",
    "COMPUTER_GAMES",
    "COMPUTER_HARDWARE",
    "COMPUTER_NETWORKING",
    "COMPUTER_SOFTWARE",
    "INTERNET",
    "CONSTRUCTION",
    "CONSUMER_ELECTRONICS",
    "CONSUMER_GOODS",
    "CONSUMER_SERVICES",
    "COSMETICS",
    "DAIRY",
    "DEFENSE_SPACE",
    "DESIGN",
    "EDUCATION_MANAGEMENT",
    "E_LEARNING",
    "ELECTRICAL_ELECTRONIC_MANUFACTURING",
    "ENTERTAINMENT",
    "ENVIRONMENTAL_SERVICES",
    "EVENTS_SERVICES",
    "EXECUTIVE_OFFICE",
    "FACILITIES_SERVICES",
    "FARMING",
    "FINANCIAL_SERVICES",
    "FINE_ART",
    "FISHERY",
    "FOOD_BEVERAGES",
    "FOOD_PRODUCTION",
    "FUND_RAISING",
    "FURNITURE",
    "GAMBLING_CASINOS",
    "GLASS_CERAMICS_CONCRETE",
    "GOVERNMENT_ADMINISTRATION",
    "GOVERNMENT_RELATIONS",
    "GRAPHIC_DESIGN",
    "HEALTH_WELLNESS_AND_FITNESS",
    "HIGHER_EDUCATION",
    "HOSPITAL_HEALTH_CARE",
    "HOSPITALITY",
    "HUMAN_RESOURCES",
    "IMPORT_AND_EXPORT",
    "INDIVIDUAL_FAMILY_SERVICES",
    "INDUSTRIAL_AUTOMATION",
    "INFORMATION_SERVICES",
    "INFORMATION_TECHNOLOGY_AND_SERVICES",
    "INSURANCE",
    "INTERNATIONAL_AFFAIRS",
    "INTERNATIONAL_TRADE_AND_DEVELOPMENT",
    "INVESTMENT_BANKING",
    "INVESTMENT_MANAGEMENT",
    "JUDICIARY",
    "LAW_ENFORCEMENT",
    "LAW_PRACTICE",
    "LEGAL_SERVICES",
    "LEGISLATIVE_OFFICE",
    "LEISURE_TRAVEL_TOURISM",
    "LIBRARIES",
    "LOGISTICS_AND_SUPPLY_CHAIN",
    "LUXURY_GOODS_JEWELRY",
    "MACHINERY",
    "MANAGEMENT_CONSULTING",
    "MARITIME",
    "MARKET_RESEARCH",
    "MARKETING_AND_ADVERTISING",
    "MECHANICAL_OR_INDUSTRIAL_ENGINEERING",
    "MEDIA_PRODUCTION",
    "MEDICAL_DEVICES",
    "MEDICAL_PRACTICE",
    "MENTAL_HEALTH_CARE",
    "MILITARY",
    "MINING_METALS",
    "MOTION_PICTURES_AND_FILM",
    "MUSEUMS_AND_INSTITUTIONS",
    "MUSIC",
    "NANOTECHNOLOGY",
    "NEWSPAPERS",
    "NONPROFIT_ORGANIZATION_MANAGEMENT",
    "OIL_ENERGY",
    "ONLINE_MEDIA",
    "OUTSOURCING_OFFSHORING",
    "PACKAGE_FREIGHT_DELIVERY",
    "PACKAGING_AND_CONTAINERS",
    "PAPER_FOREST_PRODUCTS",
    "PERFORMING_ARTS",
    "PHARMACEUTICALS",
    "PHILANTHROPY",
    "PHOTOGRAPHY",
    "PLASTICS",
    "POLITICAL_ORGANIZATION",
    "PRIMARY_SECONDARY_EDUCATION",
    "PRINTING",
    "PROFESSIONAL_TRAINING_COACHING",
    "PROGRAM_DEVELOPMENT",
    "PUBLIC_POLICY",
    "PUBLIC_RELATIONS_AND_COMMUNICATIONS",
    "PUBLIC_SAFETY",
    "PUBLISHING",
    "RAILROAD_MANUFACTURE",
    "RANCHING",
    "REAL_ESTATE",
    "RECREATIONAL_FACILITIES_AND_SERVICES",
    "RELIGIOUS_INSTITUTIONS",
    "RENEWABLES_ENVIRONMENT",
    "RESEARCH",
    "RESTAURANTS",
    "RETAIL",
    "SECURITY_AND_INVESTIGATIONS",
    "SEMICONDUCTORS",
    "SHIPBUILDING",
    "SPORTING_GOODS",
    "SPORTS",
    "STAFFING_AND_RECRUITING",
    "SUPERMARKETS",
    "TELECOMMUNICATIONS",
    "TEXTILES",
    "THINK_TANKS",
    "TOBACCO",
    "TRANSLATION_AND_LOCALIZATION",
    "TRANSPORTATION_TRUCKING_RAILROAD",
    "UTILITIES",
    "VENTURE_CAPITAL_PRIVATE_EQUITY",
    "VETERINARY",
    "WAREHOUSING",
    "WHOLESALE",
    "WINE_AND_SPIRITS",
    "WIRELESS",
    "WRITING_AND_EDITING",
)
SOURCES = ("CRM_UI", "CONTACTS", "INTEGRATION", "API", "IMPORT", "FORM", "SALES", "MIGRATION")

VALID_TYPES = {"string", "number", "date", "datetime", "enumeration", "bool"}
VALID_FIELD_TYPES = {
    "textarea",
    "text",
    "date",
    "file",
    "number",
    "select",
    "radio",
    "checkbox",
    "booleancheckbox",
    "calculation_equation",
    "phonenumber",
    "html",
}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_CREATED_AT = "2019-06-01T00:00:00.000Z"


def _label(value: str) -> str:
    return value.replace("_", " ").title()


def options(values: tuple[str, ...] | list[str], labels: dict[str, str] | None = None) -> list[dict[str, Any]]:
    return [
        {"label": (labels or {}).get(v, _label(v)), "value": v, "displayOrder": i, "hidden": False, "description": ""}
        for i, v in enumerate(values)
    ]


def _prop(
    name: str,
    label: str,
    type_: str = "string",
    field_type: str | None = None,
    *,
    group: str = "companyinformation",
    opts: list[dict[str, Any]] | None = None,
    unique: bool = False,
    read_only: bool = False,
    integer: bool = False,
    external_options: bool = False,
) -> dict[str, Any]:
    field_type = (
        field_type
        or {
            "string": "text",
            "number": "number",
            "enumeration": "select",
            "datetime": "date",
            "date": "date",
            "bool": "booleancheckbox",
        }[type_]
    )
    definition = {
        "name": name,
        "label": label,
        "type": type_,
        "fieldType": field_type,
        "description": "",
        "groupName": group,
        "options": opts or [],
        "displayOrder": -1,
        "calculated": False,
        "externalOptions": external_options,
        "hasUniqueValue": unique,
        "hidden": False,
        "hubspotDefined": True,
        "formField": not read_only,
        "archived": False,
        "createdAt": _CREATED_AT,
        "updatedAt": _CREATED_AT,
        "modificationMetadata": {
            "archivable": False,
            "readOnlyDefinition": True,
            "readOnlyValue": read_only,
            "readOnlyOptions": type_ != "enumeration",
        },
    }
    if integer:
        definition["numberDisplayHint"] = "formatted"
        definition["_integer"] = True  # internal: INVALID_INTEGER for fractions (stripped from responses)
    return definition


def default_properties() -> dict[str, dict[str, dict[str, Any]]]:
    stages = options(LIFECYCLE_STAGES, _STAGE_LABELS)
    company = [
        _prop("name", "Company name"),
        _prop("domain", "Company Domain Name"),
        _prop("website", "Website URL"),
        _prop("phone", "Phone Number", field_type="phonenumber"),
        _prop("fax", "Fax Number"),
        _prop("address", "Street Address"),
        _prop("city", "City"),
        _prop("state", "State/Region"),
        _prop("zip", "Postal Code"),
        _prop("country", "Country/Region"),
        _prop("industry", "Industry", "enumeration", opts=options(INDUSTRIES)),
        _prop("type", "Type", "enumeration", opts=options(COMPANY_TYPES)),
        _prop("annualrevenue", "Annual Revenue", "number"),
        _prop("numberofemployees", "Number of Employees", "number", integer=True),
        _prop("description", "Description", field_type="textarea"),
        _prop("account_number", "Account Number"),
        _prop("tickersymbol", "Ticker Symbol"),
        _prop("founded_year", "Year Founded"),
        _prop("lifecyclestage", "Lifecycle Stage", "enumeration", "radio", opts=stages),
        _prop("hubspot_owner_id", "Company owner", "enumeration", external_options=True),
        _prop("salesforceaccountid", "Salesforce Account ID", unique=True, group="salesforceinformation"),
        _prop("hs_object_source", "Record source", "enumeration", opts=options(SOURCES), read_only=True),
        _prop("createdate", "Create Date", "datetime"),
        _prop("hs_lastmodifieddate", "Last Modified Date", "datetime", read_only=True),
        _prop("hs_object_id", "Record ID", "number", read_only=True),
        _prop("closedate", "Close Date", "datetime"),
    ]
    contact = [
        _prop("email", "Email", unique=True, group="contactinformation"),
        _prop("firstname", "First Name", group="contactinformation"),
        _prop("lastname", "Last Name", group="contactinformation"),
        _prop("phone", "Phone Number", field_type="phonenumber", group="contactinformation"),
        _prop("company", "Company Name", group="contactinformation"),
        _prop("jobtitle", "Job Title", group="contactinformation"),
        _prop("lifecyclestage", "Lifecycle Stage", "enumeration", "radio", opts=stages, group="contactinformation"),
        _prop("salesforcecontactid", "Salesforce Contact ID", group="salesforceinformation"),
        _prop("salesforceleadid", "Salesforce Lead ID", group="salesforceinformation"),
        _prop("hubspot_owner_id", "Contact owner", "enumeration", external_options=True, group="contactinformation"),
        _prop(
            "hs_object_source",
            "Record source",
            "enumeration",
            opts=options(SOURCES),
            read_only=True,
            group="contactinformation",
        ),
        _prop("createdate", "Create Date", "datetime", group="contactinformation"),
        _prop("lastmodifieddate", "Last Modified Date", "datetime", read_only=True, group="contactinformation"),
        _prop(
            "hs_lastmodifieddate",
            "Object last modified date/time",
            "datetime",
            read_only=True,
            group="contactinformation",
        ),
        _prop(
            "associatedcompanyid",
            "Primary Associated Company ID",
            "number",
            read_only=True,
            integer=True,
            group="contactinformation",
        ),
        _prop("hs_object_id", "Record ID", "number", read_only=True, group="contactinformation"),
    ]
    return {"companies": {p["name"]: p for p in company}, "contacts": {p["name"]: p for p in contact}}


def render_definition(definition: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in definition.items() if not k.startswith("_")}


# --- value validation ---------------------------------------------------------------------------------


def _invalid(code: str, name: str, message: str) -> dict[str, Any]:
    return {"isValid": False, "message": message, "error": code, "name": name, "localizedErrorMessage": message}


def _number_text(number: float) -> str:
    return str(int(number)) if number == int(number) and abs(number) < 1e18 else repr(number)


def clean_values(
    definitions: dict[str, dict[str, Any]],
    values: Any,
    owner_ids: set[str] | dict[str, Any],
    *,
    allow_read_only: bool = False,
) -> tuple[dict[str, str], list[dict[str, Any]]]:
    """Validate and normalise property values like HubSpot: (clean values, invalid entries). A clean
    value of "" means "clear it"."""
    clean: dict[str, str] = {}
    invalid: list[dict[str, Any]] = []
    if values is None:
        return clean, invalid
    if not isinstance(values, dict):
        return clean, [_invalid("INVALID_INPUT", "properties", "properties must be an object")]
    for name, raw in values.items():
        definition = definitions.get(name)
        if definition is None or definition.get("archived"):
            invalid.append(_invalid("PROPERTY_DOESNT_EXIST", name, f'Property "{name}" does not exist'))
            continue
        if definition["modificationMetadata"]["readOnlyValue"] and not allow_read_only:
            invalid.append(
                _invalid("READ_ONLY_VALUE", name, f'"{name}" is a read only property; its value cannot be set.')
            )
            continue
        if raw is None:
            clean[name] = ""
            continue
        text = str(raw).lower() if isinstance(raw, bool) else str(raw)
        if text == "":
            clean[name] = ""
            continue
        kind = definition["type"]
        if kind == "number":
            try:
                number = float(text.replace(",", "")) if text.strip() else None
            except ValueError:
                number = None
            if number is None or number != number or number in (float("inf"), float("-inf")):
                code = "INVALID_INTEGER" if definition.get("_integer") else "INVALID_DECIMAL"
                noun = "integer" if code == "INVALID_INTEGER" else "number"
                invalid.append(_invalid(code, name, f"{text} was not a valid {noun}."))
                continue
            if definition.get("_integer") and number != int(number):
                invalid.append(_invalid("INVALID_INTEGER", name, f"{text} was not a valid integer."))
                continue
            clean[name] = _number_text(number)
        elif kind == "enumeration":
            if name == "hubspot_owner_id":
                if text not in owner_ids:
                    invalid.append(_invalid("INVALID_OWNER_ID", name, f"{text} is not a valid owner id"))
                    continue
                clean[name] = text
                continue
            allowed = [o["value"] for o in definition["options"]]
            parts = text.split(";") if definition["fieldType"] == "checkbox" else [text]
            bad = [p for p in parts if p not in allowed]
            if bad:
                invalid.append(
                    _invalid(
                        "INVALID_OPTION", name, f"{bad[0]} was not one of the allowed options: {json.dumps(allowed)}"
                    )
                )
                continue
            clean[name] = text
        elif kind in ("datetime", "date"):
            ms = to_ms(text)
            if ms is None:
                code = "INVALID_DATE" if kind == "date" else "INVALID_DATETIME"
                invalid.append(_invalid(code, name, f"{text} was not a valid {kind}."))
                continue
            if kind == "date":
                if ms % 86_400_000:
                    invalid.append(_invalid("INVALID_DATE", name, f"{text} is not at midnight UTC."))
                    continue
                clean[name] = iso_from_ms(ms)[:10]
            else:
                clean[name] = iso_from_ms(ms)
        elif kind == "bool":
            if text.lower() not in ("true", "false"):
                invalid.append(_invalid("INVALID_BOOLEAN", name, f"{text} was not a valid boolean."))
                continue
            clean[name] = text.lower()
        else:
            if name == "email" and not _EMAIL.match(text):
                invalid.append(_invalid("INVALID_EMAIL", name, f"Email address {text} is invalid"))
                continue
            if len(text) > 65536:
                invalid.append(_invalid("MAX_LENGTH_EXCEEDED", name, f"{name} is longer than 65536 characters"))
                continue
            clean[name] = text
    return clean, invalid


def invalid_message(invalid: list[dict[str, Any]]) -> str:
    return "Property values were not valid: " + json.dumps(invalid, separators=(",", ":"))


def invalid_details(invalid: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"message": e["message"], "code": e["error"], "context": {"propertyName": [e["name"]]}} for e in invalid]


# --- endpoints ------------------------------------------------------------------------------------------


def list_properties(defs: dict[str, dict[str, Any]], archived: bool, only: list[str] | None) -> dict[str, Any]:
    results = [
        render_definition(d)
        for d in defs.values()
        if bool(d.get("archived")) == archived and (not only or d["name"] in only)
    ]
    return {"results": results}


def get_property(defs: dict[str, dict[str, Any]], name: str, object_type: str) -> dict[str, Any]:
    definition = defs.get(name)
    if definition is None or definition.get("archived"):
        raise not_found(f"Unable to find property {name} for object type {object_type}")
    return definition


def _option_list(raw: Any) -> list[dict[str, Any]]:
    if not isinstance(raw, list):
        raise validation("options must be an array")
    result = []
    for i, option in enumerate(raw):
        if not isinstance(option, dict) or not option.get("value") or not option.get("label"):
            raise validation(f"options[{i}] needs a label and a value")
        order = option.get("displayOrder")
        result.append(
            {
                "label": str(option["label"]),
                "value": str(option["value"]),
                "displayOrder": int(order) if order is not None else i,
                "hidden": bool(option.get("hidden", False)),
                "description": str(option.get("description") or ""),
            }
        )
    values = [o["value"] for o in result]
    if len(set(values)) != len(values):
        raise validation("options must have distinct values")
    return result


def create_property(defs: dict[str, dict[str, Any]], request_body: Any) -> dict[str, Any]:
    if not isinstance(request_body, dict):
        raise validation("Invalid input JSON: expected a property definition")
    missing = [k for k in ("name", "label", "type", "fieldType", "groupName") if not request_body.get(k)]
    if missing:
        raise validation(f"Missing required fields: {', '.join(missing)}")
    name = str(request_body["name"])
    if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
        raise validation(f"Property name {name!r} must be lower case letters, digits and underscores")
    if name in defs and not defs[name].get("archived"):
        raise fail(409, "CONFLICT", f"Property {name} already exists")
    if request_body["type"] not in VALID_TYPES:
        raise validation(f"Invalid type {request_body['type']!r}; expected one of {sorted(VALID_TYPES)}")
    if request_body["fieldType"] not in VALID_FIELD_TYPES:
        raise validation(f"Invalid fieldType {request_body['fieldType']!r}")
    opts = _option_list(request_body.get("options") or [])
    if request_body["type"] == "enumeration" and not opts:
        raise validation("enumeration properties need options")
    now = now_iso()
    definition = _prop(
        name,
        str(request_body["label"]),
        request_body["type"],
        request_body["fieldType"],
        group=str(request_body["groupName"]),
        opts=opts,
        unique=bool(request_body.get("hasUniqueValue", False)),
    )
    definition.update(
        hubspotDefined=False,
        description=str(request_body.get("description") or ""),
        displayOrder=int(request_body.get("displayOrder", -1)),
        hidden=bool(request_body.get("hidden", False)),
        formField=bool(request_body.get("formField", True)),
        createdAt=now,
        updatedAt=now,
    )
    definition["modificationMetadata"].update(archivable=True, readOnlyDefinition=False, readOnlyOptions=False)
    defs[name] = definition
    return definition


def update_property(defs: dict[str, dict[str, Any]], name: str, object_type: str, request_body: Any) -> dict[str, Any]:
    definition = get_property(defs, name, object_type)
    if not isinstance(request_body, dict):
        raise validation("Invalid input JSON: expected a property update")
    if "options" in request_body and request_body["options"] is not None:
        if definition["type"] != "enumeration":
            raise validation(f"Property {name} is not an enumeration; it has no options")
        definition["options"] = _option_list(request_body["options"])
    for key in ("label", "description", "groupName", "displayOrder", "hidden", "formField"):
        if request_body.get(key) is not None:
            definition[key] = request_body[key]
    for key in ("type", "fieldType"):
        value = request_body.get(key)
        if value is not None and value != definition[key]:
            if definition.get("hubspotDefined"):
                raise validation(f"The {key} of HubSpot-defined property {name} cannot be changed")
            definition[key] = value
    definition["updatedAt"] = now_iso()
    return definition


def archive_property(defs: dict[str, dict[str, Any]], name: str, object_type: str) -> None:
    definition = get_property(defs, name, object_type)
    if definition.get("hubspotDefined"):
        raise validation(f"HubSpot-defined property {name} cannot be archived")
    definition["archived"] = True
    definition["archivedAt"] = now_iso()
