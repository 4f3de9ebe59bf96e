"""Domain normalisation (the R9 matching key), vectorised with pandas ``.str``.

``normalize_domain``: lower case; strip whitespace, scheme, userinfo, ``www.``, port, path, query, fragment and
trailing dots. Internationalised names are converted to punycode (``xn--…``, IDNA 2008 via ``idna``, UTS-46
mapping), the form HubSpot stores and DNS uses; only the rare non-ASCII values take that per-value path.
``matchable_domain`` additionally blanks free-mail providers and values without a dot: they never match.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

FREE_MAIL_DOMAINS = frozenset(
    {
        "gmail.com", "googlemail.com", "yahoo.com", "yahoo.co.uk", "yahoo.fr", "ymail.com", "hotmail.com",
        "hotmail.co.uk", "hotmail.fr", "outlook.com", "live.com", "msn.com", "aol.com", "icloud.com", "me.com",
        "mac.com", "proton.me", "protonmail.com", "pm.me", "gmx.com", "gmx.net", "gmx.de", "gmx.at", "gmx.ch",
        "gmx.fr", "web.de", "mail.com", "yandex.com", "yandex.ru", "mail.ru", "zoho.com", "qq.com",
        "163.com", "126.com", "fastmail.com", "tutanota.com", "hey.com", "orange.fr", "free.fr", "laposte.net",
    }
)  # fmt: skip
_FREE_MAIL_PATTERN = r"^(?:gmx|yahoo|hotmail|outlook|live)\.[a-z.]+$"

_HOST = re.compile(
    r"^(?:(?:[a-z][a-z0-9+.\-]*:)?//)?"  # scheme://
    r"(?:[^@/?#]*@)?"  # userinfo
    r"(?:www\d*\.)?"  # www.
    r"([^/:?#\\\s]*)"  # host
)


_HOST_RE2 = _HOST.pattern.replace("([^", "(?P<h>[^", 1)


def _idna(host: str) -> str | None:
    import idna

    try:
        return idna.encode(host, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError, ValueError):
        return None


def normalize_domain(values: pd.Series) -> pd.Series:
    """Website/domain values -> normalised host names (``str`` dtype, NA when blank or unusable)."""
    arr = pa.array(values.astype("str").array)
    s = pc.utf8_lower(pc.utf8_trim_whitespace(arr))
    host = pc.struct_field(pc.extract_regex(s, _HOST_RE2), "h")
    host = pc.utf8_rtrim(host, characters=".")
    host = pc.if_else(pc.starts_with(host, "www."), pc.utf8_slice_codeunits(host, 4), host)
    host = pd.Series(pd.array(host, dtype="str"))
    non_ascii = host.notna() & ~host.str.isascii().fillna(True).astype(bool)
    if non_ascii.any():
        host = host.copy()
        codes, uniques = pd.factorize(host[non_ascii])
        converted = np.array([_idna(h) for h in uniques], dtype=object)  # rare, per distinct value: punycode
        host[non_ascii] = converted[codes]
    host = host.where(host.str.len() > 0)
    return host.astype("str")


def matchable_domain(values: pd.Series) -> pd.Series:
    """Normalised domains usable for matching: free-mail, dot-less and blank values become NA."""
    return matchable(normalize_domain(values))


def matchable(d: pd.Series) -> pd.Series:
    """Already normalised domains -> matchable ones (lets callers normalise a column only once)."""
    bad = d.isin(FREE_MAIL_DOMAINS) | d.str.match(_FREE_MAIL_PATTERN).fillna(False).astype(bool)
    bad |= ~d.str.contains(".", regex=False).fillna(False).astype(bool)
    return d.where(~np.asarray(bad, dtype=bool))
