"""The seed both sandbox halves load with `--seed N`: one deterministic, realistic universe of
organisations and people, from which Salesforce builds its accounts, contacts, leads and users, and
HubSpot its companies, contacts, associations, owners and inclusion list.

What it contains, on purpose (the sync must cope with all of it):
- N Salesforce accounts and N HubSpot companies; 40 % of the companies share a domain with an account;
- messy websites (schemes, `www.`, paths, ports, upper case, blanks) and a few accounts and companies
  that duplicate another one's domain;
- contacts of accounts (most also in HubSpot, linked by `salesforcecontactid`), private contacts (no
  account) and leads whose email domains belong to HubSpot-only companies, HubSpot-only contacts,
  free-mail addresses;
- owners present on both sides (matched by email), and one Salesforce user with no HubSpot owner.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from sys import intern
from typing import TypeVar, overload

import numpy as np

Row = TypeVar("Row")

_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def salesforce_id(prefix: str, number: int, instance: str = "5g") -> str:
    """An 18-character Salesforce id: 3-char key prefix, 2-char instance, 10-char base-62 number, and
    the 3-char case-safe checksum Salesforce appends to 15-character ids."""
    digits = []
    for _ in range(10):
        number, rem = divmod(number, 62)
        digits.append(_BASE62[rem])
    base = prefix + instance + "".join(reversed(digits))
    return base + id_checksum(base)


_UPPER = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ")


def id_checksum(id15: str) -> str:
    suffix = ""
    for start in (0, 5, 10):
        bits = 0
        for i in range(5):
            if id15[start + i] in _UPPER:
                bits |= 1 << i
        suffix += _ALPHABET[bits]
    return suffix


FREE_MAIL = ("gmail.com", "yahoo.com", "hotmail.com", "outlook.com")
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
INDUSTRIES = (
    "Agriculture",
    "Banking",
    "Biotechnology",
    "Construction",
    "Consulting",
    "Education",
    "Energy",
    "Finance",
    "Healthcare",
    "Insurance",
    "Manufacturing",
    "Media",
    "Retail",
    "Technology",
    "Telecommunications",
    "Transportation",
)
TYPES = ("Prospect", "Customer - Direct", "Customer - Channel", "Channel Partner / Reseller", "Other")
_WORDS = (
    "Acme",
    "Globex",
    "Initech",
    "Umbrella",
    "Stark",
    "Wayne",
    "Wonka",
    "Tyrell",
    "Cyberdyne",
    "Soylent",
    "Hooli",
    "Vandelay",
    "Pied",
    "Piper",
    "Gringotts",
    "Oscorp",
    "Aperture",
    "Black",
    "Mesa",
    "Nakatomi",
    "Monarch",
    "Dunder",
    "Mifflin",
    "Sterling",
    "Cooper",
    "Prestige",
    "Wolfram",
    "Massive",
    "Dynamic",
    "Blue",
    "Sun",
    "River",
    "North",
    "Summit",
    "Harbor",
    "Cedar",
    "Falcon",
)
_SUFFIXES = ("Inc", "LLC", "Ltd", "Group", "Labs", "Systems", "Partners", "Holdings", "GmbH", "SA")
_TLDS = ("com", "com", "com", "io", "co", "net", "de", "fr", "co.uk")
_FIRST = (
    "Ada",
    "Alan",
    "Grace",
    "Linus",
    "Margaret",
    "Ken",
    "Barbara",
    "Dennis",
    "Frances",
    "Edsger",
    "Radia",
    "Tim",
    "Hedy",
    "Claude",
    "Sophie",
    "John",
    "Katherine",
    "Donald",
    "Anita",
    "Bjarne",
)
_LAST = (
    "Lovelace",
    "Turing",
    "Hopper",
    "Torvalds",
    "Hamilton",
    "Thompson",
    "Liskov",
    "Ritchie",
    "Allen",
    "Dijkstra",
    "Perlman",
    "Berners-Lee",
    "Lamarr",
    "Shannon",
    "Wilson",
    "McCarthy",
    "Johnson",
    "Knuth",
    "Borg",
    "Stroustrup",
)
_CITIES = (
    ("Boston", "MA", "United States"),
    ("Austin", "TX", "United States"),
    ("Paris", "", "France"),
    ("Berlin", "", "Germany"),
    ("London", "", "United Kingdom"),
    ("Dublin", "", "Ireland"),
)


@dataclass(frozen=True)
class Owner:
    first: str
    last: str
    email: str
    in_hubspot: bool = True


@dataclass(frozen=True)
class Org:
    key: int
    name: str
    domain: str
    website: str  # as typed by a user: messy, sometimes blank
    phone: str
    industry: str | None  # a Salesforce Industry picklist value
    type: str | None  # a Salesforce Type picklist value
    street: str
    city: str
    state: str
    postal_code: str
    country: str
    annual_revenue: int | None
    employees: int | None
    description: str
    owner: int  # index into Universe.owners


@dataclass(frozen=True)
class Person:
    key: int
    first: str
    last: str
    email: str
    # Where the person lives in Salesforce: "contact" (of salesforce_org), "private_contact" (no account),
    # "lead", or None (HubSpot only).
    salesforce_kind: str | None
    salesforce_org: int | None  # index into Universe.accounts for a contact
    in_hubspot: bool
    hubspot_company: int | None  # index into Universe.companies it is associated with, if any
    lifecycle_stage: str
    in_inclusion_list: bool
    owner: int


class _ColumnRows(Sequence[Row]):
    """Rows kept as columns: `table[i]` builds the row (`row_type`) from `column(name, i, i + 1)`; subclasses
    give `__len__` and `column`."""

    row_type: type

    def column(self, name: str, start: int = 0, stop: int | None = None, *, take: np.ndarray | None = None) -> list:
        raise NotImplementedError

    @overload
    def __getitem__(self, index: int) -> Row: ...

    @overload
    def __getitem__(self, index: slice) -> list[Row]: ...

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(index)
        fields = self.row_type.__dataclass_fields__
        return self.row_type(**{name: self.column(name, index, index + 1)[0] for name in fields})

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]


class OrgTable(_ColumnRows[Org]):
    """Organisations stored as numpy columns; `table[i]` builds the `Org`, `column(name)` a whole column
    as a list (what the seeders use: no `Org` per row).

    Each row is a pool organisation (`src`: its name words, domain, address, ... ) seen in one way:
    `name_mode` (0 as in the pool, 1 stripped, 2 stripped + " (HQ)", 3 stripped upper case, 4 both),
    `website_mode` (-1 blank, 0-6 the messy forms, 7 `www.domain`, 8 the bare domain) and `phone`
    (0: none, else the 4 digits)."""

    row_type = Org

    def __init__(self, pool: _Pool, src: np.ndarray, key: np.ndarray, name_mode: np.ndarray, website_mode, phone):
        self.pool, self.src, self.key = pool, src, key
        self.name_mode, self.website_mode, self.phone = name_mode, website_mode, phone

    def __len__(self) -> int:
        return len(self.src)

    def column(self, name: str, start: int = 0, stop: int | None = None, *, take: np.ndarray | None = None) -> list:
        """One field of rows [start, stop) (or of the rows `take`) as a list of Python values; the texts
        that repeat (names, streets, postal codes, phones, descriptions) interned, so that both halves'
        records share them."""
        values = self._column(name, start, stop, take)
        return [intern(v) for v in values] if name in _REPEATING else values

    def _column(self, name: str, start: int, stop: int | None, take: np.ndarray | None) -> list:
        rows = slice(start, stop) if take is None else take
        pool, src = self.pool, self.src[rows]
        if name == "key":
            return self.key[rows].tolist()
        if name == "domain":
            return pool.domains(src)
        if name == "name":
            base = pool.names(src)
            return [
                n if m == 0 else _NAME_MODES[m](n) for n, m in zip(base, self.name_mode[rows].tolist(), strict=True)
            ]
        if name == "website":
            domains = pool.domains(src)
            return [
                "" if m < 0 else _WEBSITE_FORMS[m](d)
                for d, m in zip(domains, self.website_mode[rows].tolist(), strict=True)
            ]
        if name == "phone":
            return [f"+1 555 {p}" if p else "" for p in self.phone[rows].tolist()]
        return pool.column(name, src)


@dataclass
class Universe:
    owners: list[Owner] = field(default_factory=list)
    accounts: Sequence[Org] = field(default_factory=list)
    companies: Sequence[Org] = field(default_factory=list)
    people: Sequence[Person] = field(default_factory=list)


_REPEATING = frozenset({"name", "street", "postal_code", "phone", "description"})
_NAME_MODES = {
    1: lambda n: n.strip(),
    2: lambda n: n.strip() + " (HQ)",
    3: lambda n: n.strip().upper(),
    4: lambda n: (n.strip() + " (HQ)").upper(),
}
_WEBSITE_FORMS = (
    lambda d: f"https://www.{d}",
    lambda d: f"http://{d}/about-us",
    lambda d: f"www.{d}",
    lambda d: d,
    lambda d: f"HTTPS://WWW.{d.upper()}/",
    lambda d: f"https://{d}:443/contact?ref=ads",
    lambda d: f"{d}.",
    lambda d: f"www.{d}",
    lambda d: d,
)
_WORDS_LOWER = tuple(w.lower() for w in _WORDS)


class _Pool:
    """The organisations' own attributes, one numpy column each (index = the organisation's key)."""

    def __init__(self, rng: np.random.Generator, size: int, owners: int):
        def flag(p_set: float) -> np.ndarray:
            return rng.random(size) < p_set

        self.w1 = rng.integers(0, len(_WORDS), size)
        self.w2 = (self.w1 + 1 + rng.integers(0, len(_WORDS) - 1, size)) % len(_WORDS)  # two different words
        self.suffix = rng.integers(0, len(_SUFFIXES), size)
        self.tld = rng.integers(0, len(_TLDS), size)
        self.city = rng.integers(0, len(_CITIES), size)
        self.shout = flag(0.02)
        self.website_mode = np.where(flag(0.05), -1, rng.integers(0, 7, size))
        self.phone = np.where(flag(0.9), rng.integers(1000, 9999, size), 0)
        self.industry = np.where(flag(0.8), rng.integers(0, len(INDUSTRIES), size), -1)
        self.type = np.where(flag(0.7), rng.integers(0, len(TYPES), size), -1)
        self.street_no = rng.integers(1, 999, size)
        self.street_word = rng.integers(0, len(_WORDS), size)
        self.postal = rng.integers(10000, 99999, size)
        self.revenue = np.where(flag(0.7), rng.integers(1, 500, size) * 100_000, -1)
        self.employees = np.where(flag(0.7), rng.integers(1, 5000, size), -1)
        self.description = np.where(flag(0.5), rng.integers(0, len(_WORDS), size), -1)
        self.owner = rng.integers(0, owners, size)
        for name, column in vars(self).items():  # 4 bytes a value are plenty
            setattr(self, name, column.astype(np.int32) if column.dtype == np.int64 else column)

    def plain_names(self, src: np.ndarray) -> list[str]:
        w, s = _WORDS, _SUFFIXES
        return [
            f"{w[a]} {w[b]} {s[c]}"
            for a, b, c in zip(self.w1[src].tolist(), self.w2[src].tolist(), self.suffix[src].tolist(), strict=True)
        ]

    def names(self, src: np.ndarray) -> list[str]:
        return [
            f"  {n.upper()} " if shout else n
            for n, shout in zip(self.plain_names(src), self.shout[src].tolist(), strict=True)
        ]

    def domains(self, src: np.ndarray) -> list[str]:
        w, t = _WORDS_LOWER, _TLDS
        return [
            f"{w[a]}{w[b]}{k}.{t[c]}"
            for a, b, k, c in zip(
                self.w1[src].tolist(), self.w2[src].tolist(), src.tolist(), self.tld[src].tolist(), strict=True
            )
        ]

    def column(self, name: str, src: np.ndarray) -> list:
        if name in ("city", "state", "country"):
            part = ("city", "state", "country").index(name)
            return [_CITIES[c][part] for c in self.city[src].tolist()]
        if name == "industry":
            return [INDUSTRIES[i] if i >= 0 else None for i in self.industry[src].tolist()]
        if name == "type":
            return [TYPES[i] if i >= 0 else None for i in self.type[src].tolist()]
        if name == "street":
            w = _WORDS
            return [
                f"{no} {w[word]} Street"
                for no, word in zip(self.street_no[src].tolist(), self.street_word[src].tolist(), strict=True)
            ]
        if name == "postal_code":
            return [str(p) for p in self.postal[src].tolist()]
        if name == "annual_revenue":
            return [r if r >= 0 else None for r in self.revenue[src].tolist()]
        if name == "employees":
            return [e if e >= 0 else None for e in self.employees[src].tolist()]
        if name == "description":
            w = _WORDS_LOWER
            return [
                f"{n} makes {w[d]} things." if d >= 0 else ""
                for n, d in zip(self.plain_names(src), self.description[src].tolist(), strict=True)
            ]
        if name == "owner":
            return self.owner[src].tolist()
        raise KeyError(name)


_KINDS = ("contact", "private_contact", "lead", None)


class PersonTable(_ColumnRows[Person]):
    """People stored as numpy columns; `table[i]` builds the `Person`, `column(name)` a whole column.
    `org` is the pool organisation whose domain the email uses (-1 - k: free-mail domain k); `kind`
    indexes `_KINDS`; -1 stands for None in `salesforce_org` / `hubspot_company`."""

    row_type = Person

    def __init__(self, pool: _Pool, columns: dict[str, np.ndarray]):
        self.pool = pool
        self.columns = columns
        self._emails: list[str] | None = None  # built once, shared by both halves' records

    def __len__(self) -> int:
        return len(self.columns["first"])

    def column(self, name: str, start: int = 0, stop: int | None = None, *, take: np.ndarray | None = None) -> list:
        """One field of rows [start, stop) (or of the rows `take`) as a list of Python values."""
        rows = slice(start, stop) if take is None else take
        c = self.columns
        if name == "key":
            return list(range(*rows.indices(len(self)))) if take is None else take.tolist()
        if name == "first":
            return [_FIRST[i] for i in c["first"][rows].tolist()]
        if name == "last":
            return [_LAST[i] for i in c["last"][rows].tolist()]
        if name == "email":
            if self._emails is None:
                self._emails = self._email_column()
            emails = self._emails
            return emails[rows] if take is None else [emails[i] for i in take.tolist()]
        if name == "salesforce_kind":
            return [_KINDS[k] for k in c["kind"][rows].tolist()]
        if name in ("salesforce_org", "hubspot_company"):
            return [v if v >= 0 else None for v in c[name][rows].tolist()]
        if name == "lifecycle_stage":
            return [LIFECYCLE_STAGES[i] for i in c["stage"][rows].tolist()]
        if name in ("in_hubspot", "in_inclusion_list", "owner"):
            return c[name][rows].tolist()
        raise KeyError(name)

    def _email_column(self) -> list[str]:
        c = self.columns
        org = c["org"]
        own = iter(self.pool.domains(org[org >= 0]))  # in row order; free-mail rows take FREE_MAIL[-1 - org]
        domains = [next(own) if o >= 0 else FREE_MAIL[-1 - o] for o in org.tolist()]
        first, last = _FIRST_LOWER, _LAST_LOWER
        return [
            f"{first[f]}.{last[la]}{key}@{d}"
            for key, (f, la, d) in enumerate(zip(c["first"].tolist(), c["last"].tolist(), domains, strict=True))
        ]


_FIRST_LOWER = tuple(f.lower() for f in _FIRST)
_LAST_LOWER = tuple(la.lower().replace("-", "") for la in _LAST)


def build_universe(n: int, seed: int = 7) -> Universe:
    """The seed universe for N accounts and N companies (deterministic for a given N and seed), drawn with
    numpy: a few seconds and a few hundred MB at N = 1,000,000 (rows are built only when read)."""
    rng = np.random.default_rng([seed, n])
    u = Universe()
    u.owners = [
        Owner(first, last, f"{first.lower()}.{last.lower()}@sandbox-corp.example")
        for first, last in zip(_FIRST[:8], _LAST[:8], strict=True)
    ]
    u.owners.append(Owner("Integration", "User", "integration.user@sandbox-corp.example", in_hubspot=False))
    owner_count = len(u.owners) - 1  # records are owned by the humans

    overlap = int(n * 0.4)
    duplicates = max(1, n // 33) if n >= 10 else 0
    size = 2 * n - overlap
    pool = _Pool(rng, size, owner_count)
    zeros = np.zeros(0, dtype=np.int64)

    def duplicate_of(src, name_mode, count: int, first_key: int):
        """`count` more records of organisations drawn from the rows given: same domain, the name in
        upper case, a differently typed website (never blank), no phone."""
        if not count:
            return zeros, zeros, zeros, zeros, zeros
        picked = rng.integers(0, len(src), count)
        forms = rng.integers(0, 7, count)
        website = np.where(rng.random(count) < 0.05, 7, forms)
        modes = np.where(name_mode[picked] == 2, 4, 3)
        return src[picked], np.arange(first_key, first_key + count), modes, website, np.zeros(count, dtype=np.int64)

    # Salesforce: the first n - duplicates orgs, plus accounts duplicating earlier ones' domains.
    base = np.arange(n - duplicates)
    d_src, d_key, d_name, d_web, d_phone = duplicate_of(base, np.zeros(len(base), np.int64), duplicates, size)
    u.accounts = OrgTable(
        pool,
        np.concatenate([base, d_src]),
        np.concatenate([base, d_key]),
        np.concatenate([np.zeros(len(base), np.int64), d_name]),
        np.concatenate([pool.website_mode[base], d_web]),
        np.concatenate([pool.phone[base], d_phone]),
    )
    # HubSpot: the overlap (same domains as accounts, slightly different values), then HubSpot-only
    # orgs, plus duplicates.
    view = np.arange(overlap)
    view_web = np.where(rng.random(overlap) > 0.1, 7, 8)
    view_phone = np.where(rng.random(overlap) > 0.3, pool.phone[view], rng.integers(1000, 9999, overlap))
    view_name = np.where(rng.random(overlap) > 0.2, 1, 2)
    only = np.arange(n, 2 * n - overlap - duplicates)
    src = np.concatenate([view, only])
    name_mode = np.concatenate([view_name, np.zeros(len(only), np.int64)])
    d_src, d_key, d_name, d_web, d_phone = duplicate_of(src, name_mode, duplicates, size + duplicates)
    u.companies = OrgTable(
        pool,
        np.concatenate([src, d_src]),
        np.concatenate([src, d_key]),
        np.concatenate([name_mode, d_name]),
        np.concatenate([view_web, pool.website_mode[only], d_web]),
        np.concatenate([view_phone, pool.phone[only], d_phone]),
    )

    # Contacts of accounts; most are synced to HubSpot and associated to the company of their domain
    # (the overlap company of the same organisation: company index = pool index).
    per_account = np.array((0, 1, 1, 2, 3))[rng.integers(0, 5, len(u.accounts))]
    account_of = np.repeat(np.arange(len(u.accounts)), per_account)
    synced = rng.random(len(account_of)) < 0.7
    account_src = u.accounts.src[account_of]
    contacts = {
        "org": account_src,
        "kind": np.zeros(len(account_of), np.int64),
        "salesforce_org": account_of,
        "in_hubspot": synced,
        "hubspot_company": np.where(synced & (account_src < overlap), account_src, -1),
    }
    # People of HubSpot-only companies: private contacts, leads, or HubSpot-only contacts.
    per_company = np.array((0, 1, 1, 2))[rng.integers(0, 4, max(0, len(u.companies) - overlap))]
    company_of = np.repeat(np.arange(overlap, len(u.companies)), per_company)
    hs_only = {
        "org": u.companies.src[company_of],
        "kind": rng.integers(1, 4, len(company_of)),
        "salesforce_org": np.full(len(company_of), -1),
        "in_hubspot": np.ones(len(company_of), bool),
        "hubspot_company": company_of,
    }
    # A few free-mail people: never matched to a company by domain.
    free = max(1, n // 50)
    free_mail = {
        "org": -1 - rng.integers(0, len(FREE_MAIL), free),
        "kind": np.where(rng.random(free) < 0.5, 2, 1),
        "salesforce_org": np.full(free, -1),
        "in_hubspot": np.ones(free, bool),
        "hubspot_company": np.full(free, -1),
    }
    columns = {name: np.concatenate([contacts[name], hs_only[name], free_mail[name]]) for name in contacts}
    people = len(columns["org"])
    columns["first"] = rng.integers(0, len(_FIRST), people)
    columns["last"] = rng.integers(0, len(_LAST), people)
    columns["stage"] = rng.integers(0, len(LIFECYCLE_STAGES), people)
    columns["in_inclusion_list"] = rng.random(people) < 0.6
    columns["owner"] = rng.integers(0, owner_count, people)
    columns = {k: v.astype(np.int32) if v.dtype == np.int64 else v for k, v in columns.items()}
    u.people = PersonTable(pool, columns)
    return u


_SHARED: weakref.WeakValueDictionary[tuple[int, int], Universe] = weakref.WeakValueDictionary()


def shared_universe(n: int, seed: int = 7) -> Universe:
    """`build_universe(n, seed)`, built once while someone holds it: both halves seeding in one process
    (`start_sandbox(seed=N)` holds it across both resets) share one build. Callers must not modify it."""
    key = (n, seed)
    universe = _SHARED.get(key)
    if universe is None:
        universe = build_universe(n, seed)
        _SHARED[key] = universe
    return universe


def salesforce_ids(prefix: str, numbers: np.ndarray, instance: str = "5g") -> list[str]:
    """`salesforce_id(prefix, number)` for every number, vectorised."""
    numbers = np.asarray(numbers, dtype=np.int64)
    if not len(numbers):
        return []
    digits = (numbers[:, None] // (62 ** np.arange(9, -1, -1, dtype=np.int64))) % 62  # most significant first
    upper = (digits >= 10) & (digits < 36)
    weights = 1 << np.arange(5)
    head = prefix + instance
    head_sum = id_checksum(head + "0000000000")[0]
    alphabet = np.frombuffer(_ALPHABET.encode(), np.uint8)
    base62 = np.frombuffer(_BASE62.encode(), np.uint8)
    out = np.empty((len(numbers), 18), np.uint8)
    out[:, :5] = np.frombuffer(head.encode(), np.uint8)
    out[:, 5:15] = base62[digits]
    out[:, 15] = ord(head_sum)
    out[:, 16] = alphabet[(upper[:, :5] * weights).sum(axis=1)]
    out[:, 17] = alphabet[(upper[:, 5:] * weights).sum(axis=1)]
    return out.view("S18").ravel().astype("U18").tolist()


def iso_strings(ms: np.ndarray, suffix: str) -> list[str]:
    """Epoch milliseconds as `2026-01-31T12:00:00.000` + suffix (`Z` for HubSpot, `+0000` for
    Salesforce), vectorised."""
    if not len(ms):
        return []
    text = np.datetime_as_string(np.asarray(ms, dtype=np.int64).astype("datetime64[ms]"), unit="ms")
    return np.char.add(text, suffix).tolist()
