"""Matching keys from websites (the R9 domain key), only from valid host names; vectorised with pyarrow.

``check_hosts`` (and ``normalize_domain``, its host column): lower case; strip whitespace, scheme, userinfo (only
after ``//``: ``jane@acme.com`` is an email address, not a website), ``www.``, port, path, query, fragment and
trailing dots. The host that is left must be a valid host name, else it is no key, no HubSpot ``domain``, and the
record gets a warning (``HostProblem``):

- dotted, every label 1-63 letters/digits/hyphens without a leading or trailing hyphen, 253 characters at most;
- the last label (the top-level domain) starts with a letter: IPv4 addresses (and bracketed IPv6 ones) are not
  keys (``ip_address``);
- not a bare public suffix: a dot-less name (``com``) never is a key; ``PUBLIC_SUFFIXES`` lists the common
  multi-label suffixes (``co.uk``, ``com.au``, ...) that are refused too (``public_suffix``); it is a small
  built-in list, not the Public Suffix List;
- internationalised names (``münchen.de``) are converted to punycode (``xn--…``, IDNA 2008 via ``idna`` with
  UTS-46 mapping), the form HubSpot stores and DNS uses; a name ``idna`` refuses, or an ``xn--`` label that does
  not decode, is invalid. Only the rare non-ASCII / ``xn--`` values take that per-distinct-value Python path;
- a port that is not a number is ignored (``acme.com:abc`` gives ``acme.com``), like a path.

``matchable_domain`` additionally blanks free-mail providers: valid hosts, but never a matching key.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ._util import STR, const_str, shared_codes

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

# Common multi-label public suffixes (registrations happen below them): never a company's own domain.
PUBLIC_SUFFIXES = frozenset(
    {
        "co.uk", "org.uk", "me.uk", "ltd.uk", "plc.uk", "net.uk", "ac.uk", "gov.uk", "nhs.uk", "sch.uk",
        "com.au", "net.au", "org.au", "edu.au", "gov.au", "asn.au", "id.au", "co.nz", "org.nz", "net.nz",
        "govt.nz", "ac.nz", "co.jp", "ne.jp", "or.jp", "ac.jp", "go.jp", "co.kr", "or.kr", "ac.kr",
        "co.in", "net.in", "org.in", "firm.in", "gen.in", "ind.in", "ac.in", "gov.in", "co.za", "org.za",
        "gov.za", "ac.za", "com.br", "net.br", "org.br", "gov.br", "com.mx", "org.mx", "gob.mx", "com.ar",
        "com.cn", "net.cn", "org.cn", "gov.cn", "com.hk", "org.hk", "com.tw", "org.tw", "com.sg", "org.sg",
        "com.my", "com.ph", "com.tr", "org.tr", "gov.tr", "com.pl", "com.es", "com.pt", "co.il", "org.il",
        "ac.il", "co.at", "or.at", "com.ua", "co.id", "or.id", "ac.id", "go.id", "co.th", "in.th", "ac.th",
        "com.vn", "com.sa", "com.eg", "com.ng", "com.pk", "co.ke", "com.co", "com.pe", "com.ve", "com.ec",
        "co.ve", "github.io", "herokuapp.com", "blogspot.com", "azurewebsites.net", "cloudfront.net",
        "appspot.com", "netlify.app", "vercel.app", "pages.dev", "web.app", "firebaseapp.com",
    }
)  # fmt: skip
# Dot-less names that are top-level domains: reported as public suffixes rather than as "not a host name".
COMMON_TLDS = frozenset(
    {"com", "net", "org", "io", "co", "biz", "info", "uk", "de", "fr", "es", "it", "nl", "eu", "us", "ca", "au"}
)

# One pass strips what precedes the host (scheme + // + userinfo + www., or a bare www.) and cuts what follows it
_AROUND_HOST = r"^(?:[a-z][a-z0-9+.\-]*:)?//(?:[^@/?#\\\s]*@)?(?:www\d*\.)?|^www\d*\.|[/:?#\\].*"
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_HOST_NAME = rf"^(?:{_LABEL}\.)+[a-z](?:[a-z0-9-]{{0,61}}[a-z0-9])?$"
_IPV4 = r"^[0-9]{1,3}(?:\.[0-9]{1,3}){3}$"
MAX_HOST_LENGTH = 253


class HostProblem(StrEnum):
    """Why a non-blank website / domain gives no matching key (the per-record warning's code)."""

    NO_HOST = "no_host"  # nothing where the host goes: "http://", "https:///about"
    NOT_A_HOSTNAME = "not_a_hostname"  # bad characters or labels, no dot, too long, an IDN idna refuses
    IP_ADDRESS = "ip_address"  # 192.0.2.1, [2001:db8::1]
    EMAIL_ADDRESS = "email_address"  # jane@acme.com (userinfo is only read after "//")
    PUBLIC_SUFFIX = "public_suffix"  # co.uk, com: a registry's suffix, not a company's domain


class HostCheck(NamedTuple):
    host: pd.Series  # the normalised host name (``str``; NA when blank or invalid)
    problem: pd.Series  # a HostProblem for a non-blank value that gives no valid host (``str``; NA otherwise)


def _idna(host: str) -> str | None:
    """A host name with non-ASCII or ``xn--`` labels -> its punycode form, None when ``idna`` refuses it."""
    import idna

    try:
        encoded = idna.encode(host, uts46=True).decode("ascii")
        idna.decode(encoded)  # an xn-- label must decode
        return encoded
    except (idna.IDNAError, UnicodeError, ValueError):
        return None


def _through_idna(host: pd.Series) -> pd.Series:
    """Non-ASCII hosts and ``xn--`` labels through ``idna``, once per distinct value (rare)."""
    rare = host.notna() & (~host.str.isascii().fillna(True).astype(bool) | host.str.contains("xn--", regex=False))
    if not rare.any():
        return host
    host = host.copy()
    codes, uniques = pd.factorize(host[rare])
    host[rare] = np.array([_idna(h) for h in uniques], dtype=object)[codes]
    return host


def check_hosts(values: pd.Series) -> HostCheck:
    """Website/domain values -> (valid normalised host names, the problem of each non-blank invalid value)."""
    arr = pa.array(values.astype("str").array)
    s = pc.utf8_lower(pc.utf8_trim_whitespace(arr))
    host = pc.utf8_rtrim(pc.replace_substring_regex(s, _AROUND_HOST, ""), characters=".")
    host = _through_idna(pd.Series(pd.array(host, dtype="str")))
    h = pa.array(host.array)
    valid = pc.and_(pc.match_substring_regex(h, _HOST_NAME), pc.less_equal(pc.utf8_length(h), MAX_HOST_LENGTH))
    valid = np.asarray(valid.fill_null(False), dtype=bool) & ~host.isin(PUBLIC_SUFFIXES).to_numpy()
    blank = np.asarray(pc.fill_null(pc.equal(pc.utf8_length(s), 0), True), dtype=bool)
    problem = pd.Series(pd.array([None] * len(host), dtype="str")) if len(host) else host.iloc[:0]
    bad = np.flatnonzero(~valid & ~blank)
    if len(bad):  # rare: classified one by one
        raw = pd.Series(pd.array(s, dtype="str")).take(bad)
        problem.iloc[bad] = [_problem(r, h) for r, h in zip(raw, host.take(bad), strict=True)]
    return HostCheck(host.where(valid).astype("str"), problem)


def _problem(raw: str, host) -> str:
    import re

    if "@" in raw and "//" not in raw:
        return HostProblem.EMAIL_ADDRESS
    if host is None or host is pd.NA or (isinstance(host, float) and np.isnan(host)):
        return HostProblem.NOT_A_HOSTNAME  # idna refused it
    if host == "":
        return HostProblem.NO_HOST
    if re.match(_IPV4, host) or host.startswith("["):
        return HostProblem.IP_ADDRESS
    if host in PUBLIC_SUFFIXES or host in COMMON_TLDS:
        return HostProblem.PUBLIC_SUFFIX
    return HostProblem.NOT_A_HOSTNAME


def normalize_domain(values: pd.Series) -> pd.Series:
    """Website/domain values -> normalised host names (``str`` dtype, NA when blank or not a valid host)."""
    return check_hosts(values).host


def matchable_domain(values: pd.Series) -> pd.Series:
    """Normalised domains usable for matching: free-mail, invalid and blank values become NA."""
    return matchable(normalize_domain(values))


def matchable(d: pd.Series) -> pd.Series:
    """Already normalised domains -> matchable ones (lets callers normalise a column only once)."""
    bad = d.isin(FREE_MAIL_DOMAINS) | d.str.match(_FREE_MAIL_PATTERN).fillna(False).astype(bool)
    bad |= ~d.str.contains(".", regex=False).fillna(False).astype(bool)
    return d.where(~np.asarray(bad, dtype=bool))


@dataclass(frozen=True)
class DomainKeys:
    """The domain columns of the run, each checked once, and the R9 step 3 keys."""

    account_url: pd.Series | None  # the accounts' url field, normalised (None: no url mapping); NA when invalid
    company_domain: pd.Series  # the companies' domain, normalised
    account_code: np.ndarray  # R9 step 3 key: equal matchable domains, equal codes (-1: none)
    company_code: np.ndarray
    account_key: pd.Series  # the matchable domains the codes number (NA: no key); R9 inside one run recodes
    company_key: pd.Series  #   them after the run's writes (``duplicates.post_write_codes``)
    account_warning: pd.Series  # per account: "invalid_<field>_<HostProblem>" ('+'-joined), NA when none
    company_warning: pd.Series
    account_url_invalid: np.ndarray  # the url field holds a non-blank value with no valid host
    company_url_invalid: np.ndarray  # likewise the companies' url property


def _warning(problems: list[tuple[str, pd.Series]], n: int) -> pd.Series:
    """Per record: the '+'-joined ``invalid_<field>_<problem>`` codes of its invalid fields (NA: none)."""
    codes: dict[int, str] = {}
    for name, problem in problems:
        at = np.flatnonzero(problem.notna().to_numpy())  # rare
        for i, p in zip(at, problem.take(at), strict=True):
            code = f"invalid_{name.lower()}_{p}"
            codes[i] = f"{codes[i]}+{code}" if i in codes else code
    out = const_str(None, n)
    if codes:
        out = out.copy()
        out.iloc[list(codes)] = list(codes.values())
    return out


def url_fields(maps) -> tuple[str | None, str]:
    """(the accounts' url field, the companies' url property): the url mapping's, or none / ``website``."""
    url = next((m for m in maps if m.kind == "url"), None)
    return (url.salesforce, url.hubspot) if url is not None else (None, "website")


def domain_keys(accounts: pd.DataFrame, companies: pd.DataFrame, maps) -> DomainKeys:
    """Each domain column checked once; a company's website gives its key only where its domain gives none."""
    na, nc = len(accounts), len(companies)
    url_field, web_property = url_fields(maps)
    account_web = check_hosts(accounts["Website"]) if "Website" in accounts else HostCheck(*[const_str(None, na)] * 2)
    account_url = account_web if url_field in (None, "Website") else check_hosts(accounts[url_field])
    domain = check_hosts(companies["domain"])
    website = check_hosts(companies[web_property] if web_property in companies else const_str(None, nc))
    company_match = matchable(domain.host).fillna(matchable(website.host))
    account_match = matchable(account_web.host)
    account_code, company_code = shared_codes(account_match, company_match)
    account_problems = [("Website", account_web.problem)]
    if url_field not in (None, "Website"):
        account_problems.append((url_field, account_url.problem))
    return DomainKeys(
        account_url=None if url_field is None else account_url.host,
        company_domain=domain.host,
        account_code=account_code,
        company_code=company_code,
        account_key=account_match,
        company_key=company_match,
        account_warning=_warning(account_problems, na),
        company_warning=_warning([("domain", domain.problem), (web_property, website.problem)], nc),
        account_url_invalid=account_url.problem.notna().to_numpy()
        if url_field is not None
        else np.zeros(na, dtype=bool),
        company_url_invalid=website.problem.notna().to_numpy(),
    )


def blank_invalid_urls(accounts: pd.DataFrame, companies: pd.DataFrame, keys: DomainKeys, maps) -> None:
    """A url field with no valid host is treated as blank on write (never copied to the other system): the
    conformed frames (not the inputs) get NA there. The record's warning reports it."""
    url_field, web_property = url_fields(maps)
    if url_field is not None and keys.account_url_invalid.any():
        accounts[url_field] = accounts[url_field].astype(STR).where(~keys.account_url_invalid)
    if web_property in companies and keys.company_url_invalid.any():
        companies[web_property] = companies[web_property].astype(STR).where(~keys.company_url_invalid)
