"""Running totals of long reads and writes for the task logs.

A 100k load or extract shows how far it got and how fast, in one line every `every` seconds instead of one
per batch ("HubSpot: 4,300/12,127 upserted, 0 failed, 1,650 rec/s"). Counts only: never record values.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")


class Progress:
    """Counts of one long operation, logged at most every `every` seconds while it runs (never at the end:
    the caller logs its final line, `line()`, with whatever detail it has)."""

    def __init__(
        self,
        subject: str,
        verb: str,
        total: int | None = None,
        *,
        failures: bool = False,
        every: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.subject, self.verb, self.total, self.failures = subject, verb, total, failures
        self.every, self.clock = every, clock
        self.done = self.failed = 0
        self.started = self.last = clock()

    def add(self, done: int, failed: int = 0) -> None:
        self.done += done
        self.failed += failed
        now = self.clock()
        if now - self.last >= self.every and (self.total is None or self.done < self.total):
            self.last = now
            log.info("%s", self.line(now))

    def line(self, now: float | None = None) -> str:
        elapsed = max((self.clock() if now is None else now) - self.started, 1e-9)
        count = f"{self.done:,}" if self.total is None else f"{self.done:,}/{self.total:,}"
        failed = f", {self.failed:,} failed" if self.failures else ""
        return f"{self.subject}: {count} {self.verb}{failed}, {self.done / elapsed:,.0f} rec/s"


def counted(items: Iterable[T], progress: Progress) -> Iterator[T]:
    """`items` unchanged, each one counted in `progress`."""
    for item in items:
        progress.add(1)
        yield item
