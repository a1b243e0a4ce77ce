"""End to end in a real browser: `altclip-ui` serves a tiny library, headless Chromium (Debian's,
not a downloaded one) types 「海边的日落」 and must see every photo's thumbnail, ranked, with its
score; hostile file names stay text and fetch nothing; a library whose model has moved says what
to do, without a traceback.

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
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.photos import GOOD
from tests.test_parity import photo
from tests.test_ui import HOSTILE, hostile_library

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


@contextmanager
def serve(library: Path, log: Path):
    """`altclip-ui` as a person starts it, on a free loopback port; its URL once healthy."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "ALTCLIP_PASSWORD"}
    ui = subprocess.Popen(
        [sys.executable, "-m", "ui.launch", "--library", str(library), "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://localhost:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=1).read() == b"ok":
                    break
            except OSError:
                pass
            if ui.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"altclip-ui did not come up: {log.read_text()[-2000:]}")
            time.sleep(0.2)
        yield url
    finally:
        os.killpg(ui.pid, signal.SIGTERM)
        ui.wait(timeout=30)


@pytest.fixture
def server(photo_library, tmp_path):
    with serve(photo_library, tmp_path / "ui.log") as url:
        yield url


@contextmanager
def chromium():
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(60_000)
        yield page
        browser.close()


def search(page, url: str, query: str) -> None:
    page.goto(url)
    box = page.get_by_label("Search your photos")
    box.fill(query)
    box.press("Enter")


def wait_for_images(page, n: int) -> None:
    page.wait_for_function(
        "n => [...document.querySelectorAll(\"[data-testid='stImage'] img\")]"
        ".filter(i => i.complete && i.naturalWidth > 0).length >= n",
        arg=n,
    )


def test_chinese_query_in_chromium(server):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with chromium() as page:
        search(page, server, "海边的日落")
        captions = page.get_by_text(CAPTION)
        captions.nth(GOOD - 1).wait_for()
        wait_for_images(page, GOOD)
        page.screenshot(path=ARTIFACTS / "browser-chinese-query.png", full_page=True)
        scores = [float(CAPTION.match(t).group(1)) for t in captions.all_inner_texts()]
    assert len(scores) == GOOD
    assert scores == sorted(scores, reverse=True)


def test_hostile_names_fetch_nothing(tmp_path, tiny):
    """Names such as `![b](https:evil.example).jpg` read as themselves; the page asks only its
    own server for anything."""
    library = hostile_library(tmp_path, tiny)
    with serve(library, tmp_path / "ui.log") as url, chromium() as page:
        hosts = set()
        page.on("request", lambda request: hosts.add(urlsplit(request.url).hostname))
        search(page, url, "**bold** $x$")
        page.get_by_text(CAPTION).nth(len(HOSTILE) - 1).wait_for()
        wait_for_images(page, len(HOSTILE))
        shown = page.locator("[data-testid='stMain']").inner_text()
        links = page.locator("[data-testid='stMain'] a").count()
        pictures = page.locator("[data-testid='stMain'] img").count()
    assert hosts == {"localhost"}
    for name in HOSTILE:
        assert name.replace("\n", "\\n") in shown
    assert links == 0 and pictures == len(HOSTILE)  # the thumbnails, and no image a name made


def test_moved_model_says_what_to_do(tmp_path, tiny):
    from indexer import Indexer

    model = shutil.copytree(tiny, tmp_path / "model")
    (tmp_path / "photos").mkdir()
    photo(160, 120, 1).save(tmp_path / "photos" / "beach.jpg")
    Indexer(library=tmp_path / "lib", model=str(model)).run([tmp_path / "photos"])
    model.rename(tmp_path / "moved")
    with serve(tmp_path / "lib", tmp_path / "ui.log") as url, chromium() as page:
        search(page, url, "海边的日落")
        alert = page.get_by_text("cannot be loaded: put its folder back")
        alert.wait_for()
        shown = page.locator("[data-testid='stMain']").inner_text()
    assert "altclip-index PHOTOS --rebuild --model MODEL" in shown
    assert "Traceback" not in shown and 'File "' not in shown and "site-packages" not in shown
