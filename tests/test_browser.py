"""End to end in a real browser: `altclip-ui` serves tiny libraries and headless Chromium (Debian's,
not a downloaded one) uses the page as a person would: in Chinese and in English by the browser's
language, a photo opened far down the grid (the viewer in view), previous/next by buttons and arrow
keys, "more like this", a photo uploaded as the query, a phone's screen. Hostile file names stay
text and fetch nothing; a library whose model has moved says what to do, without a traceback.

Each test saves a screenshot to $ALTCLIP_ARTIFACTS (default: test-artifacts/ beside this folder).
"""

from __future__ import annotations

import os
import re
import shutil
import time
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.conftest import serve
from tests.photos import GOOD
from tests.test_parity import photo
from tests.test_ui import HOSTILE, WORDS, hostile_library, many_library

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = Path(os.environ.get("ALTCLIP_ARTIFACTS", ROOT / "test-artifacts"))
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
TILES = ".st-key-grid [data-testid='stText']"  # one caption per photo: "match · name"
THUMBS = ".st-key-grid [data-testid='stImage'] img"

sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright
if CHROMIUM is None:
    pytest.skip(
        "no chromium on PATH: apt-get install chromium (.ci/run does)", allow_module_level=True
    )


@pytest.fixture(scope="module")
def server(photo_library, tmp_path_factory):
    with serve(photo_library, tmp_path_factory.mktemp("ui") / "ui.log") as url:
        yield url


@pytest.fixture(scope="module")
def many_server(tmp_path_factory, tiny):
    """A library of 40 photos: more than one page of the grid."""
    root = tmp_path_factory.mktemp("many")
    with serve(many_library(root, tiny), root / "ui.log") as url:
        yield url


@contextmanager
def chromium(locale: str = "en-US", width: int = 1400, height: int = 1000, phone: bool = False):
    """A page in headless Chromium whose browser language (navigator.language) is `locale`."""
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        context = browser.new_context(
            locale=locale,
            viewport={"width": width, "height": height},
            is_mobile=phone,
            has_touch=phone,
        )
        page = context.new_page()
        page.set_default_timeout(60_000)
        yield page
        browser.close()


def screenshot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=ARTIFACTS / f"browser-{name}.png")


def search(page, url: str, query: str, lang: str = "en") -> None:
    page.goto(url)
    box = page.get_by_label(WORDS[lang]["search_label"])
    box.fill(query)
    box.press("Enter")


def wait_for_images(page, n: int, images: str = THUMBS) -> None:
    page.wait_for_function(
        "([n, css]) => [...document.querySelectorAll(css)]"
        ".filter(i => i.complete && i.naturalWidth > 0).length >= n",
        arg=[n, images],
    )


def names(page) -> list[str]:
    """The file names of the grid's photos, in order."""
    return [
        re.sub(r" \+\d+$", "", t.split(" · ", 1)[1]) for t in page.locator(TILES).all_inner_texts()
    ]


def settled(page, query: str, photos: int) -> int:
    """Once the summary counts `photos` for `query` (its tiles, and the copies folded into them
    said apart) and the grid shows that many tiles: how many."""
    said = re.compile(rf"(\d+) photos? for “{re.escape(query)}”(?:, with (\d+) cop)?")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for line in page.locator("[data-testid='stMain'] [data-testid='stText']").all_inner_texts():
            if (m := said.match(line)) and int(m[1]) + int(m[2] or 0) == photos:
                if page.locator(TILES).count() == int(m[1]):
                    return int(m[1])
        time.sleep(0.2)
    pytest.fail(f"no summary of {photos} photos for “{query}”")


def in_view(page, locator) -> bool:
    """Whether the element is wholly inside the browser's viewport."""
    box, size = locator.bounding_box(), page.viewport_size
    return (
        box is not None
        and box["x"] >= 0
        and box["y"] >= 0
        and box["x"] + box["width"] <= size["width"] + 1
        and box["y"] + box["height"] <= size["height"] + 1
    )


