"""The HTTP machinery both sandbox APIs share: a threaded server, the `/__sandbox/*` control endpoints
(reset, request log, injected faults), and state that persists across restarts.

Faults (`POST /__sandbox/faults`, JSON): `count` (required: how many matching requests it hits), optional
`method` and `path_prefix` to match, and what happens to a matching request:

* `status` (with `retry_after`): answered with that error status, the request is not applied;
* `latency_ms`: served after that delay (combines with the others);
* `drop`: the connection is closed without an answer, the request is **not** applied;
* `drop_after`: the request **is** applied (the write lands), then the connection is closed without the
  answer: the client sees what `drop` looks like, but its retry repeats a write that already landed.

The request log (`GET /__sandbox/requests`) records a dropped request with status 0, and one dropped after
applying with `"applied": <the status it would have answered>`.

Simulated latency (`include/sandbox/latency.py`): `GET /__sandbox/latency` -> `{"spec": ...}`;
`POST /__sandbox/latency {"spec": "realistic" | "off" | "HS[,SF]"}` sets it for this API (not cleared by
reset). With a latency on, every API call takes at least that long and its answer carries
`X-Sandbox-Own-Ms` (the sandbox's own time).

Each API is a `SandboxApi` subclass that turns a `Request` into a `Response` (or raises `ApiError`);
everything that is the same for Salesforce and HubSpot lives here, once.
"""

from __future__ import annotations

import json
import logging
import os
import pickle
import ssl
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from include.sandbox import latency as latency_spec

log = logging.getLogger(__name__)


@dataclass
class Request:
    method: str
    path: str  # without the query string
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-cased names
    body: bytes

    def json(self) -> Any:
        """The decoded JSON body; raises ValueError on malformed JSON (each API maps it to its own 400)."""
        if not self.body:
            return None
        return json.loads(self.body)

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else default

    @property
    def bearer_token(self) -> str | None:
        auth = self.headers.get("authorization", "")
        return auth[7:].strip() if auth.lower().startswith("bearer ") else None


@dataclass
class Response:
    status: int = 200
    body: Any = None  # JSON-able, or bytes/str sent as is
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json;charset=UTF-8"

    def encoded(self) -> bytes:
        if self.body is None:
            return b""
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode()
        return encode_json(self.body)


def _json_dumps(body: Any) -> bytes:
    return json.dumps(body, separators=(",", ":"), default=str).encode()


try:  # msgspec (pinned in constraints.txt, an Airflow dependency) encodes 10-20x faster than json
    import msgspec

    _ENCODER = msgspec.json.Encoder(enc_hook=str)

    def encode_json(body: Any) -> bytes:
        """`body` as compact JSON: what `json.dumps(separators=(",", ":"), default=str)` gives, but text
        is written as UTF-8 instead of `\\u` escapes (the same JSON once decoded). A 1,000-id
        association read answers ~250 KB: 25 ms with json on this machine, 2 ms with msgspec."""
        try:
            return _ENCODER.encode(body)
        except (TypeError, ValueError, OverflowError):  # what msgspec refuses (huge ints, odd keys): json's way
            return _json_dumps(body)

except ImportError:  # pragma: no cover - msgspec missing: the standard library
    encode_json = _json_dumps


class ApiError(Exception):
    """Raised by an API handler to answer with an error response."""

    def __init__(self, status: int, body: Any, headers: dict[str, str] | None = None):
        super().__init__(f"{status}: {body}")
        self.response = Response(status=status, body=body, headers=headers or {})


@dataclass
class Fault:
    count: int
    method: str | None = None
    path_prefix: str | None = None
    status: int | None = None
    retry_after: float | None = None
    latency_ms: int | None = None
    drop: bool = False
    drop_after: bool = False  # apply the request, then drop the connection without the answer

    def matches(self, request: Request) -> bool:
        return (self.method is None or self.method.upper() == request.method) and (
            self.path_prefix is None or request.path.startswith(self.path_prefix)
        )


_SNAPSHOT = "sandbox-state-v2"
OWN_CPU_ENV = "SANDBOX_OWN_CPU"  # set (1): answers carry X-Sandbox-Own-Cpu-Ms, the sandbox's CPU time


