"""`altclip-ui [--library DIR] [--port 8501]`: start the Streamlit app on this machine."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

APP = Path(__file__).with_name("app.py")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="altclip-ui", description=__doc__)
    p.add_argument("--library", type=Path, default=Path(os.environ.get("ALTCLIP_LIBRARY", "data")))
    p.add_argument("--port", type=int, default=8501)
    p.add_argument("--address", default="localhost", help="use 0.0.0.0 to serve the network")
    args = p.parse_args(argv)
    os.environ["ALTCLIP_LIBRARY"] = str(args.library.expanduser().resolve())
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
        "--browser.gatherUsageStats",
        "false",
        "--client.toolbarMode",
        "viewer",  # no "Deploy" button or developer menu on a person's photo page
    ]
    os.execv(sys.executable, cmd)


if __name__ == "__main__":
    sys.exit(main())