def viewer_photo(page):
    """The viewer's photo, once it has loaded."""
    image = page.get_by_role("dialog").locator("[data-testid='stImage'] img")
    image.wait_for()
    page.wait_for_function(
        "() => { const i = document.querySelector(\"[role='dialog'] [data-testid='stImage'] img\");"
        " return i && i.complete && i.naturalWidth > 0; }"
    )
    return image


@pytest.mark.parametrize("lang, locale", [("zh", "zh-CN"), ("en", "en-GB")])
def test_the_browsers_language(server, lang, locale):
    """A Chinese browser gets the page in Chinese, an English one in English; every photo of the
    answer is on the grid with its thumbnail and a match in words, no bare score."""
    words = WORDS[lang]
    with chromium(locale) as page:
        search(page, server, "海边的日落", lang)
        page.locator(TILES).nth(GOOD - 1).wait_for()
        wait_for_images(page, GOOD)
        what = words["what_text"].format(query="海边的日落")
        expected = words["summary"].format(n=GOOD, what=what, copies="", seconds="…").split("…")[0]
        summaries = page.get_by_text(expected).count()  # "与“海边的日落”最相关的 14 张照片（"
        shown = page.locator("[data-testid='stMain']").inner_text()
        bands = [t.split(" · ")[0] for t in page.locator(TILES).all_inner_texts()]
        screenshot(page, f"{lang}-grid")
    assert summaries == 1
    assert words["filters"] in shown and words["upload_section"] in shown
    assert set(bands) <= {words["band_strong"], words["band_good"], words["band_weak"]}
    assert bands[0] == words["band_strong"]
    other = WORDS["en" if lang == "zh" else "zh"]
    assert other["filters"] not in shown and other["search_label"] not in shown


def test_viewer_opens_in_view_from_far_down_the_grid(many_server):
    """Show more, click the third photo from the end itself: the viewer shows its preview inside
    the viewport, over the grid, which keeps its place; arrow keys and buttons step through the
    results. (The random test model folds some of the 40 photos into others' tiles as copies.)"""
    with chromium("en-US", 1400, 900) as page:
        search(page, many_server, "a dog")
        wait_for_images(page, 30)
        page.get_by_role("button", name=WORDS["en"]["show_more"]).click()
        n = settled(page, "a dog", 40)  # the run is over: nothing moves
        order = names(page)
        at = n - 3  # the one to open, far down
        assert n > 30
        wait_for_images(page, n)
        tile = page.locator(f".st-key-tile-{at}")
        tile.scroll_into_view_if_needed()
        before = tile.bounding_box()
        assert before["y"] > 0 and not in_view(page, page.locator(".st-key-tile-0"))
        thumb = page.locator(f".st-key-tile-{at} [data-testid='stImage'] img").bounding_box()
        page.mouse.click(thumb["x"] + thumb["width"] / 2, thumb["y"] + thumb["height"] / 2)
        photo_shown = viewer_photo(page)
        dialog = page.get_by_role("dialog")
        dialog.get_by_text(f"{at + 1} of {n}").wait_for()
        assert in_view(page, photo_shown)
        assert dialog.get_by_text(f"File: {order[at]}").is_visible()
        screenshot(page, "viewer-far-down")

        page.keyboard.press("ArrowRight")
        dialog.get_by_text(f"{at + 2} of {n}").wait_for()
        dialog.get_by_text(f"File: {order[at + 1]}").wait_for()
        for shown in (f"{at + 1} of {n}", f"{at} of {n}"):  # a key at a time, as it changes
            page.keyboard.press("ArrowLeft")
            dialog.get_by_text(shown).wait_for()
        dialog.get_by_role("button", name=WORDS["en"]["next"]).click()
        dialog.get_by_text(f"{at + 1} of {n}").wait_for()
        dialog.get_by_text(f"File: {order[at]}").wait_for()
        assert in_view(page, viewer_photo(page))
        screenshot(page, "viewer-previous-next")

        page.keyboard.press("Escape")
        dialog.wait_for(state="detached")
        after = tile.bounding_box()
        assert names(page) == order  # the results stay
        assert abs(after["y"] - before["y"]) < 2  # and so does the scroll position