class _EditLock:
    """`PersistentState.lock`: the state's lock for code outside the API that edits `data` in place. On
    release the state is marked edited (the API rebuilds its indexes before its next request) and due
    for a full snapshot, since nobody said what changed."""

    def __init__(self, state: PersistentState):
        self._state = state

    def __enter__(self) -> _EditLock:
        self._state.guard.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self._state.edited = True
        self._state.mark_dirty()
        self._state.guard.release()


JOURNAL_MIN_COMPACT = 64 << 20  # bytes of journal before a full snapshot replaces it


class PersistentState:
    """An API's state: a dict guarded by one lock, persisted in `path` plus a journal next to it.

    Writers say what they changed: `touch(*path)` names one entry of `data` (e.g. `("objects",
    "companies", "123")`); the next flush appends those entries' current values to the journal
    (`<stem>.journal`), which costs what changed, not the whole state. `mark_dirty()` (anything else
    changed, or nobody said what) makes the next flush a full snapshot: pickled to a temporary file and
    renamed over `path`, after which the journal starts again; so does a journal grown past the
    snapshot's size. A background thread flushes at most every `flush_interval` seconds and `close()`
    flushes on shutdown. Loading replays the journal written since the snapshot it belongs to.
    """

    def __init__(self, path: Path, flush_interval: float = 0.5):
        self.path = path
        self.journal_path = path.with_suffix(".journal")
        self.guard = threading.RLock()  # what the API itself holds while it reads or writes `data`
        self.lock = _EditLock(self)  # for code outside the API that edits `data` directly (tests)
        self.edited = False  # `data` was edited under `lock`: derived indexes must be rebuilt
        self.data: dict[str, Any] = {}
        self._dirty = False  # a full snapshot is due
        self._touched: dict[tuple[str, ...], None] = {}  # entries changed since the last flush, in order
        self._token = uuid.uuid4().hex  # which snapshot the journal continues
        self._snapshot_bytes = 0
        self._file_lock = threading.Lock()  # one writer of the files at a time (the flusher and close() may race)
        self._stop = threading.Event()
        self._interval = flush_interval
        if path.exists():
            self._load()
        self._thread = threading.Thread(target=self._flush_loop, name=f"flush-{path.stem}", daemon=True)
        self._thread.start()

    def _load(self) -> None:
        with self.path.open("rb") as fh:
            loaded = pickle.load(fh)
        self._snapshot_bytes = self.path.stat().st_size
        if isinstance(loaded, tuple) and len(loaded) == 3 and loaded[0] == _SNAPSHOT:
            _, self._token, self.data = loaded
        else:  # a snapshot from before the journal: the data itself
            self.data = loaded
            self._dirty = True
            return
        if not self.journal_path.exists():
            return
        replayed = 0
        with self.journal_path.open("rb") as fh:
            while True:
                try:
                    token, entries = pickle.load(fh)
                except EOFError:
                    break
                except (pickle.UnpicklingError, ValueError, TypeError):  # a frame cut short by a crash
                    log.warning("%s: journal ends with an unreadable frame; replayed %d", self.journal_path, replayed)
                    break
                if token != self._token:
                    continue
                for entry_path, present, value in entries:
                    self._apply(entry_path, present, value)
                replayed += 1
        if replayed:
            self._dirty = True  # fold the journal into the next snapshot

    def _apply(self, entry_path: tuple[str, ...], present: bool, value: Any) -> None:
        node = self.data
        for key in entry_path[:-1]:
            node = node.setdefault(key, {})
        if present:
            node[entry_path[-1]] = value
        else:
            node.pop(entry_path[-1], None)

    def _resolve(self, entry_path: tuple[str, ...]) -> tuple[tuple[str, ...], bool, Any]:
        node: Any = self.data
        for key in entry_path:
            if not isinstance(node, dict) or key not in node:
                return entry_path, False, None
            node = node[key]
        return entry_path, True, node

    def mark_dirty(self) -> None:
        """Something changed that was not `touch`ed: the next flush writes a full snapshot."""
        self._dirty = True

    def touch(self, *entry_path: str) -> None:
        """`data[p0][p1]...` changed (or was removed); callers hold `guard`."""
        self._touched[entry_path] = None

    def flush(self) -> None:
        with self._file_lock:
            with self.guard:
                if self._dirty:
                    self._token = uuid.uuid4().hex
                    tmp = self.path.with_suffix(".tmp")
                    with tmp.open("wb") as fh:  # streamed: no second copy of a state of gigabytes in memory
                        pickle.dump((_SNAPSHOT, self._token, self.data), fh, protocol=pickle.HIGHEST_PROTOCOL)
                        size = fh.tell()
                    self._dirty = False
                    self._touched.clear()
                    full = True
                elif self._touched:
                    entries = [self._resolve(p) for p in self._touched]
                    blob = pickle.dumps((self._token, entries), protocol=pickle.HIGHEST_PROTOCOL)
                    self._touched.clear()
                    full = False
                else:
                    return
            if full:
                tmp.replace(self.path)
                self._snapshot_bytes = size
                self.journal_path.unlink(missing_ok=True)  # a leftover (crash here) has the old token: ignored
                return
            with self.journal_path.open("ab") as fh:
                fh.write(blob)
                size = fh.tell()
            if size > max(JOURNAL_MIN_COMPACT, self._snapshot_bytes):
                self._dirty = True

    def _flush_loop(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.flush()
            except Exception:  # keep flushing later; a failed snapshot must not kill the server
                log.exception("could not snapshot %s", self.path)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)  # a snapshot in progress ends before the last one
        self.flush()


