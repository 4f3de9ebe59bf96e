"""`airflow standalone` on this repo's dags/ and plugins/ in a temporary home, with one sync run recorded in a
temporary state store and its report (GX Data Docs included) written by the report module, and headless
Chromium from the distribution's packages (`make browser-deps`) driven by Playwright.

Both live for this package only (scope "package"), never for a worker's whole session: a session-scoped Playwright
kept its event loop "running" in the main thread through every later test file of that pytest-xdist worker (an
`asyncio.run` there failed: "cannot be called from a running event loop"), and an idle Chromium and airflow
standalone (scheduler, 8 LocalExecutor workers, DAG processor, API server, triggerer) ran beside the rest of the
suite. They are torn down as soon as the worker moves on to a file outside tests/ui."""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import subprocess
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # Shared memory in /tmp instead of /dev/shm: Docker gives /dev/shm 64 MB, where Chromium crashes creating
    # shared images (bugs.debian.org/1072299). Debian's /usr/bin/chromium adds this flag itself below 3.8 GB of
    # /dev/shm, but its test breaks when findmnt lists /dev/shm twice ("[: ...: unexpected operator"), so it is
    # given here. Not reproduced here (/dev/shm 24 GB; 8 loops of tests/ui, no exit): see the report in #13.
    "--disable-dev-shm-usage",
    "--enable-logging",  # Chromium's own log (CHROME_LOG_FILE): the evidence when it exits under a test
    "--v=0",
]
STARTUP_TIMEOUT = 300  # ~50 s alone on 2 cores; beside a second xdist worker on a busy machine, over 150 s
DAG_ID, RUN_ID = "company_sync", "scheduled__2026-11-28T02:00:00+00:00"
log = logging.getLogger(__name__)


@dataclass
class Standalone:
    url: str
    home: Path
    reports_dir: Path
    state_url: str
    run_id: str
    log: Path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def make_run(reports_dir: Path, state_url: str) -> str:
    """Record a finished company_sync run with failed records, and write its report and Data Docs through the
    report and validation modules, as the DAG's tasks do."""
    from include.company_sync import report as reporting
    from include.company_sync import validation
    from include.company_sync.state import StateStore
    from tests.unit.test_report import report_inputs
    from tests.unit.test_validation import STAGES, clean_inputs

    state = StateStore(state_url)
    state.create_all()
    state.start_run(run_id="scheduled__2026-11-27T02:00:00+00:00", dag_id=DAG_ID)
    state.finish_run("scheduled__2026-11-27T02:00:00+00:00", "success", {"decisions": {"hubspot": {"updated": 7}}})
    state.start_run(run_id=RUN_ID, dag_id=DAG_ID, run_type="scheduled")
    frames = clean_inputs()
    frames["sf_contacts"].loc[1, "Email"] = "not-an-email"  # a warning, so the Data Docs show a failure
    for stage, (check_frames, suites) in {
        "extracts": (validation.input_check_frames(frames), validation.input_suites(None, STAGES)),
        "plan": (
            validation.plan_check_frames({}, 0),
            validation.plan_suites(0.5, 1000),
        ),
    }.items():
        validation.validate_frames(
            check_frames, suites, docs_dir=reporting.data_docs_dir(reports_dir, DAG_ID, RUN_ID, stage), run_name=RUN_ID
        )
    document = reporting.build(
        report_inputs(
            reports_dir,
            state.recent_runs(DAG_ID, limit=reporting.HISTORY_RUNS),
            {"load_hubspot": "success", "load_salesforce": "success"},
            run_id=RUN_ID,
            window="window [2026-11-27T02:00:00+00:00, 2026-11-28T02:00:00+00:00)",
        )
    )
    path = reporting.write(document, reports_dir)
    state.finish_run(RUN_ID, "success", document["summary"], str(path), dag_id=DAG_ID)
    state.dispose()
    return RUN_ID


@pytest.fixture(scope="package")
def standalone(tmp_path_factory) -> Iterator[Standalone]:
    base = tmp_path_factory.mktemp("ui")
    home, reports = base / "airflow", base / "reports"
    home.mkdir()
    state_url = f"sqlite:///{base / 'state.db'}"
    run_id = make_run(reports, state_url)
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "COMPANY_SYNC_", "PYTEST"))} | {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",  # the resync run is created, not executed
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__BASE_URL": url,
        "COMPANY_SYNC_HOME": str(ROOT),
        "COMPANY_SYNC_STATE_URL": state_url,
        "COMPANY_SYNC_REPORTS_DIR": str(reports),
        "COMPANY_SYNC_STAGING_URL": (base / "staging").as_uri(),
        "PYTHONPATH": str(ROOT),
        "PATH": f"{ROOT / '.venv' / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",  # standalone runs `airflow …`
    }
    log = base / "standalone.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [str(ROOT / ".venv" / "bin" / "airflow"), "standalone"],
            cwd=base,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: the teardown stops it and its children
        )
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            if process.poll() is not None:
                pytest.fail(f"airflow standalone exited ({process.returncode}):\n{log.read_text()[-3000:]}")
            try:
                # ready: the plugin answers and the dag-processor has stored the resync DAG
                if (
                    requests.get(f"{url}/sync-reports/", timeout=5).ok
                    and requests.get(f"{url}/api/v2/dags/company_resync", timeout=5).ok
                ):
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"airflow standalone not ready in {STARTUP_TIMEOUT} s:\n{log.read_text()[-3000:]}")
            time.sleep(2)
        yield Standalone(url=url, home=home, reports_dir=reports, state_url=state_url, run_id=run_id, log=log)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


