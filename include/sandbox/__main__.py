"""`python -m include.sandbox serve [--state-dir DIR] [--seed N] [--no-auto-associate] [--latency SPEC]`"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path

from include.sandbox import latency as latency_spec
from include.sandbox.server import (
    DEFAULT_HOST,
    DEFAULT_HUBSPOT_PORT,
    DEFAULT_SALESFORCE_PORT,
    DEFAULT_STATE_DIR,
    start_sandbox,
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m include.sandbox", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the Salesforce and HubSpot sandboxes in the foreground")
    serve.add_argument(
        "--state-dir",
        type=Path,
        default=DEFAULT_STATE_DIR,
        help="where state, ca.pem and the server certificate live (default: .sandbox)",
    )
    serve.add_argument(
        "--seed",
        type=int,
        metavar="N",
        help="start from N generated accounts and N companies (replaces the saved state)",
    )
    serve.add_argument(
        "--no-auto-associate",
        dest="auto_associate",
        action="store_false",
        help="HubSpot: do not create and associate companies from contact email domains",
    )
    serve.add_argument(
        "--latency",
        metavar="SPEC",
        help="simulated response times: realistic, off, or HS[,SF] milliseconds "
        "(default: $SANDBOX_LATENCY, else off; see include/sandbox/latency.py)",
    )
    serve.add_argument(
        "--latency-ms", metavar="HS[,SF]", help="a fixed latency in milliseconds (same as --latency HS[,SF])"
    )
    serve.add_argument("--host", default=DEFAULT_HOST)
    serve.add_argument("--salesforce-port", type=int, default=DEFAULT_SALESFORCE_PORT)
    serve.add_argument("--hubspot-port", type=int, default=DEFAULT_HUBSPOT_PORT)
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.seed is not None and args.seed < 0:
        parser.error("--seed must be a non-negative number of records")
    if args.latency is not None and args.latency_ms is not None:
        parser.error("give --latency or --latency-ms, not both")
    latency = args.latency if args.latency is not None else args.latency_ms
    try:
        latency_spec.parse(latency, "hubspot")
    except ValueError as exc:
        parser.error(str(exc))
    try:
        sandbox = start_sandbox(
            args.state_dir,
            seed=args.seed,
            host=args.host,
            salesforce_port=args.salesforce_port,
            hubspot_port=args.hubspot_port,
            auto_associate=args.auto_associate,
            latency=latency,
        )
    except OSError as exc:
        print(f"sandbox: cannot listen ({exc}); is another sandbox already running?", file=sys.stderr)
        return 1
    print(f"Salesforce: {sandbox.salesforce_url} (CA {sandbox.ca_path})\nHubSpot:    {sandbox.hubspot_url}", flush=True)
    stopped = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopped.set())
    stopped.wait()
    sandbox.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
