"""One HTTP policy per API: retries, timeouts, a client-side rate limiter and call counting.

Both official clients sit on urllib3, so one `urllib3.Retry` subclass (`ApiRetry`) carries the policy:

* retries 429, 500, 502, 503, 504 and connection/read errors on **every** method, POST and PATCH
  included (`allowed_methods=None`): the HubSpot batch and search calls are POSTs (hubspot-api-python#117),
  and every write this project makes is an upsert or an update by id, so repeating one is harmless;
* honours `Retry-After` (capped by `retry_after_max`) on any of those statuses, else exponential backoff
  with jitter, bounded by `total` attempts and `backoff_max` seconds;
* logs every retry (API, method, path, status, wait) and, once the budget is spent, raises
  `RetriesExhausted` naming the API, the endpoint and the last status.

What retrying cannot heal is an `Unrecoverable` (`AuthenticationFailed` for 401/403,
`ConfiguredObjectMissing` for a configured list, property or field that does not exist, `SetupError`,
`RunAborted`): never retried by urllib3 (not in `RETRY_STATUSES`), and turned into `AirflowFailException`
by the tasks (`tasks/failures.py`), so Airflow does not retry it either.

HubSpot gets the policy through the client constructor (`HubSpot(retry=hubspot_retry())`); Salesforce
through a `requests.Session` (`salesforce_session()`) handed to `SalesforceHook` / simple-salesforce.

`RateLimiter` keeps HubSpot under its rolling limits (190 calls / 10 s per private app, search about
5 calls / s); `CallCounter` counts API calls per operation so benchmarks can report calls per record.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import MaxRetryError
from urllib3.util.retry import RequestHistory, Retry

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class ConnectorError(RuntimeError):
    """An API call failed for good (after the retry policy gave up, or with a non-retryable status)."""

    def __init__(self, message: str, *, api: str = "", operation: str = "", status: int | None = None):
        super().__init__(message)
        self.api = api
        self.operation = operation
        self.status = status


class Unrecoverable(ConnectorError):
    """A failure that retrying cannot heal: a person has to fix what the message says, then re-run.

    The tasks turn it into Airflow's `AirflowFailException` (the task fails at once, without its retries);
    429, 5xx and network errors stay plain `ConnectorError`s and keep Airflow's retries. Messages name the
    connection, the setting key or the configured id to fix: never a record value, never a token.
    """


class AuthenticationFailed(Unrecoverable):
    """401/403: the connection's credentials are wrong, expired, or lack a permission (or the org's API
    request limit is used up, which Salesforce also answers with 403)."""


class ConfiguredObjectMissing(Unrecoverable):
    """Something the settings name does not exist in the target: the inclusion list (404), a mapped
    property or field (HubSpot `PROPERTY_DOESNT_EXIST`, Salesforce `INVALID_FIELD` / `NOT_FOUND`)."""


class RunAborted(Unrecoverable):
    """Another task of the same run failed without retry, so this one stops reading (see `tasks.failures`)."""


class SetupError(Unrecoverable):
    """The target org/portal is missing something the sync needs (a field, a property)."""


def authentication_failed(api: str, conn_id: str | None, operation: str, status: int, code: str | None = None):
    """The `AuthenticationFailed` for a 401/403 of `api` through Airflow connection `conn_id`."""
    conn = f"Airflow connection {conn_id!r}" if conn_id else f"the {api} connection"
    if code == "REQUEST_LIMIT_EXCEEDED":
        fix = f"the API request limit of the org behind {conn} is used up: wait for it to reset or raise it"
    elif status == 401:
        fix = f"the credentials of {conn} are wrong or expired: renew the token/password in {conn}"
    else:
        fix = f"the user or app behind {conn} lacks a permission (scope, profile, field-level security): grant it"
    return AuthenticationFailed(
        f"{api} {operation} failed with HTTP {status}" + (f" {code}" if code else "") + f": {fix}",
        api=api,
        operation=operation,
        status=status,
    )


class RetriesExhausted(MaxRetryError):
    """urllib3 gave up: raised by `ApiRetry` instead of a bare `MaxRetryError`, with a clear message.

    Still a `MaxRetryError` (and its `reason` is urllib3's), so `requests` and the HubSpot client
    treat it exactly as they would the original.
    """

    def __init__(
        self, api: str, method: str | None, url: str | None, history: tuple, reason: Exception, pool: Any = None
    ):
        self.api = api
        self.method = method or "?"
        self.path = urlsplit(url or "").path or (url or "?")
        self.attempts = len(history)
        self.last_status = next((h.status for h in reversed(history) if h.status), None)
        last = f"last status {self.last_status}" if self.last_status else f"last error {reason!r}"
        self.summary = f"{api} {self.method} {self.path}: gave up after {self.attempts} attempt(s); {last}"
        super().__init__(pool, url or "", reason)

    def __str__(self) -> str:
        return self.summary

    def __reduce__(self):  # picklable, like urllib3's own exceptions
        return (ConnectorError, (self.summary,))


class ApiRetry(Retry):
    """`urllib3.Retry` with the project's semantics (see the module docstring)."""

    RETRY_AFTER_STATUS_CODES = RETRY_STATUSES  # honour Retry-After on every retried status

    def __init__(self, *args: Any, api: str = "API", **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.api = api
        # called before each retry is sent (a connector sets it to take a rate-limiter slot: a retry is a call)
        self.before_retry: Callable[[], Any] | None = None

    def new(self, **kw: Any) -> ApiRetry:
        retry = super().new(**kw)
        retry.api = self.api
        retry.before_retry = self.before_retry
        return retry

    def increment(self, method=None, url=None, response=None, error=None, _pool=None, _stacktrace=None):  # noqa: ANN001
        try:
            new_retry = super().increment(method, url, response, error, _pool, _stacktrace)
        except MaxRetryError as exc:
            history = self.history + (RequestHistory(method, url, error, getattr(response, "status", None), None),)
            raise RetriesExhausted(self.api, method, url, history, exc.reason, _pool) from exc.reason
        what = f"status {response.status}" if response is not None and response.status else f"{type(error).__name__}"
        log.warning(
            "%s %s %s: %s, retry %d of %s",
            self.api,
            method,
            urlsplit(url or "").path,
            what,
            len(new_retry.history),
            self.total_budget(new_retry),
        )
        return new_retry

    @staticmethod
    def total_budget(retry: Retry) -> int | str:
        return len(retry.history) + retry.total if isinstance(retry.total, int) else "?"

    def sleep(self, response=None) -> None:  # noqa: ANN001
        delay = None
        if self.respect_retry_after_header and response is not None:
            delay = self.get_retry_after(response)
        if delay is None:
            delay = self.get_backoff_time()
        if delay > 0:
            log.info(
                "%s: waiting %.2f s before retrying%s",
                self.api,
                delay,
                " (Retry-After)" if response is not None and response.headers.get("Retry-After") else "",
            )
        super().sleep(response)
        if self.before_retry is not None:
            self.before_retry()


@dataclass(frozen=True)
class RetryPolicy:
    """The knobs of `ApiRetry`; defaults suit a nightly batch job (about a minute of patience)."""

    total: int = 6
    backoff_factor: float = 0.5
    backoff_max: float = 30.0
    backoff_jitter: float = 0.25
    retry_after_max: float = 60.0
    connect_timeout: float = 10.0
    read_timeout: float = 120.0

    def retry(self, api: str) -> ApiRetry:
        return ApiRetry(
            api=api,
            total=self.total,
            connect=None,
            read=None,
            status=None,
            other=0,
            redirect=0,
            allowed_methods=None,  # every method: POST and PATCH included
            status_forcelist=RETRY_STATUSES,
            backoff_factor=self.backoff_factor,
            backoff_max=self.backoff_max,
            backoff_jitter=self.backoff_jitter,
            retry_after_max=self.retry_after_max,
            respect_retry_after_header=True,
            raise_on_status=True,
            raise_on_redirect=True,
        )

    @property
    def timeout(self) -> tuple[float, float]:
        return (self.connect_timeout, self.read_timeout)


DEFAULT_POLICY = RetryPolicy()


def hubspot_retry(policy: RetryPolicy = DEFAULT_POLICY) -> ApiRetry:
    """The retry for `HubSpot(retry=...)`."""
    return policy.retry("HubSpot")


class _PolicyAdapter(HTTPAdapter):
    """An `HTTPAdapter` with a default timeout (simple-salesforce sends none of its own) and, when given,
    a CA bundle that wins over `REQUESTS_CA_BUNDLE`/`CURL_CA_BUNDLE` (requests lets those environment
    variables override `Session.verify`)."""

    def __init__(self, *args: Any, timeout: tuple[float, float], ca_bundle: str | None = None, **kwargs: Any):
        self._timeout = timeout
        self._ca_bundle = ca_bundle
        super().__init__(*args, **kwargs)

    def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):  # noqa: ANN001
        if self._ca_bundle and verify is not False:
            verify = self._ca_bundle
        return super().send(
            request, stream=stream, timeout=timeout or self._timeout, verify=verify, cert=cert, proxies=proxies
        )


def salesforce_session(ca_bundle: str | None = None, policy: RetryPolicy = DEFAULT_POLICY) -> requests.Session:
    """A `requests.Session` with the Salesforce retry policy mounted on https:// and default timeouts.

    `ca_bundle`: a PEM file to trust instead of the system store (the sandbox's self-signed CA).
    """
    session = requests.Session()
    ca_bundle = str(ca_bundle) if ca_bundle else None
    adapter = _PolicyAdapter(max_retries=policy.retry("Salesforce"), timeout=policy.timeout, ca_bundle=ca_bundle)
    session.mount("https://", adapter)
    if ca_bundle:
        session.verify = ca_bundle
    return session


def unwrap_retries_exhausted(exc: BaseException) -> RetriesExhausted | None:
    """The `RetriesExhausted` behind an exception (requests wraps urllib3's in RetryError/ConnectionError)."""
    seen = 0
    while exc is not None and seen < 6:
        if isinstance(exc, RetriesExhausted):
            return exc
        nested = next((a for a in getattr(exc, "args", ()) if isinstance(a, BaseException)), None)
        exc = nested or exc.__cause__ or exc.__context__
        seen += 1
    return None


class RateLimiter:
    """Thread-safe sliding-window limiter: at most `max_calls` acquisitions in any `period` seconds.

    `acquire()` blocks until a slot is free. Waits are logged (at most one INFO line every
    `log_every` seconds, summarising the waits since the last line).
    """

    def __init__(self, max_calls: int, period: float, name: str = "rate limit", log_every: float = 10.0):
        if max_calls < 1 or period <= 0:
            raise ValueError("a rate limiter needs max_calls >= 1 and period > 0")
        self.max_calls = max_calls
        self.period = period
        self.name = name
        self._calls: deque[float] = deque()
        self._lock = threading.Lock()
        self._log_every = log_every
        self._last_log = 0.0
        self._waits = 0
        self._waited = 0.0
        self.total_waits = 0
        self.total_waited = 0.0

    def __deepcopy__(self, memo: dict) -> RateLimiter:
        return self  # shared state: a deep copy of a client's configuration (its retry hook) shares the limiter

    def acquire(self) -> float:
        """Take a slot, waiting as needed; returns the seconds waited."""
        waited = 0.0
        while True:
            with self._lock:
                now = time.monotonic()
                while self._calls and now - self._calls[0] >= self.period:
                    self._calls.popleft()
                if len(self._calls) < self.max_calls:
                    self._calls.append(now)
                    if waited:
                        self._note_wait(waited, now)
                    return waited
                delay = self._calls[0] + self.period - now
            delay = max(delay, 0.001)
            time.sleep(delay)
            waited += delay

    def _note_wait(self, waited: float, now: float) -> None:
        self._waits += 1
        self._waited += waited
        self.total_waits += 1
        self.total_waited += waited
        if now - self._last_log >= self._log_every:
            log.info(
                "%s (%d calls / %g s): waited %d time(s), %.2f s in all, to stay under the limit",
                self.name,
                self.max_calls,
                self.period,
                self._waits,
                self._waited,
            )
            self._last_log = now
            self._waits = 0
            self._waited = 0.0


class HubSpotRateLimits:
    """HubSpot's client-side limits: every call takes a general slot; search calls also a search slot.

    Defaults: 190 calls per 10 s (private apps on Professional/Enterprise) and 4 searches per second (to
    stay under search's ~5/s). `margin` seconds widen each window so that network jitter between our
    clock and HubSpot's never turns a call at the window's edge into a 429.
    """

    def __init__(
        self, calls_per_window: int = 190, window_seconds: float = 10.0, search_per_second: int = 4, margin: float = 0.1
    ):
        self.general = RateLimiter(calls_per_window, window_seconds + margin, "HubSpot rate limiter")
        self.search = RateLimiter(search_per_second, 1.0 + margin, "HubSpot search rate limiter")

    def acquire(self, search: bool = False) -> None:
        if search:
            self.search.acquire()
        self.general.acquire()


_shared_limits: dict[tuple[str, str], HubSpotRateLimits] = {}
_shared_lock = threading.Lock()


def shared_hubspot_limits(key: tuple[str, str]) -> HubSpotRateLimits:
    """One limiter per (host, token) in this process, shared by every connector built for it."""
    with _shared_lock:
        return _shared_limits.setdefault(key, HubSpotRateLimits())


class CallCounter:
    """API calls per operation (e.g. `companies.batch_upsert`), thread-safe."""

    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def add(self, operation: str, n: int = 1) -> None:
        with self._lock:
            self._counts[operation] += n

    def __getitem__(self, operation: str) -> int:
        with self._lock:
            return self._counts[operation]

    @property
    def total(self) -> int:
        with self._lock:
            return sum(self._counts.values())

    def as_dict(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()

    def __repr__(self) -> str:
        return f"CallCounter({self.as_dict()})"
