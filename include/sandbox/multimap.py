"""Hashed indexes that map a key to record ids, stored compactly: one id is kept as the `str` itself,
two or more as a `set` (at 1,000,000 records most keys, e-mail addresses and ids, have one record:
a set each would cost about 200 bytes per record and index)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any


def lowered(text: str) -> str:
    """`text.lower()`, but `text` itself when it already is (an index key then shares the record's
    string instead of holding a copy: a million e-mail addresses are 100 MB)."""
    low = text.lower()
    return text if low == text else low


def folded(text: str) -> str:
    """`text.casefold()`, sharing `text` when it already is."""
    low = text.casefold()
    return text if low == text else low


def add(index: dict[Any, str | set[str]], key: Any, rid: str) -> None:
    current = index.get(key)
    if current is None:
        index[key] = rid
    elif type(current) is str:
        if current != rid:
            index[key] = {current, rid}
    else:
        current.add(rid)


def discard(index: dict[Any, str | set[str]], key: Any, rid: str) -> None:
    current = index.get(key)
    if current is None:
        return
    if type(current) is str:
        if current == rid:
            del index[key]
        return
    current.discard(rid)
    if len(current) == 1:
        index[key] = next(iter(current))
    elif not current:
        del index[key]


def get(index: dict[Any, str | set[str]], key: Any) -> Collection[str]:
    """The ids under `key` (empty when none)."""
    current = index.get(key, ())
    return (current,) if type(current) is str else current