@dataclass
class Browser:
    """The Chromium context the tests share, and each time it closed on its own (with the evidence)."""

    context: object  # playwright BrowserContext
    log: Path  # Chromium's log (--enable-logging, CHROME_LOG_FILE)
    profile: Path  # its --user-data-dir: finds its processes
    exits: list[str] = field(default_factory=list)
    closing: bool = False  # set by the teardown: a close from then on is ours


def processes(profile: Path) -> str:
    """Which side went away: Chromium, or Playwright's driver (node, a child of this process). A closed-target
    error does not say which, so both are looked up."""
    import psutil

    def states(found: list) -> str:
        out = []
        for proc in found:
            try:
                out.append(f"pid {proc.pid} {proc.status()}")
            except psutil.Error:
                out.append(f"pid {proc.pid} gone")
        return ", ".join(out) or "no process"

    drivers = []
    for child in psutil.Process().children():
        try:
            if child.name() == "node" or "run-driver" in child.cmdline():
                drivers.append(child)
        except psutil.Error:
            pass
    flag = f"--user-data-dir={profile}"
    chromium = [
        proc
        for proc in psutil.process_iter(["cmdline"])
        if flag in (proc.info["cmdline"] or []) and not any(a.startswith("--type=") for a in proc.info["cmdline"])
    ]
    return f"Playwright driver: {states(drivers)}; Chromium browser process: {states(chromium)}"


def exit_evidence(browser: Browser) -> str:
    """What is known when Chromium or the Playwright driver goes away: which of them is still running, the tail of
    Chromium's own log, /dev/shm's room, the kernel's OOM lines."""
    parts = [processes(browser.profile)]
    try:
        lines = [line for line in browser.log.read_text(errors="replace").splitlines() if "dbus" not in line]
        parts.append("chromium log (tail, D-Bus noise left out):\n" + "\n".join(lines[-30:]))
    except OSError as exc:
        parts.append(f"chromium log unreadable: {exc}")
    try:
        usage = shutil.disk_usage("/dev/shm")
        parts.append(f"/dev/shm: {usage.free // 2**20} MiB free of {usage.total // 2**20} MiB")
    except OSError:
        parts.append("/dev/shm: absent")
    try:
        kernel = subprocess.run(["dmesg"], capture_output=True, text=True, timeout=10).stdout.splitlines()
        oom = [line for line in kernel if "oom" in line.lower() or "chrom" in line.lower()]
        parts.append("dmesg (oom / chromium):\n" + ("\n".join(oom[-10:]) or "none"))
    except (OSError, subprocess.SubprocessError) as exc:
        parts.append(f"dmesg unreadable: {exc}")
    return "\n".join(parts)


@pytest.fixture(scope="package")
def browser(tmp_path_factory) -> Iterator[Browser]:
    """One headless Chromium for the UI tests. If it exits by itself, the test running then fails with the
    evidence (``page``); at teardown a browser that already exited is logged, never an error."""
    if CHROMIUM is None:
        pytest.skip("no Chromium: run `make browser-deps` (Debian's chromium package)")
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    chrome_log = tmp_path_factory.mktemp("chromium-log") / "chrome_debug.log"
    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as pw:
        # a persistent context is how a fresh --user-data-dir is given to Chromium
        context = pw.chromium.launch_persistent_context(
            str(profile),
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
            env={**os.environ, "CHROME_LOG_FILE": str(chrome_log)},
            viewport={"width": 1280, "height": 900},
        )
        context.set_default_timeout(30_000)
        shared = Browser(context=context, log=chrome_log, profile=profile)

        def closed(_) -> None:
            if not shared.closing:
                shared.exits.append(exit_evidence(shared))

        context.on("close", closed)
        yield shared
        shared.closing = True
        if shared.exits:  # the test running when it exited failed with the evidence (page); nothing left to close
            log.warning("Chromium had exited before teardown (log: %s)", chrome_log)
            warnings.warn(f"Chromium had exited before teardown; its log: {chrome_log}", stacklevel=1)
            return
        try:
            context.close()
        except PlaywrightError as exc:  # only here, at teardown: Chromium or the driver went away after the last test
            evidence = exit_evidence(shared)
            log.warning("Chromium or the Playwright driver went away before the teardown close: %s\n%s", exc, evidence)
            warnings.warn(
                f"Chromium or the Playwright driver went away: {exc}; Chromium's log: {chrome_log}", stacklevel=1
            )


@pytest.fixture
def page(browser: Browser, standalone):
    """A fresh page; the test fails with the evidence if Chromium or the Playwright driver went away before it (a
    browser is needed) or while it ran."""
    from playwright.sync_api import Error as PlaywrightError

    if browser.exits:
        pytest.fail(f"Chromium had exited in an earlier test:\n{browser.exits[0]}")
    try:
        page = browser.context.new_page()
    except PlaywrightError as exc:  # no close event came: the driver, not Chromium, may be what went away
        pytest.fail(f"no page: {exc}\n{exit_evidence(browser)}")

    # Only the Airflow under test: every page, Data Docs included, must work with no network (a CI runner, an
    # air-gapped deployment); test_data_docs_offline.py also records any off-host request attempted.
    def local_only(route):
        if route.request.url.startswith(standalone.url) or route.request.url.startswith("data:"):
            route.continue_()
        else:
            route.abort()

    page.route("**/*", local_only)
    yield page
    try:
        page.close()  # a round trip to the driver: a "close" event of the context is delivered by then
    except PlaywrightError as exc:
        if not browser.exits:  # no close event: the driver went away
            pytest.fail(f"the page could not be closed: {exc}\n{exit_evidence(browser)}")
    if browser.exits:
        pytest.fail(f"Chromium exited during this test:\n{browser.exits[0]}")