def test_esc_closes_the_viewer_at_either_end(server):
    """Previous clicked on the second photo, Next on the last but one: the button, now
    disabled, drops the focus (to the page, outside the viewer, as often as not: here always);
    Esc closes it all the same."""
    with chromium("en-US") as page:
        search(page, server, "sunset")
        page.locator(TILES).nth(GOOD - 1).wait_for()
        for first, step, end in ((2, "previous", 1), (GOOD - 1, "next", GOOD)):
            page.get_by_role("button", name=f"Open photo {first}", exact=True).click()
            dialog = page.get_by_role("dialog")
            dialog.get_by_text(f"{first} of {GOOD}").wait_for()
            dialog.get_by_role("button", name=WORDS["en"][step]).click()
            dialog.get_by_text(f"{end} of {GOOD}").wait_for()
            # The focus on the page itself, blurred again where the page's rerun moves it back.
            page.wait_for_function(
                "() => { document.activeElement.blur(); return document.activeElement === "
                "document.body; }"
            )
            page.keyboard.press("Escape")
            dialog.wait_for(state="detached")
        screenshot(page, "viewer-closed-by-esc")


@pytest.mark.parametrize("lang, locale", [("zh", "zh-CN"), ("en", "en-GB")])
def test_streamlits_own_words_in_the_pages_language(server, lang, locale):
    """The uploader's button and its line of size and types, and the hint under a text box, in
    the page's language; Streamlit's English is not on the page, nor its ⋮ menu."""
    words = WORDS[lang]
    with chromium(locale) as page:
        page.goto(server)
        page.get_by_text(words["upload_section"], exact=True).click()
        zone = page.locator(DROPZONE)
        zone.wait_for()
        box = page.get_by_label(words["search_label"])
        box.fill("海边")  # not sent: the hint under the box says how
        hint = page.locator(INSTRUCTIONS)
        hint.wait_for(state="attached")  # its own text hidden; ours drawn after it
        button = drawn_after(page, f"{DROPZONE} button > div > span")
        limits = drawn_after(page, f"{DROPZONE} [data-testid$='Instructions'] span")
        shown = [zone.inner_text(), hint.inner_text(), limits, drawn_after(page, INSTRUCTIONS)]
        menu = page.locator("[data-testid='stMainMenu']")
        screenshot(page, f"{lang}-streamlits-words")
        assert not menu.is_visible()
    assert button == f'"{words["upload_button"]}"'
    assert shown[3] == f'"{words["press_enter"]}"'
    tail = words["upload_limits"].format(types="", mb="200")  # "；不超过 200 MB"
    assert shown[2].startswith('"JPEG') and shown[2].endswith(f'{tail}"')
    assert "Upload" not in shown[0] and "per file" not in shown[0] and "Press" not in shown[1]


DROPZONE = "[data-testid='stFileUploaderDropzone']"
INSTRUCTIONS = "[data-testid='InputInstructions']"


def drawn_after(page, css: str) -> str:
    """What CSS draws after the first element `css` finds (its ::after content), once it draws
    something: the page's styles arrive with its elements, not before them."""
    script = "(css) => getComputedStyle(document.querySelector(css), '::after').content"
    page.wait_for_function(f"(css) => !['none', 'normal'].includes(({script})(css))", arg=css)
    return page.evaluate(script, css)


def test_more_like_this(many_server):
    with chromium("zh-CN") as page:
        search(page, many_server, "一只狗", "zh")
        wait_for_images(page, 30)
        first = names(page)[0]
        page.get_by_role("button", name="打开第 1 张照片").click()
        viewer_photo(page)
        page.get_by_role("dialog").get_by_text("第 1 张，共 30 张").wait_for()
        page.get_by_role("dialog").get_by_role("button", name="找相似照片").click()
        page.get_by_role("dialog").wait_for(state="detached")
        page.get_by_text(f"与 {first} 相似").wait_for()  # its chip
        page.get_by_text(f"与 {first} 最相关的").wait_for()
        wait_for_images(page, 30)
        found = names(page)
        screenshot(page, "more-like-this")
    assert len(found) == 30 and first not in found


