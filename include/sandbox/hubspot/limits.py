"""HubSpot's rate limits, per token: a rolling 10-second window (TEN_SECONDLY_ROLLING), a daily
allowance (DAILY) and the search endpoints' requests per second (SECONDLY)."""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from datetime import UTC, datetime
from typing import Any

from include.sandbox.hubspot.common import correlation_id

TEN_SECONDS = 10.0


def rate_limit_body(policy: str) -> dict[str, Any]:
    name = {"TEN_SECONDLY_ROLLING": "ten_secondly_rolling", "DAILY": "daily", "SECONDLY": "secondly"}[policy]
    return {
        "status": "error",
        "message": f"You have reached your {name} limit.",
        "errorType": "RATE_LIMIT",
        "correlationId": correlation_id(),
        "policyName": policy,
        "category": "RATE_LIMITS",
    }


class RateLimiter:
    def __init__(
        self, ten_second_limit: int | None = 190, daily_limit: int | None = 1_000_000, search_per_second: int | None = 5
    ):
        self.ten_second_limit = ten_second_limit or None
        self.daily_limit = daily_limit or None
        self.search_per_second = search_per_second or None
        self._lock = threading.Lock()
        self._windows: dict[str, deque[float]] = {}
        self._search: dict[str, deque[float]] = {}
        self._daily: dict[str, tuple[str, int]] = {}

    def configure(self, **changes: Any) -> None:
        with self._lock:
            for key, value in changes.items():
                setattr(self, key, int(value) if value else None)
            self._windows.clear()
            self._search.clear()
            self._daily.clear()

    def settings(self) -> dict[str, Any]:
        return {
            "ten_second_limit": self.ten_second_limit,
            "daily_limit": self.daily_limit,
            "search_per_second": self.search_per_second,
        }

    def reset(self) -> None:
        with self._lock:
            self._windows.clear()
            self._search.clear()
            self._daily.clear()

    def check(self, token: str, is_search: bool) -> tuple[dict[str, str], tuple[str, float] | None]:
        """Count one request: (headers for the response, (policy, retry after seconds) when refused)."""
        now = time.monotonic()
        today = datetime.now(UTC).strftime("%Y-%m-%d")
        with self._lock:
            window = self._windows.setdefault(token, deque())
            while window and window[0] <= now - TEN_SECONDS:
                window.popleft()
            day, used = self._daily.get(token, (today, 0))
            if day != today:
                used = 0
            headers: dict[str, str] = {}
            if self.ten_second_limit:
                headers.update(
                    {
                        "X-HubSpot-RateLimit-Max": str(self.ten_second_limit),
                        "X-HubSpot-RateLimit-Interval-Milliseconds": "10000",
                    }
                )
            if self.daily_limit:
                headers["X-HubSpot-RateLimit-Daily"] = str(self.daily_limit)
            refused: tuple[str, float] | None = None
            if self.daily_limit and used >= self.daily_limit:
                tomorrow = 86_400 - (time.time() % 86_400)
                refused = ("DAILY", math.ceil(tomorrow))
            elif self.ten_second_limit and len(window) >= self.ten_second_limit:
                refused = ("TEN_SECONDLY_ROLLING", max(1, math.ceil(window[0] + TEN_SECONDS - now)))
            elif is_search and self.search_per_second:
                searches = self._search.setdefault(token, deque())
                while searches and searches[0] <= now - 1.0:
                    searches.popleft()
                if len(searches) >= self.search_per_second:
                    refused = ("SECONDLY", 1)
                else:
                    searches.append(now)
            if refused is None:
                window.append(now)
                used += 1
                self._daily[token] = (today, used)
            if self.ten_second_limit:
                headers["X-HubSpot-RateLimit-Remaining"] = str(max(0, self.ten_second_limit - len(window)))
            if self.daily_limit:
                headers["X-HubSpot-RateLimit-Daily-Remaining"] = str(max(0, self.daily_limit - used))
            return headers, refused
