"""End to end in a real browser: `altclip-ui` serves a tiny library, headless Chromium (Debian's,
not a downloaded one) types 「海边的日落」 and must see every photo's thumbnail, ranked, with its
score.

The screenshot lands in $ALTCLIP_ARTIFACTS (default: test-artifacts/ beside this folder).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.photos import GOOD

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = Path(os.environ.get("ALTCLIP_ARTIFACTS", ROOT / "test-artifacts"))
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CAPTION = re.compile(r"^(-?\d\.\d{3}) · ")

sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright
if CHROMIUM is None:
    pytest.skip(
        "no chromium on PATH: apt-get install chromium (.ci/run does)", allow_module_level=True
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(photo_library, tmp_path):
    """`altclip-ui` as a person starts it, on a free loopback port; its URL once healthy."""
    port = free_port()
    log = (tmp_path / "ui.log").open("w")
    ui = subprocess.Popen(
        [sys.executable, "-m", "ui.launch", "--library", str(photo_library), "--port", str(port)],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://localhost:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=1).read() == b"ok":
                break
        except OSError:
            pass
        if ui.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"altclip-ui did not come up: {(tmp_path / 'ui.log').read_text()[-2000:]}")
        time.sleep(0.2)
    yield url
    os.killpg(ui.pid, signal.SIGTERM)
    ui.wait(timeout=30)


def test_chinese_query_in_chromium(server):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(60_000)
        page.goto(server)
        box = page.get_by_label("Search your photos")
        box.fill("海边的日落")
        box.press("Enter")

        captions = page.get_by_text(CAPTION)
        captions.nth(GOOD - 1).wait_for()
        images = page.locator("[data-testid='stImage'] img")
        images.nth(GOOD - 1).wait_for()
        page.wait_for_function(
            "n => [...document.querySelectorAll(\"[data-testid='stImage'] img\")]"
            ".filter(i => i.complete && i.naturalWidth > 0).length >= n",
            arg=GOOD,
        )
        page.screenshot(path=ARTIFACTS / "browser-chinese-query.png", full_page=True)
        scores = [float(CAPTION.match(t).group(1)) for t in captions.all_inner_texts()]
        browser.close()
    assert len(scores) == GOOD
    assert scores == sorted(scores, reverse=True)
