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

import random
import weakref
from dataclasses import dataclass, field

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


@dataclass
class Universe:
    owners: list[Owner] = field(default_factory=list)
    accounts: list[Org] = field(default_factory=list)
    companies: list[Org] = field(default_factory=list)
    people: list[Person] = field(default_factory=list)


def _messy_website(rng: random.Random, domain: str) -> str:
    roll = rng.random()
    if roll < 0.05:
        return ""
    forms = (
        f"https://www.{domain}",
        f"http://{domain}/about-us",
        f"www.{domain}",
        domain,
        f"HTTPS://WWW.{domain.upper()}/",
        f"https://{domain}:443/contact?ref=ads",
        f"{domain}.",
    )
    return rng.choice(forms)


def _org(rng: random.Random, key: int, owners: int) -> Org:
    words = rng.sample(_WORDS, 2)
    name = f"{words[0]} {words[1]} {rng.choice(_SUFFIXES)}"
    domain = f"{words[0].lower()}{words[1].lower()}{key}.{rng.choice(_TLDS)}"
    city, state, country = rng.choice(_CITIES)
    return Org(
        key=key,
        name=name if rng.random() > 0.02 else f"  {name.upper()} ",
        domain=domain,
        website=_messy_website(rng, domain),
        phone=f"+1 555 {rng.randrange(1000, 9999)}" if rng.random() > 0.1 else "",
        industry=rng.choice(INDUSTRIES) if rng.random() > 0.2 else None,
        type=rng.choice(TYPES) if rng.random() > 0.3 else None,
        street=f"{rng.randrange(1, 999)} {rng.choice(_WORDS)} Street",
        city=city,
        state=state,
        postal_code=f"{rng.randrange(10000, 99999)}",
        country=country,
        annual_revenue=rng.randrange(1, 500) * 100_000 if rng.random() > 0.3 else None,
        employees=rng.randrange(1, 5000) if rng.random() > 0.3 else None,
        description=f"{name} makes {rng.choice(_WORDS).lower()} things." if rng.random() > 0.5 else "",
        owner=rng.randrange(owners),
    )


def build_universe(n: int, seed: int = 7) -> Universe:
    """The seed universe for N accounts and N companies (deterministic for a given N and seed)."""
    rng = random.Random(seed)
    u = Universe()
    u.owners = [
        Owner(first, last, f"{first.lower()}.{last.lower()}@sandbox-corp.example")
        for first, last in zip(_FIRST[:8], _LAST[:8], strict=True)
    ]
    u.owners.append(Owner("Integration", "User", "integration.user@sandbox-corp.example", in_hubspot=False))
    owner_count = len(u.owners) - 1  # records are owned by the humans

    overlap = int(n * 0.4)
    duplicates = max(1, n // 33) if n >= 10 else 0
    pool = [_org(rng, key, owner_count) for key in range(2 * n - overlap)]

    # Salesforce: the first n - duplicates orgs, plus accounts duplicating earlier ones' domains.
    u.accounts = pool[: n - duplicates]
    for i in range(duplicates):
        original = u.accounts[rng.randrange(len(u.accounts))]
        u.accounts.append(_duplicate(rng, original, len(pool) + i))
    # HubSpot: the overlap (same domains as accounts), then HubSpot-only orgs, plus duplicates.
    hs_only = pool[n : 2 * n - overlap - duplicates]
    u.companies = [_hubspot_view(rng, org) for org in pool[:overlap]] + hs_only
    for i in range(duplicates):
        original = u.companies[rng.randrange(len(u.companies))]
        u.companies.append(_duplicate(rng, original, len(pool) + duplicates + i))

    company_by_domain: dict[str, int] = {}
    for index, company in enumerate(u.companies):
        company_by_domain.setdefault(company.domain, index)

    def person(org_domain: str, **kwargs) -> Person:
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        key = len(u.people)
        email = f"{first.lower()}.{last.lower().replace('-', '')}{key}@{org_domain}"
        stage = rng.choice(LIFECYCLE_STAGES)
        return Person(
            key=key,
            first=first,
            last=last,
            email=email,
            lifecycle_stage=stage,
            in_inclusion_list=rng.random() < 0.6,
            owner=rng.randrange(owner_count),
            **kwargs,
        )

    # Contacts of accounts; most are synced to HubSpot and associated to the company of their domain.
    for index, account in enumerate(u.accounts):
        for _ in range(rng.choice((0, 1, 1, 2, 3))):
            synced = rng.random() < 0.7
            u.people.append(
                person(
                    account.domain,
                    salesforce_kind="contact",
                    salesforce_org=index,
                    in_hubspot=synced,
                    hubspot_company=company_by_domain.get(account.domain) if synced else None,
                )
            )
    # People of HubSpot-only companies: private contacts, leads, or HubSpot-only contacts.
    for index, company in enumerate(u.companies[overlap:], start=overlap):
        for _ in range(rng.choice((0, 1, 1, 2))):
            kind = rng.choice(("private_contact", "lead", None))
            u.people.append(
                person(
                    company.domain, salesforce_kind=kind, salesforce_org=None, in_hubspot=True, hubspot_company=index
                )
            )
    # A few free-mail people: never matched to a company by domain.
    for _ in range(max(1, n // 50)):
        u.people.append(
            person(
                rng.choice(FREE_MAIL),
                salesforce_kind=rng.choice(("lead", "private_contact")),
                salesforce_org=None,
                in_hubspot=True,
                hubspot_company=None,
            )
        )
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


def _duplicate(rng: random.Random, original: Org, key: int) -> Org:
    """Another record of the same organisation: same domain, differently typed website and name."""
    return Org(
        **{
            **original.__dict__,
            "key": key,
            "name": original.name.strip().upper(),
            "website": _messy_website(rng, original.domain) or f"www.{original.domain}",
            "phone": "",
        }
    )


def _hubspot_view(rng: random.Random, org: Org) -> Org:
    """How HubSpot knows an organisation Salesforce also has: same domain, slightly different values."""
    return Org(
        **{
            **org.__dict__,
            "website": f"www.{org.domain}" if rng.random() > 0.1 else org.domain,
            "phone": org.phone if rng.random() > 0.3 else f"+1 555 {rng.randrange(1000, 9999)}",
            "name": org.name.strip() if rng.random() > 0.2 else org.name.strip() + " (HQ)",
        }
    )
