"""Record id formats and safe path segments, written once for the engine, tasks, reports and the UI plugin.

Light on purpose (only `re`): the UI plugin imports it in the API server.
"""

from __future__ import annotations

import re

# Salesforce record ids: a key prefix (001 Account, 003 Contact, 00Q Lead, 005 User), 15 case-sensitive or
# 18 case-insensitive characters.
ACCOUNT_ID_PATTERN = r"^001[a-zA-Z0-9]{12}(?:[a-zA-Z0-9]{3})?$"
CONTACT_ID_PATTERN = r"^003[a-zA-Z0-9]{12}(?:[a-zA-Z0-9]{3})?$"
LEAD_ID_PATTERN = r"^00Q[a-zA-Z0-9]{12}(?:[a-zA-Z0-9]{3})?$"
USER_ID_PATTERN = r"^005[a-zA-Z0-9]{12}(?:[a-zA-Z0-9]{3})?$"
# A HubSpot object id: a positive integer.
HUBSPOT_ID_PATTERN = r"^[0-9]{1,20}$"

ACCOUNT_ID = re.compile(ACCOUNT_ID_PATTERN)
HUBSPOT_ID = re.compile(HUBSPOT_ID_PATTERN)

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def safe_segment(value: str) -> str:
    """A path segment from an id: characters other than letters, digits, `.`, `_`, `-` become `_`.

    `scheduled__2026-11-28T02:00:00+00:00` → `scheduled__2026-11-28T02_00_00_00_00`. Empty, `.` and `..`
    are refused, so an id can never name a parent folder.
    """
    if not value:
        raise ValueError("an empty id cannot name a folder")
    segment = _UNSAFE.sub("_", value)
    if segment in (".", ".."):
        raise ValueError(f"{value!r} cannot name a folder")
    return segment