class SandboxApi:
    """Base class of one emulated API. Subclasses implement `handle`, `reset` and `fault_body`."""

    name = "api"

    def __init__(self, state_dir: Path):
        self.state_dir = state_dir
        self.state = PersistentState(state_dir / f"{self.name}.pickle")
        self._requests: list[dict[str, Any]] = []
        self._faults: list[Fault] = []
        self._control_lock = threading.Lock()
        self.latency: latency_spec.Latency | None = None  # see latency.py; set by start_sandbox
        # benchmarks on a shared machine: each answer says the CPU time the sandbox spent on it
        self.report_cpu = os.environ.get(OWN_CPU_ENV, "") not in ("", "0")

    # --- to implement -------------------------------------------------------------------------------
    def handle(self, request: Request) -> Response:
        raise NotImplementedError

    def reset(self, seed: int | None) -> None:
        """Back to empty, or to the generated seed of `seed` records."""
        raise NotImplementedError

    def fault_body(self, status: int) -> Any:
        """The error body this API sends with an injected status."""
        return {"status": status}

    # --- shared machinery ---------------------------------------------------------------------------
    def dispatch(self, request: Request) -> Response | None:
        """Serve one request; None means: drop the connection without answering."""
        if request.path.startswith("/__sandbox/"):
            return self._control(request)
        started = time.perf_counter()
        cpu_started = time.thread_time() if self.report_cpu else 0.0
        response = self._serve(request)
        if response is not None and self.report_cpu:
            response.body = response.encoded()  # the encoding counted too (bytes are sent as they are)
            response.headers["X-Sandbox-Own-Cpu-Ms"] = f"{(time.thread_time() - cpu_started) * 1000:.2f}"
        latency = self.latency
        if response is not None and latency is not None and not request.path.startswith("/__sandbox"):
            own = time.perf_counter() - started
            response.headers["X-Sandbox-Own-Ms"] = f"{own * 1000:.1f}"
            wait = latency.draw_ms(request.method, request.path) / 1000 - own
            if wait > 0:
                time.sleep(wait)  # no lock is held here: concurrent calls overlap
        return response

    def _serve(self, request: Request) -> Response | None:
        fault = self._take_fault(request)
        if fault is not None:
            if fault.latency_ms:
                time.sleep(fault.latency_ms / 1000)
            if fault.drop:
                self._log(request, 0)
                return None
        if fault is not None and fault.status:
            headers = {}
            if fault.retry_after is not None:
                headers["Retry-After"] = str(
                    int(fault.retry_after) if float(fault.retry_after).is_integer() else fault.retry_after
                )
            response = Response(status=fault.status, body=self.fault_body(fault.status), headers=headers)
        else:
            try:
                response = self.handle(request)
            except ApiError as exc:
                response = exc.response
        if fault is not None and fault.drop_after:
            self._log(request, 0, applied=response.status)
            return None
        self._log(request, response.status)
        return response

    def _log(self, request: Request, status: int, applied: int | None = None) -> None:
        entry = {
            "method": request.method,
            "path": request.path,
            "status": status,
            "at": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        }
        if applied is not None:
            entry["applied"] = applied
        with self._control_lock:
            self._requests.append(entry)

    def _take_fault(self, request: Request) -> Fault | None:
        with self._control_lock:
            for fault in self._faults:
                if fault.count > 0 and fault.matches(request):
                    fault.count -= 1
                    if fault.count == 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def _control(self, request: Request) -> Response:
        route = (request.method, request.path.rstrip("/"))
        try:
            payload = request.json() or {}
        except ValueError:
            return Response(400, {"error": "body is not valid JSON"})
        if route == ("POST", "/__sandbox/reset"):
            seed = payload.get("seed")
            if seed is not None and (not isinstance(seed, int) or seed < 0):
                return Response(400, {"error": "seed must be a non-negative integer"})
            self.reset(seed)
            with self._control_lock:
                self._requests.clear()
                self._faults.clear()
            return Response(200, {"reset": True, "seed": seed})
        if route == ("GET", "/__sandbox/requests"):
            with self._control_lock:
                return Response(200, {"requests": list(self._requests)})
        if route == ("DELETE", "/__sandbox/requests"):
            with self._control_lock:
                self._requests.clear()
            return Response(200, {"cleared": True})
        if route == ("POST", "/__sandbox/faults"):
            try:
                fault = Fault(
                    count=int(payload["count"]),
                    method=payload.get("method"),
                    path_prefix=payload.get("path_prefix"),
                    status=payload.get("status"),
                    retry_after=payload.get("retry_after"),
                    latency_ms=payload.get("latency_ms"),
                    drop=bool(payload.get("drop", False)),
                    drop_after=bool(payload.get("drop_after", False)),
                )
            except (KeyError, TypeError, ValueError):
                return Response(400, {"error": "a fault needs an integer count; see design.md"})
            if not (fault.status or fault.latency_ms or fault.drop or fault.drop_after):
                return Response(400, {"error": "a fault needs status, latency_ms, drop or drop_after"})
            if fault.drop_after and (fault.drop or fault.status):
                return Response(400, {"error": "drop_after applies the request: it excludes drop and status"})
            with self._control_lock:
                self._faults.append(fault)
            return Response(200, {"faults": len(self._faults)})
        if route == ("DELETE", "/__sandbox/faults"):
            with self._control_lock:
                self._faults.clear()
            return Response(200, {"cleared": True})
        if route == ("GET", "/__sandbox/latency"):
            return Response(200, {"spec": self.latency.spec if self.latency else "off"})
        if route == ("POST", "/__sandbox/latency"):
            try:
                self.latency = latency_spec.parse(str(payload.get("spec") or ""), self.name)
            except ValueError as exc:
                return Response(400, {"error": str(exc)})
            return Response(200, {"spec": self.latency.spec if self.latency else "off"})
        own = self.control(request, payload)
        if own is not None:
            return own
        return Response(404, {"error": f"no sandbox control endpoint {request.method} {request.path}"})

    def control(self, request: Request, payload: Any) -> Response | None:
        """An API's own `/__sandbox/*` endpoints (None: not one of them)."""
        return None

    def close(self) -> None:
        self.state.close()


