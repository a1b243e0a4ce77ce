"""`altclip-ui [--library DIR] [--port 8501] [--address HOST]`: start the Streamlit app.

On this machine only (the default) the page needs no password. Served to the network
(`--address 0.0.0.0`) it asks for ALTCLIP_PASSWORD (or --password) before it shows anything.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import sys
from pathlib import Path

from search.settings import Settings

APP = Path(__file__).with_name("app.py")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="altclip-ui", description=__doc__)
    env = Settings.from_env()
    p.add_argument("--library", type=Path, default=env.library)
    p.add_argument("--catalog", default=env.catalog, help="SQLAlchemy URL of the catalog")
    p.add_argument("--port", type=int, default=8501)
    p.add_argument("--address", default="localhost", help="use 0.0.0.0 to serve the network")
    p.add_argument(
        "--password",
        default=env.password,
        help="asked before the page shows anything (default: $ALTCLIP_PASSWORD, which `ps` "
        "does not show)",
    )
    args = p.parse_args(argv)
    if not args.password and not loopback(args.address):
        print(
            f"altclip-ui: serving {args.address} shows your photos to the network: set a "
            "password first, e.g.  ALTCLIP_PASSWORD=… altclip-ui --address "
            f"{args.address}",
            file=sys.stderr,
        )
        return 2
    os.environ["ALTCLIP_LIBRARY"] = str(args.library.expanduser().resolve())
    if args.catalog:
        os.environ["ALTCLIP_CATALOG"] = args.catalog
    if args.password:  # for the app's environment: on its command line, `ps` would show it
        os.environ["ALTCLIP_PASSWORD"] = args.password
    cmd = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP),
        "--server.headless",
        "true",
        "--server.port",
        str(args.port),
        "--server.address",
        args.address,
        "--server.enableStaticServing",
        "false",  # serve only what the app shows, whatever a config.toml says
        "--browser.gatherUsageStats",
        "false",
        "--client.toolbarMode",
        "viewer",  # no "Deploy" button or developer menu on a person's photo page
        "--client.showErrorDetails",
        "none",  # an unexpected error is one generic line: no traceback, no server path
    ]
    os.execv(sys.executable, cmd)


def loopback(address: str) -> bool:
    """Whether `address` (Streamlit's --server.address) is reachable from this machine only."""
    if address.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:  # a host name or "" (every interface)
        return False


if __name__ == "__main__":
    sys.exit(main())
