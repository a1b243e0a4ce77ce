"""`altclip-ui [--library DIR] [--port 8501] [--address HOST] [--watch PHOTOS...]`: start the
Streamlit app.

On this machine only (the default) the page needs no password. Served to the network
(`--address 0.0.0.0`) it asks for ALTCLIP_PASSWORD (or --password) before it shows anything.
With `--watch PHOTOS...`, a watcher (`altclip-index PHOTOS --watch`, a child process that ends
with the page) keeps the library current: the page and the watcher in one command, for a home
server; new photos appear in the page's next search, and its sidebar says how far it is.
"""

from __future__ import annotations

import argparse
import ctypes
import ipaddress
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

from search.settings import Settings

APP = Path(__file__).with_name("app.py")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="altclip-ui", description=__doc__)
    env = Settings.from_env()
    p.add_argument(
        "--library",
        type=Path,
        default=env.library,
        help="library folder (default: $ALTCLIP_LIBRARY or ./data)",
    )
    p.add_argument("--catalog", default=env.catalog, help="SQLAlchemy URL of the catalog")
    p.add_argument("--port", type=port, default=8501, help="the page's port (default: 8501)")
    p.add_argument("--address", default="localhost", help="use 0.0.0.0 to serve the network")
    p.add_argument(
        "--password",
        default=env.password,
        help="asked before the page shows anything (default: $ALTCLIP_PASSWORD, which `ps` "
        "does not show)",
    )
    p.add_argument(
        "--watch",
        nargs="+",
        type=Path,
        metavar="PHOTOS",
        help="also keep these photo folders indexed into the library while the page runs "
        "(altclip-index PHOTOS --watch, as a child process)",
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
    if missing := [p for p in args.watch or [] if not p.is_dir()]:
        print(f"altclip-ui: --watch {missing[0]} is not a folder", file=sys.stderr)
        return 2
    if why := unbindable(args.address, args.port):
        print(
            f"altclip-ui: cannot serve on {args.address}:{args.port} ({why}): name another "
            "--address or --port",
            file=sys.stderr,
        )
        return 2
    os.environ["ALTCLIP_LIBRARY"] = str(args.library.expanduser().resolve())
    if args.catalog:
        os.environ["ALTCLIP_CATALOG"] = args.catalog
    if args.password:  # for the app's environment: on its command line, `ps` would show it
        os.environ["ALTCLIP_PASSWORD"] = args.password
    if args.watch:
        watch(args.watch, Path(os.environ["ALTCLIP_LIBRARY"]), args.catalog)
    # No full collection after every run of the page (0.06 s of the interpreter lock at 100 000
    # photos, while the browser waits for the page's code; Python still collects as it goes),
    # by its variable: a Streamlit without that hidden option ignores it, a flag would stop it.
    os.environ.setdefault("STREAMLIT_RUNNER_POST_SCRIPT_GC", "false")
    cmd = [
        sys.executable,
        "-m",
        "ui.serve",  # Streamlit, with the library opening beside its start
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
        "--server.fileWatcherType",
        "none",  # a person's page does not reload its own source when it changes
        "--client.toolbarMode",
        "viewer",  # no "Deploy" button or developer menu on a person's photo page
        "--client.showErrorDetails",
        "none",  # an unexpected error is one generic line: no traceback, no server path
    ]
    if loopback(args.address):
        # The page's websocket answers only to this machine's names: a web page elsewhere whose
        # name an attacker points at 127.0.0.1 (DNS rebinding) would read the photos otherwise.
        for host in dict.fromkeys(["localhost", "127.0.0.1", "::1", args.address]):
            cmd += ["--server.allowedHosts", host]
    os.execv(sys.executable, cmd)


def watch(photos: list[Path], library: Path, catalog: str | None) -> subprocess.Popen:
    """The watcher, started as a child that the kernel stops when the page's process ends
    (PR_SET_PDEATHSIG; the page replaces this process, and so stays its parent)."""
    cmd = [sys.executable, "-m", "indexer", *map(str, photos), "--watch", "--library", str(library)]
    if catalog:
        cmd += ["--catalog", catalog]
    return subprocess.Popen(cmd, preexec_fn=_ends_with_parent, stdin=subprocess.DEVNULL)


def _ends_with_parent() -> None:
    """In the child, before it runs: SIGTERM once its parent ends (Linux; elsewhere the
    watcher ends with the terminal's Ctrl-C or the service's stop, as the page does)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def port(text: str) -> int:
    """An argparse type: a TCP port, or an error that says so."""
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port (1 to 65535)")
    return int(text)


def unbindable(address: str, port: int) -> str | None:
    """Why the page cannot listen on `address`:`port` (no such address here, the port taken),
    in the system's words; None where it can. Streamlit would say it in a traceback."""
    try:
        family, kind, _, _, where = socket.getaddrinfo(address, port, type=socket.SOCK_STREAM)[0]
        with socket.socket(family, kind) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(where)
    except OSError as e:  # socket.gaierror too: a name that does not resolve
        return e.strerror or str(e)
    return None


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