def _handler_for(api: SandboxApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive: the clients reuse connections
        # Headers and body go out in two writes; without TCP_NODELAY, Nagle + delayed ACK add ~40 ms to
        # every keep-alive response.
        disable_nagle_algorithm = True
        server_version = f"sandbox-{api.name}"

        def _serve(self) -> None:
            split = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            request = Request(
                method=self.command,
                path=split.path,
                query=parse_qs(split.query, keep_blank_values=True),
                headers={k.lower(): v for k, v in self.headers.items()},
                body=body,
            )
            try:
                response = api.dispatch(request)
            except Exception as exc:  # a sandbox bug must answer 500, like a real server, not hang
                log.exception("%s %s failed", self.command, self.path)
                response = Response(500, {"error": f"sandbox internal error: {exc}"})
            if response is None:
                self.close_connection = True
                return
            payload = response.encoded()
            self.send_response(response.status)
            self.send_header("Content-Type", response.content_type)
            self.send_header("Content-Length", str(len(payload)))
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _serve

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
            log.debug("%s " + format, api.name, *args)

    return Handler


class SandboxServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


def make_server(api: SandboxApi, host: str, port: int, tls: ssl.SSLContext | None = None) -> SandboxServer:
    server = SandboxServer((host, port), _handler_for(api))
    if tls is not None:
        # The handshake happens in the handler thread, so a slow client never stalls accept().
        server.socket = tls.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
    return server


def serve_in_thread(server: SandboxServer) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, name=f"serve-{server.server_address[1]}", daemon=True)
    thread.start()
    return thread
