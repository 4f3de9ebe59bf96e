"""Helpers both connectors use to shape the ids and records they send."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import pandas as pd


def dedupe(values: Iterable[Any]) -> list[str]:
    """Distinct non-blank values as stripped strings, in first-seen order (None and NaN dropped)."""
    seen: dict[str, None] = {}
    for value in values:
        if value is None or (isinstance(value, float) and pd.isna(value)):
            continue
        text = str(value).strip()
        if text:
            seen.setdefault(text, None)
    return list(seen)


def chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