def test_upload_a_photo(server, photo_library):
    """The uploaded photo is previewed; the library's copy of it (same bytes) is not among the
    results, which are every other photo."""
    from search import Library

    (beach,) = [p for p in Library.open(photo_library).catalog.known() if p.endswith("beach.jpg")]
    with chromium("en-US") as page:
        page.goto(server)
        page.get_by_text(WORDS["en"]["upload_section"], exact=True).click()
        page.locator("input[type='file']").set_input_files(beach)
        page.get_by_text("photos for your photo").wait_for()
        wait_for_images(page, GOOD - 1)
        preview = page.locator("[data-testid='stExpander'] [data-testid='stImage'] img")
        wait_for_images(page, 1, "[data-testid='stExpander'] [data-testid='stImage'] img")
        caption = page.get_by_text(WORDS["en"]["upload_caption"], exact=True)
        found = names(page)
        screenshot(page, "upload")
        assert preview.is_visible() and caption.is_visible()
    assert len(found) == GOOD - 1 and "beach.jpg" not in found


def test_phone(server):
    """On a 390×844 phone: two or three columns of photos, and the search box and the filters
    on the page itself, without opening the sidebar."""
    with chromium("zh-CN", 390, 844, phone=True) as page:
        search(page, server, "海边的日落", "zh")
        wait_for_images(page, GOOD)
        box = page.get_by_label("搜索照片")
        filters = page.get_by_text("筛选", exact=True)
        columns = {
            round(b["x"]) for b in map(lambda i: i.bounding_box(), page.locator(THUMBS).all())
        }
        assert in_view(page, box) and in_view(page, filters)
        sidebar = page.locator("[data-testid='stSidebar']")
        assert (
            not sidebar.is_visible()
            or sidebar.bounding_box()["x"] + 10 < 0
            or (sidebar.get_attribute("aria-expanded") == "false")
        )
        screenshot(page, "phone")
        page.get_by_role("button", name="打开第 5 张照片").click()
        assert in_view(page, viewer_photo(page))
        screenshot(page, "phone-viewer")
    assert len(columns) in (2, 3)


def test_hostile_names_fetch_nothing(tmp_path, tiny):
    """Names such as `![b](https:evil.example).jpg` read as themselves; the page asks only its
    own server for anything."""
    library = hostile_library(tmp_path, tiny)
    with serve(library, tmp_path / "ui.log") as url, chromium() as page:
        hosts = set()
        page.on("request", lambda request: hosts.add(urlsplit(request.url).hostname))
        search(page, url, "**bold** $x$")
        page.get_by_text(f"{len(HOSTILE)} photos for").wait_for()
        tiles = page.locator(TILES).all_inner_texts()
        wait_for_images(page, len(tiles))
        shown = page.locator("[data-testid='stMain']").inner_text()
        links = page.locator("[data-testid='stMain'] a").count()
        pictures = page.locator("[data-testid='stMain'] img").count()
        # The viewer, with the full path: of a tile holding copies where the (random) test
        # model folded some, whose names the viewer then lists.
        n = next((i for i, t in enumerate(tiles) if re.search(r" \+\d+$", t)), 0)
        page.get_by_role("button", name=f"Open photo {n + 1}").click()
        viewer_photo(page)
        page.get_by_role("dialog").get_by_text(WORDS["en"]["show_path"]).click()
        page.get_by_role("dialog").get_by_text(str(library.parent / "photos")).wait_for()
        in_viewer = page.get_by_role("dialog").inner_text()
        viewer_links = page.locator("[role='dialog'] a").count()
        screenshot(page, "hostile-names")
    assert hosts == {"localhost"}
    for name in HOSTILE:
        assert name.replace("\n", "\\n") in shown + in_viewer
    assert links == 0 and pictures == len(tiles)  # the thumbnails, and no image a name made
    assert viewer_links == 0 and any(n.replace("\n", "\\n") in in_viewer for n in HOSTILE)


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
        screenshot(page, "moved-model")
    assert "altclip-index PHOTOS --rebuild --model MODEL" in shown
    assert "Traceback" not in shown and 'File "' not in shown and "site-packages" not in shown
